// One converter per recorded op: reads the node's op, attrs and inputs (the same node autograd
// records) and appends the equivalent ONNX nodes. Targets ONNX opset 13 semantics; where a later
// opset changed an operator's signature (ReduceMean's axes became an input in 18) the opset is
// consulted. Shapes come from the traced tensors; with dynamicBatch, `alt` is the same node traced
// at another batch size, so a converter can tell which dims follow the batch.
import type { Attrs } from '../autograd';
import { shapeString } from '../errors';
import type { Tensor } from '../tensor';
import type { GraphBuilder } from './graph_builder';
import { AttributeValue, attr } from './proto';

export interface ConvertContext {
  readonly op: string;
  readonly attrs: Attrs;
  /** The traced inputs (their shapes and dtypes are those of the example run). */
  readonly inputs: readonly Tensor[];
  readonly inputNames: readonly string[];
  readonly output: Tensor;
  readonly outputName: string;
  readonly opset: number;
  /** The same node traced at a second batch size (dynamicBatch only), else null. */
  readonly alt: { readonly inputs: readonly Tensor[]; readonly output: Tensor } | null;
  readonly builder: GraphBuilder;
  /** Module path of the node ('' at the top level): prefixes node names. */
  readonly scope: string;
  /** "op 'x' (in module a.b)", for messages. */
  readonly where: string;
}

export type Converter = (ctx: ConvertContext) => void;

/** The error every converter raises for a node it cannot express. */
export function exportError(ctx: Pick<ConvertContext, 'where'>, reason: string): Error {
  return new Error(`onnx.exportModel: ${ctx.where} ${reason}`);
}

/** Appends one node; its output is ctx.outputName unless `outputs` says otherwise. */
function emit(ctx: ConvertContext, opType: string, inputs: readonly string[],
  attributes: Readonly<Record<string, AttributeValue>> = {}, outputs: readonly string[] = [ctx.outputName]): string {
  ctx.builder.addNode(opType, inputs, outputs, attributes, ctx.scope, `hydranet op '${ctx.op}'`);
  return outputs[0];
}

function temp(ctx: ConvertContext, hint: string): string {
  return ctx.builder.temp(`${ctx.scope ? `${ctx.scope}/` : ''}${hint}`);
}

/** An int or [h, w] attribute as a pair (nodes record pairs; a bare int is accepted too). */
function pairAttr(ctx: ConvertContext, name: string, fallback?: readonly [number, number]): [number, number] {
  const v = ctx.attrs[name];
  if (typeof v === 'number' && Number.isInteger(v)) return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((d) => Number.isInteger(d))) return [v[0], v[1]];
  if ((v === undefined || v === null) && fallback) return [fallback[0], fallback[1]];
  throw exportError(ctx, `has attribute ${name} = ${JSON.stringify(v)}; expected an int or a pair of ints`);
}

function intAttr(ctx: ConvertContext, name: string, fallback?: number): number {
  const v = ctx.attrs[name];
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if ((v === undefined || v === null) && fallback !== undefined) return fallback;
  throw exportError(ctx, `has attribute ${name} = ${JSON.stringify(v)}; expected an integer`);
}

function numberAttr(ctx: ConvertContext, name: string): number {
  const v = ctx.attrs[name];
  if (typeof v === 'number') return v;
  throw exportError(ctx, `has attribute ${name} = ${JSON.stringify(v)}; expected a number`);
}

function checkInputCount(ctx: ConvertContext, counts: readonly number[]): void {
  if (!counts.includes(ctx.inputs.length)) {
    throw exportError(ctx, `has ${ctx.inputs.length} inputs; expected ${counts.join(' or ')}`);
  }
}

/** A dim index in [0, rank), from a possibly negative one. */
function axis(dim: number, rank: number): number {
  return dim < 0 ? dim + rank : dim;
}

// ---- Element-wise ----------------------------------------------------------------------------

const unary = (onnxOp: string): Converter => (ctx) => {
  checkInputCount(ctx, [1]);
  emit(ctx, onnxOp, ctx.inputNames);
};

