// The grid of test samples: each input image with its predicted classes (✓ green when right,
// ✗ red when wrong, the true class beside a wrong one), and per segmentation task the true mask,
// the predicted mask (class colours tinted over the image) and the map of wrong pixels.
import { escapeHtml, formatMetric, formatNumber } from './format';
import { errorMapDataUrl, imageDataUrl, maskOverlayDataUrl, pixelAgreement } from './images';
import type { RunReport } from './model';
import { SEG_CLASS_COLORS, WRONG_COLOR, rgbHex } from './palette';
import type { SampleLabels, SampleSet } from './samples_model';

/** Drawn size of the long side of a sample image, in CSS pixels. */
const PANEL_PX = 84;

function img(src: string, height: number, width: number, alt: string): string {
  const scale = PANEL_PX / Math.max(height, width);
  return `<img src="${src}" width="${Math.round(width * scale)}" height="${Math.round(height * scale)}" alt="${escapeHtml(alt)}">`;
}

function panel(src: string, set: SampleSet, alt: string, caption: string): string {
  return `<div class="panel">${img(src, set.height, set.width, alt)}<span>${caption}</span></div>`;
}

/** Tasks in the report's order first, then any that only samples.json names. */
function orderedTasks(report: RunReport, set: SampleSet): string[] {
  const names = report.tasks.map((t) => t.name);
  for (const k of [...set.targets.keys(), ...set.predictions.keys()]) if (!names.includes(k)) names.push(k);
  return names.filter((n) => set.targets.has(n) || set.predictions.has(n));
}

function labelKind(set: SampleSet, task: string): SampleLabels['kind'] {
  return (set.predictions.get(task) ?? set.targets.get(task))!.kind;
}

function classLine(task: string, predicted: number | null | undefined, truth: number | null | undefined): string {
  const name = `<span class="task">${escapeHtml(task)}</span>`;
  if (predicted === null || predicted === undefined) {
    return `<li class="neutral">${name} <span class="truth">true ${escapeHtml(formatNumber(truth))}</span></li>`;
  }
  if (truth === null || truth === undefined) return `<li class="neutral">${name} <b>${escapeHtml(predicted)}</b></li>`;
  if (predicted === truth) return `<li class="right"><span class="mark" aria-label="right">✓</span>${name} <b>${escapeHtml(predicted)}</b></li>`;
  return `<li class="wrong"><span class="mark" aria-label="wrong">✗</span>${name} <b>${escapeHtml(predicted)}</b> <span class="truth">true ${escapeHtml(truth)}</span></li>`;
}

function valueLine(task: string, predicted: number | null | undefined, truth: number | null | undefined): string {
  const name = `<span class="task">${escapeHtml(task)}</span>`;
  const pred = predicted === null || predicted === undefined ? '' : ` <b>${escapeHtml(formatNumber(predicted, 3))}</b>`;
  const tr = truth === null || truth === undefined ? '' : ` <span class="truth">true ${escapeHtml(formatNumber(truth, 3))}</span>`;
  return `<li class="neutral">${name}${pred}${tr}</li>`;
}

function sampleCard(set: SampleSet, tasks: string[], index: number): string {
  const image = set.images[index];
  const panels = [panel(imageDataUrl(image, set.height, set.width), set, `test image ${index + 1}`, 'input')];
  const lines: string[] = [];
  for (const task of tasks) {
    const kind = labelKind(set, task);
    const truth = set.targets.get(task)?.values[index] ?? null;
    const predicted = set.predictions.get(task)?.values[index] ?? null;
    if (kind === 'mask') {
      const t = truth as number[] | null;
      const p = predicted as number[] | null;
      const label = escapeHtml(task);
      if (t) panels.push(panel(maskOverlayDataUrl(image, t, set.height, set.width), set, `${task}: true mask of image ${index + 1}`, `${label} · truth`));
      if (p) panels.push(panel(maskOverlayDataUrl(image, p, set.height, set.width), set, `${task}: predicted mask of image ${index + 1}`, `${label} · predicted`));
      if (t && p) {
        panels.push(panel(errorMapDataUrl(image, t, p, set.height, set.width), set, `${task}: wrong pixels of image ${index + 1}`, `${label} · errors`));
        lines.push(`<li class="neutral"><span class="task">${label}</span> pixels right <b>${escapeHtml(formatMetric('pixelAccuracy', pixelAgreement(t, p)))}</b></li>`);
      }
    } else if (kind === 'class') {
      lines.push(classLine(task, predicted as number | null, truth as number | null));
    } else {
      lines.push(valueLine(task, predicted as number | null, truth as number | null));
    }
  }
  return (
    `<figure class="sample" data-sample="${index}"><div class="sample-index">#${index + 1}</div>` +
    `<div class="panels">${panels.join('')}</div><ul class="preds">${lines.join('')}</ul></figure>`
  );
}

