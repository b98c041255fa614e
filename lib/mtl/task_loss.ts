// Task loss specs and the fused multi-loss call: every task's loss and its (weighted) gradient
// with respect to its head output, in one native call.
import { argRangeError, argTypeError, describeValue, shapeString } from '../errors';
import { bindings } from '../native';
import { Tensor, isTensor, numelOf } from '../tensor';
import { commonDevice, kernelsFor } from '../ops/device';

export type LossName = 'crossEntropy' | 'mse' | 'l1' | 'bceWithLogits';
const KIND: Record<LossName, number> = { crossEntropy: 0, mse: 1, l1: 2, bceWithLogits: 3 };
const LOSS_NAMES = Object.keys(KIND) as LossName[];

export interface TaskSpec {
  /** The task's loss: cross-entropy over classes (N,C)+(N) or per pixel (N,C,H,W)+(N,H,W), MSE, L1, BCE with logits. */
  loss: LossName;
  /** λ_t for static weighting (default 1). */
  weight?: number;
  /** Cross-entropy only: targets equal to it are ignored (default -100, as PyTorch). */
  ignoreIndex?: number;
  /** 'mean' (default, over counted terms) or 'sum'. */
  reduction?: 'mean' | 'sum';
}

interface MultiLossBindings {
  multiTaskLoss(tasks: object[]): { loss: number; count: number }[];
}
const native = bindings<MultiLossBindings>();

/** Validates a task table ({name: spec}); returns the specs with defaults filled. */
export function normalizeTasks(op: string, tasks: unknown): Record<string, Required<TaskSpec>> {
  if (!tasks || typeof tasks !== 'object' || Array.isArray(tasks)) {
    throw argTypeError(op, 'tasks', "an object {taskName: {loss: 'crossEntropy' | 'mse' | 'l1' | 'bceWithLogits', weight?}}", describeValue(tasks));
  }
  const out: Record<string, Required<TaskSpec>> = {};
  const names = Object.keys(tasks as object);
  if (names.length === 0) throw argRangeError(op, 'tasks', 'at least one task', 'none');
  for (const name of names) {
    const spec = (tasks as Record<string, unknown>)[name] as Partial<TaskSpec> | undefined;
    if (!spec || typeof spec !== 'object') throw argTypeError(op, `tasks.${name}`, 'an object with a loss', describeValue(spec));
    if (!LOSS_NAMES.includes(spec.loss as LossName)) {
      throw argRangeError(op, `tasks.${name}.loss`, `one of ${LOSS_NAMES.map((n) => `'${n}'`).join(', ')}`, describeValue(spec.loss));
    }
    const weight = spec.weight ?? 1;
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
      throw argRangeError(op, `tasks.${name}.weight`, 'a finite number >= 0', describeValue(spec.weight));
    }
    const ignoreIndex = spec.ignoreIndex ?? -100;
    if (!Number.isInteger(ignoreIndex)) throw argTypeError(op, `tasks.${name}.ignoreIndex`, 'an integer', describeValue(ignoreIndex));
    const reduction = spec.reduction ?? 'mean';
    if (reduction !== 'mean' && reduction !== 'sum') throw argRangeError(op, `tasks.${name}.reduction`, "'mean' or 'sum'", describeValue(reduction));
    out[name] = { loss: spec.loss as LossName, weight, ignoreIndex, reduction };
  }
  return out;
}

export interface FusedLossResult {
  /** Unweighted loss per task. */
  losses: number[];
  /** weights[t] · dL_t / d outputs[t], one tensor per task, shaped like the output. */
  grads: Tensor[];
  /** Terms each mean divided by (0 when a batch has no label for the task). */
  counts: number[];
}

/**
 * Computes every task's loss and weighted output gradient in one native call.
 * `masks[t]`, when given, is a float [N] tensor: 0 marks a sample without a label for task t.
 */