/** add/sub/mul/div: with a tensor, or with the recorded `scalar` as a float constant. */
const binary = (onnxOp: string): Converter => (ctx) => {
  const scalar = ctx.attrs.scalar;
  if (typeof scalar === 'number') {
    checkInputCount(ctx, [1]);
    emit(ctx, onnxOp, [ctx.inputNames[0], ctx.builder.scalar(scalar)]);
  } else {
    checkInputCount(ctx, [2]);
    emit(ctx, onnxOp, ctx.inputNames);
  }
};

const pow: Converter = (ctx) => {
  checkInputCount(ctx, [1]);
  emit(ctx, 'Pow', [ctx.inputNames[0], ctx.builder.scalar(numberAttr(ctx, 'exponent'))]);
};

const identity: Converter = (ctx) => {
  emit(ctx, 'Identity', [ctx.inputNames[0]]);
};

/** Dropout is the identity in eval mode; a node recorded in training mode is random. */
const dropout: Converter = (ctx) => {
  const p = ctx.attrs.p;
  if (ctx.attrs.training === true && p !== 0) {
    throw exportError(ctx, `was recorded in training mode (p = ${String(p)}); ONNX inference has no random dropout. Call model.eval() or pass training: false`);
  }
  emit(ctx, 'Identity', [ctx.inputNames[0]]);
};

// ---- Matrix products -------------------------------------------------------------------------

const matmul: Converter = (ctx) => {
  checkInputCount(ctx, [2]);
  emit(ctx, 'MatMul', ctx.inputNames);
};

/** y = x Wᵀ + b: Gemm(transB) for 2-D x; MatMul with Wᵀ (+ Add) for other ranks. */
const linear: Converter = (ctx) => {
  checkInputCount(ctx, [2, 3]);
  const [x, w, b] = ctx.inputNames;
  if (ctx.inputs[0].ndim === 2) {
    emit(ctx, 'Gemm', b ? [x, w, b] : [x, w], { transB: attr.int(1) });
    return;
  }
  const wT = emit(ctx, 'Transpose', [w], { perm: attr.ints([1, 0]) }, [temp(ctx, 'weight_t')]);
  if (!b) {
    emit(ctx, 'MatMul', [x, wT]);
    return;
  }
  const xw = emit(ctx, 'MatMul', [x, wT], {}, [temp(ctx, 'matmul')]);
  emit(ctx, 'Add', [xw, b]);
};

// ---- Shapes ----------------------------------------------------------------------------------

/**
 * The Reshape target for an output shape. Without dynamicBatch it is the literal shape. With it,
 * dims that follow the batch cannot be literals: the first `copyPrefix` dims that also follow it
 * become 0 (Reshape's "copy the input's dim"), and one remaining one becomes -1 (inferred). Two
 * batch-dependent dims that are not copies have no single-Reshape form.
 */
function reshapeTarget(ctx: ConvertContext, copyPrefix: number): { shape: number[]; allowzero: boolean } {
  const out = ctx.output.shape;
  if (!ctx.alt) return { shape: [...out], allowzero: out.includes(0) };
  const altOut = ctx.alt.output.shape;
  const shape = out.map((d, i) => {
    if (d === altOut[i]) return d;
    return i < copyPrefix ? 0 : -1;
  });
  const inferred = shape.filter((d) => d === -1).length;
  if (inferred > 1) {
    throw exportError(ctx, `reshapes to ${shapeString(out)} (${shapeString(altOut)} at another batch size): ${inferred} dims change with the batch, and ONNX Reshape can infer only one. Export without dynamicBatch, or keep the batch in dim 0 (e.g. x.reshape([x.shape[0], -1]))`);
  }
  if (out.includes(0)) {
    throw exportError(ctx, `reshapes to ${shapeString(out)}, which has an empty dim; with dynamicBatch a 0 in an ONNX Reshape target means "copy the input dim". Export without dynamicBatch`);
  }
  return { shape, allowzero: false };
}

