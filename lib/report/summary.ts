// The run summary: headline figures (time, throughput, epochs, ONNX check), the final test
// metrics per task, and the configuration.
import { escapeHtml, formatCount, formatDuration, formatMetric, formatNumber, higherIsBetter, metricLabel } from './format';
import type { RunReport, TaskInfo } from './model';
import { isPlainObject } from './model';
import { seriesStyle } from './palette';

/** Used when metrics.final.onnx names no tolerance of its own. */
export const DEFAULT_ONNX_TOLERANCE = 1e-4;

const METRIC_ORDER = ['accuracy', 'miou', 'pixelAccuracy', 'mse', 'mae'];

function card(label: string, value: string, detail: string, extraClass = ''): string {
  return `<div class="card${extraClass}"><div class="card-label">${label}</div><div class="card-value">${value}</div><div class="card-detail">${detail}</div></div>`;
}

function totalSeconds(report: RunReport): number | undefined {
  if (report.final?.seconds !== undefined) return report.final.seconds;
  const secs = report.epochs.map((e) => e.seconds).filter((s): s is number => s !== undefined);
  return secs.length > 0 ? secs.reduce((a, b) => a + b, 0) : undefined;
}

function throughput(report: RunReport): { value?: number; detail: string } {
  if (report.final?.imagesPerSecond !== undefined) return { value: report.final.imagesPerSecond, detail: 'images/s over the run' };
  const ips = report.epochs.map((e) => e.imagesPerSecond).filter((s): s is number => s !== undefined);
  if (ips.length === 0) return { detail: 'not recorded' };
  return { value: ips.reduce((a, b) => a + b, 0) / ips.length, detail: 'images/s, mean over epochs' };
}

function onnxCard(report: RunReport): string {
  const onnx = report.final?.onnx;
  if (!onnx) return card('ONNX check', '–', 'not run');
  const diff = onnx.get('maxAbsDiff');
  const tolValue = onnx.get('tolerance');
  const tolerance = typeof tolValue === 'number' && tolValue > 0 ? tolValue : DEFAULT_ONNX_TOLERANCE;
  const others = [...onnx.entries()]
    .filter(([k]) => k !== 'maxAbsDiff' && k !== 'tolerance')
    .map(([k, v]) => `${escapeHtml(k)}: ${escapeHtml(typeof v === 'string' ? v : JSON.stringify(v))}`);
  const extra = others.length > 0 ? `<br>${others.join('<br>')}` : '';
  if (typeof diff !== 'number' || !Number.isFinite(diff)) {
    return card('ONNX check', '–', `no numeric maxAbsDiff${extra}`, ' card-warn');
  }
  const pass = diff <= tolerance;
  const verdict = pass
    ? `<span class="ok">✓ within ${escapeHtml(formatNumber(tolerance))}</span>`
    : `<span class="bad">✗ above ${escapeHtml(formatNumber(tolerance))}</span>`;
  return card(
    'ONNX check',
    escapeHtml(formatNumber(diff, 3)),
    `max |hydranet − onnxruntime| ${verdict}${extra}`,
    pass ? ' card-ok' : ' card-bad',
  );
}

/** Metric names present for any task, in a stable, familiar order. */
export function metricNamesOf(maps: Iterable<Map<string, number | null>>): string[] {
  const seen = new Set<string>();
  for (const m of maps) for (const k of m.keys()) seen.add(k);
  const known = METRIC_ORDER.filter((m) => seen.has(m));
  return [...known, ...[...seen].filter((m) => !METRIC_ORDER.includes(m))];
}

/** Best value of a metric over the epochs' test records, with its epoch. */
function bestEpoch(report: RunReport, task: string, metric: string): { value: number; epoch: number } | undefined {
  let best: { value: number; epoch: number } | undefined;
  for (const e of report.epochs) {
    const v = e.test.get(task)?.get(metric);
    if (v === null || v === undefined) continue;
    const better = best === undefined || (higherIsBetter(metric) ? v > best.value : v < best.value);
    if (better) best = { value: v, epoch: e.epoch };
  }
  return best;
}

