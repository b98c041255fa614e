import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import { mnist } from '../lib/data/mnist';
import { MultiMnist, checkCacheFile, multiMnist, nearestSourceIndex } from '../lib/data/multi_mnist';

const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-mmnist-'));
afterAll(() => fs.rmSync(cacheDir, { recursive: true, force: true }));

/**
 * Pillow's Image.resize(NEAREST) index rule as its C code runs it (ImagingScaleAffine):
 * start at half a source step, add the step in double precision, truncate.
 */
function pillowNearest(src: number, dst: number): number[] {
  const step = src / dst;
  let at = step * 0.5;
  const out: number[] = [];
  for (let x = 0; x < dst; x++) {
    out.push(Math.trunc(at));
    at += step;
  }
  return out;
}

/**
 * Sample i built the way Sener & Koltun's loader does, written independently of the library:
 * new_im = zeros(36,36); new_im[0:28,0:28] = lim; new_im[6:34,6:34] = rim;
 * new_im[6:28,6:28] = max(lim[6:28,6:28], rim[0:22,0:22]); resize to 28x28 NEAREST.
 * Also returns each digit drawn alone on the canvas, resized the same way.
 */
function referenceSample(images: Uint8Array, i: number, j: number) {
  const S = 36;
  const canvas = new Float64Array(S * S);
  const leftOnly = new Float64Array(S * S);
  const rightOnly = new Float64Array(S * S);
  const lim = (r: number, c: number) => images[i * 784 + r * 28 + c];
  const rim = (r: number, c: number) => images[j * 784 + r * 28 + c];
  for (let r = 0; r < 28; r++) for (let c = 0; c < 28; c++) canvas[r * S + c] = lim(r, c);
  for (let r = 0; r < 28; r++) for (let c = 0; c < 28; c++) canvas[(r + 6) * S + c + 6] = rim(r, c);
  for (let r = 6; r < 28; r++) for (let c = 6; c < 28; c++) canvas[r * S + c] = Math.max(lim(r, c), rim(r - 6, c - 6));
  for (let r = 0; r < 28; r++) for (let c = 0; c < 28; c++) {
    leftOnly[r * S + c] = lim(r, c);
    rightOnly[(r + 6) * S + c + 6] = rim(r, c);
  }
  const idx = pillowNearest(36, 28);
  const resize = (a: Float64Array) => {
    const out = new Float64Array(784);
    for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) out[y * 28 + x] = a[idx[y] * S + idx[x]];
    return out;
  };
  return { image: resize(canvas), left: resize(leftOnly), right: resize(rightOnly) };
}

const sha = (ds: MultiMnist) => {
  const h = crypto.createHash('sha1');
  for (const a of [ds.inputs.data, ds.targets.left.data, ds.targets.right.data, ds.targets.seg.data]) h.update(a);
  return h.digest('hex');
};

describe('nearest resize rule', () => {
  it("is Pillow's NEAREST (pixel centres) for 36 -> 28 and other sizes", () => {
    const rule = (src: number, dst: number) => Array.from({ length: dst }, (_, d) => nearestSourceIndex(d, src, dst));
    expect(rule(36, 28)).toEqual([0, 1, 3, 4, 5, 7, 8, 9, 10, 12, 13, 14, 16, 17, 18, 19, 21, 22, 23, 25, 26, 27, 28, 30, 31, 32, 34, 35]);
    for (const [src, dst] of [[36, 28], [28, 14], [10, 3], [7, 5], [5, 7], [28, 56], [100, 28]]) {
      expect(rule(src, dst)).toEqual(pillowNearest(src, dst));
    }
  });
});