function emitReshape(ctx: ConvertContext, copyPrefix: number): void {
  const { shape, allowzero } = reshapeTarget(ctx, copyPrefix);
  const attributes: Record<string, AttributeValue> = {};
  if (allowzero) {
    // Opset 13's Reshape reads a 0 as "copy the input dim"; a real empty dim needs allowzero (14+).
    if (ctx.opset < 14) throw exportError(ctx, `reshapes to ${shapeString(shape)}, which has an empty dim; that needs Reshape's allowzero (opset >= 14, exporting opset ${ctx.opset})`);
    attributes.allowzero = attr.int(1);
  }
  emit(ctx, 'Reshape', [ctx.inputNames[0], ctx.builder.int64s(shape, 'shape')], attributes);
}

/** Length of the leading run of dims equal in input and output, in both traces. */
function sharedPrefix(ctx: ConvertContext): number {
  const a = ctx.inputs[0].shape, b = ctx.output.shape;
  const a2 = ctx.alt?.inputs[0].shape, b2 = ctx.alt?.output.shape;
  let k = 0;
  while (k < a.length && k < b.length && a[k] === b[k] && (!a2 || !b2 || a2[k] === b2[k])) k++;
  return k;
}

const reshape: Converter = (ctx) => {
  checkInputCount(ctx, [1]);
  emitReshape(ctx, sharedPrefix(ctx));
};

/**
 * torch.flatten(x, s, e). ONNX Flatten(axis) always makes a 2-D [prod(d0..d(axis-1)), rest], which is
 * flatten's result only for s = 1, e = last; every other case is a Reshape whose leading s dims copy
 * the input's (so a batch in dim 0 stays symbolic).
 */
const flatten: Converter = (ctx) => {
  checkInputCount(ctx, [1]);
  const rank = ctx.inputs[0].ndim;
  const s = intAttr(ctx, 'startDim');
  const e = intAttr(ctx, 'endDim');
  if (rank >= 2 && axis(s, rank) === 1 && axis(e, rank) === rank - 1) {
    emit(ctx, 'Flatten', ctx.inputNames, { axis: attr.int(1) });
    return;
  }
  emitReshape(ctx, axis(s, rank));
};

const concat: Converter = (ctx) => {
  emit(ctx, 'Concat', ctx.inputNames, { axis: attr.int(axis(intAttr(ctx, 'dim'), ctx.output.ndim)) });
};

// ---- Reductions ------------------------------------------------------------------------------

/**
 * sum/mean record {dims: a 0/1 mask over the input's dims, keepdim}. ReduceSum takes axes as an
 * input from opset 13, ReduceMean only from opset 18 (an attribute before).
 */
const reduction = (onnxOp: 'ReduceSum' | 'ReduceMean', axesInputFrom: number): Converter => (ctx) => {
  checkInputCount(ctx, [1]);
  const mask = ctx.attrs.dims;
  const rank = ctx.inputs[0].ndim;
  if (!Array.isArray(mask) || mask.length !== rank) {
    throw exportError(ctx, `has attribute dims = ${JSON.stringify(mask)}; expected a 0/1 mask of length ${rank}`);
  }
  const axes = mask.flatMap((m, i) => (m ? [i] : []));
  // Reducing over no dims is the identity; an empty ONNX axes list would mean "all dims" instead.
  if (axes.length === 0) {
    emit(ctx, 'Identity', ctx.inputNames);
    return;
  }
  const keepdims = { keepdims: attr.int(ctx.attrs.keepdim === true) };
  if (ctx.opset >= axesInputFrom) emit(ctx, onnxOp, [ctx.inputNames[0], ctx.builder.int64s(axes, 'axes')], keepdims);
  else emit(ctx, onnxOp, ctx.inputNames, { ...keepdims, axes: attr.ints(axes) });
};

const softmaxLike = (onnxOp: 'Softmax' | 'LogSoftmax'): Converter => (ctx) => {
  checkInputCount(ctx, [1]);
  // Opset 13 Softmax normalises over one axis, as torch.softmax(x, dim) does.
  emit(ctx, onnxOp, ctx.inputNames, { axis: attr.int(axis(intAttr(ctx, 'dim'), ctx.inputs[0].ndim)) });
};

// ---- Convolution and pooling (NCHW) ----------------------------------------------------------

/** PyTorch pads [h, w] on both sides; ONNX pads are [top, left, bottom, right] (conv2d may record those). */
function padsAttr(ctx: ConvertContext): AttributeValue {
  const p = ctx.attrs.padding;
  if (Array.isArray(p) && p.length === 4 && p.every((d) => Number.isInteger(d))) return attr.ints(p as number[]);
  const [h, w] = pairAttr(ctx, 'padding', [0, 0]);
  return attr.ints([h, w, h, w]);
}

