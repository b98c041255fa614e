// HTML escaping and number formatting. Every string that comes from a run's JSON (task names,
// config keys and values, loss names) goes through escapeHtml before it reaches the page.

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Safe in element text and in quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** Metrics read as fractions of 1 and shown as percentages. */
const FRACTION_METRICS = new Set(['accuracy', 'miou', 'pixelAccuracy', 'iou', 'precision', 'recall', 'f1', 'top1', 'top5']);

const METRIC_LABELS: Record<string, string> = {
  accuracy: 'accuracy',
  miou: 'mIoU',
  pixelAccuracy: 'pixel accuracy',
  mse: 'MSE',
  mae: 'MAE',
};

export function isFractionMetric(name: string): boolean {
  return FRACTION_METRICS.has(name);
}

/** A metric's display name (unescaped). */
export function metricLabel(name: string): string {
  return Object.prototype.hasOwnProperty.call(METRIC_LABELS, name) ? METRIC_LABELS[name] : name;
}

/** Whether a larger value of the metric is better (losses and errors: smaller). */
export function higherIsBetter(name: string): boolean {
  return isFractionMetric(name);
}

/** 4 significant digits; scientific notation for very small or large magnitudes. */
export function formatNumber(value: number | null | undefined, digits = 4): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs < 1e-3 || abs >= 1e6) return tidyExponent(value.toExponential(digits - 1));
  return String(Number(value.toPrecision(digits)));
}

function tidyExponent(text: string): string {
  // 1.230e-5 -> 1.23e-5, 2.000e+6 -> 2e6
  const [mantissa, exponent] = text.split('e');
  const m = mantissa.includes('.') ? mantissa.replace(/0+$/, '').replace(/\.$/, '') : mantissa;
  return `${m}e${Number(exponent)}`;
}

export function formatMetric(name: string, value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  if (isFractionMetric(name) && value >= 0 && value <= 1) return `${(value * 100).toFixed(2)} %`;
  return formatNumber(value);
}

/** 61.2 -> "61.2 s", 754 -> "12 min 34 s", 7384 -> "2 h 03 min". */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '–';
  if (seconds < 60) return `${Number(seconds.toPrecision(3))} s`;
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`;
  return `${m} min ${String(s).padStart(2, '0')} s`;
}

/** Thousands grouped with a thin space, independent of the machine's locale. */
export function formatCount(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  const rounded = Math.round(value);
  const sign = rounded < 0 ? '-' : '';
  return sign + String(Math.abs(rounded)).replace(/\B(?=(\d{3})+(?!\d))/g, '\u2009');
}

/** Axis tick text: short, no float noise (0.30000000000000004 -> 0.3), 15000 -> 15k. */
export function formatTick(value: number, compactThousands = false): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (compactThousands && abs >= 1000 && abs < 1e9) {
    const [unit, div] = abs >= 1e6 ? ['M', 1e6] : ['k', 1e3];
    return `${Number((value / (div as number)).toPrecision(4))}${unit}`;
  }
  if (abs < 1e-3 || abs >= 1e5) return tidyExponent(value.toExponential(2));
  return String(Number(value.toPrecision(6)));
}
