// The sum of every element of a float32 array through the native reduction, parallel and
// vectorised: viewed as [n / 1024, 1024] and summed over the first dim (the kernel accumulates in
// double), then the 1024 partial sums and the tail added here. reduceSum over a single flat dim
// would run on one thread.
import { bindings } from '../native';

interface SumBindings {
  reduceSum(x: Float32Array, shape: readonly number[], mask: number[], scale: number, out: Float32Array): void;
}
const native = bindings<SumBindings>();

const CHUNK = 1024;
const partials = new Float32Array(CHUNK);

/**
 * Σ scale · data[i]. With scale 0 the result is 0 when every element is finite and NaN as soon as
 * one is NaN or ±Inf (0 · Inf = NaN): a fast finiteness test.
 */
export function sumAll(data: Float32Array, scale = 1): number {
  const body = data.length - (data.length % CHUNK);
  let total = 0;
  if (body > 0) {
    native.reduceSum(data.subarray(0, body), [body / CHUNK, CHUNK], [1, 0], scale, partials);
    for (let i = 0; i < CHUNK; i++) total += partials[i];
  }
  for (let i = body; i < data.length; i++) total += scale * data[i];
  return total;
}