describe('multiMnist', () => {
  const labelsTest = mnist({ split: 'test' });

  it('matches an independent reference of the paper construction, sample by sample', () => {
    const n = 300;
    const ds = multiMnist({ split: 'test', seed: 5, limit: n, cache: false });
    expect(ds.length).toBe(n);
    expect(ds.inputs.shape).toEqual([n, 1, 28, 28]);
    expect(ds.targets.left.shape).toEqual([n]);
    expect(ds.targets.right.shape).toEqual([n]);
    expect(ds.targets.seg.shape).toEqual([n, 28, 28]);
    expect(ds.inputs.data).toBeInstanceOf(Float32Array);
    expect(ds.targets.seg.data).toBeInstanceOf(Int32Array);
    expect(ds.targets.left.data).toBeInstanceOf(Int32Array);

    // Per-pixel checks are counted, not expect()ed one by one (235200 pixels), then asserted.
    const segCounts = [0, 0, 0];
    const bad = { partner: 0, labels: 0, image: 0, input: 0, seg0: 0, seg1: 0, seg2: 0, segValue: 0 };
    for (let i = 0; i < n; i++) {
      const j = ds.partners[i];
      if (!(j >= 0 && j < 10000)) bad.partner++;
      if (ds.targets.left.data[i] !== labelsTest.labels[i] || ds.targets.right.data[i] !== labelsTest.labels[j]) bad.labels++;
      const ref = referenceSample(labelsTest.images, i, j);
      for (let p = 0; p < 784; p++) {
        const v = ds.images[i * 784 + p];
        if (v !== ref.image[p]) bad.image++;
        // normalisation: float32 of (v/255 - mean)/std, within float32 rounding (values < 3)
        if (!(Math.abs(ds.inputs.data[i * 784 + p] - (v / 255 - 0.1307) / 0.3081) < 5e-7)) bad.input++;
        const s = ds.targets.seg.data[i * 784 + p];
        if (s === 0) {
          if (!(v < 128)) bad.seg0++;
        } else if (s === 1) {
          // the top-left digit alone is drawn here, and it is what the image shows
          if (!(ref.left[p] >= 128 && ref.left[p] === v && ref.left[p] >= ref.right[p])) bad.seg1++;
        } else if (s === 2) {
          if (!(ref.right[p] >= 128 && ref.right[p] === v && ref.right[p] > ref.left[p])) bad.seg2++;
        } else bad.segValue++;
        if (s >= 0 && s <= 2) segCounts[s]++;
      }
    }
    expect(bad).toEqual({ partner: 0, labels: 0, image: 0, input: 0, seg0: 0, seg1: 0, seg2: 0, segValue: 0 });
    // both digits own a real share of the pixels (about 10% each for MNIST strokes)
    expect(segCounts[1] / (n * 784)).toBeGreaterThan(0.04);
    expect(segCounts[2] / (n * 784)).toBeGreaterThan(0.04);
  });

  it('is deterministic for a seed, differs across seeds, and a slice is a prefix of the set', () => {
    const a = multiMnist({ split: 'train', seed: 7, limit: 200, cache: false });
    const b = multiMnist({ split: 'train', seed: 7, limit: 200, cache: false });
    const c = multiMnist({ split: 'train', seed: 8, limit: 200, cache: false });
    expect(sha(a)).toBe(sha(b));
    expect(Buffer.from(a.images).equals(Buffer.from(b.images))).toBe(true);
    expect(sha(a)).not.toBe(sha(c));
    expect(Array.from(a.partners)).not.toEqual(Array.from(c.partners));
    const small = multiMnist({ split: 'train', seed: 7, limit: 50, cache: false });
    expect(Array.from(small.partners)).toEqual(Array.from(a.partners.subarray(0, 50)));
    expect(Buffer.from(small.inputs.data.buffer).equals(Buffer.from(a.inputs.data.buffer, 0, 50 * 784 * 4))).toBe(true);
    // the training set is left in order: left digits are the MNIST train labels
    expect(Array.from(a.targets.left.data.subarray(0, 5))).toEqual([5, 0, 4, 1, 9]);
  });

  it('keeps the partner stream stable across versions (seed 0, test split)', () => {
    // Golden values: a change here silently changes every published result and cache file.
    const ds = multiMnist({ split: 'test', seed: 0, limit: 5, cache: false });
    expect(Array.from(ds.partners)).toEqual([9289, 8311, 8671, 7779, 3769]);
  });

  it('draws partners uniformly from the whole split', () => {
    const ds = multiMnist({ split: 'test', seed: 11, cache: false });
    expect(ds.length).toBe(10000);
    let sum = 0;
    for (const j of ds.partners) sum += j;
    // uniform on 0..9999: mean 4999.5, standard error 2887/sqrt(10000) = 29
    expect(Math.abs(sum / ds.length - 4999.5)).toBeLessThan(150);
    const distinct = new Set(ds.partners).size;
    // 10000 draws from 10000: about 6321 distinct (1 - 1/e), with sd ~ 30
    expect(distinct).toBeGreaterThan(6100);
    expect(distinct).toBeLessThan(6550);
  });

  it('caches a full build atomically, reuses it, and rebuilds a corrupt cache file', () => {
    const opts = { split: 'test' as const, seed: 3, cacheDir };
    const first = multiMnist(opts);
    expect(first.cacheStatus).toBe('built');
    const files = fs.readdirSync(cacheDir);
    expect(files).toEqual(['multi-mnist-v1-test-seed3.bin']); // no temp file left behind
    const file = path.join(cacheDir, files[0]);
    const digest = sha(first);

    const second = multiMnist(opts);
    expect(second.cacheStatus).toBe('hit');
    expect(sha(second)).toBe(digest);
    expect(Array.from(second.partners)).toEqual(Array.from(first.partners));

    // a slice read from the cache is the prefix of the full set
    const slice = multiMnist({ ...opts, limit: 20 });
    expect(slice.cacheStatus).toBe('hit');
    expect(Array.from(slice.targets.seg.data)).toEqual(Array.from(first.targets.seg.data.subarray(0, 20 * 784)));

    // Each corruption is caught, for the right reason...
    const good = fs.readFileSync(file);
    expect(checkCacheFile(file, 'test', 3)).toBe('ok');
    const corruptions: Array<[string, (b: Buffer) => Buffer]> = [
      ['checksum mismatch', (b) => { b[b.length - 5000] ^= 0xff; return b; }],
      ['checksum mismatch', (b) => { b[70] ^= 0x01; return b; }], // a partner index
      ['wrong file size', (b) => b.subarray(0, b.length - 1)],
      ['wrong file size', (b) => Buffer.concat([b, Buffer.from([0])])],
      ['truncated header', (b) => b.subarray(0, 30)],
      ['bad magic', (b) => { b[0] = 0x58; return b; }],
      ['format version 99', (b) => { b.writeUInt32LE(99, 8); return b; }],
      ['split or seed differs', (b) => { b.writeDoubleLE(4, 16); return b; }],
      ['split or seed differs', (b) => { b.writeUInt32LE(0, 12); return b; }],
      ['sizes differ', (b) => { b.writeUInt32LE(9999, 24); return b; }],
    ];
    const probe = path.join(cacheDir, 'probe.bin');
    for (const [reason, corrupt] of corruptions) {
      fs.writeFileSync(probe, corrupt(Buffer.from(good)));
      expect(checkCacheFile(probe, 'test', 3)).toBe(reason);
    }
    fs.rmSync(probe);
    expect(checkCacheFile(file, 'test', 4)).toBe('split or seed differs');
    expect(checkCacheFile(file, 'train', 3)).toBe('split or seed differs');

    // ...and a corrupt file is rebuilt and replaced by a good one, never trusted.
    const flipped = Buffer.from(good);
    flipped[flipped.length - 5000] ^= 0xff;
    fs.writeFileSync(file, flipped);
    const rebuilt = multiMnist(opts);
    expect(rebuilt.cacheStatus).toBe('built');
    expect(sha(rebuilt)).toBe(digest);
    expect(fs.readFileSync(file).equals(good)).toBe(true);
    // a corrupt file is also rebuilt when only a slice is asked for
    fs.writeFileSync(file, good.subarray(0, 100));
    expect(multiMnist({ ...opts, limit: 4 }).cacheStatus).toBe('built');
    expect(fs.readFileSync(file).equals(good)).toBe(true);
    expect(fs.readdirSync(cacheDir)).toEqual(['multi-mnist-v1-test-seed3.bin']);
  });

  it('honours HYDRANET_CACHE_DIR', () => {
    const dir = path.join(cacheDir, 'env');
    const before = process.env.HYDRANET_CACHE_DIR;
    process.env.HYDRANET_CACHE_DIR = dir;
    try {
      multiMnist({ split: 'test', seed: 9 });
    } finally {
      if (before === undefined) delete process.env.HYDRANET_CACHE_DIR;
      else process.env.HYDRANET_CACHE_DIR = before;
    }
    expect(fs.readdirSync(dir)).toEqual(['multi-mnist-v1-test-seed9.bin']);
  });

  it('rejects bad options, naming the argument', () => {
    expect(() => multiMnist({ split: 'validation' as 'test' })).toThrow(/multiMnist: expected split to be 'train' or 'test', got 'validation'/);
    expect(() => multiMnist({ split: 'test', seed: -1 })).toThrow(/multiMnist: expected seed to be a non-negative safe integer, got -1/);
    expect(() => multiMnist({ split: 'test', seed: 1.5 })).toThrow(/expected seed/);
    expect(() => multiMnist({ split: 'test', limit: 2.5 })).toThrow(/multiMnist: expected limit to be a non-negative integer, got 2.5/);
  });
});
