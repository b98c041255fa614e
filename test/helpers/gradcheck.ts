// Central finite-difference gradient checks shared by every op test.
//
// The scalar checked is L = Σ out ⊙ R for a fixed random R, evaluated in double from the op's
// float32 outputs. With eps = 1e-2 on O(1) inputs, float32 rounding contributes about
// 1e-7 · |L| / eps to the numeric derivative, so |analytic − numeric| ≤ atol + rtol·|numeric|
// with atol = 2e-3, rtol = 1e-2 separates real bugs (errors of O(1)) from noise.
import { expect } from 'vitest';
import * as hn from '../../lib/index';
import type { Tensor } from '../../lib/tensor';

export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Check at most this many elements per input (sampled); all when the input is smaller. */
  maxElements?: number;
  seed?: number;
}

function projection(out: Tensor, weights: Float64Array): number {
  const data = out.data;
  let s = 0;
  for (let i = 0; i < data.length; i++) s += data[i] * weights[i];
  return s;
}

/** Checks every float input that requires grad; returns the worst |analytic − numeric|. */
export function gradcheck(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], options: GradcheckOptions = {}): number {
  const { eps = 1e-2, atol = 2e-3, rtol = 1e-2, maxElements = 96, seed = 1234 } = options;
  const gen = new hn.Generator(seed);
  const out = fn(...inputs);
  const weights = new Float64Array(out.numel);
  for (let i = 0; i < weights.length; i++) weights[i] = gen.normal();
  const seedGrad = hn.tensor(Float32Array.from(weights), { shape: [...out.shape] });
  for (const x of inputs) x.grad = null;
  out.backward(seedGrad);
  let worst = 0;
  inputs.forEach((x, k) => {
    if (!x.requiresGrad) return;
    const analytic = x.grad ? (x.grad.data as Float32Array) : new Float32Array(x.numel);
    const data = x.data as Float32Array;
    const indices: number[] = [];
    if (data.length <= maxElements) for (let i = 0; i < data.length; i++) indices.push(i);
    else for (let i = 0; i < maxElements; i++) indices.push(Math.floor(gen.uniform() * data.length));
    for (const i of indices) {
      const saved = data[i];
      data[i] = saved + eps;
      const plus = hn.noGrad(() => projection(fn(...inputs), weights));
      data[i] = saved - eps;
      const minus = hn.noGrad(() => projection(fn(...inputs), weights));
      data[i] = saved;
      const numeric = (plus - minus) / (2 * eps);
      const diff = Math.abs(analytic[i] - numeric);
      worst = Math.max(worst, diff);
      if (diff > atol + rtol * Math.abs(numeric)) {
        expect.fail(`gradient of input ${k} at element ${i}: analytic ${analytic[i]}, numeric ${numeric} (|diff| ${diff.toExponential(3)} > atol ${atol} + rtol ${rtol}·|numeric|)`);
      }
    }
  });
  return worst;
}

/** Max |a − b| over two typed arrays of equal length (fails on length mismatch). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) return Infinity;
    worst = Math.max(worst, d);
  }
  return worst;
}

/** Random float tensor with values in [-1, 1) (or the given range), requiring grad by default. */
export function randomInput(gen: hn.Generator, shape: number[], requiresGrad = true, low = -1, high = 1): Tensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  gen.fillUniform(data, low, high);
  return hn.tensor(data, { shape, requiresGrad });
}
