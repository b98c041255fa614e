// The charts section: training loss per step and per epoch (log or linear axis, switched by a
// checkbox with CSS only: the page runs no script), test metrics per epoch (one chart per
// metric, one line per task), task weights over time and throughput per epoch.
import { ChartSeries, ChartSpec, legendHtml, lineChartSvg, thinPoints } from './chart';
import { escapeHtml, formatCount, formatMetric, isFractionMetric, metricLabel } from './format';
import type { RunReport } from './model';
import { metricNamesOf } from './summary';

/** At most this many drawn points per step series; longer runs are averaged in runs. */
export const MAX_STEP_POINTS = 600;

/** The checkbox that switches the loss charts between log and linear axes. */
export const LOG_TOGGLE_ID = 'log-scale';

interface Figure {
  kind: string;
  title: string;
  attrs?: string;
  body: string;
  caption?: string;
}

function figure(f: Figure): string {
  const caption = f.caption ? `<p class="caption">${f.caption}</p>` : '';
  return `<figure class="chart-card" data-chart="${escapeHtml(f.kind)}"${f.attrs ?? ''}><figcaption>${escapeHtml(f.title)}</figcaption>${f.body}${caption}</figure>`;
}

function chartBody(spec: Omit<ChartSpec, 'yScale'>, scales: 'both-log-first' | 'linear'): string {
  const legend = legendHtml(spec.series, spec.markers ?? false);
  if (scales === 'linear') return `${lineChartSvg({ ...spec, yScale: 'linear' })}${legend}`;
  return (
    `<div class="scale-log">${lineChartSvg({ ...spec, yScale: 'log' })}</div>` +
    `<div class="scale-linear">${lineChartSvg({ ...spec, yScale: 'linear' })}</div>${legend}`
  );
}

/** One series per task that has at least one value in `pick`, styled by the task's index. */
function taskSeries<R>(report: RunReport, records: readonly R[], x: (r: R) => number, pick: (r: R, task: string) => number | null | undefined): ChartSeries[] {
  const out: ChartSeries[] = [];
  report.tasks.forEach((task, index) => {
    const points = records.map((r) => [x(r), pick(r, task.name) ?? null] as const);
    if (points.some(([, y]) => y !== null)) out.push({ label: task.name, styleIndex: index, points });
  });
  return out;
}

function thinned(series: ChartSeries[]): { series: ChartSeries[]; every: number } {
  let every = 1;
  const out = series.map((s) => {
    const t = thinPoints(s.points, MAX_STEP_POINTS);
    every = Math.max(every, t.every);
    return { ...s, points: t.points };
  });
  return { series: out, every };
}

function empty(text: string): string {
  return `<p class="empty">${escapeHtml(text)}</p>`;
}

function lossPerStep(report: RunReport): string {
  const title = 'Training loss per step';
  const raw = taskSeries(report, report.steps, (s) => s.step, (s, t) => s.losses.get(t));
  if (raw.length === 0) return figure({ kind: 'loss-step', title, body: empty('No per-step losses in metrics.json (no "steps" records).') });
  const { series, every } = thinned(raw);
  const caption = every > 1 ? `Each point is the mean of ${every} consecutive step records (${formatCount(report.steps.length)} in all).` : undefined;
  return figure({ kind: 'loss-step', title, body: chartBody({ title, xLabel: 'step', yLabel: 'loss', series, xFromZero: true, integerX: true }, 'both-log-first'), caption });
}

function lossPerEpoch(report: RunReport): string {
  const title = 'Training loss per epoch';
  const series = taskSeries(report, report.epochs, (e) => e.epoch, (e, t) => e.trainLoss.get(t));
  if (series.length === 0) return figure({ kind: 'loss-epoch', title, body: empty('No per-epoch training losses in metrics.json.') });
  const spec = { title, xLabel: 'epoch', yLabel: 'mean training loss', series, integerX: true, xTicks: 8, markers: true };
  return figure({ kind: 'loss-epoch', title, body: chartBody(spec, 'both-log-first') });
}

function testMetrics(report: RunReport): string[] {
  const names = metricNamesOf(report.epochs.flatMap((e) => [...e.test.values()]));
  if (names.length === 0) return [figure({ kind: 'test-metric', title: 'Test metrics per epoch', body: empty('No per-epoch test metrics in metrics.json.') })];
  return names.map((metric) => {
    const label = metricLabel(metric);
    const title = `Test ${label} per epoch`;
    const series = taskSeries(report, report.epochs, (e) => e.epoch, (e, t) => e.test.get(t)?.get(metric));
    const fraction = isFractionMetric(metric);
    const spec: Omit<ChartSpec, 'yScale'> = {
      title,
      xLabel: 'epoch',
      yLabel: fraction ? `${label} (fraction)` : label,
      series,
      integerX: true,
      xTicks: 8,
      markers: true,
      formatY: (v) => formatMetric(metric, v),
    };
    return figure({ kind: 'test-metric', title, attrs: ` data-metric="${escapeHtml(metric)}"`, body: chartBody(spec, 'linear') });
  });
}

function weights(report: RunReport): string {
  const title = 'Task weights over training';
  const perStep = taskSeries(report, report.steps, (s) => s.step, (s, t) => s.weights.get(t));
  if (perStep.length > 0) {
    const { series, every } = thinned(perStep);
    const caption = every > 1 ? `Each point is the mean of ${every} consecutive step records.` : undefined;
    return figure({ kind: 'weights', title, body: chartBody({ title, xLabel: 'step', yLabel: 'weight λ', series, xFromZero: true, integerX: true }, 'linear'), caption });
  }
  const perEpoch = taskSeries(report, report.epochs, (e) => e.epoch, (e, t) => e.weights.get(t));
  if (perEpoch.length > 0) {
    const spec = { title, xLabel: 'epoch', yLabel: 'weight λ', series: perEpoch, integerX: true, xTicks: 8, markers: true };
    return figure({ kind: 'weights', title, body: chartBody(spec, 'linear'), caption: 'No per-step weights recorded: values per epoch.' });
  }
  return figure({ kind: 'weights', title, body: empty('No task weights in metrics.json.') });
}

function throughput(report: RunReport): string {
  const records = report.epochs.filter((e) => e.imagesPerSecond !== undefined);
  if (records.length === 0) return '';
  const title = 'Throughput per epoch';
  const series: ChartSeries[] = [{ label: 'images/s', styleIndex: 0, points: records.map((e) => [e.epoch, e.imagesPerSecond!] as const) }];
  const spec = { title, xLabel: 'epoch', yLabel: 'images/s', series, integerX: true, xTicks: 8, markers: true, formatY: (v: number) => formatCount(v) };
  return figure({ kind: 'throughput', title, body: chartBody(spec, 'linear') });
}

export function renderCharts(report: RunReport): string {
  const toggle =
    `<label class="toggle" for="${LOG_TOGGLE_ID}"><span class="box" aria-hidden="true"></span>` +
    'Logarithmic loss axis</label>';
  const figures = [lossPerStep(report), lossPerEpoch(report), ...testMetrics(report), weights(report), throughput(report)].filter((f) => f !== '');
  return `<section id="charts"><div class="section-head"><h2>Training curves</h2>${toggle}</div><div class="chart-grid">${figures.join('')}</div></section>`;
}
