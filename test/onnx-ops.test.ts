// Each converter alone, with non-default attributes: exported, run in onnxruntime-node on fresh
// random inputs and compared with hydranet's forward (tolerance in helpers/onnx.ts). Every case
// also runs once exported with dynamicBatch, at batch 1 and 17 from the same file.
import { describe, expect, it } from 'vitest';
import * as hn from '../lib/index';
import type { Tensor } from '../lib/tensor';
import { reciprocal } from '../lib/ops/elementwise';
import { fnModel, opTypes, roundTrip } from './helpers/onnx';

const gen = new hn.Generator(20240611);

function param(shape: number[], low = -1, high = 1): Tensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  gen.fillUniform(data, low, high);
  return hn.tensor(data, { shape, requiresGrad: true });
}

function input(shape: number[]): Tensor {
  return param(shape).detach();
}

interface Case {
  name: string;
  shape: number[];
  forward: (x: Tensor) => Tensor | Tensor[] | Record<string, Tensor>;
  /** ONNX op types the export must contain. */
  expects: string[];
  /** False when the graph cannot follow the batch (a parameter of batch size). */
  dynamic?: boolean;
  opset?: number;
}

const w = param([6, 5]), b = param([6]), row = param([1, 5]), bmat = param([3, 5, 4]), vec = param([5]);
const cases: Case[] = [
  { name: 'linear 2-D with bias', shape: [4, 5], forward: (x) => hn.F.linear(x, w, b), expects: ['Gemm'] },
  { name: 'linear 2-D without bias', shape: [4, 5], forward: (x) => hn.F.linear(x, w), expects: ['Gemm'] },
  { name: 'linear 3-D input', shape: [2, 3, 5], forward: (x) => hn.F.linear(x, w, b), expects: ['MatMul', 'Add'] },
  { name: 'linear 1-D input, no bias', shape: [5], forward: (x) => hn.F.linear(x, w), expects: ['MatMul'], dynamic: false },
  { name: 'relu', shape: [3, 7], forward: (x) => hn.F.relu(x), expects: ['Relu'] },
  { name: 'sigmoid', shape: [3, 7], forward: (x) => hn.F.sigmoid(x.mul(3)), expects: ['Sigmoid'] },
  { name: 'tanh', shape: [3, 7], forward: (x) => hn.F.tanh(x.mul(2)), expects: ['Tanh'] },
  { name: 'exp', shape: [3, 7], forward: (x) => x.exp(), expects: ['Exp'] },
  { name: 'log', shape: [3, 7], forward: (x) => x.abs().add(0.25).log(), expects: ['Log', 'Abs'] },
  { name: 'sqrt', shape: [3, 7], forward: (x) => x.abs().sqrt(), expects: ['Sqrt'] },
  { name: 'reciprocal', shape: [3, 7], forward: (x) => reciprocal(x.abs().add(0.5)), expects: ['Reciprocal'] },
  { name: 'neg', shape: [3, 7], forward: (x) => x.neg(), expects: ['Neg'] },
  { name: 'pow 3 (negative bases)', shape: [3, 7], forward: (x) => x.pow(3), expects: ['Pow'] },
  { name: 'pow 0.5', shape: [3, 7], forward: (x) => x.abs().pow(0.5), expects: ['Pow'] },
  { name: 'add/sub/mul/div by broadcast tensors', shape: [4, 5], forward: (x) => x.add(row).mul(w.sum(0, true)).sub(vec).div(row.abs().add(0.5)), expects: ['Add', 'Mul', 'Sub', 'Div'] },
  { name: 'add/sub/mul/div by scalars', shape: [4, 5], forward: (x) => x.add(1.5).sub(-0.25).mul(-3).div(7), expects: ['Add', 'Sub', 'Mul', 'Div'] },
  { name: 'clone', shape: [2, 3], forward: (x) => x.clone().mul(2), expects: ['Identity'] },
  { name: 'matmul 2-D', shape: [4, 6], forward: (x) => hn.matmul(x, w), expects: ['MatMul'] },
  { name: 'matmul batched 3-D', shape: [3, 2, 5], forward: (x) => hn.matmul(x, bmat), expects: ['MatMul'], dynamic: false },
  { name: 'matmul by a vector', shape: [4, 5], forward: (x) => hn.matmul(x, vec), expects: ['MatMul', 'Reshape'] },
  { name: 'reshape keeping the batch', shape: [4, 6, 5], forward: (x) => x.reshape([x.shape[0], 3, -1]), expects: ['Reshape'] },
  { name: 'reshape merging the batch', shape: [4, 6, 5], forward: (x) => x.reshape([-1, 5]).mul(row), expects: ['Reshape'] },
  { name: 'flatten(1, -1) -> Flatten', shape: [2, 3, 4, 5], forward: (x) => x.flatten(1, -1), expects: ['Flatten'] },
  { name: 'flatten(0, -1)', shape: [2, 3, 4], forward: (x) => x.flatten(0, -1), expects: ['Reshape'] },
  { name: 'flatten(1, 2) of 4-D', shape: [2, 3, 4, 5], forward: (x) => x.flatten(1, 2), expects: ['Reshape'] },
  { name: 'flatten(2, 3) of 4-D', shape: [2, 3, 4, 5], forward: (x) => x.flatten(2, 3), expects: ['Reshape'] },
  { name: 'concat along dim 1', shape: [3, 4, 2], forward: (x) => hn.concat([x, x.mul(2), x.exp()], 1), expects: ['Concat'] },
  { name: 'concat along dim -1', shape: [3, 4, 2], forward: (x) => hn.concat([x.neg(), x], -1), expects: ['Concat'] },
  { name: 'sum over dims 1,2 keepdim (opset 13)', shape: [3, 4, 5], forward: (x) => x.sum([1, -1], true), expects: ['ReduceSum'] },
  { name: 'sum over dim 1 (opset 18)', shape: [3, 4, 5], forward: (x) => x.sum(1), expects: ['ReduceSum'], opset: 18 },
  { name: 'mean over dim 2 (opset 13: axes attribute)', shape: [3, 4, 5], forward: (x) => x.mean(2), expects: ['ReduceMean'] },
  { name: 'mean over dims 1,2 keepdim (opset 18: axes input)', shape: [3, 4, 5], forward: (x) => x.mean([1, 2], true), expects: ['ReduceMean'], opset: 18 },
  { name: 'sum of everything', shape: [3, 4], forward: (x) => x.sum(), expects: ['ReduceSum'], dynamic: false },
  { name: 'opset 21 graph', shape: [3, 5], forward: (x) => hn.F.relu(hn.F.linear(x, w, b)).mean(1), expects: ['Gemm', 'ReduceMean'], opset: 21 },
  { name: 'array output', shape: [3, 5], forward: (x) => [x.mul(2), hn.F.linear(x, w)], expects: ['Mul', 'Gemm'] },
  { name: 'object output, one tensor under two keys', shape: [3, 5], forward: (x) => { const y = x.add(1); return { a: y, b: y, c: x }; }, expects: ['Add', 'Identity'] },
];

