// Error helpers: every message names the op, the argument, what was expected and what came.

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return `array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as Float32Array).length})`;
  if (typeof value === 'object') {
    const shape = (value as { shape?: unknown }).shape;
    if (Array.isArray(shape)) return `tensor of shape ${shapeString(shape as number[])}`;
    return value.constructor?.name ?? 'object';
  }
  if (typeof value === 'string') return `'${value}'`;
  return `${typeof value} ${String(value)}`;
}

export function argTypeError(op: string, arg: string, expected: string, actual: string): TypeError {
  return new TypeError(`${op}: expected ${arg} to be ${expected}, got ${actual}`);
}

export function argRangeError(op: string, arg: string, expected: string, actual: string): RangeError {
  return new RangeError(`${op}: expected ${arg} to be ${expected}, got ${actual}`);
}

/** A positive (or, with min 0, non-negative) safe integer. */
export function checkInt(op: string, arg: string, value: unknown, min = 1): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw argTypeError(op, arg, min <= 0 ? 'a non-negative integer' : `an integer >= ${min}`, describeValue(value));
  }
  if (value < min || value > 2 ** 31 - 1) {
    throw argRangeError(op, arg, `an integer >= ${min}`, String(value));
  }
  return value;
}

/** Expands an int or a pair of ints (PyTorch's `_pair`). */
export function checkPair(op: string, arg: string, value: unknown, min = 1): [number, number] {
  if (typeof value === 'number') {
    const v = checkInt(op, arg, value, min);
    return [v, v];
  }
  if (Array.isArray(value) && value.length === 2) {
    return [checkInt(op, `${arg}[0]`, value[0], min), checkInt(op, `${arg}[1]`, value[1], min)];
  }
  throw argTypeError(op, arg, min <= 0 ? 'a non-negative integer or a pair of them' : 'a positive integer or a pair of them', describeValue(value));
}
