// Line charts as inline SVG: axes with ticks and labels, light grid lines, one line per series
// (colour + dash pattern), optional point markers with hover titles, gaps where a value is missing.
import { escapeHtml, formatNumber, formatTick } from './format';
import { Marker, seriesStyle } from './palette';
import { Scale, linearScale, logScale } from './scale';

export type Point = readonly [number, number | null];

export interface ChartSeries {
  label: string;
  /** Picks colour, dash and marker; the same task keeps the same index in every chart. */
  styleIndex: number;
  points: readonly Point[];
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly ChartSeries[];
  yScale: 'linear' | 'log';
  /** Whole-number x ticks (epochs, steps). */
  integerX?: boolean;
  /** About how many x ticks (default 6). */
  xTicks?: number;
  /** Start the x axis at 0 (steps). */
  xFromZero?: boolean;
  /** Draw a marker at every point (few points, e.g. epochs). */
  markers?: boolean;
  /** Format y values in hover titles (defaults to 4 significant digits). */
  formatY?: (v: number) => string;
}

const WIDTH = 640;
const HEIGHT = 300;
const MARGIN = { left: 64, right: 20, top: 14, bottom: 48 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;

function round(v: number): string {
  return String(Math.round(v * 10) / 10);
}

function finitePoints(series: readonly ChartSeries[], log: boolean): { xs: number[]; ys: number[] } {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of series) {
    for (const [x, y] of s.points) {
      if (!Number.isFinite(x)) continue;
      xs.push(x);
      if (y !== null && Number.isFinite(y) && (!log || y > 0)) ys.push(y);
    }
  }
  return { xs, ys };
}