export function fusedMultiTaskLoss(
  op: string,
  names: readonly string[],
  specs: readonly Required<TaskSpec>[],
  outputs: readonly Tensor[],
  targets: readonly Tensor[],
  weights: readonly number[],
  masks: readonly (Tensor | null | undefined)[] = [],
  withGrad = true,
): FusedLossResult {
  const grads: Tensor[] = [];
  // One device for every output, target and mask; on CUDA the same call goes to the CUDA twin
  // (bindings/cuda_ops.cc) with device buffers in the task objects.
  const device = commonDevice(op, names.flatMap((name, t) => [
    [`outputs.${name}`, isTensor(outputs[t]) ? outputs[t] : null],
    [`targets.${name}`, isTensor(targets[t]) ? targets[t] : null],
    [`masks.${name}`, isTensor(masks[t]) ? masks[t] : null],
  ] as [string, Tensor | null][]));
  const calls = names.map((name, t) => {
    const spec = specs[t];
    const out = outputs[t];
    const target = targets[t];
    if (!isTensor(out)) throw argTypeError(op, `outputs.${name}`, 'a tensor', describeValue(out));
    if (!isTensor(target)) throw argTypeError(op, `targets.${name}`, 'a tensor', describeValue(target));
    const output = out.buffer(op, `outputs.${name}`);
    const w = weights[t];
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) throw argRangeError(op, `weight of task '${name}'`, 'a finite number >= 0', describeValue(w));
    const N = out.ndim > 0 ? out.shape[0] : 0;
    let C = 1;
    let S: number;
    if (spec.loss === 'crossEntropy') {
      if (out.ndim < 2) throw argRangeError(op, `outputs.${name}`, 'logits of shape [N, C] or [N, C, H, W] for crossEntropy', `shape ${shapeString(out.shape)}`);
      C = out.shape[1];
      const expected = [out.shape[0], ...out.shape.slice(2)];
      if (target.dtype !== 'int32') throw argTypeError(op, `targets.${name}`, 'an int32 tensor of class indices', `a ${target.dtype} tensor`);
      if (shapeString(target.shape) !== shapeString(expected)) {
        throw argRangeError(op, `targets.${name}`, `shape ${shapeString(expected)} for logits ${shapeString(out.shape)}`, `shape ${shapeString(target.shape)}`);
      }
      S = numelOf(out.shape.slice(2));
    } else {
      if (out.ndim < 1) throw argRangeError(op, `outputs.${name}`, `a tensor [N, ...] for ${spec.loss}`, 'a scalar');
      target.buffer(op, `targets.${name}`);
      if (shapeString(target.shape) !== shapeString(out.shape)) {
        throw argRangeError(op, `targets.${name}`, `shape ${shapeString(out.shape)} (the output's) for ${spec.loss}`, `shape ${shapeString(target.shape)}`);
      }
      S = numelOf(out.shape.slice(1));
    }
    const mask = masks[t];
    if (mask != null) {
      if (!isTensor(mask)) throw argTypeError(op, `masks.${name}`, 'a float32 tensor [N]', describeValue(mask));
      if (mask.ndim !== 1 || mask.shape[0] !== N) throw argRangeError(op, `masks.${name}`, `shape [${N}]`, `shape ${shapeString(mask.shape)}`);
    }
    // The kernel writes every element (0 where a sample is masked or a position ignored).
    const grad = withGrad ? Tensor.uninitialized(out.shape, device) : null;
    if (grad) grads.push(grad);
    return {
      name,
      kind: KIND[spec.loss],
      reduction: spec.reduction === 'mean' ? 0 : 1,
      n: N,
      c: C,
      s: S,
      output,
      labels: spec.loss === 'crossEntropy' ? target.intBuffer(op, `targets.${name}`) : undefined,
      target: spec.loss === 'crossEntropy' ? undefined : target.buffer(op, `targets.${name}`),
      mask: mask ? mask.buffer(op, `masks.${name}`) : null,
      ignoreIndex: spec.ignoreIndex,
      weight: w,
      grad: grad ? grad.buffer() : null,
    };
  });
  const results = (device === 'cpu' ? native : kernelsFor<MultiLossBindings>(op, device)).multiTaskLoss(calls);
  return { losses: results.map((r) => r.loss), counts: results.map((r) => r.count), grads };
}
