// conv2d -> maxPool2d (-> relu) backward in one native pass (native/cpu/conv_sparse.h,
// conv2d_pooled_backward), registered with the backward sweep (lib/autograd.ts).
//
// Why: behind a max pool only one position per window gets a gradient; run node by node, the
// pool's backward writes the full-size gradient of the convolution's output (3/4 zeros, plus
// the relu's), and the convolution's backward reads it back. The fused pass sends each pooled
// gradient straight to its window's argmax (recomputed from the saved convolution output with
// the pool's own rule) and visits only those entries: no full-size gradient exists.
//
// When: CPU float32 tensors; conv2d with groups 1, dilation 1 and symmetric padding; a max
// pool without padding, dilation or ceil mode; the convolution's output (and the pool's, when
// a relu follows it) used by nothing else in this backward and not keeping its gradient
// (retainGrad). The chains: relu(maxPool2d(conv2d)), maxPool2d(relu(conv2d)), reluMaxPool2d(
// conv2d) (nn.Sequential's ReLU + MaxPool2d) and maxPool2d(conv2d). Otherwise, or when the kernel declines (non-finite
// weights or inputs, sizes out of its range), each node runs its own backward.
import type { FusedBackward, GradNode } from '../autograd';
import { registerFusedBackward } from '../autograd';
import { bindings } from '../native';
import { Tensor } from '../tensor';

interface PooledBindings {
  convPooledBackward(xShape: readonly number[], wShape: readonly number[], stride: readonly number[], padding: readonly number[],
    poolKernel: readonly number[], poolStride: readonly number[], relu: boolean, x: Float32Array, w: Float32Array,
    y: Float32Array, grad: Float32Array, gradX: Float32Array | null, gradW: Float32Array | null,
    gradBias: Float32Array | null): boolean;
}
const native = bindings<PooledBindings>();

const pair = (v: unknown): number[] | null =>
  Array.isArray(v) && v.length === 2 && v.every((n) => Number.isInteger(n)) ? (v as number[]) : null;
const isCpuFloat = (t: Tensor): boolean => t.device === 'cpu' && t.dtype === 'float32' && !t.isDisposed;

/**
 * The gradients of the convolution whose output y the pool `pool` reads (through a relu when
 * `relu`) for the pooled gradient `grad`, or null.
 */
function convPool(pool: GradNode, y: Tensor | undefined, grad: Tensor, relu: boolean, fusable: (t: Tensor) => boolean): ReturnType<FusedBackward> {
  const conv = y?.gradFn;
  if (!y || !conv || conv.op !== 'conv2d' || !fusable(y)) return null;
  const kernel = pair(pool.attrs.kernelSize), poolStride = pair(pool.attrs.stride), poolPad = pair(pool.attrs.padding);
  const poolDilation = pair(pool.attrs.dilation);
  if (!kernel || !poolStride || !poolPad || !poolDilation || pool.attrs.ceilMode !== false) return null;
  if (poolPad[0] !== 0 || poolPad[1] !== 0 || poolDilation[0] !== 1 || poolDilation[1] !== 1) return null;
  const stride = pair(conv.attrs.stride), padding = pair(conv.attrs.padding), dilation = pair(conv.attrs.dilation);
  if (!stride || !padding || !dilation || dilation[0] !== 1 || dilation[1] !== 1 || conv.attrs.groups !== 1) return null;
  const [x, w, b] = conv.inputs;
  if (x.ndim !== 4 || y.ndim !== 4 || ![x, w, y, grad, ...(b ? [b] : [])].every(isCpuFloat)) return null;
  const gx = x.requiresGrad ? Tensor.uninitialized(x.shape) : null;
  const gw = w.requiresGrad ? Tensor.uninitialized(w.shape) : null;
  const gb = b && b.requiresGrad ? Tensor.uninitialized(b.shape) : null;
  const done = native.convPooledBackward(x.shape, w.shape, stride, padding, kernel, poolStride, relu,
    x.data as Float32Array, w.data as Float32Array, y.data as Float32Array, grad.data as Float32Array,
    gx ? (gx.data as Float32Array) : null, gw ? (gw.data as Float32Array) : null, gb ? (gb.data as Float32Array) : null);
  if (!done) {
    for (const t of [gx, gw, gb]) t?.dispose();
    return null;
  }
  return { inputs: conv.inputs, grads: b ? [gx, gw, gb] : [gx, gw] };
}

// relu(maxPool2d(y)): the relu's gradient is masked where the pooled value is not > 0.
registerFusedBackward('relu', (tensor, grad, fusable) => {
  const pooled = tensor.gradFn!.inputs[0];
  const pool = pooled?.gradFn;
  if (!pool || pool.op !== 'maxPool2d' || !fusable(pooled)) return null;
  return convPool(pool, pool.inputs[0], grad, true, fusable);
});
registerFusedBackward('reluMaxPool2d', (tensor, grad, fusable) => convPool(tensor.gradFn!, tensor.gradFn!.inputs[0], grad, true, fusable));
registerFusedBackward('maxPool2d', (tensor, grad, fusable) => {
  const pool = tensor.gradFn!;
  const input = pool.inputs[0];
  // maxPool2d(relu(y)) is relu(maxPool2d(y)): max commutes with relu, the argmax of a window
  // whose maximum is > 0 is the same in y and relu(y), and the relu's gradient is 0 elsewhere.
  const below = input?.gradFn;
  if (below && below.op === 'relu') return fusable(input) ? convPool(pool, below.inputs[0], grad, true, fusable) : null;
  return convPool(pool, input, grad, false, fusable);
});