/**
 * Runs `build` on a 4-D [N, C, H, W] value. hydranet's conv and pooling also take an unbatched
 * [C, H, W] input, which ONNX's do not: it gets a batch dim of 1 around the node.
 */
function spatial(ctx: ConvertContext, build: (input: string, output: string) => void): void {
  if (ctx.inputs[0].ndim === 4) {
    build(ctx.inputNames[0], ctx.outputName);
    return;
  }
  const axes = ctx.builder.int64s([0], 'axes');
  const x4 = emit(ctx, 'Unsqueeze', [ctx.inputNames[0], axes], {}, [temp(ctx, 'unsqueeze')]);
  const y4 = temp(ctx, ctx.op);
  build(x4, y4);
  emit(ctx, 'Squeeze', [y4, axes]);
}

const conv2d: Converter = (ctx) => {
  checkInputCount(ctx, [2, 3]);
  const w = ctx.inputs[1];
  spatial(ctx, (x, y) => emit(ctx, 'Conv', [x, ...ctx.inputNames.slice(1)], {
    kernel_shape: attr.ints(w.shape.slice(2)),
    strides: attr.ints(pairAttr(ctx, 'stride', [1, 1])),
    pads: padsAttr(ctx),
    dilations: attr.ints(pairAttr(ctx, 'dilation', [1, 1])),
    group: attr.int(intAttr(ctx, 'groups', 1)),
  }, [y]));
};

/**
 * Weight [inC, outC/groups, kH, kW] is ONNX's layout too, and with explicit pads ONNX's output size
 * is PyTorch's: stride·(in−1) + outputPadding + dilation·(k−1) + 1 − 2·padding. onnxruntime,
 * though, refuses outputPadding >= stride, which PyTorch allows when outputPadding < dilation.
 * Then outputPadding is folded into the end pads: PyTorch's output is the full transposed
 * convolution cropped from `padding` on, extended past its end by rows that hold only the bias.
 * So the end pad becomes padding − outputPadding, and where that is negative the missing rows are
 * zeros (Pad) before the bias is added.
 */
const convTranspose2d: Converter = (ctx) => {
  checkInputCount(ctx, [2, 3]);
  const w = ctx.inputs[1];
  const stride = pairAttr(ctx, 'stride', [1, 1]);
  const padding = pairAttr(ctx, 'padding', [0, 0]);
  const outputPadding = pairAttr(ctx, 'outputPadding', [0, 0]);
  const common = {
    kernel_shape: attr.ints(w.shape.slice(2)),
    strides: attr.ints(stride),
    dilations: attr.ints(pairAttr(ctx, 'dilation', [1, 1])),
    group: attr.int(intAttr(ctx, 'groups', 1)),
  };
  const [, weight, bias] = ctx.inputNames;
  if (outputPadding[0] < stride[0] && outputPadding[1] < stride[1]) {
    spatial(ctx, (x4, y) => emit(ctx, 'ConvTranspose', [x4, ...ctx.inputNames.slice(1)], {
      ...common, pads: attr.ints([...padding, ...padding]), output_padding: attr.ints(outputPadding),
    }, [y]));
    return;
  }
  const endPads = [0, 1].map((d) => Math.max(padding[d] - outputPadding[d], 0));
  const extra = [0, 1].map((d) => Math.max(outputPadding[d] - padding[d], 0));
  const pads = attr.ints([...padding, ...endPads]);
  if (extra[0] === 0 && extra[1] === 0) {
    spatial(ctx, (x4, y) => emit(ctx, 'ConvTranspose', [x4, weight, ...(bias ? [bias] : [])], { ...common, pads }, [y]));
    return;
  }
  spatial(ctx, (x4, y) => {
    const full = emit(ctx, 'ConvTranspose', [x4, weight], { ...common, pads }, [temp(ctx, 'conv_transpose')]);
    const padded = emit(ctx, 'Pad', [full, ctx.builder.int64s([0, 0, 0, 0, 0, 0, extra[0], extra[1]], 'pads')], {},
      [bias ? temp(ctx, 'pad') : y]);
    if (bias) {
      const channels = ctx.inputs[2].shape[0];
      const b3 = emit(ctx, 'Reshape', [bias, ctx.builder.int64s([channels, 1, 1], 'shape')], {}, [temp(ctx, 'bias')]);
      emit(ctx, 'Add', [padded, b3], {}, [y]);
    }
  });
};