describe('onnx converters, one op at a time', () => {
  it.each(cases)('$name', async (c) => {
    const model = fnModel(c.forward);
    const opset = c.opset ?? 13;
    const { proto } = await roundTrip(model, input(c.shape), gen, { export: { opset } });
    const types = opTypes(proto);
    for (const t of c.expects) expect(types, `ONNX ops of ${c.name}`).toContain(t);
    expect(Number(proto.opsetImport[0].version)).toBe(opset);
    if (c.dynamic !== false) {
      const dyn = await roundTrip(model, input(c.shape), gen, { export: { opset, dynamicBatch: true }, batches: [1, 17] });
      expect(dyn.proto.graph?.input?.[0].type?.tensorType?.shape?.dim?.[0].dimParam).toBe('batch');
    }
  });
});

// softmax/logSoftmax come with their own file's functional ops; tested here once they exist.
const hasSoftmax = typeof (hn.F as Record<string, unknown>).softmax === 'function';
describe.runIf(hasSoftmax)('softmax and logSoftmax', () => {
  it.each([['softmax', 1, 'Softmax'], ['logSoftmax', -1, 'LogSoftmax'], ['softmax', 0, 'Softmax']] as const)('%s over dim %d', async (name, dim, onnxOp) => {
    const fn = (hn.F as unknown as Record<string, (x: Tensor, d: number) => Tensor>)[name];
    const model = fnModel((x) => fn(x.mul(3), dim));
    const { proto } = await roundTrip(model, input([3, 4, 5]), gen);
    expect(opTypes(proto)).toContain(onnxOp);
    if (dim !== 0) await roundTrip(model, input([3, 4, 5]), gen, { export: { dynamicBatch: true }, batches: [1, 17] });
  });
});

// ---- Convolution, pooling, normalisation, dropout ---------------------------------------------

const convW = param([6, 2, 3, 3], -0.5, 0.5), convB = param([6]);
const evenW = param([4, 3, 4, 2], -0.5, 0.5);
const tW = param([4, 3, 3, 2], -0.5, 0.5), tB = param([6]);
const tW2 = param([3, 2, 2, 2], -0.5, 0.5), tB2 = param([2]);
const bnMean = param([4]), bnVar = param([4], 0.5, 2).detach(), bnW = param([4]), bnB = param([4]);