/** "left: 15 / 16 right" for each classification task with both predictions and targets. */
function tallies(set: SampleSet, tasks: string[]): string {
  const parts: string[] = [];
  for (const task of tasks) {
    const t = set.targets.get(task);
    const p = set.predictions.get(task);
    if (!t || !p || t.kind !== 'class' || p.kind !== 'class') continue;
    let right = 0;
    let counted = 0;
    for (let i = 0; i < set.images.length; i++) {
      const a = t.values[i];
      const b = p.values[i];
      if (a === null || a === undefined || b === null || b === undefined) continue;
      counted++;
      if (a === b) right++;
    }
    parts.push(`<li><span class="task">${escapeHtml(task)}</span> ${right} / ${counted} right</li>`);
  }
  return parts.length > 0 ? `<ul class="tallies">${parts.join('')}</ul>` : '';
}

/** Class colours of the masks shown, with class 0 named as untinted background. */
function maskLegend(set: SampleSet, report: RunReport, tasks: string[]): string {
  const maskTasks = tasks.filter((t) => labelKind(set, t) === 'mask');
  if (maskTasks.length === 0) return '';
  let classes = 0;
  for (const task of maskTasks) {
    const declared = report.tasks.find((t) => t.name === task)?.classes;
    let max = 0;
    for (const labels of [set.targets.get(task), set.predictions.get(task)]) {
      for (const mask of (labels?.values ?? []) as (number[] | null)[]) for (const v of mask ?? []) if (v > max) max = v;
    }
    classes = Math.max(classes, declared ?? 0, max + 1);
  }
  const shown = Math.min(classes, SEG_CLASS_COLORS.length + 1);
  const items = ['<li><span class="chip chip-bg"></span>class 0 (background, untinted)</li>'];
  for (let c = 1; c < shown; c++) items.push(`<li><span class="chip" style="background:${rgbHex(SEG_CLASS_COLORS[c - 1])}"></span>class ${c}</li>`);
  items.push(`<li><span class="chip" style="background:${WRONG_COLOR}"></span>wrong pixel (errors map)</li>`);
  return `<ul class="mask-legend">${items.join('')}</ul>`;
}

export function renderSamples(report: RunReport, set: SampleSet | undefined): string {
  const head = '<h2>Test samples</h2>';
  if (!set) return `<section id="samples">${head}<p class="muted">No samples.json in this run.</p></section>`;
  const tasks = orderedTasks(report, set);
  const panelsPerCard = 1 + tasks.filter((t) => labelKind(set, t) === 'mask').length * 3;
  const cards = set.images.map((_, i) => sampleCard(set, tasks, i));
  const legend =
    '<ul class="mark-legend"><li class="right"><span class="mark">✓</span>prediction right</li>' +
    '<li class="wrong"><span class="mark">✗</span>prediction wrong (true class beside it)</li></ul>';
  return (
    `<section id="samples">${head}<div class="legend-row">${legend}${maskLegend(set, report, tasks)}</div>${tallies(set, tasks)}` +
    `<div class="sample-grid" style="--panels:${panelsPerCard}">${cards.join('')}</div></section>`
  );
}
