/**
 * The training report: one self-contained HTML page (inline CSS, inline SVG charts, images as
 * PNG data URLs, no script, nothing fetched) built from a run folder's metrics.json and
 * samples.json.
 *
 * @example
 * const file = writeReport('runs/2024-05-01');   // writes runs/2024-05-01/report.html
 * const html = renderReport(JSON.parse(metricsText), JSON.parse(samplesText));
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../io/atomic_write';
import { LOG_TOGGLE_ID, renderCharts } from './charts';
import { renderEpochsTable } from './epochs_table';
import { escapeHtml } from './format';
import { readRunMetrics } from './model';
import { renderSamples } from './samples';
import { readSamples } from './samples_model';
import { STYLE } from './style';
import { renderSummary } from './summary';

export { escapeHtml } from './format';
export { encodePng } from './png';

export const REPORT_FILE = 'report.html';

function subtitle(tasks: { name: string; kind: string }[], config: Map<string, unknown>): string {
  const parts: string[] = [];
  if (tasks.length > 0) parts.push(`${tasks.length} task${tasks.length === 1 ? '' : 's'}: ${tasks.map((t) => escapeHtml(t.name)).join(', ')}`);
  for (const key of ['model', 'dataset', 'weighting', 'optimizer']) {
    const v = config.get(key);
    if (typeof v === 'string' || typeof v === 'number') parts.push(`${escapeHtml(key)} ${escapeHtml(v)}`);
  }
  return parts.join(' · ');
}

/**
 * Renders the report page from a parsed metrics.json and (optionally) a parsed samples.json.
 * Pure: no I/O, no clock; the same inputs give the same page. Missing optional parts (steps,
 * epochs, final, onnx, samples) are left out with a short note; every string from the inputs is
 * HTML-escaped. Throws a TypeError only when `metrics` is not an object.
 */
export function renderReport(metrics: unknown, samples?: unknown): string {
  const report = readRunMetrics(metrics);
  const kinds = new Map(report.tasks.map((t) => [t.name, t.kind]));
  const set = readSamples(samples, kinds, report.notes);
  const name = report.config.get('name');
  const title = typeof name === 'string' && name.length > 0 ? `Training report · ${name}` : 'hydranet training report';
  const notes =
    report.notes.length > 0
      ? `<section id="notes"><h2>Notes</h2><ul>${report.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul></section>`
      : '';
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // Nothing on this page loads from elsewhere; the policy makes sure of it.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">`,
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style></head><body>`,
    `<input type="checkbox" id="${LOG_TOGGLE_ID}" class="toggle-input" checked>`,
    '<div class="page">',
    `<header><h1>${escapeHtml(title)}</h1><p class="subtitle">${subtitle(report.tasks, report.config)}</p></header>`,
    renderSummary(report),
    renderCharts(report),
    renderEpochsTable(report),
    renderSamples(report, set),
    notes,
    '<footer>Written by hydranet from metrics.json and samples.json. Self-contained: no scripts, no network.</footer>',
    '</div></body></html>',
    '',
  ].join('\n');
}

function readJson(file: string, required: boolean): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`writeReport: could not read ${JSON.stringify(file)}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new SyntaxError(`writeReport: ${JSON.stringify(file)} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Reads `<runDir>/metrics.json` (required) and `<runDir>/samples.json` (optional), writes
 * `<runDir>/report.html` atomically and returns its path.
 */
export function writeReport(runDir: string): string {
  if (typeof runDir !== 'string' || runDir.length === 0) {
    throw new TypeError(`writeReport: expected runDir to be a non-empty string (a run folder), got ${typeof runDir === 'string' ? 'an empty string' : typeof runDir}`);
  }
  const metrics = readJson(path.join(runDir, 'metrics.json'), true);
  const samples = readJson(path.join(runDir, 'samples.json'), false);
  const html = renderReport(metrics, samples);
  const file = path.join(runDir, REPORT_FILE);
  writeFileAtomic(file, Buffer.from(html, 'utf8'));
  return file;
}
