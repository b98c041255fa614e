// Device dispatch for ops: every op family has one binding table per device with the same
// function names and argument lists (bindings/*.cc for the CPU, bindings/cuda_ops.cc under
// `cuda` for CUDA), so an op picks the table from its tensors' device and calls it unchanged,
// passing Tensor.buffer() (a host array or a device buffer handle) for each array.
import { argRangeError, argTypeError } from '../errors';
import { addon } from '../native';
import { Device, Tensor, isTensor } from '../tensor';

/** The kernel table for `device`: the CPU bindings or their CUDA twins. */
export function kernelsFor<T>(op: string, device: Device): T {
  if (device === 'cpu') return addon as unknown as T;
  const table = (addon as unknown as { cuda?: Record<string, unknown> }).cuda;
  if (!table) throw argRangeError(op, 'device', "'cpu' (this build of hydranet has no CUDA kernels)", `'${device}'`);
  return table as unknown as T;
}

/**
 * The one device of an op's tensor arguments (null/undefined ones skipped); a RangeError naming
 * the first argument on another device, as PyTorch refuses mixed devices.
 */
export function commonDevice(op: string, args: readonly (readonly [string, Tensor | null | undefined])[]): Device {
  let device: Device | null = null;
  let first = '';
  for (const [name, t] of args) {
    if (t === null || t === undefined) continue;
    if (!isTensor(t)) throw argTypeError(op, name, 'a tensor', typeof t);
    if (device === null) {
      device = t.device;
      first = name;
    } else if (t.device !== device) {
      throw argRangeError(op, name, `a tensor on ${device} like ${first}`, `a tensor on ${t.device}`);
    }
  }
  return device ?? 'cpu';
}

/**
 * Host values as a tensor on `device`: itself on the CPU, uploaded (and the host copy released) on
 * CUDA. For values made on the host whatever the device: dropout masks drawn from the seeded
 * generator (so a seed gives the same mask on both devices), reduced losses.
 */
export function hostTensorOn(data: Float32Array, shape: readonly number[], device: Device): Tensor {
  const t = new Tensor(data, shape);
  if (device === 'cpu') return t;
  const moved = t.to(device);
  t.dispose();
  return moved;
}

/** A 1-element float32 tensor holding `value` on `device` (a reduced loss, a scalar seed). */
export function scalarOn(value: number, device: Device, shape: readonly number[] = []): Tensor {
  return hostTensorOn(new Float32Array([value]), shape, device);
}
