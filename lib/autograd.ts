// The autograd tape: each op's output remembers its inputs and its local chain rule; backward()
// is a topological sort and a reverse walk (micrograd's idea, on tensors).
import type { Tensor } from './tensor';
import { anomalyState, captureScope, checkBackward, checkForward } from './anomaly';

export type Attrs = Readonly<Record<string, unknown>>;

/** One recorded op: what the ONNX exporter reads (op, attrs, inputs) and what backward runs. */
export interface GradNode {
  readonly op: string;
  readonly attrs: Attrs;
  readonly inputs: readonly Tensor[];
  /** Gradients with respect to each input (null where an input needs none). */
  readonly backward: ((gradOutput: Tensor) => readonly (Tensor | null)[]) | null;
  /** The modules whose forward was running when the op was recorded (anomaly mode only). */
  readonly scope?: readonly object[];
}

let gradEnabled = true;
let traceDepth = 0;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn with gradient recording off (like torch.no_grad()). */
export function noGrad<T>(fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

/** Runs fn with gradient recording on, even inside noGrad. */
export function enableGrad<T>(fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = true;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

/** Records every op, differentiable or not, so the ONNX exporter can walk the graph. */
export function trace<T>(fn: () => T): T {
  traceDepth++;
  try {
    return fn();
  } finally {
    traceDepth--;
  }
}

export function isTracing(): boolean {
  return traceDepth > 0;
}

/** True when an op over these inputs must record a backward. */
export function needsGrad(inputs: readonly (Tensor | null | undefined)[]): boolean {
  if (!gradEnabled) return false;
  for (const t of inputs) if (t && t.requiresGrad) return true;
  return false;
}

/**
 * Attaches an op's node to its output. `backward` receives the output's gradient and returns one
 * gradient per input; it runs with recording off.
 */
export function record(
  output: Tensor,
  op: string,
  attrs: Attrs,
  inputs: readonly Tensor[],
  backward: (gradOutput: Tensor) => readonly (Tensor | null)[],
): Tensor {
  if (anomalyState.enabled) checkForward(op, output, inputs);
  if (needsGrad(inputs)) {
    output.requiresGrad = true;
    output.gradFn = anomalyState.enabled ? { op, attrs, inputs, backward, scope: captureScope() } : { op, attrs, inputs, backward };
  } else if (traceDepth > 0) {
    output.gradFn = { op, attrs, inputs, backward: null };
  }
  return output;
}

/**
 * A backward that runs a node together with the nodes below it (lib/ops/conv_pool_backward.ts:
 * conv2d -> maxPool2d (-> relu) in one native pass). Given the tensor whose node is being
 * run, its gradient, and `fusable` (true for a tensor this sweep may skip: its only consumer is
 * the chain, no one keeps its gradient), it returns the tensors at the bottom of the chain and
 * their gradients, or null to let the nodes run one by one.
 */
export type FusedBackward = (
  tensor: Tensor,
  grad: Tensor,
  fusable: (t: Tensor) => boolean,
) => { inputs: readonly Tensor[]; grads: readonly (Tensor | null)[] } | null;

const fusedBackwards = new Map<string, FusedBackward[]>();

/** Registers a fused backward tried at every node of op `op` (never in anomaly mode). */
export function registerFusedBackward(op: string, rule: FusedBackward): void {
  const rules = fusedBackwards.get(op) ?? [];
  rules.push(rule);
  fusedBackwards.set(op, rules);
}

/** How the sweep adds, stores and frees gradients (lib/tensor.ts supplies them). */
export interface GradAccumulators {
  /** Out of place: gradients flowing through the graph may be shared between inputs. */
  add(a: Tensor, b: Tensor): Tensor;
  /** In place into a leaf's own .grad. */
  addInto(target: Tensor, grad: Tensor): void;
  clone(t: Tensor): Tensor;
  /** The serial number the next tensor created will get (Tensor.serial). */
  nextSerial(): number;
}

/** Reverse-mode sweep from `root` seeded with `seed` (same shape as root). */
export function runBackward(root: Tensor, seed: Tensor, acc: GradAccumulators): void {
  runBackwardMany([root], [seed], acc);
}

/**
 * Reverse sweep from several roots at once (torch.autograd.backward(tensors, grads)): every
 * shared ancestor is visited once, with the sum of the gradients from all roots.
 *
 * Memory: a gradient that flowed through the graph is disposed as soon as the node it fed has
 * run, when the sweep created it and nothing else holds it (not a seed, not stored as a .grad,
 * not returned as a sink's gradient, not still waiting for another input). Its memory then goes
 * straight back to the allocator for the next op instead of waiting for V8's next collection:
 * large short-lived buffers are what drives V8's young-generation GCs and fresh page faults.
 */
export function runBackwardMany(
  roots: readonly Tensor[],
  seeds: readonly Tensor[],
  acc: GradAccumulators,
  stopAt?: ReadonlySet<Tensor>,
): Map<Tensor, Tensor> {
  // Tensors in stopAt are sinks: the sweep collects their gradient and goes no further
  // (how WeightedOptimizer takes each task's gradient at the shared representation).
  const captured = new Map<Tensor, Tensor>();
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // How many recorded uses of each tensor the sweep walks: a fused backward may skip a tensor
  // only when the chain is its one use.
  const consumers = new Map<Tensor, number>();
  // Iterative DFS: deep nets must not overflow the JS stack.
  for (const root of roots) {
    if (visited.has(root)) continue;
    visited.add(root);
    const stack: [Tensor, number][] = [[root, 0]];
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const [tensor, next] = top;
      const inputs = tensor.gradFn?.backward && !stopAt?.has(tensor) ? tensor.gradFn.inputs : [];
      if (next < inputs.length) {
        top[1] = next + 1;
        const child = inputs[next];
        if (child.requiresGrad) consumers.set(child, (consumers.get(child) ?? 0) + 1);
        if (child.requiresGrad && !visited.has(child)) {
          visited.add(child);
          stack.push([child, 0]);
        }
      } else {
        order.push(tensor);
        stack.pop();
      }
    }
  }

  // Gradients created by this sweep (serial from here on) that nothing else holds are released
  // once consumed; `pending` counts the grads-map entries that hold each gradient object, and
  // `kept` lists the ones handed out (a leaf's or retained .grad, a sink's gradient).
  const firstSerial = acc.nextSerial();
  const pending = new Map<Tensor, number>();
  const kept = new Set<Tensor>();
  const hold = (g: Tensor): void => {
    pending.set(g, (pending.get(g) ?? 0) + 1);
  };
  const unhold = (g: Tensor): void => {
    const n = (pending.get(g) ?? 0) - 1;
    if (n > 0) pending.set(g, n);
    else pending.delete(g);
  };
  const release = (g: Tensor): void => {
    if (g.serial >= firstSerial && !kept.has(g) && !pending.has(g)) g.dispose();
  };

  const grads = new Map<Tensor, Tensor>();
  const seedSet = new Set<Tensor>(seeds);
  const rootSet = new Set<Tensor>(roots);
  const fusable = (t: Tensor): boolean =>
    consumers.get(t) === 1 && !t.retainsGrad && !rootSet.has(t) && !stopAt?.has(t) && !!t.gradFn?.backward;
  roots.forEach((root, i) => {
    const existing = grads.get(root);
    const g = existing ? acc.add(existing, seeds[i]) : seeds[i];
    if (existing) unhold(existing);
    grads.set(root, g);
    hold(g);
  });
  // A leaf's .grad is owned by the leaf (optimizers update it in place), so it never aliases a
  // gradient that another tensor also received, nor a caller's seed.
  // Ownership is by memory, not object: a view (reshape's gradient) shares its source's storage.
  const claimed = new Set<object>();
  const seedStorage = new Set<object>([...seedSet].map((t) => t.storageKey));
  const storeLeafGrad = (tensor: Tensor, grad: Tensor): void => {
    if (tensor.grad) {
      acc.addInto(tensor.grad, grad);
    } else {
      const shared = claimed.has(grad.storageKey) || seedStorage.has(grad.storageKey);
      tensor.grad = shared ? acc.clone(grad) : grad;
      claimed.add(tensor.grad.storageKey);
      kept.add(tensor.grad);
    }
  };
  noGrad(() => {
    for (let i = order.length - 1; i >= 0; i--) {
      const tensor = order[i];
      const grad = grads.get(tensor);
      if (!grad) continue;
      grads.delete(tensor);
      unhold(grad);
      if (stopAt?.has(tensor)) {
        captured.set(tensor, grad);
        kept.add(grad);
        continue;
      }
      const node = tensor.gradFn;
      if (!node || !node.backward) {
        if (tensor.requiresGrad) storeLeafGrad(tensor, grad);
        release(grad);
        continue;
      }
      if (tensor.retainsGrad) storeLeafGrad(tensor, grad);
      let inputs = node.inputs;
      let inputGrads: readonly (Tensor | null)[] | null = null;
      const rules = anomalyState.enabled ? undefined : fusedBackwards.get(node.op);
      for (const rule of rules ?? []) {
        const fused = rule(tensor, grad, fusable);
        if (fused) {
          inputs = fused.inputs;
          inputGrads = fused.grads;
          break;
        }
      }
      if (!inputGrads) {
        inputGrads = node.backward(grad);
        if (anomalyState.enabled) checkBackward(node.op, node.scope, node.inputs, inputGrads);
      }
      const computed = inputGrads;
      inputs.forEach((input, k) => {
        const g = computed[k];
        if (!g || !input.requiresGrad) return;
        const existing = grads.get(input);
        if (existing) {
          const sum = acc.add(existing, g);
          unhold(existing);
          grads.set(input, sum);
          hold(sum);
          release(existing);
          release(g);
        } else {
          grads.set(input, g);
          hold(g);
        }
      });
      release(grad);
    }
  });
  return captured;
}