function poolCommon(ctx: ConvertContext): Record<string, AttributeValue> {
  const kernel = pairAttr(ctx, 'kernelSize');
  const stride = ctx.attrs.stride == null ? kernel : pairAttr(ctx, 'stride');
  return {
    kernel_shape: attr.ints(kernel),
    strides: attr.ints(stride),
    pads: padsAttr(ctx),
    ceil_mode: attr.int(ctx.attrs.ceilMode === true),
  };
}

const maxPool2d: Converter = (ctx) => {
  checkInputCount(ctx, [1]);
  const attributes = { ...poolCommon(ctx), dilations: attr.ints(pairAttr(ctx, 'dilation', [1, 1])) };
  spatial(ctx, (x, y) => emit(ctx, 'MaxPool', [x], attributes, [y]));
};

/**
 * relu then max pool, fused by nn.Sequential outside tracing (F.reluMaxPool2d computes the pool
 * first; the two commute): MaxPool followed by Relu.
 */
const reluMaxPool2d: Converter = (ctx) => {
  checkInputCount(ctx, [1]);
  const attributes = { ...poolCommon(ctx), dilations: attr.ints(pairAttr(ctx, 'dilation', [1, 1])) };
  spatial(ctx, (x, y) => {
    const pooled = emit(ctx, 'MaxPool', [x], attributes, [temp(ctx, 'maxPool2d')]);
    emit(ctx, 'Relu', [pooled], {}, [y]);
  });
};

/** Output size of one spatial dim with ceil_mode off (every window starts and ends inside the padded input). */
function floorSize(size: number, k: number, s: number, p: number): number {
  return Math.floor((size + 2 * p - k) / s) + 1;
}

/**
 * AveragePool. divisorOverride d has no ONNX attribute, but when every window lies inside the
 * padded input (no ceil_mode overhang) each window's sum is mean_with_pads · kH·kW, so
 * AveragePool(count_include_pad=1) · (kH·kW / d) is exact.
 */
const avgPool2d: Converter = (ctx) => {
  checkInputCount(ctx, [1]);
  const common = poolCommon(ctx);
  const divisor = ctx.attrs.divisorOverride;
  if (divisor == null || divisor === 0) {
    const attributes = { ...common, count_include_pad: attr.int(ctx.attrs.countIncludePad !== false) };
    spatial(ctx, (x, y) => emit(ctx, 'AveragePool', [x], attributes, [y]));
    return;
  }
  if (typeof divisor !== 'number') throw exportError(ctx, `has divisorOverride = ${JSON.stringify(divisor)}; expected a number`);
  const [kH, kW] = pairAttr(ctx, 'kernelSize');
  const stride = ctx.attrs.stride == null ? [kH, kW] : pairAttr(ctx, 'stride');
  const [pH, pW] = pairAttr(ctx, 'padding', [0, 0]);
  const x = ctx.inputs[0].shape, out = ctx.output.shape;
  const rank = x.length;
  if (out[rank - 2] !== floorSize(x[rank - 2], kH, stride[0], pH) || out[rank - 1] !== floorSize(x[rank - 1], kW, stride[1], pW)) {
    throw exportError(ctx, `uses divisorOverride = ${divisor} with ceilMode windows that overhang the padded input; ONNX AveragePool has no divisor override and these windows have no fixed divisor to rescale`);
  }
  const attributes = { ...common, ceil_mode: attr.int(0), count_include_pad: attr.int(1) };
  spatial(ctx, (x, y) => {
    const mean = emit(ctx, 'AveragePool', [x], attributes, [temp(ctx, 'avg_pool')]);
    emit(ctx, 'Mul', [mean, ctx.builder.scalar((kH * kW) / divisor)], {}, [y]);
  });
};

