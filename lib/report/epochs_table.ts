// Every epoch in one table: time, throughput, training loss and test metrics per task.
import { escapeHtml, formatCount, formatDuration, formatMetric, formatNumber, metricLabel } from './format';
import type { RunReport } from './model';
import { metricNamesOf } from './summary';

export function renderEpochsTable(report: RunReport): string {
  if (report.epochs.length === 0) return '';
  const lossTasks = report.tasks.filter((t) => report.epochs.some((e) => e.trainLoss.get(t.name) != null));
  const testColumns: [string, string][] = [];
  for (const t of report.tasks) {
    const names = metricNamesOf(report.epochs.map((e) => e.test.get(t.name) ?? new Map()));
    for (const m of names) testColumns.push([t.name, m]);
  }
  const head =
    '<tr><th class="num">Epoch</th><th class="num">Time</th><th class="num">Images/s</th>' +
    lossTasks.map((t) => `<th class="num">loss · ${escapeHtml(t.name)}</th>`).join('') +
    testColumns.map(([t, m]) => `<th class="num">${escapeHtml(metricLabel(m))} · ${escapeHtml(t)}</th>`).join('') +
    '</tr>';
  const rows = report.epochs.map((e) => {
    const cells = [
      `<td class="num">${escapeHtml(e.epoch)}</td>`,
      `<td class="num">${escapeHtml(formatDuration(e.seconds))}</td>`,
      `<td class="num">${escapeHtml(formatCount(e.imagesPerSecond))}</td>`,
      ...lossTasks.map((t) => `<td class="num">${escapeHtml(formatNumber(e.trainLoss.get(t.name)))}</td>`),
      ...testColumns.map(([t, m]) => `<td class="num">${escapeHtml(formatMetric(m, e.test.get(t)?.get(m)))}</td>`),
    ];
    return `<tr>${cells.join('')}</tr>`;
  });
  return (
    `<section id="epochs"><details open><summary>Per-epoch records</summary><div class="table-wrap">` +
    `<table class="epochs" data-table="epochs"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table></div></details></section>`
  );
}