function minMax(values: number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

function markerPath(marker: Marker, x: number, y: number, r: number): string {
  const p = (dx: number, dy: number): string => `${round(x + dx)},${round(y + dy)}`;
  switch (marker) {
    case 'circle':
      return `<circle cx="${round(x)}" cy="${round(y)}" r="${r}"`;
    case 'square':
      return `<rect x="${round(x - r)}" y="${round(y - r)}" width="${2 * r}" height="${2 * r}"`;
    case 'triangle':
      return `<polygon points="${p(0, -r * 1.2)} ${p(r * 1.1, r * 0.8)} ${p(-r * 1.1, r * 0.8)}"`;
    case 'diamond':
      return `<polygon points="${p(0, -r * 1.3)} ${p(r * 1.3, 0)} ${p(0, r * 1.3)} ${p(-r * 1.3, 0)}"`;
    case 'cross':
      return `<path d="M${p(-r, -r)}L${p(r, r)}M${p(-r, r)}L${p(r, -r)}" stroke-width="2.2" fill="none"`;
  }
}

function axes(x: Scale, y: Scale, spec: ChartSpec): string {
  const parts: string[] = [];
  const bottom = MARGIN.top + PLOT_H;
  for (const t of y.ticks) {
    const py = MARGIN.top + PLOT_H * (1 - y.unit(t));
    if (!Number.isFinite(py)) continue;
    parts.push(`<line class="grid" x1="${MARGIN.left}" x2="${MARGIN.left + PLOT_W}" y1="${round(py)}" y2="${round(py)}"/>`);
    parts.push(`<text class="tick" x="${MARGIN.left - 8}" y="${round(py)}" text-anchor="end" dominant-baseline="middle">${escapeHtml(formatTick(t))}</text>`);
  }
  for (const t of x.ticks) {
    const px = MARGIN.left + PLOT_W * x.unit(t);
    parts.push(`<line class="axis" x1="${round(px)}" x2="${round(px)}" y1="${bottom}" y2="${bottom + 5}"/>`);
    parts.push(`<text class="tick" x="${round(px)}" y="${bottom + 18}" text-anchor="middle">${escapeHtml(formatTick(t, true))}</text>`);
  }
  parts.push(`<line class="axis" x1="${MARGIN.left}" x2="${MARGIN.left + PLOT_W}" y1="${bottom}" y2="${bottom}"/>`);
  parts.push(`<line class="axis" x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${bottom}"/>`);
  parts.push(`<text class="label" x="${MARGIN.left + PLOT_W / 2}" y="${HEIGHT - 8}" text-anchor="middle">${escapeHtml(spec.xLabel)}</text>`);
  const yLabel = spec.yScale === 'log' ? `${spec.yLabel} (log scale)` : spec.yLabel;
  parts.push(`<text class="label" transform="translate(16 ${MARGIN.top + PLOT_H / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(yLabel)}</text>`);
  return parts.join('');
}

function seriesMarkup(s: ChartSeries, x: Scale, y: Scale, spec: ChartSpec): string {
  const style = seriesStyle(s.styleIndex);
  const formatY = spec.formatY ?? ((v: number) => formatNumber(v));
  const segments: string[][] = [];
  let current: string[] = [];
  const markers: string[] = [];
  for (const [vx, vy] of s.points) {
    const ux = x.unit(vx);
    const uy = vy === null ? NaN : y.unit(vy);
    if (!Number.isFinite(ux) || !Number.isFinite(uy)) {
      // A missing value (or <= 0 on a log axis) breaks the line rather than bridging the gap.
      if (current.length > 0) segments.push(current);
      current = [];
      continue;
    }
    const px = MARGIN.left + PLOT_W * ux;
    const py = MARGIN.top + PLOT_H * (1 - uy);
    current.push(`${round(px)},${round(py)}`);
    if (spec.markers) {
      const title = `${s.label} — ${spec.xLabel} ${formatTick(vx)}: ${formatY(vy as number)}`;
      markers.push(`${markerPath(style.marker, px, py, 3.5)}><title>${escapeHtml(title)}</title></${markerTag(style.marker)}>`);
    }
  }
  if (current.length > 0) segments.push(current);
  const dash = style.dash ? ` stroke-dasharray="${style.dash}"` : '';
  const lines = segments.map((seg) => {
    if (seg.length === 1 && !spec.markers) {
      const [cx, cy] = seg[0].split(',');
      return `<circle cx="${cx}" cy="${cy}" r="2.5" fill="${style.color}"/>`;
    }
    return `<polyline points="${seg.join(' ')}" fill="none" stroke="${style.color}" stroke-width="2" stroke-linejoin="round"${dash}/>`;
  });
  const markerGroup = markers.length > 0 ? `<g fill="${style.color}" stroke="${style.color}">${markers.join('')}</g>` : '';
  return `<g class="series"><title>${escapeHtml(s.label)}</title>${lines.join('')}${markerGroup}</g>`;
}

function markerTag(marker: Marker): string {
  return { circle: 'circle', square: 'rect', triangle: 'polygon', diamond: 'polygon', cross: 'path' }[marker];
}

/** The chart as an <svg> element; a note instead when no series has a value to draw. */
export function lineChartSvg(spec: ChartSpec): string {
  const log = spec.yScale === 'log';
  const { xs, ys } = finitePoints(spec.series, log);
  if (xs.length === 0 || ys.length === 0) {
    const why = log ? 'no positive values to draw on a log scale' : 'no values to draw';
    return `<p class="empty">${escapeHtml(why)}</p>`;
  }
  const [xMin, x1] = minMax(xs);
  const x0 = spec.xFromZero ? Math.min(0, xMin) : xMin;
  const [y0, y1] = minMax(ys);
  const x = linearScale(x0, x1, { integer: spec.integerX, count: spec.xTicks ?? 6 });
  // A little headroom so a line at its extreme does not sit on the frame (never below 0 for
  // values that are all >= 0, like losses and weights).
  const pad = (y1 - y0) * 0.04;
  const y = log ? logScale(y0, y1) : linearScale(y0 >= 0 ? Math.max(0, y0 - pad) : y0 - pad, y1 + pad, { extend: true, count: 5 });
  const body = spec.series.map((s) => seriesMarkup(s, x, y, spec)).join('');
  return (
    `<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeHtml(spec.title)}" xmlns="http://www.w3.org/2000/svg">` +
    `${axes(x, y, spec)}${body}</svg>`
  );
}

/** An HTML legend: a short line sample (colour, dash, marker) and the series label. */
export function legendHtml(series: readonly ChartSeries[], markers: boolean): string {
  const items = series.map((s) => {
    const style = seriesStyle(s.styleIndex);
    const dash = style.dash ? ` stroke-dasharray="${style.dash}"` : '';
    const marker = markers ? `<g fill="${style.color}" stroke="${style.color}">${markerPath(style.marker, 17, 7, 3.5)}/></g>` : '';
    return (
      `<li><svg width="34" height="14" viewBox="0 0 34 14" aria-hidden="true"><line x1="1" x2="33" y1="7" y2="7" stroke="${style.color}" stroke-width="2.5"${dash}/>${marker}</svg>` +
      `<span>${escapeHtml(s.label)}</span></li>`
    );
  });
  return `<ul class="legend">${items.join('')}</ul>`;
}

/**
 * Averages runs of consecutive points so a series has at most `maxPoints` (a long run logs
 * thousands of steps; the page stays small and the line readable). Returns the run length used.
 */
export function thinPoints(points: readonly Point[], maxPoints: number): { points: Point[]; every: number } {
  const every = Math.max(1, Math.ceil(points.length / maxPoints));
  if (every === 1) return { points: points.slice(), every };
  const out: Point[] = [];
  for (let i = 0; i < points.length; i += every) {
    let sx = 0;
    let sy = 0;
    let ny = 0;
    const end = Math.min(points.length, i + every);
    for (let j = i; j < end; j++) {
      sx += points[j][0];
      const y = points[j][1];
      if (y !== null && Number.isFinite(y)) {
        sy += y;
        ny++;
      }
    }
    out.push([sx / (end - i), ny > 0 ? sy / ny : null]);
  }
  return { points: out, every };
}