/**
 * Eval-mode batch norm: BatchNormalization(x, scale, bias, mean, var). Missing affine parameters are
 * the constants 1 and 0; a node without running statistics (or in training mode) normalises by the
 * batch's own statistics, which inference cannot reproduce.
 */
const batchNorm: Converter = (ctx) => {
  if (ctx.attrs.training === true) {
    throw exportError(ctx, 'normalises with the batch\'s own statistics (training mode, or no running statistics); ONNX inference needs fixed running statistics: export in eval mode a BatchNorm with trackRunningStats');
  }
  const channels = ctx.inputs[0].shape[1];
  const names = bnInputs(ctx);
  const weight = names.weight ?? ctx.builder.constant('float32', [channels], new Array(channels).fill(1), 'ones');
  const bias = names.bias ?? ctx.builder.constant('float32', [channels], new Array(channels).fill(0), 'zeros');
  // ONNX's momentum weighs the old running value (PyTorch's weighs the new one); unused at inference.
  const momentum = typeof ctx.attrs.momentum === 'number' ? 1 - ctx.attrs.momentum : 0.9;
  emit(ctx, 'BatchNormalization', [ctx.inputNames[0], weight, bias, names.mean, names.var],
    { epsilon: attr.float(numberAttr(ctx, 'eps')), momentum: attr.float(momentum) });
};

/** Weight, bias and running statistics among the node's inputs: x, [weight], [bias], runningMean, runningVar. */
function bnInputs(ctx: ConvertContext): { weight?: string; bias?: string; mean: string; var: string } {
  const names = ctx.inputNames;
  const hasWeight = ctx.attrs.hasWeight === true, hasBias = ctx.attrs.hasBias === true;
  const expected = 3 + Number(hasWeight) + Number(hasBias);
  if (names.length !== expected) {
    throw exportError(ctx, `has ${names.length} inputs, expected ${expected} (x${hasWeight ? ', weight' : ''}${hasBias ? ', bias' : ''}, runningMean, runningVar); eval-mode export needs the running statistics`);
  }
  let k = 1;
  const weight = hasWeight ? names[k++] : undefined;
  const bias = hasBias ? names[k++] : undefined;
  return { weight, bias, mean: names[k], var: names[k + 1] };
}

/** The table, keyed by the op name recorded on nodes. */
export const converters: Readonly<Record<string, Converter>> = {
  add: binary('Add'),
  sub: binary('Sub'),
  mul: binary('Mul'),
  div: binary('Div'),
  neg: unary('Neg'),
  exp: unary('Exp'),
  log: unary('Log'),
  sqrt: unary('Sqrt'),
  abs: unary('Abs'),
  reciprocal: unary('Reciprocal'),
  pow,
  relu: unary('Relu'),
  sigmoid: unary('Sigmoid'),
  tanh: unary('Tanh'),
  clone: identity,
  dropout,
  dropout2d: dropout,
  matmul,
  linear,
  reshape,
  flatten,
  concat,
  sum: reduction('ReduceSum', 13),
  mean: reduction('ReduceMean', 18),
  softmax: softmaxLike('Softmax'),
  logSoftmax: softmaxLike('LogSoftmax'),
  conv2d,
  convTranspose2d,
  maxPool2d,
  reluMaxPool2d,
  avgPool2d,
  batchNorm2d: batchNorm,
  batchNorm1d: batchNorm,
};

/**
 * Recorded ops that deliberately have no ONNX form, with the reason given in the export error.
 * Every op recorded in lib/ops is either in `converters` or here (test/onnx-coverage.test.ts).
 */
export const withoutOnnxForm: Readonly<Record<string, string>> = Object.fromEntries(
  ['crossEntropy', 'nllLoss', 'mseLoss', 'l1Loss', 'smoothL1Loss', 'huberLoss', 'binaryCrossEntropyWithLogits']
    .map((op) => [op, 'a training loss: export the model that produces its input, and compute the loss outside']),
);

/** Attributes that legitimately change with the batch size (ignored when checking dynamicBatch). */
export const batchDependentAttrs: Readonly<Record<string, readonly string[]>> = {
  reshape: ['shape'],
  flatten: ['shape'],
};
