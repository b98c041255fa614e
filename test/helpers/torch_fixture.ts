// Reading the PyTorch reference fixtures (test/fixtures/torch/, written by
// tools/torch_reference/make_fixtures.py) and comparing hydranet's tensors against them, in the
// manner of llm.c's check_tensor: one line per comparison with the worst difference, and the
// first values of both sides when it fails.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'vitest';
import * as hn from '../../lib/index';
import type { Tensor } from '../../lib/tensor';

export const FIXTURE_DIR = path.join(__dirname, '..', 'fixtures', 'torch');

/** A tensor as the fixtures store it: little-endian float32 or int32 bytes, base64. */
export interface EncodedTensor {
  shape: number[];
  dtype: 'float32' | 'int32';
  b64: string;
}

export interface Fixture<C> {
  torch_version: string;
  safetensors_writer: string;
  seed: number;
  about: string;
  cases: C[];
  [extra: string]: unknown;
}

export function loadFixture<C>(name: string): Fixture<C> {
  return JSON.parse(fs.readFileSync(path.join(FIXTURE_DIR, name), 'utf8')) as Fixture<C>;
}

/** The values of an encoded tensor (a copy, in its own buffer). */
export function decodeValues(t: EncodedTensor): Float32Array | Int32Array {
  const bytes = Buffer.from(t.b64, 'base64');
  const copy = new ArrayBuffer(bytes.length);
  new Uint8Array(copy).set(bytes);
  return t.dtype === 'int32' ? new Int32Array(copy) : new Float32Array(copy);
}

/** An encoded tensor as a hydranet tensor, optionally a leaf that requires grad. */
export function decode(t: EncodedTensor, requiresGrad = false): Tensor {
  return hn.tensor(decodeValues(t), { shape: t.shape, dtype: t.dtype, requiresGrad });
}

export interface Tolerance {
  /** Allowed |actual − expected| relative to max |expected| over the tensor ... */
  rel: number;
  /** ... plus this absolute slack. */
  abs: number;
}

/**
 * Checks shape and values: max |a − e| ≤ rel·max|e| + abs, NaN only where PyTorch has NaN.
 * Returns the worst difference measured in units of max|e| (for the summary lines).
 */
export function checkTensor(actual: Tensor | null | undefined, expected: EncodedTensor, label: string, tol: Tolerance): number {
  if (!actual) expect.fail(`${label}: hydranet gave no tensor (null), PyTorch has shape [${expected.shape}]`);
  expect(actual.shape, `${label}: shape`).toEqual(expected.shape);
  const a = actual.data;
  const e = decodeValues(expected);
  let scale = 0;
  for (const v of e) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < e.length; i++) {
    if (Number.isNaN(e[i]) || Number.isNaN(a[i])) {
      if (Number.isNaN(e[i]) !== Number.isNaN(a[i])) fail(label, a, e, i, `NaN mismatch at element ${i}`);
      continue;
    }
    const d = Math.abs(a[i] - e[i]);
    if (d > worst) {
      worst = d;
      worstAt = i;
    }
  }
  const measured = scale > 0 ? worst / scale : worst;
  const area = label.split(/[:\s]/)[0];
  worstSeen.set(area, Math.max(worstSeen.get(area) ?? 0, measured));
  const allowed = tol.rel * scale + tol.abs;
  if (worst > allowed) {
    fail(label, a, e, worstAt, `max |diff| ${worst.toExponential(3)} at element ${worstAt} > ${allowed.toExponential(3)} (rel ${tol.rel}·max|expected| ${scale.toExponential(3)} + abs ${tol.abs})`);
  }
  return measured;
}

// The worst max|diff| / max|expected| seen per case (the label's first word), for the summary.
const worstSeen = new Map<string, number>();

/** With HYDRANET_TORCHREF_REPORT=1, prints the worst relative difference of each case. */
export function printWorstDifferences(): void {
  if (!process.env.HYDRANET_TORCHREF_REPORT) return;
  const rows = [...worstSeen].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${v.toExponential(2).padStart(9)}  ${k}`);
  console.log(`worst max|diff| / max|expected| per case:\n${rows.join('\n')}`);
}

function fail(label: string, a: ArrayLike<number>, e: ArrayLike<number>, at: number, why: string): never {
  const from = Math.max(0, Math.min(at, e.length - 5));
  const show = (x: ArrayLike<number>): string => Array.from({ length: Math.min(5, x.length - from) }, (_, k) => x[from + k].toPrecision(8)).join(', ');
  expect.fail(`${label}: ${why}\n  hydranet[${from}..]: ${show(a)}\n  pytorch [${from}..]: ${show(e)}`);
}

/** PyTorch's snake_case option names in camelCase (weight_decay -> weightDecay, T_max -> tMax). */
export function camel(key: string): string {
  const k = key.replace(/_([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase());
  return k.charAt(0).toLowerCase() + k.slice(1);
}

export function camelOptions(options: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(options).map(([k, v]) => [camel(k), v]));
}
