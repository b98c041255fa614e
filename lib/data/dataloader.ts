// Batches an in-memory ArrayDataset into tensors, PyTorch DataLoader style: fixed batch size,
// the last partial batch kept unless dropLast, an optional seeded shuffle that draws a new
// permutation each epoch. The permutation of epoch e depends only on (seed, e), so a run
// resumed at epoch k (loader.setEpoch(k)) sees exactly the order the uninterrupted run saw.
import { Tensor, fromTypedArray } from '../tensor';
import { ArrayDataset, checkArrayDataset } from './dataset';
import { Xoshiro128, shuffleInPlace } from './prng';

export interface DataLoaderOptions {
  /** Samples per batch (default 1, as in PyTorch). */
  batchSize?: number;
  /** Draw a new random order each epoch (default false: dataset order). */
  shuffle?: boolean;
  /** Seed of the shuffles (non-negative safe integer, default 0). */
  seed?: number;
  /** Drop the last batch when it has fewer than batchSize samples (default false). */
  dropLast?: boolean;
}

export interface Batch<K extends string = string> {
  /** Inputs [B, ...] float32. */
  x: Tensor;
  /** One tensor [B, ...] per target of the dataset, with the target's dtype. */
  targets: Record<K, Tensor>;
  /** [B] dataset index of each row. */
  indices: Int32Array;
}

type TargetName<D extends ArrayDataset> = Extract<keyof D['targets'], string>;

function checkOption(op: string, name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new TypeError(`${op}: expected ${name} to be an integer >= ${min}, got ${String(value)}`);
  }
  if (value < min) throw new RangeError(`${op}: expected ${name} to be an integer >= ${min}, got ${value}`);
  return value;
}

/** Copies rows `indices` of a [N, ...] array into a new [B, ...] array. */
function gatherRows<T extends Float32Array | Int32Array>(src: T, rowSize: number, indices: Int32Array): T {
  const out = (src instanceof Int32Array ? new Int32Array(indices.length * rowSize) : new Float32Array(indices.length * rowSize)) as T;
  for (let k = 0; k < indices.length; k++) {
    const start = indices[k] * rowSize;
    out.set(src.subarray(start, start + rowSize), k * rowSize);
  }
  return out;
}

/**
 * @example
 * const loader = new hn.data.DataLoader(hn.data.multiMnist({ split: 'train' }), { batchSize: 256, shuffle: true, seed: 1 });
 * for (const { x, targets } of loader) { const out = model.forward(x); ... targets.left ... }
 * // or `for await` to have the next batch gathered while an async training step runs
 */
export class DataLoader<D extends ArrayDataset = ArrayDataset> implements Iterable<Batch<TargetName<D>>>, AsyncIterable<Batch<TargetName<D>>> {
  readonly dataset: D;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  /** The epoch the next iteration will produce; each iteration advances it by one. */
  epoch = 0;

  constructor(dataset: D, options: DataLoaderOptions = {}) {
    const op = 'DataLoader';
    checkArrayDataset(op, dataset);
    this.dataset = dataset;
    this.batchSize = checkOption(op, 'batchSize', options.batchSize ?? 1, 1);
    this.shuffle = options.shuffle ?? false;
    this.seed = checkOption(op, 'seed', options.seed ?? 0, 0);
    this.dropLast = options.dropLast ?? false;
  }

  /** Number of batches in one epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** Makes the next iteration produce epoch `epoch` (to resume a run). */
  setEpoch(epoch: number): void {
    this.epoch = checkOption('DataLoader.setEpoch', 'epoch', epoch, 0);
  }

  /** Sample order of an epoch: the identity, or a permutation drawn from (seed, epoch). */
  order(epoch: number): Int32Array {
    checkOption('DataLoader.order', 'epoch', epoch, 0);
    const order = new Int32Array(this.dataset.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    return this.shuffle ? shuffleInPlace(order, new Xoshiro128(this.seed, epoch)) : order;
  }

  /** Builds batch `b` of the given epoch order. */
  private gather(order: Int32Array, b: number): Batch<TargetName<D>> {
    const start = b * this.batchSize;
    const indices = order.slice(start, Math.min(start + this.batchSize, order.length));
    const ds = this.dataset;
    const rows = indices.length;
    const rowOf = (shape: number[]) => shape.slice(1).reduce((a, c) => a * c, 1);
    // Fresh arrays every batch: the tensors own them, so dispose() never touches the dataset.
    const inputs = ds.inputs;
    const x = fromTypedArray(gatherRows(inputs.data, rowOf(inputs.shape), indices), [rows, ...inputs.shape.slice(1)]);
    const targets = {} as Record<TargetName<D>, Tensor>;
    for (const [name, t] of Object.entries(ds.targets)) {
      targets[name as TargetName<D>] = fromTypedArray(gatherRows(t.data, rowOf(t.shape), indices), [rows, ...t.shape.slice(1)]);
    }
    return { x, targets, indices };
  }

  private beginEpoch(): Int32Array {
    return this.order(this.epoch++);
  }

  *[Symbol.iterator](): Iterator<Batch<TargetName<D>>> {
    // Synchronous consumers leave no idle time to fill, so each batch is gathered on demand.
    const order = this.beginEpoch();
    const count = this.length;
    for (let b = 0; b < count; b++) yield this.gather(order, b);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Batch<TargetName<D>>> {
    // Prefetch one batch: right after handing out batch b, batch b+1 is gathered in a
    // setImmediate callback, which runs while the consumer awaits its (off-thread) step.
    const order = this.beginEpoch();
    const count = this.length;
    const later = (b: number) =>
      new Promise<Batch<TargetName<D>>>((resolve, reject) =>
        setImmediate(() => {
          try {
            resolve(this.gather(order, b));
          } catch (error) {
            reject(error);
          }
        }),
      );
    let next = count > 0 ? later(0) : null;
    for (let b = 0; b < count; b++) {
      const batch = await next!;
      next = b + 1 < count ? later(b + 1) : null;
      // A consumer that stops early never awaits the prefetch; keep its failure from surfacing
      // as an unhandled rejection (an awaited one still throws at the await above).
      next?.catch(() => undefined);
      yield batch;
    }
  }
}