function finalMetricsTable(report: RunReport): string {
  const fromFinal = report.final && report.final.metrics.size > 0;
  const source = fromFinal ? report.final!.metrics : report.epochs.at(-1)?.test;
  if (!source || source.size === 0) return '<p class="muted">No test metrics in metrics.json.</p>';
  const caption = fromFinal ? '' : `<p class="muted">No final record: showing the last epoch's test metrics (epoch ${escapeHtml(report.epochs.at(-1)!.epoch)}).</p>`;
  const columns = metricNamesOf(source.values());
  const taskRows: TaskInfo[] = report.tasks.filter((t) => source.has(t.name));
  const head = `<tr><th>Task</th><th>Kind</th><th>Loss</th><th class="num">Weight</th>${columns.map((c) => `<th class="num">${escapeHtml(metricLabel(c))}</th>`).join('')}</tr>`;
  const rows = taskRows.map((t) => {
    const metrics = source.get(t.name)!;
    const cells = columns.map((c) => {
      if (!metrics.has(c)) return '<td class="num muted">–</td>';
      const best = report.epochs.length > 1 ? bestEpoch(report, t.name, c) : undefined;
      const bestNote = best ? `<div class="sub">best ${escapeHtml(formatMetric(c, best.value))} (epoch ${escapeHtml(best.epoch)})</div>` : '';
      return `<td class="num"><span class="metric">${escapeHtml(formatMetric(c, metrics.get(c)))}</span>${bestNote}</td>`;
    });
    const kind = t.kind === 'other' ? '–' : t.kind;
    const classes = t.classes !== undefined ? ` (${t.classes} classes)` : '';
    return (
      `<tr><th scope="row"><span class="swatch" style="background:${seriesStyle(report.tasks.indexOf(t)).color}"></span>${escapeHtml(t.name)}</th>` +
      `<td>${escapeHtml(kind + classes)}</td><td>${escapeHtml(t.loss ?? '–')}</td><td class="num">${escapeHtml(formatNumber(t.weight))}</td>${cells.join('')}</tr>`
    );
  });
  return `${caption}<div class="table-wrap"><table class="metrics" data-table="final"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table></div>`;
}

/** Flattens nested config objects to dotted keys ("optimizer.lr"), two levels deep. */
function flattenConfig(config: Map<string, unknown>): [string, unknown][] {
  const out: [string, unknown][] = [];
  const walk = (prefix: string, value: unknown, depth: number): void => {
    if (isPlainObject(value) && depth < 2 && Object.keys(value).length > 0) {
      for (const [k, v] of Object.entries(value)) walk(`${prefix}.${k}`, v, depth + 1);
    } else out.push([prefix, value]);
  };
  for (const [k, v] of config) walk(k, v, 0);
  return out;
}

function configValue(value: unknown): string {
  if (typeof value === 'string') return escapeHtml(value);
  if (value === undefined) return '–';
  return escapeHtml(JSON.stringify(value));
}

function configTable(report: RunReport): string {
  const entries = flattenConfig(report.config);
  if (entries.length === 0) return '<p class="muted">No configuration recorded.</p>';
  const items = entries.map(([k, v]) => `<div><dt>${escapeHtml(k)}</dt><dd><code>${configValue(v)}</code></dd></div>`);
  return `<dl class="config-grid" data-table="config">${items.join('')}</dl>`;
}

export function renderSummary(report: RunReport): string {
  const tp = throughput(report);
  const epochs = report.epochs.length;
  const stepsDetail = report.steps.length > 0 ? `${formatCount(report.steps.length)} step records` : 'no step records';
  const cards = [
    card('Training time', escapeHtml(formatDuration(totalSeconds(report))), epochs > 0 ? `${epochs} epoch${epochs === 1 ? '' : 's'}` : 'no epochs recorded'),
    card('Throughput', escapeHtml(formatCount(tp.value)), escapeHtml(tp.detail)),
    card('Epochs', String(epochs), escapeHtml(stepsDetail)),
    onnxCard(report),
  ];
  return (
    `<section id="summary"><h2>Run summary</h2><div class="cards">${cards.join('')}</div>` +
    `<h3>Final test metrics</h3>${finalMetricsTable(report)}` +
    `<details class="config-box" open><summary>Configuration</summary>${configTable(report)}</details></section>`
  );
}