const spatialCases: Case[] = [
  { name: 'conv2d stride [2,1] padding [1,2] dilation [1,2] groups 2 + bias', shape: [2, 4, 9, 10],
    forward: (x) => hn.F.conv2d(x, convW, convB, { stride: [2, 1], padding: [1, 2], dilation: [1, 2], groups: 2 }), expects: ['Conv'] },
  { name: "conv2d padding 'same' with an even kernel (asymmetric pads), no bias", shape: [2, 3, 7, 6],
    forward: (x) => hn.F.conv2d(x, evenW, null, { padding: 'same' }), expects: ['Conv'] },
  { name: 'conv2d on an unbatched [C, H, W] input', shape: [4, 8, 8],
    forward: (x) => hn.F.conv2d(x, convW, convB, { padding: 1, groups: 2 }), expects: ['Unsqueeze', 'Conv', 'Squeeze'], dynamic: false },
  { name: 'convTranspose2d stride [2,3] padding [1,0] outputPadding [1,2] groups 2 + bias', shape: [2, 4, 5, 4],
    forward: (x) => hn.F.convTranspose2d(x, tW, tB, { stride: [2, 3], padding: [1, 0], outputPadding: [1, 2], groups: 2 }), expects: ['ConvTranspose'] },
  // onnxruntime refuses outputPadding >= stride (PyTorch allows it below dilation): end pads / Pad.
  { name: 'convTranspose2d dilation 2, outputPadding 1 at stride 1, no padding (Pad + bias)', shape: [2, 3, 5, 5],
    forward: (x) => hn.F.convTranspose2d(x, tW2, tB2, { dilation: 2, outputPadding: 1 }), expects: ['ConvTranspose', 'Pad'] },
  { name: 'convTranspose2d dilation [2,3], outputPadding [1,2] at stride 1, padding [1,2] (end pads)', shape: [2, 3, 5, 6],
    forward: (x) => hn.F.convTranspose2d(x, tW2, tB2, { dilation: [2, 3], outputPadding: [1, 2], padding: [1, 2] }), expects: ['ConvTranspose'] },
  { name: 'convTranspose2d dilation 2, outputPadding 1 at stride 1, no bias', shape: [2, 3, 5, 5],
    forward: (x) => hn.F.convTranspose2d(x, tW2, null, { dilation: 2, outputPadding: 1 }), expects: ['ConvTranspose', 'Pad'] },
  { name: 'convTranspose2d k2 s2 (the W1 seg head)', shape: [2, 3, 4, 4],
    forward: (x) => hn.F.convTranspose2d(x, tW2, null, { stride: 2 }), expects: ['ConvTranspose'] },
  { name: 'maxPool2d k3 s2 p1 dilation 2 ceilMode', shape: [2, 3, 11, 12],
    forward: (x) => hn.F.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1, dilation: 2, ceilMode: true }), expects: ['MaxPool'] },
  { name: 'maxPool2d k [2,3] s [1,2]', shape: [2, 3, 7, 8],
    forward: (x) => hn.F.maxPool2d(x, { kernelSize: [2, 3], stride: [1, 2] }), expects: ['MaxPool'] },
  { name: 'maxPool2d on an unbatched input', shape: [3, 6, 6],
    forward: (x) => hn.F.maxPool2d(x, { kernelSize: 2 }), expects: ['MaxPool'], dynamic: false },
  { name: 'avgPool2d k3 s2 p1 ceilMode, countIncludePad false', shape: [2, 3, 10, 11],
    forward: (x) => hn.F.avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false }), expects: ['AveragePool'] },
  { name: 'avgPool2d k3 s2 p1 ceilMode, countIncludePad true', shape: [2, 3, 10, 11],
    forward: (x) => hn.F.avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true }), expects: ['AveragePool'] },
  { name: 'avgPool2d k [2,3] p [1,1] divisorOverride 5 (AveragePool · k/d)', shape: [2, 3, 7, 8],
    forward: (x) => hn.F.avgPool2d(x, { kernelSize: [2, 3], padding: [1, 1], divisorOverride: 5 }), expects: ['AveragePool', 'Mul'] },
  { name: 'batchNorm2d eval with weight and bias', shape: [3, 4, 5, 5],
    forward: (x) => hn.F.batchNorm2d(x, bnMean, bnVar, bnW, bnB, { eps: 1e-3 }), expects: ['BatchNormalization'] },
  { name: 'batchNorm2d eval without affine parameters', shape: [3, 4, 5, 5],
    forward: (x) => hn.F.batchNorm2d(x, bnMean, bnVar), expects: ['BatchNormalization'] },
  { name: 'batchNorm1d eval on [N, C] and [N, C, L]', shape: [3, 4, 6],
    forward: (x) => hn.concat([hn.F.batchNorm1d(x, bnMean, bnVar, bnW, null).flatten(1), hn.F.batchNorm1d(x.mean(2), bnMean, bnVar, null, bnB)], 1), expects: ['BatchNormalization'] },
  { name: 'dropout and dropout2d in eval mode are the identity', shape: [2, 3, 4, 4],
    forward: (x) => hn.F.dropout2d(hn.F.dropout(x.mul(2), { p: 0.3, training: false }), { p: 0.5, training: false }), expects: ['Mul'] },
];

describe('onnx converters: convolution, pooling, normalisation', () => {
  it.each(spatialCases)('$name', async (c) => {
    const model = fnModel(c.forward);
    const { proto } = await roundTrip(model, input(c.shape), gen);
    const types = opTypes(proto);
    for (const t of c.expects) expect(types, `ONNX ops of ${c.name}`).toContain(t);
    if (c.dynamic !== false) await roundTrip(model, input(c.shape), gen, { export: { dynamicBatch: true }, batches: [1, 17] });
  });
});
