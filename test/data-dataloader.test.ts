import { describe, expect, it } from 'vitest';
import { DataLoader } from '../lib/data/dataloader';
import type { ArrayDataset } from '../lib/data/dataset';
import { multiMnist } from '../lib/data/multi_mnist';

/** N samples whose every value encodes the sample index, so a batch row names its source. */
function indexed(n: number): ArrayDataset {
  const inputs = new Float32Array(n * 6);
  for (let i = 0; i < inputs.length; i++) inputs[i] = Math.floor(i / 6) * 10 + (i % 6);
  const label = new Int32Array(n);
  for (let i = 0; i < n; i++) label[i] = 1000 + i;
  const box = new Float32Array(n * 2);
  for (let i = 0; i < box.length; i++) box[i] = Math.floor(i / 2) + 0.5 * (i % 2);
  return {
    length: n,
    inputs: { data: inputs, shape: [n, 2, 3] },
    targets: { label: { data: label, shape: [n] }, box: { data: box, shape: [n, 2] } },
  };
}

/** Every batch's rows must be the samples its `indices` name; returns the epoch's order. */
function checkEpoch(loader: DataLoader, batches: Iterable<{ x: any; targets: any; indices: Int32Array }>): number[] {
  const order: number[] = [];
  for (const { x, targets, indices } of batches) {
    const b = indices.length;
    expect(x.shape).toEqual([b, 2, 3]);
    expect(x.dtype).toBe('float32');
    expect(targets.label.shape).toEqual([b]);
    expect(targets.label.dtype).toBe('int32');
    expect(targets.box.shape).toEqual([b, 2]);
    expect(targets.box.dtype).toBe('float32');
    const xs = x.data as Float32Array;
    for (let k = 0; k < b; k++) {
      const i = indices[k];
      for (let e = 0; e < 6; e++) expect(xs[k * 6 + e]).toBe(i * 10 + e);
      expect(targets.label.data[k]).toBe(1000 + i);
      expect(Array.from(targets.box.data.subarray(2 * k, 2 * k + 2))).toEqual([i, i + 0.5]);
      order.push(i);
    }
  }
  return order;
}

