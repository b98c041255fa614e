// Exports a trained model to ONNX and checks the file in onnxruntime-node against hydranet's own
// outputs on real test images: the check a user needs before deploying the file.
//
// Tolerance: per output, max |ort - hydranet| <= 1e-4 · max(max |hydranet|, 1e-3). Both compute
// in float32 with different summation orders, O(1e-6) relative for these sizes; a wrong
// attribute or weight moves outputs by O(their scale).
import { noGrad } from '../autograd';
import type { MultiTaskModel } from '../mtl/model';
import { exportModel } from '../onnx/export';
import { Tensor } from '../tensor';

export const ONNX_RELATIVE_TOLERANCE = 1e-4;

export interface OnnxCheck {
  file: string;
  images: number;
  /** Largest |ort - hydranet| over every output value. */
  maxAbsDiff: number;
  /** Largest of max|diff| / max(max|hydranet|, 1e-3) over the outputs. */
  maxRelativeDiff: number;
  /** Share of predicted classes (argmax over dim 1) that agree, over all outputs. */
  predictionAgreement: number;
  tolerance: number;
  passed: boolean;
  opset: number;
  seconds: number;
}

function argmaxAgreement(a: Float32Array, b: Float32Array, shape: readonly number[]): [number, number] {
  const [N, C] = shape;
  const S = shape.slice(2).reduce((x, y) => x * y, 1);
  let same = 0;
  for (let n = 0; n < N; n++) {
    for (let s = 0; s < S; s++) {
      let ia = 0;
      let ib = 0;
      for (let c = 1; c < C; c++) {
        const k = (n * C + c) * S + s;
        if (a[k] > a[(n * C + ia) * S + s]) ia = c;
        if (b[k] > b[(n * C + ib) * S + s]) ib = c;
      }
      if (ia === ib) same++;
    }
  }
  return [same, N * S];
}

/**
 * Writes `file` and compares onnxruntime's outputs with the model's (eval mode) on `images`
 * ([N, C, H, W], normalised like training). The export has a dynamic batch dimension.
 */
export async function exportAndCheck(model: MultiTaskModel, images: Tensor, file: string, opset?: number): Promise<OnnxCheck> {
  const started = process.hrtime.bigint();
  const perImage = images.numel / images.shape[0];
  const example = new Tensor((images.data as Float32Array).slice(0, perImage), [1, ...images.shape.slice(1)]);
  const result = exportModel(model, example, file, { dynamicBatch: true, inputNames: ['image'], ...(opset !== undefined ? { opset } : {}) });
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const got = await session.run({ image: new ort.Tensor('float32', images.toArray() as Float32Array, [...images.shape]) });
    const wasTraining = model.training;
    model.eval();
    const expected = noGrad(() => model.forward(images));
    model.train(wasTraining);
    let maxAbs = 0;
    let maxRel = 0;
    let agree = 0;
    let total = 0;
    for (const name of model.taskNames) {
      const out = got[name];
      const ref = expected[name].data as Float32Array;
      if (!out || out.data.length !== ref.length) {
        throw new Error(`onnx check: output '${name}' ${out ? `has ${out.data.length} values, expected ${ref.length}` : 'is missing'} in ${file}`);
      }
      const a = out.data as Float32Array;
      let scale = 1e-3;
      let diff = 0;
      for (let i = 0; i < ref.length; i++) {
        scale = Math.max(scale, Math.abs(ref[i]));
        const d = Math.abs(a[i] - ref[i]);
        diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
      }
      maxAbs = Math.max(maxAbs, diff);
      maxRel = Math.max(maxRel, diff / scale);
      const [s, n] = argmaxAgreement(a, ref, expected[name].shape);
      agree += s;
      total += n;
    }
    return {
      file,
      images: images.shape[0],
      maxAbsDiff: maxAbs,
      maxRelativeDiff: maxRel,
      predictionAgreement: total > 0 ? agree / total : NaN,
      tolerance: ONNX_RELATIVE_TOLERANCE,
      passed: maxRel <= ONNX_RELATIVE_TOLERANCE,
      opset: result.opset,
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
    };
  } finally {
    await session.release();
  }
}
