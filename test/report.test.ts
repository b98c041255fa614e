// The training report: page structure and numbers from realistic fixtures, chart geometry, the
// embedded PNGs (decoded by an independent reader), HTML escaping of hostile names, missing
// optional parts, writeReport on a run folder, and (when Chromium is installed) a real render.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { REPORT_FILE, renderReport, writeReport } from '../lib/report';
import { thinPoints } from '../lib/report/chart';
import { MAX_STEP_POINTS } from '../lib/report/charts';
import { escapeHtml, formatDuration, formatTick } from '../lib/report/format';
import { crc32, encodePng } from '../lib/report/png';
import { linearScale, logScale } from '../lib/report/scale';
import { decodePng, decodePngDataUrl } from './fixtures/report/decode_png';
import { WRONG_LEFT, WRONG_RIGHT, makeMetrics, makeRegressionMetrics, makeSamples } from './fixtures/report/fixtures';

const RUN_SMALL = path.join(__dirname, 'fixtures', 'report', 'run-small');

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The HTML of every <figure data-chart="kind"...>...</figure>. */
function figures(html: string, kind: string): string[] {
  const re = new RegExp(`<figure class="chart-card" data-chart="${kind}"[\\s\\S]*?</figure>`, 'g');
  return html.match(re) ?? [];
}

/** The page without its base64 images (random letters that could spell "NaN"). */
function withoutImages(html: string): string {
  return html.replace(/src="data:image\/png;base64,[^"]*"/g, 'src=""');
}

/** The y-axis of a linear chart as value -> pixel, fitted through its first and last tick labels. */
function yAxisOf(svg: string): (v: number) => number {
  const ticks = [...svg.matchAll(/<text class="tick" x="56" y="([\d.]+)"[^>]*>([^<]+)<\/text>/g)].map((m) => [Number(m[2]), Number(m[1])]);
  const [[v0, y0], [v1, y1]] = [ticks[0], ticks.at(-1)!];
  return (v) => y0 + ((v - v0) * (y1 - y0)) / (v1 - v0);
}

function count(html: string, needle: string): number {
  return html.split(needle).length - 1;
}

/** Polylines of one svg as arrays of [x, y] pixel points. */
function polylines(svg: string): [number, number][][] {
  return [...svg.matchAll(/<polyline points="([^"]+)"/g)].map((m) => m[1].split(' ').map((p) => p.split(',').map(Number) as [number, number]));
}

/** Every tag name used in the page; hostile input must not add any. */
const ALLOWED_TAGS = new Set(
  ('!doctype html head meta title style body input div header h1 h2 h3 p section span table thead tbody tr th td ' +
    'details summary dl dt dd code b br label figure figcaption svg line text polyline polygon circle rect path g ' +
    'ul li img footer').split(' '),
);

function tagNames(html: string): Set<string> {
  return new Set([...html.matchAll(/<\/?([!a-zA-Z][a-zA-Z0-9]*)/g)].map((m) => m[1].toLowerCase()));
}