describe('DataLoader', () => {
  it('covers every sample exactly once per epoch, in order without shuffle, last partial batch kept', () => {
    const loader = new DataLoader(indexed(10), { batchSize: 4 });
    expect(loader.length).toBe(3);
    const sizes = [...loader].map((b) => b.indices.length);
    expect(sizes).toEqual([4, 4, 2]);
    expect(checkEpoch(loader, loader)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('dropLast drops the short batch; an exact multiple loses nothing', () => {
    const loader = new DataLoader(indexed(10), { batchSize: 4, dropLast: true });
    expect(loader.length).toBe(2);
    expect([...loader].map((b) => b.indices.length)).toEqual([4, 4]);
    const exact = new DataLoader(indexed(12), { batchSize: 4, dropLast: true });
    expect(exact.length).toBe(3);
    expect(checkEpoch(exact, exact)).toHaveLength(12);
    const tiny = new DataLoader(indexed(3), { batchSize: 4, dropLast: true });
    expect(tiny.length).toBe(0);
    expect([...tiny]).toEqual([]);
  });

  it('shuffles into a permutation, a new one each epoch, reproducible from (seed, epoch)', () => {
    const ds = indexed(37);
    const loader = new DataLoader(ds, { batchSize: 5, shuffle: true, seed: 42 });
    expect(loader.length).toBe(8);
    const e0 = checkEpoch(loader, loader);
    const e1 = checkEpoch(loader, loader);
    const e2 = checkEpoch(loader, loader);
    for (const e of [e0, e1, e2]) expect([...e].sort((a, b) => a - b)).toEqual(Array.from({ length: 37 }, (_, i) => i));
    expect(e0).not.toEqual(Array.from({ length: 37 }, (_, i) => i));
    expect(e1).not.toEqual(e0);
    expect(e2).not.toEqual(e1);

    // a second loader with the same seed replays the same epochs
    const again = new DataLoader(ds, { batchSize: 5, shuffle: true, seed: 42 });
    expect(checkEpoch(again, again)).toEqual(e0);
    // resuming at epoch 2 gives epoch 2's order, then epoch 3 follows
    const resumed = new DataLoader(ds, { batchSize: 5, shuffle: true, seed: 42 });
    resumed.setEpoch(2);
    expect(checkEpoch(resumed, resumed)).toEqual(e2);
    expect(resumed.epoch).toBe(3);
    expect(Array.from(resumed.order(1))).toEqual(e1);
    // another seed, another order
    const other = new DataLoader(ds, { batchSize: 5, shuffle: true, seed: 43 });
    expect(checkEpoch(other, other)).not.toEqual(e0);
    // the batch size does not change the order of an epoch
    expect(Array.from(new DataLoader(ds, { batchSize: 37, shuffle: true, seed: 42 }).order(0))).toEqual(e0);
  });

  it('shuffles uniformly: each sample lands in each position about equally often', () => {
    const n = 5;
    const loader = new DataLoader(indexed(n), { batchSize: n, shuffle: true, seed: 1 });
    const counts = Array.from({ length: n }, () => new Array(n).fill(0));
    const epochs = 5000;
    for (let e = 0; e < epochs; e++) loader.order(e).forEach((i, pos) => counts[i][pos]++);
    // expected 1000 per cell, binomial sd ~28: 5 sd bounds
    for (const row of counts) for (const c of row) expect(Math.abs(c - epochs / n)).toBeLessThan(140);
  });

  it('async iteration yields the same batches and gathers the next one while the consumer awaits', async () => {
    const ds = indexed(10);
    let inputReads = 0;
    // Counts how often the loader reads the inputs: once per gathered batch.
    const watched: ArrayDataset = {
      length: ds.length,
      get inputs() {
        inputReads++;
        return ds.inputs;
      },
      targets: ds.targets,
    };
    const loader = new DataLoader(watched, { batchSize: 4, shuffle: true, seed: 9 });
    inputReads = 0;
    const seen: number[] = [];
    let b = 0;
    for await (const batch of loader) {
      expect(inputReads).toBe(b + 1); // batches up to this one are gathered, not the next yet
      // An async step (an AsyncWorker training step, say) leaves the event loop free...
      await new Promise((resolve) => setImmediate(resolve));
      // ...and the loader used it to prepare the next batch.
      expect(inputReads).toBe(Math.min(b + 2, loader.length));
      seen.push(...batch.indices);
      b++;
    }
    expect(b).toBe(3);
    expect(seen).toEqual(Array.from(loader.order(0)));
    expect(checkEpoch(loader, [...new DataLoader(ds, { batchSize: 4, shuffle: true, seed: 9 })])).toEqual(seen);
  });

  it('batches MultiMNIST: inputs [B,1,28,28] float32, left/right [B] and seg [B,28,28] int32', () => {
    const ds = multiMnist({ split: 'test', seed: 1, limit: 70, cache: false });
    const loader = new DataLoader(ds, { batchSize: 32, shuffle: true, seed: 3 });
    expect(loader.length).toBe(3);
    const batches = [...loader];
    const last = batches[2];
    expect(last.x.shape).toEqual([6, 1, 28, 28]);
    expect(last.targets.left.shape).toEqual([6]);
    expect(last.targets.right.dtype).toBe('int32');
    expect(last.targets.seg.shape).toEqual([6, 28, 28]);
    const i = last.indices[5];
    expect(Array.from(last.x.data.subarray(5 * 784, 6 * 784))).toEqual(Array.from(ds.inputs.data.subarray(i * 784, (i + 1) * 784)));
    expect(last.targets.left.data[5]).toBe(ds.targets.left.data[i]);
    // batches own their memory: disposing one leaves the data set intact
    last.x.dispose();
    expect(ds.inputs.data.length).toBe(70 * 784);
    expect(Number.isFinite(ds.inputs.data[i * 784])).toBe(true);
  });

  it('rejects bad options and inconsistent data sets, naming the field', () => {
    const ds = indexed(4);
    expect(() => new DataLoader(ds, { batchSize: 0 })).toThrow(/DataLoader: expected batchSize to be an integer >= 1, got 0/);
    expect(() => new DataLoader(ds, { batchSize: 2.5 })).toThrow(/DataLoader: expected batchSize to be an integer >= 1, got 2.5/);
    expect(() => new DataLoader(ds, { seed: -3 })).toThrow(/DataLoader: expected seed to be an integer >= 0, got -3/);
    const short = { ...ds, targets: { label: { data: new Int32Array(3), shape: [3] } } };
    expect(() => new DataLoader(short)).toThrow(/DataLoader: expected dataset.targets.label.shape\[0\] to equal the dataset length 4, got 3/);
    const ragged = { ...ds, inputs: { data: new Float32Array(23), shape: [4, 2, 3] } };
    expect(() => new DataLoader(ragged)).toThrow(/DataLoader: expected dataset.inputs.data to hold 24 values for shape \[4, 2, 3\], got 23/);
    const ints = { ...ds, inputs: { data: new Int32Array(24), shape: [4, 2, 3] } } as unknown as ArrayDataset;
    expect(() => new DataLoader(ints)).toThrow(/DataLoader: expected dataset.inputs.data to be a Float32Array, got Int32Array/);
    expect(() => new DataLoader(ds).setEpoch(-1)).toThrow(/DataLoader.setEpoch: expected epoch to be an integer >= 0, got -1/);
  });
});
