// Inference fusions nn.Sequential applies to convolution layers (grad disabled, not tracing):
// Conv2d + ReLU (+ MaxPool2d(2)) and ConvTranspose2d + ReLU run as one native call that applies
// the relu (and the 2x2 max pool) as the kernel stores its output (F.conv2dFused,
// F.convTranspose2dFused), so the full-size activation is written once, or never.
import type { Tensor } from '../tensor';
import { conv2dFused, convTranspose2dFused } from '../ops/conv';
import { Conv2d, ConvTranspose2d } from './conv';
import { MaxPool2d } from './pooling';

/** A MaxPool2d that is exactly the fused epilogue's pool: 2x2 windows, stride 2, floor mode. */
export function isPlainMaxPool2x2(pool: MaxPool2d): boolean {
  const pair = (v: readonly number[], a: number): boolean => v[0] === a && v[1] === a;
  return pair(pool.kernelSize, 2) && pair(pool.stride, 2) && pair(pool.padding, 0) && pair(pool.dilation, 1) && !pool.ceilMode;
}

/**
 * relu(layer(x)), then maxPool2d(·, 2) when `pool` (Conv2d only), as layer.forward would compute
 * them one by one. The caller checks that the modules are exactly these classes with their own
 * forward.
 */
export function fusedConvForward(layer: Conv2d | ConvTranspose2d, x: Tensor, pool: boolean): Tensor {
  if (layer instanceof ConvTranspose2d) {
    return convTranspose2dFused(x, layer.weight, layer.bias, {
      stride: layer.stride, padding: layer.padding, outputPadding: layer.outputPadding, dilation: layer.dilation, groups: layer.groups,
    }, 'relu');
  }
  return conv2dFused(x, layer.weight, layer.bias, {
    stride: layer.stride, padding: layer.padding, dilation: layer.dilation, groups: layer.groups,
  }, pool ? 'reluMaxPool2x2' : 'relu');
}
