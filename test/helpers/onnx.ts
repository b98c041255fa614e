// Round trips for the ONNX exporter: export a model, run the file in onnxruntime-node (CPU) on
// fresh random inputs, and compare every output with hydranet's own forward.
//
// Tolerance: max |ort − hydranet| ≤ 1e-4 · max(max |hydranet|, 1e-3) per output. Both sides
// compute in float32 with different summation orders (im2col GEMM vs ORT's kernels), which
// differs by O(1e-6) relative for the reductions of these sizes; a wrong attribute (padding,
// stride, axis, transB) moves outputs by O(scale).
import { expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import * as hn from '../../lib/index';
import type { Tensor } from '../../lib/tensor';
import type { ExportOptions } from '../../lib/onnx/export';
import type { Exportable } from '../../lib/onnx/tracer';

export const RELATIVE_TOLERANCE = 1e-4;

export async function session(bytesOrPath: Uint8Array | string): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
  return typeof bytesOrPath === 'string'
    ? ort.InferenceSession.create(bytesOrPath, options)
    : ort.InferenceSession.create(bytesOrPath, options);
}

function toOrt(t: Tensor): ort.Tensor {
  return t.dtype === 'int32'
    ? new ort.Tensor('int32', t.data as Int32Array, [...t.shape])
    : new ort.Tensor('float32', t.data as Float32Array, [...t.shape]);
}

/** hydranet's outputs as [name, tensor] in the exporter's default naming. */
function namedOutputs(result: unknown, names: readonly string[]): [string, Tensor][] {
  if (hn.isTensor(result)) return [[names[0], result]];
  if (Array.isArray(result)) return result.map((t, i) => [names[i], t as Tensor]);
  return Object.values(result as Record<string, Tensor>).map((t, i) => [names[i], t]);
}

/** The reference runs in eval mode, as the export did (each module's flag restored after). */
function inEval<T>(model: Exportable, fn: () => T): T {
  const modules = typeof model.namedModules === 'function' ? [...model.namedModules()].map(([, m]) => m as { training?: boolean }) : [];
  const flags = modules.map((m) => m.training);
  model.eval?.();
  try {
    return fn();
  } finally {
    modules.forEach((m, i) => { m.training = flags[i]; });
  }
}

/** Runs the session and hydranet on `inputs`; returns the worst |diff| / scale over outputs. */
export async function compareOnce(sess: ort.InferenceSession, model: Exportable, inputs: Tensor[],
  inputNames: readonly string[], outputNames: readonly string[]): Promise<number> {
  const feeds: Record<string, ort.Tensor> = {};
  inputs.forEach((t, i) => { feeds[inputNames[i]] = toOrt(t); });
  const got = await sess.run(feeds);
  const expected = namedOutputs(inEval(model, () => hn.noGrad(() => model.forward(...inputs))), outputNames);
  let worst = 0;
  for (const [name, ref] of expected) {
    const out = got[name];
    expect(out, `output '${name}'`).toBeDefined();
    expect([...out.dims], `dims of output '${name}'`).toEqual([...ref.shape]);
    const a = out.data as Float32Array, b = ref.data;
    let scale = 1e-3, diff = 0;
    for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
    for (let i = 0; i < b.length; i++) {
      const d = Math.abs(a[i] - b[i]);
      diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    }
    expect(diff / scale, `max |diff| of output '${name}' (scale ${scale.toExponential(2)})`).toBeLessThanOrEqual(RELATIVE_TOLERANCE);
    worst = Math.max(worst, diff / scale);
  }
  return worst;
}

export interface RoundTripOptions {
  export?: ExportOptions;
  /** Batch sizes to run (dim 0 of every input); default: the example's own batch only. */
  batches?: number[];
  /** Makes a fresh input of a given shape (default: uniform in [-1, 1)). */
  makeInput?: (shape: number[]) => Tensor;
}

/**
 * Exports `model` on `example` and checks ORT against hydranet on fresh inputs at each batch.
 * Returns the decoded model (for structural checks) and the worst relative diff.
 */
export async function roundTrip(model: Exportable, example: Tensor | Tensor[], gen: hn.Generator,
  opts: RoundTripOptions = {}): Promise<{ proto: ReturnType<typeof hn.onnx.decodeModel>; worst: number }> {
  const examples = Array.isArray(example) ? example : [example];
  const result = hn.onnx.exportToBytes(model, example, opts.export ?? {});
  const sess = await session(result.bytes);
  const make = opts.makeInput ?? ((shape: number[]) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    gen.fillUniform(data, -1, 1);
    return hn.tensor(data, { shape });
  });
  let worst = 0;
  for (const batch of opts.batches ?? [examples[0].shape[0]]) {
    const inputs = examples.map((t) => make(t.ndim > 0 ? [batch, ...t.shape.slice(1)] : []));
    worst = Math.max(worst, await compareOnce(sess, model, inputs, result.inputNames, result.outputNames));
  }
  await sess.release();
  return { proto: hn.onnx.decodeModel(result.bytes), worst };
}

/** ONNX op types of a decoded model's nodes, in order. */
export function opTypes(proto: ReturnType<typeof hn.onnx.decodeModel>): string[] {
  return (proto.graph?.node ?? []).map((n) => n.opType ?? '');
}

/** A model from a function of the input (params captured by the closure). */
export function fnModel(forward: (x: Tensor) => unknown): Exportable {
  return { forward: (x: Tensor) => forward(x) };
}
