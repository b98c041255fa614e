// The in-memory data set that DataLoader batches: typed arrays with their shapes, sample-major.

export interface ShapedArray<T extends Float32Array | Int32Array = Float32Array | Int32Array> {
  /** Row-major values; the first dimension is the sample index. */
  data: T;
  /** [N, ...]: shape[0] is the number of samples. */
  shape: number[];
}

export interface ArrayDataset {
  length: number;
  /** Network inputs, e.g. [N, 1, 28, 28] float32. */
  inputs: ShapedArray<Float32Array>;
  /** One entry per task: class labels (int32) or regression targets (float32), each [N, ...]. */
  targets: Record<string, ShapedArray>;
}

function checkShaped(op: string, name: string, value: ShapedArray, length: number): void {
  if (!value || !(value.data instanceof Float32Array || value.data instanceof Int32Array)) {
    throw new TypeError(`${op}: expected ${name}.data to be a Float32Array or Int32Array, got ${value?.data?.constructor?.name ?? String(value?.data)}`);
  }
  if (!Array.isArray(value.shape) || value.shape.length < 1 || !value.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new TypeError(`${op}: expected ${name}.shape to be an array of non-negative integers [N, ...], got ${JSON.stringify(value.shape)}`);
  }
  if (value.shape[0] !== length) {
    throw new RangeError(`${op}: expected ${name}.shape[0] to equal the dataset length ${length}, got ${value.shape[0]}`);
  }
  const numel = value.shape.reduce((a, b) => a * b, 1);
  if (numel !== value.data.length) {
    throw new RangeError(`${op}: expected ${name}.data to hold ${numel} values for shape [${value.shape.join(', ')}], got ${value.data.length}`);
  }
}

/** Throws a TypeError/RangeError naming the field when `ds` is not a consistent ArrayDataset. */
export function checkArrayDataset(op: string, ds: ArrayDataset): void {
  if (!ds || typeof ds !== 'object') throw new TypeError(`${op}: expected dataset to be an ArrayDataset, got ${String(ds)}`);
  if (!Number.isInteger(ds.length) || ds.length < 0) {
    throw new TypeError(`${op}: expected dataset.length to be a non-negative integer, got ${String(ds.length)}`);
  }
  checkShaped(op, 'dataset.inputs', ds.inputs, ds.length);
  if (!(ds.inputs.data instanceof Float32Array)) {
    throw new TypeError(`${op}: expected dataset.inputs.data to be a Float32Array, got ${(ds.inputs.data as Int32Array).constructor.name}`);
  }
  if (!ds.targets || typeof ds.targets !== 'object') {
    throw new TypeError(`${op}: expected dataset.targets to be an object {name: {data, shape}}, got ${String(ds.targets)}`);
  }
  for (const [name, t] of Object.entries(ds.targets)) checkShaped(op, `dataset.targets.${name}`, t, ds.length);
}