/** Attribute names of every tag (values are double-quoted, so [^"]* skips them whole). */
function attributeNames(html: string): Set<string> {
  const names = new Set<string>();
  for (const tag of html.matchAll(/<[a-zA-Z][a-zA-Z0-9]*((?:\s+[^\s=>\/]+(?:="[^"]*")?)*)\s*\/?>/g)) {
    for (const attr of tag[1].matchAll(/\s+([^\s=>\/]+)(?:="[^"]*")?/g)) names.add(attr[1].toLowerCase());
  }
  return names;
}

describe('renderReport on a realistic MultiMNIST run', () => {
  let metrics: Json;
  let samples: Json;
  let html: string;
  beforeAll(() => {
    metrics = makeMetrics();
    samples = makeSamples();
    html = renderReport(metrics, samples);
  });

  test('has the page sections and a self-contained head', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    for (const id of ['summary', 'charts', 'epochs', 'samples']) expect(html).toContain(`<section id="${id}">`);
    expect(html).toContain('<title>Training report · multimnist-uncertainty</title>');
    // Nothing is loaded from elsewhere: no script, no external URL, a CSP that forbids it.
    expect(html).not.toMatch(/<script|<link|src="http|href="http|url\(/i);
    expect(html).toContain(`default-src 'none'`);
    expect(withoutImages(html)).not.toMatch(/NaN|undefined|Infinity|\[object Object\]/);
    expect(html).not.toContain('id="notes"');
  });

  test('summary shows run time, throughput, ONNX check and final metrics per task', () => {
    const final = metrics.final;
    const minutes = Math.floor(final.seconds / 60);
    const seconds = String(Math.round(final.seconds - minutes * 60)).padStart(2, '0');
    expect(html).toContain(`${minutes} min ${seconds} s`);
    expect(html).toContain(String(final.imagesPerSecond).replace(/\B(?=(\d{3})+(?!\d))/g, '\u2009'));
    expect(html).toContain('2.38e-6');
    expect(html).toContain('✓ within 1e-4');
    expect(html).toContain('file: model.onnx');
    const table = html.match(/<table class="metrics" data-table="final">[\s\S]*?<\/table>/)![0];
    for (const task of ['left', 'right', 'seg']) expect(table).toContain(`${task}</th>`);
    const pct = (v: number): string => `${(v * 100).toFixed(2)} %`;
    expect(table).toContain(pct(final.left.accuracy));
    expect(table).toContain(pct(final.right.accuracy));
    expect(table).toContain(pct(final.seg.miou));
    expect(table).toContain(pct(final.seg.pixelAccuracy));
    expect(table).toContain('segmentation (3 classes)');
    // Config, flattened to dotted keys.
    expect(html).toContain('<dt>optimizer.lr</dt><dd><code>0.001</code></dd>');
    expect(html).toContain('<dt>optimizer.betas</dt><dd><code>[0.9,0.999]</code></dd>');
  });

  test('one chart per kind, with a legend naming the tasks', () => {
    expect(figures(html, 'loss-step')).toHaveLength(1);
    expect(figures(html, 'loss-epoch')).toHaveLength(1);
    expect(figures(html, 'weights')).toHaveLength(1);
    expect(figures(html, 'throughput')).toHaveLength(1);
    const metricCharts = figures(html, 'test-metric');
    expect(metricCharts.map((f) => f.match(/data-metric="([^"]+)"/)![1])).toEqual(['accuracy', 'miou', 'pixelAccuracy']);
    for (const f of [...figures(html, 'loss-step'), ...figures(html, 'loss-epoch'), ...figures(html, 'weights')]) {
      const legend = f.match(/<ul class="legend">[\s\S]*?<\/ul>/)![0];
      for (const task of ['left', 'right', 'seg']) expect(legend).toContain(`<span>${task}</span>`);
      expect(f).toMatch(/<text class="label"[^>]*>(step|epoch)<\/text>/);
    }
    // Loss charts come in a log and a linear version, switched by the checkbox.
    const lossStep = figures(html, 'loss-step')[0];
    expect(lossStep).toContain('<div class="scale-log">');
    expect(lossStep).toContain('<div class="scale-linear">');
    expect(lossStep).toContain('loss (log scale)');
    expect(html).toMatch(/<input type="checkbox" id="log-scale" class="toggle-input" checked>/);
  });

  test('chart lines follow the data: one polyline per task, each point on its axis value', () => {
    const linear = figures(html, 'loss-epoch')[0].match(/<div class="scale-linear">([\s\S]*?)<\/div>/)![1];
    const lines = polylines(linear);
    expect(lines).toHaveLength(3);
    const epochs = metrics.epochs as Json[];
    const y = yAxisOf(linear);
    expect(y(1)).toBeLessThan(y(0)); // larger values are drawn higher
    lines.forEach((line, t) => {
      const task = ['left', 'right', 'seg'][t];
      expect(line).toHaveLength(epochs.length);
      for (let i = 0; i < line.length; i++) {
        if (i > 0) expect(line[i][0]).toBeGreaterThan(line[i - 1][0]);
        // Points are rounded to 0.1 px.
        expect(Math.abs(line[i][1] - y(epochs[i].trainLoss[task]))).toBeLessThanOrEqual(0.051);
      }
    });
    // Weights per step: the seg weight falls over training (drawn lower at the end).
    const weightLines = polylines(figures(html, 'weights')[0]);
    expect(weightLines).toHaveLength(3);
    expect(weightLines[2].at(-1)![1]).toBeGreaterThan(weightLines[2][0][1]);
    // Epoch markers carry hover titles with the formatted value.
    const acc = figures(html, 'test-metric')[0];
    const lastLeft = (metrics.epochs as Json[]).at(-1)!.test.left.accuracy;
    expect(acc).toContain(`<title>left — epoch ${(metrics.epochs as Json[]).length}: ${(lastLeft * 100).toFixed(2)} %</title>`);
  });

  test('sample grid: predicted classes marked right or wrong, masks drawn as PNG overlays', () => {
    const cards = html.match(/<figure class="sample"[\s\S]*?<\/figure>/g)!;
    expect(cards).toHaveLength(16);
    const wrongMarks = count(html, '<span class="mark" aria-label="wrong">✗</span>');
    const rightMarks = count(html, '<span class="mark" aria-label="right">✓</span>');
    expect(wrongMarks).toBe(WRONG_LEFT.length + WRONG_RIGHT.length);
    expect(rightMarks).toBe(2 * 16 - wrongMarks);
    // A wrong prediction shows the true class beside it.
    const card = cards[WRONG_RIGHT[0]];
    expect(card).toContain(`<span class="truth">true ${samples.targets.right[WRONG_RIGHT[0]]}</span>`);
    expect(html).toContain(`<span class="task">left</span> ${16 - WRONG_LEFT.length} / 16 right`);
    // input + truth + predicted + errors per card, all PNG data URLs.
    expect(count(html, 'src="data:image/png;base64,')).toBe(16 * 4);
  });

  test('embedded PNGs decode to the image, the tinted masks and the wrong pixels', () => {
    const i = 11; // the sample with the most segmentation mistakes
    const card = html.match(new RegExp(`<figure class="sample" data-sample="${i}">[\\s\\S]*?</figure>`))![0];
    const [input, truthPng, predPng, errorsPng] = [...card.matchAll(/src="([^"]+)"/g)].map((m) => decodePngDataUrl(m[1]));
    const image: number[] = samples.images[i];
    const truth: number[] = samples.targets.seg[i];
    const pred: number[] = samples.predictions.seg[i];
    expect([input.width, input.height, input.channels]).toEqual([28, 28, 1]);
    input.pixels.forEach((v, p) => expect(v).toBe(Math.round(image[p] * 255)));
    // Class 0 stays the grey image; class 1 is orange (230,159,0) at 60 % over it; class 2 sky blue.
    const tint = (grey: number, c: number): number => Math.round(grey * 0.4 + c * 0.6);
    for (const [png, mask] of [[truthPng, truth], [predPng, pred]] as const) {
      expect(png.channels).toBe(3);
      for (let p = 0; p < 784; p++) {
        const grey = Math.round(image[p] * 255);
        const rgb = Array.from(png.pixels.subarray(p * 3, p * 3 + 3));
        const want = mask[p] === 0 ? [grey, grey, grey] : mask[p] === 1 ? [230, 159, 0].map((c) => tint(grey, c)) : [86, 180, 233].map((c) => tint(grey, c));
        expect(rgb).toEqual(want);
      }
    }
    let wrong = 0;
    let drawnWrong = 0;
    for (let p = 0; p < 784; p++) {
      if (truth[p] !== pred[p]) wrong++;
      if (errorsPng.pixels[p * 3] === 0xc0 && errorsPng.pixels[p * 3 + 1] === 0x39 && errorsPng.pixels[p * 3 + 2] === 0x2b) drawnWrong++;
    }
    expect(wrong).toBeGreaterThan(10);
    expect(drawnWrong).toBe(wrong);
    expect(card).toContain(`pixels right <b>${((1 - wrong / 784) * 100).toFixed(2)} %</b>`);
  });

  test('is deterministic (pure: no clock, no randomness)', () => {
    expect(renderReport(metrics, samples)).toBe(html);
  });
});

describe('HTML escaping', () => {
  const hostile = '<img src=x onerror=alert(1)>"\'&';
  const scriptName = '"><script>alert(1)</script>';

  function hostileRun(): { metrics: Json; samples: Json } {
    const test = { [hostile]: { accuracy: 0.5 }, [scriptName]: { miou: 0.4, '<i>m</i>': 3 } };
    return {
      metrics: {
        config: { name: `</title><script>alert(2)</script>`, [hostile]: scriptName, nested: { [scriptName]: [hostile] } },
        tasks: {
          [hostile]: { loss: '<b>ce</b>', kind: 'classification', weight: 1 },
          [scriptName]: { loss: 'crossEntropy', kind: 'segmentation', classes: 2 },
        },
        epochs: [1, 2].map((epoch) => ({ epoch, trainLoss: { [hostile]: 1 / epoch, [scriptName]: 2 / epoch }, weights: { [hostile]: 1 }, test })),
        steps: [{ step: 1, losses: { [hostile]: 1 }, weights: { [scriptName]: 1 } }],
        final: { ...test, onnx: { maxAbsDiff: 1, [hostile]: scriptName } },
      },
      samples: {
        imageSize: [2, 2],
        images: [[0, 1, 0.5, 0.25]],
        targets: { [hostile]: [3], [scriptName]: [[0, 1, 1, 0]] },
        predictions: { [hostile]: [4], [scriptName]: [[0, 1, 0, 0]] },
      },
    };
  }

  test('escapeHtml escapes the five special characters', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });

  test('hostile task names, config, loss and metric names cannot inject markup', () => {
    const { metrics, samples } = hostileRun();
    const html = renderReport(metrics, samples);
    for (const tag of tagNames(html)) expect(ALLOWED_TAGS.has(tag), `unexpected tag <${tag}>`).toBe(true);
    expect(html).not.toMatch(/<script|<img src=x|<i>|<b>ce/i);
    const attrs = [...attributeNames(html)];
    expect(attrs.filter((a) => a.startsWith('on'))).toEqual([]);
    expect(attrs).toContain('aria-label');
    // Every tag parsed as well-formed name="value" pairs (a stray quote would break the match).
    expect(count(html, '<')).toBe([...html.matchAll(/<\/[a-zA-Z0-9]+>|<!DOCTYPE html>|<[a-zA-Z][a-zA-Z0-9]*((?:\s+[^\s=>\/]+(?:="[^"]*")?)*)\s*\/?>/g)].length);
    expect(html).toContain(escapeHtml(hostile));
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('<title>Training report · &lt;/title&gt;&lt;script&gt;alert(2)&lt;/script&gt;</title>');
    // The names still show up where they belong: legend, table, sample lines.
    expect(html).toContain(`<span>${escapeHtml(hostile)}</span>`);
    expect(html).toContain('&lt;b&gt;ce&lt;/b&gt;');
    // The ONNX check is above tolerance: shown as failed.
    expect(html).toContain('✗ above 1e-4');
  });

  test('task names that are Object.prototype keys are ordinary tasks', () => {
    const html = renderReport({
      tasks: { constructor: { kind: 'classification' }, __proto__: { kind: 'regression' }, toString: { kind: 'classification' } },
      epochs: [{ epoch: 1, trainLoss: { constructor: 0.5, toString: 0.25 }, test: { constructor: { accuracy: 0.75 } } }],
      final: { constructor: { accuracy: 0.75 } },
    });
    expect(html).toContain('<span>constructor</span>');
    expect(html).toContain('<span>toString</span>');
    expect(html).toContain('75.00 %');
    expect(withoutImages(html)).not.toMatch(/NaN|undefined|function/);
  });
});

describe('missing and odd optional parts', () => {
  test('one epoch, no steps, no final, no ONNX, no samples', () => {
    const metrics = makeMetrics({ epochs: 1, withSteps: false, withFinal: false });
    const html = renderReport(metrics);
    expect(html).toContain('No per-step losses in metrics.json');
    expect(html).toContain("No final record: showing the last epoch's test metrics (epoch 1)");
    expect(html).toContain('not run');
    expect(html).toContain('No samples.json in this run.');
    // Each chart kind still has its one place; weights fall back to the per-epoch values.
    for (const kind of ['loss-step', 'loss-epoch', 'weights']) expect(figures(html, kind)).toHaveLength(1);
    expect(figures(html, 'weights')[0]).toContain('No per-step weights recorded: values per epoch.');
    // A single epoch is drawn as markers, not as an empty chart.
    expect(figures(html, 'loss-epoch')[0]).toMatch(/<circle cx=/);
    expect(withoutImages(html)).not.toMatch(/NaN|undefined|Infinity/);
  });

  test('only config and tasks: every section says what is missing', () => {
    const html = renderReport({ config: {}, tasks: { a: { kind: 'classification' } } });
    expect(html).toContain('No test metrics in metrics.json.');
    expect(html).toContain('No configuration recorded.');
    expect(html).toContain('No per-epoch training losses in metrics.json.');
    expect(html).toContain('No task weights in metrics.json.');
    expect(html).not.toContain('<section id="epochs">');
    expect(withoutImages(html)).not.toMatch(/NaN|undefined|Infinity/);
  });

  test('regression tasks: MSE/MAE charts and plain numbers, values in the sample grid', () => {
    const metrics = makeRegressionMetrics();
    const html = renderReport(metrics, {
      imageSize: [2, 2],
      images: [[0, 0.5, 1, 0.5]],
      targets: { digit: [3], angle: [0.25] },
      predictions: { digit: [3], angle: [0.3125] },
    });
    expect(figures(html, 'test-metric').map((f) => f.match(/data-metric="([^"]+)"/)![1])).toEqual(['accuracy', 'mse', 'mae']);
    const table = html.match(/<table class="metrics"[\s\S]*?<\/table>/)![0];
    expect(table).toContain('<th class="num">MSE</th>');
    expect(table).toContain('0.1033');
    expect(table).not.toContain('10.33 %');
    expect(table).toContain('regression');
    expect(html).toContain('<span class="task">angle</span> <b>0.313</b> <span class="truth">true 0.25</span>');
    expect(html).toContain('<span class="mark" aria-label="right">✓</span><span class="task">digit</span> <b>3</b>');
    // Loss names come from metrics.tasks.
    expect(table).toContain('<td>mse</td>');
  });

  test('missing values (NaN written as null) break a line instead of bridging it', () => {
    const metrics = makeMetrics({ epochs: 5, withSteps: false });
    (metrics.epochs as Json[])[2].trainLoss.left = null;
    const html = renderReport(metrics);
    const linear = figures(html, 'loss-epoch')[0].match(/<div class="scale-linear">([\s\S]*?)<\/div>/)![1];
    const lines = polylines(linear);
    // left: epochs 1-2 and 4-5 as two segments; right and seg whole.
    expect(lines.map((l) => l.length)).toEqual([2, 2, 5, 5]);
    expect(html).toContain('<td class="num">–</td>');
  });

  test('malformed parts are skipped with a note; a non-object metrics is a TypeError', () => {
    const html = renderReport(
      { tasks: 'x', epochs: { epoch: 1 }, steps: [{ losses: {} }], final: 3 },
      { imageSize: [28], images: [] },
    );
    expect(html).toContain('<section id="notes">');
    expect(html).toContain('metrics.epochs is not an array');
    expect(html).toContain('metrics.final is not an object');
    expect(html).toContain('1 entries of metrics.steps have no numeric');
    expect(html).toContain('samples.imageSize is not [height, width]');
    expect(() => renderReport([])).toThrow(TypeError);
    expect(() => renderReport(null)).toThrow(/renderReport: expected metrics to be the object parsed from metrics\.json, got null/);
    // Masks of the wrong size are not drawn.
    const bad = renderReport(makeRegressionMetrics(), { imageSize: [2, 2], images: [[0, 0, 0, 0]], targets: { seg: [[0, 1]] } });
    expect(bad).toContain('samples.targets.seg has masks that are not 4 integers; not shown');
  });

  test('a long run is thinned to at most MAX_STEP_POINTS per line, and says so', () => {
    const metrics = makeMetrics({ epochs: 40, logEvery: 5 }); // 40 * 47 = 1880 step records
    const html = renderReport(metrics);
    const stepCount = (metrics.steps as Json[]).length;
    const every = Math.ceil(stepCount / MAX_STEP_POINTS);
    expect(html).toContain(`Each point is the mean of ${every} consecutive step records`);
    for (const line of polylines(figures(html, 'loss-step')[0])) expect(line.length).toBe(Math.ceil(stepCount / every));
    expect(thinPoints([[0, 1], [1, 3], [2, null], [3, 5], [4, 7]], 2)).toEqual({ points: [[1, 2], [3.5, 6]], every: 3 });
  });
});

describe('chart scales and formatting', () => {
  test('linear ticks are nice numbers covering the data', () => {
    const s = linearScale(0.031, 2.27, { extend: true });
    expect(s.ticks).toEqual([0, 0.5, 1, 1.5, 2, 2.5]);
    expect(s.unit(0)).toBe(0);
    expect(s.unit(2.5)).toBe(1);
    expect(linearScale(1, 8, { integer: true, count: 8 }).ticks).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(linearScale(1, 40, { integer: true, count: 8 }).ticks.every(Number.isInteger)).toBe(true);
    // One value: a window around it rather than a zero-width domain.
    const one = linearScale(0.5, 0.5, { extend: true });
    expect(one.domain[0]).toBeLessThan(0.5);
    expect(one.domain[1]).toBeGreaterThan(0.5);
  });

  test('log ticks are 1-2-5 decades inside a domain that holds the data', () => {
    const s = logScale(0.031, 2.27);
    expect(s.domain[0]).toBeLessThan(0.031);
    expect(s.domain[1]).toBeGreaterThan(2.27);
    expect(s.ticks).toEqual([0.05, 0.1, 0.2, 0.5, 1, 2]);
    expect(s.unit(-1)).toBeNaN();
    const wide = logScale(1e-6, 10);
    expect(wide.ticks).toEqual([1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 1, 10]);
  });

  test('tick and duration text', () => {
    expect(formatTick(0.30000000000000004)).toBe('0.3');
    expect(formatTick(1500, true)).toBe('1.5k');
    expect(formatTick(1e-5)).toBe('1e-5');
    expect(formatDuration(61.2)).toBe('1 min 01 s');
    expect(formatDuration(7384)).toBe('2 h 03 min');
    expect(formatDuration(3.4)).toBe('3.4 s');
  });
});

describe('PNG encoder', () => {
  test('CRC-32 check value and node zlib agreement', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    const z = zlib as unknown as { crc32?: (b: Uint8Array) => number };
    if (z.crc32) expect(crc32(Buffer.from('hydranet report'))).toBe(z.crc32(Buffer.from('hydranet report')));
  });

  test('grey, RGB and RGBA images round-trip through an independent decoder', () => {
    for (const channels of [1, 3, 4] as const) {
      const w = 5;
      const h = 3;
      const pixels = Uint8Array.from({ length: w * h * channels }, (_, i) => (i * 37 + 11) & 0xff);
      const decoded = decodePng(encodePng(w, h, channels, pixels));
      expect([decoded.width, decoded.height, decoded.channels]).toEqual([w, h, channels]);
      expect(Array.from(decoded.pixels)).toEqual(Array.from(pixels));
    }
  });

  test('bad sizes are RangeErrors naming the argument', () => {
    expect(() => encodePng(2, 2, 1, new Uint8Array(3))).toThrow(/encodePng: expected pixels to hold 4 bytes \(2 x 2 x 1\), got 3/);
    expect(() => encodePng(0, 2, 1, new Uint8Array(0))).toThrow(RangeError);
    expect(() => encodePng(1, 1, 2 as 1, new Uint8Array(2))).toThrow(/channels to be 1, 3 or 4, got 2/);
  });
});

describe('writeReport', () => {
  const dirs: string[] = [];
  const tempRun = (): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hydranet-report-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  test('writes report.html into the run folder and returns its path', () => {
    const dir = tempRun();
    for (const f of ['metrics.json', 'samples.json']) fs.copyFileSync(path.join(RUN_SMALL, f), path.join(dir, f));
    const file = writeReport(dir);
    expect(file).toBe(path.join(dir, REPORT_FILE));
    const html = fs.readFileSync(file, 'utf8');
    const metrics = JSON.parse(fs.readFileSync(path.join(RUN_SMALL, 'metrics.json'), 'utf8'));
    const samples = JSON.parse(fs.readFileSync(path.join(RUN_SMALL, 'samples.json'), 'utf8'));
    expect(html).toBe(renderReport(metrics, samples));
    expect(html).toContain('Training report · tiny-run');
    expect(count(html, '<figure class="sample"')).toBe(3);
    // 6x6 images drawn at 84 CSS pixels.
    expect(html).toContain('width="84" height="84"');
    expect(count(html, 'aria-label="wrong">✗')).toBe(1);
  });

  test('samples.json is optional; metrics.json is required and must be JSON', () => {
    const dir = tempRun();
    expect(() => writeReport(dir)).toThrow(/writeReport: could not read ".*metrics\.json"/);
    fs.writeFileSync(path.join(dir, 'metrics.json'), '{"epochs": [');
    expect(() => writeReport(dir)).toThrow(SyntaxError);
    expect(() => writeReport(dir)).toThrow(/metrics\.json" is not valid JSON/);
    fs.writeFileSync(path.join(dir, 'metrics.json'), JSON.stringify(makeRegressionMetrics()));
    expect(fs.readFileSync(writeReport(dir), 'utf8')).toContain('No samples.json in this run.');
    expect(() => writeReport('')).toThrow(TypeError);
  });
});

// A real browser render: only where Debian's chromium is installed (a dev tool, not in CI).
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = fs.existsSync(CHROMIUM);
if (!hasChromium) console.log(`report.test: ${CHROMIUM} not found; the headless-browser render check was not run`);

describe('headless Chromium render', () => {
  test.skipIf(!hasChromium)(`screenshot shows the charts and the tinted masks${hasChromium ? '' : ' (not run: no /usr/bin/chromium)'}`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hydranet-report-shot-'));
    try {
      fs.writeFileSync(path.join(dir, 'metrics.json'), JSON.stringify(makeMetrics()));
      fs.writeFileSync(path.join(dir, 'samples.json'), JSON.stringify(makeSamples()));
      const page = writeReport(dir);
      const shot = path.join(dir, 'shot.png');
      const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'hydranet-chromium-'));
      try {
        await promisify(execFile)(
          CHROMIUM,
          ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
            '--no-first-run', '--disable-sync', `--user-data-dir=${profile}`, '--hide-scrollbars', '--window-size=1280,3400',
            `--screenshot=${shot}`, `file://${page}`],
          { timeout: 50_000 },
        );
      } finally {
        fs.rmSync(profile, { recursive: true, force: true });
      }
      if (process.env.HYDRANET_REPORT_SHOT) fs.copyFileSync(shot, process.env.HYDRANET_REPORT_SHOT);
      const img = decodePng(fs.readFileSync(shot));
      expect([img.width, img.height]).toEqual([1280, 3400]);
      const seen = (rgb: [number, number, number], tol = 2): number => {
        let n = 0;
        for (let p = 0; p < img.width * img.height; p++) {
          const o = p * img.channels;
          if (Math.abs(img.pixels[o] - rgb[0]) <= tol && Math.abs(img.pixels[o + 1] - rgb[1]) <= tol && Math.abs(img.pixels[o + 2] - rgb[2]) <= tol) n++;
        }
        return n;
      };
      // The three task colours of the chart lines, and the orange / sky-blue mask tints over a
      // white digit pixel (data: PNGs allowed by the page's CSP and actually drawn).
      expect(seen([0x00, 0x72, 0xb2])).toBeGreaterThan(500);
      expect(seen([0xe6, 0x9f, 0x00])).toBeGreaterThan(500);
      expect(seen([0x00, 0x9e, 0x73])).toBeGreaterThan(500);
      expect(seen([240, 197, 102], 4)).toBeGreaterThan(200);
      expect(seen([154, 210, 242], 4)).toBeGreaterThan(200);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
