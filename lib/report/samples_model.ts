// samples.json read leniently: images as [H*W] (grey) or [3*H*W] (RGB, channel-major) values in
// 0..1, and per task the targets and predictions: one int per image (classification), one number
// (regression) or H*W ints per image (segmentation masks).
import { isPlainObject, own } from './model';

export interface SampleImage {
  /** 'grey': H*W values; 'rgb': 3*H*W values, channel-major like the network's input. */
  channels: 1 | 3;
  values: number[];
}

export type SampleLabels =
  | { kind: 'class'; values: (number | null)[] }
  | { kind: 'value'; values: (number | null)[] }
  | { kind: 'mask'; values: (number[] | null)[] };

export interface SampleSet {
  height: number;
  width: number;
  images: (SampleImage | null)[];
  /** task -> labels; predictions and targets of one task have the same kind. */
  targets: Map<string, SampleLabels>;
  predictions: Map<string, SampleLabels>;
}

export const MAX_SAMPLES = 64;

function readSize(value: unknown): [number, number] | undefined {
  if (!Array.isArray(value) || value.length !== 2) return undefined;
  const [h, w] = value;
  const ok = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 4096;
  return ok(h) && ok(w) ? [h, w] : undefined;
}

function readImage(value: unknown, pixels: number): SampleImage | null {
  if (!Array.isArray(value)) return null;
  const channels = value.length === pixels ? 1 : value.length === 3 * pixels ? 3 : 0;
  if (channels === 0) return null;
  const values = value.map((v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0));
  return { channels, values };
}

function isMask(v: unknown, pixels: number): v is number[] {
  return Array.isArray(v) && v.length === pixels && v.every((x) => typeof x === 'number' && Number.isInteger(x));
}

/** One task's labels; the kind comes from the task's declared kind, else from the data's shape. */
function readLabels(value: unknown, count: number, pixels: number, declared: string | undefined): SampleLabels | string {
  if (!Array.isArray(value)) return 'is not an array';
  const items = value.slice(0, count);
  const looksLikeMasks = items.some((v) => Array.isArray(v));
  if (declared === 'segmentation' || looksLikeMasks) {
    const masks = items.map((v) => (isMask(v, pixels) ? v : null));
    if (masks.some((m) => m === null)) return `has masks that are not ${pixels} integers`;
    return { kind: 'mask', values: masks };
  }
  const numbers = items.map((v) => (typeof v === 'number' && Number.isFinite(v) ? v : null));
  const integers = numbers.every((v) => v === null || Number.isInteger(v));
  if (declared === 'regression' || !integers) return { kind: 'value', values: numbers };
  return { kind: 'class', values: numbers };
}

function readLabelMap(value: unknown, where: string, count: number, pixels: number, kinds: Map<string, string>, notes: string[]): Map<string, SampleLabels> {
  const out = new Map<string, SampleLabels>();
  if (value === undefined) return out;
  if (!isPlainObject(value)) {
    notes.push(`${where} is not an object; ignored`);
    return out;
  }
  for (const [task, labels] of Object.entries(value)) {
    const read = readLabels(labels, count, pixels, kinds.get(task));
    if (typeof read === 'string') notes.push(`${where}.${task} ${read}; not shown`);
    else out.set(task, read);
  }
  return out;
}

/**
 * Reads a parsed samples.json. `kinds` maps task names to their declared kind (from metrics.json).
 * Returns undefined (with a note) when there is nothing to draw.
 */
export function readSamples(raw: unknown, kinds: Map<string, string>, notes: string[]): SampleSet | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isPlainObject(raw)) {
    notes.push('samples.json is not an object; the sample grid is left out');
    return undefined;
  }
  const size = readSize(own(raw, 'imageSize'));
  if (!size) {
    notes.push('samples.imageSize is not [height, width] (positive integers); the sample grid is left out');
    return undefined;
  }
  const [height, width] = size;
  const pixels = height * width;
  const rawImages = Array.isArray(raw.images) ? raw.images : [];
  if (rawImages.length > MAX_SAMPLES) notes.push(`samples.json holds ${rawImages.length} images; the first ${MAX_SAMPLES} are shown`);
  const images = rawImages.slice(0, MAX_SAMPLES).map((v) => readImage(v, pixels));
  const bad = images.filter((v) => v === null).length;
  if (bad > 0) notes.push(`${bad} sample images are not ${pixels} (or ${3 * pixels}) numbers; drawn blank`);
  const targets = readLabelMap(raw.targets, 'samples.targets', images.length, pixels, kinds, notes);
  const predictions = readLabelMap(raw.predictions, 'samples.predictions', images.length, pixels, kinds, notes);
  for (const [task, p] of predictions) {
    const t = targets.get(task);
    if (t && t.kind !== p.kind) {
      notes.push(`samples.predictions.${task} (${p.kind}) does not match its targets (${t.kind}); predictions not shown`);
      predictions.delete(task);
    }
  }
  if (images.length === 0) {
    notes.push('samples.json has no images; the sample grid is left out');
    return undefined;
  }
  return { height, width, images, targets, predictions };
}
