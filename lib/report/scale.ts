// Axis scales for the SVG charts: a domain, a mapping to pixels and tick positions at "nice"
// values (1, 2, 2.5 or 5 times a power of ten; powers of ten on a log axis).

export interface Scale {
  kind: 'linear' | 'log';
  domain: [number, number];
  ticks: number[];
  /** Maps a value in the domain to [0, 1]; NaN for values a log scale cannot show. */
  unit(value: number): number;
}

/** Removes float noise so ticks print as 0.3, not 0.30000000000000004. */
function clean(value: number): number {
  return Number(value.toPrecision(12));
}

export function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const r = raw / magnitude;
  const factor = r <= 1 ? 1 : r <= 2 ? 2 : r <= 2.5 ? 2.5 : r <= 5 ? 5 : 10;
  return factor * magnitude;
}

/**
 * A linear scale over [min, max]. `extend` rounds the domain out to whole ticks (good for values);
 * otherwise the domain is the data's extent and ticks fall inside it (good for steps).
 */
export function linearScale(min: number, max: number, opts: { count?: number; extend?: boolean; integer?: boolean } = {}): Scale {
  const count = opts.count ?? 5;
  let lo = min;
  let hi = max;
  if (!(hi > lo)) {
    // One value: show it in the middle of a small window.
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= opts.integer ? 1 : pad;
    hi += opts.integer ? 1 : pad;
  }
  let step = niceStep(hi - lo, count);
  // Whole numbers only (epochs): 0.5 -> 1, 2.5 -> 2.
  if (opts.integer && !Number.isInteger(step)) step = Math.max(1, Math.floor(step));
  if (opts.extend) {
    lo = clean(Math.floor(lo / step) * step);
    hi = clean(Math.ceil(hi / step) * step);
  }
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) ticks.push(clean(t));
  const span = hi - lo;
  return { kind: 'linear', domain: [lo, hi], ticks, unit: (v) => (v - lo) / span };
}

/**
 * A base-10 log scale over the data's extent (padded a little), with ticks at 1, 2 and 5 times
 * powers of ten: only the powers when the span is wide, every few powers past nine decades.
 */
export function logScale(min: number, max: number): Scale {
  let lo = Math.log10(min);
  let hi = Math.log10(max);
  if (hi - lo < 0.3) {
    // Less than a factor of two: widen so the line is not a wall of noise.
    const mid = (lo + hi) / 2;
    lo = mid - 0.15;
    hi = mid + 0.15;
  }
  const pad = (hi - lo) * 0.04;
  lo -= pad;
  hi += pad;
  const decades = hi - lo;
  const every = decades > 9 ? Math.ceil(decades / 8) : 1;
  const mantissas = decades > 2.5 ? [1] : decades > 0.8 ? [1, 2, 5] : [1, 1.5, 2, 3, 5, 7];
  const ticks: number[] = [];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
    if (e % every !== 0) continue;
    for (const m of mantissas) {
      const v = clean(m * 10 ** e);
      const lv = Math.log10(v);
      if (lv >= lo - 1e-9 && lv <= hi + 1e-9) ticks.push(v);
    }
  }
  const span = hi - lo;
  return {
    kind: 'log',
    domain: [10 ** lo, 10 ** hi],
    ticks,
    unit: (v) => (v > 0 ? (Math.log10(v) - lo) / span : NaN),
  };
}
