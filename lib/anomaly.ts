// Anomaly mode (torch.autograd.set_detect_anomaly): while on, every op's forward result and every
// gradient a backward produces is checked for NaN and Inf, and the first one found throws an
// AnomalyError naming the op, the module it ran in and the input whose gradient went bad.
//
//   hn.detectAnomaly(true);
//   loss.backward(); // AnomalyError: detectAnomaly: backward of conv2d (in module shared.0)
//                    // produced NaN in the gradient of input 1 (shared.0.weight)
//
// Off (the default), the only cost is one flag test per recorded op and per module forward.
import { sumAll } from './ops/sum_all';
import { currentScope, scopePath, setScopeTracking } from './module_scope';
import type { Tensor } from './tensor';

/** Read by autograd's record() and backward sweep. */
export const anomalyState = { enabled: false };

/** Turns anomaly detection on or off (process-wide, like PyTorch's). */
export function detectAnomaly(enabled = true): void {
  if (typeof enabled !== 'boolean') throw new TypeError(`detectAnomaly: expected enabled to be a boolean, got ${typeof enabled}`);
  anomalyState.enabled = enabled;
  setScopeTracking(enabled);
}

export function isAnomalyEnabled(): boolean {
  return anomalyState.enabled;
}

export class AnomalyError extends Error {
  constructor(
    message: string,
    /** The op whose forward or backward produced the value. */
    readonly op: string,
    readonly phase: 'forward' | 'backward',
    /** Dotted module path ('shared.0'), when the op ran inside a module's forward. */
    readonly modulePath: string | undefined,
  ) {
    super(message);
    this.name = 'AnomalyError';
  }
}

/** 'NaN', 'Inf' or null; the native sum scaled by 0 finds out whether there is anything to look for. */
function nonFinite(data: Float32Array): 'NaN' | 'Inf' | null {
  if (!Number.isNaN(sumAll(data, 0))) return null;
  let inf = false;
  for (let i = 0; i < data.length; i++) {
    if (Number.isNaN(data[i])) return 'NaN';
    if (!Number.isFinite(data[i])) inf = true;
  }
  return inf ? 'Inf' : null;
}

function floatData(t: Tensor): Float32Array | null {
  if (t.dtype !== 'float32' || t.isDisposed) return null;
  // A CUDA tensor is copied back to be scanned: anomaly mode is a debugging aid, its cost accepted.
  return (t.device === 'cpu' ? t.data : t.toArray()) as Float32Array;
}

function where(scope: readonly object[] | undefined): string {
  return scope ? ` (in module ${scopePath(scope)})` : '';
}

/** The scope to remember on a recorded node (resolved to a path only if its backward fails). */
export function captureScope(): object[] | undefined {
  return currentScope();
}

/** Throws when an op's output holds NaN or Inf; says whether an input already did. */
export function checkForward(op: string, output: Tensor, inputs: readonly Tensor[]): void {
  const data = floatData(output);
  const bad = data && nonFinite(data);
  if (!bad) return;
  const scope = currentScope();
  const badInputs = inputs
    .map((t, i) => [i, floatData(t)] as const)
    .filter(([, d]) => d !== null && nonFinite(d) !== null)
    .map(([i]) => i);
  const origin = badInputs.length > 0
    ? ` (input${badInputs.length > 1 ? 's' : ''} ${badInputs.join(', ')} already held NaN or Inf)`
    : ' from finite inputs';
  throw new AnomalyError(
    `detectAnomaly: forward of ${op}${where(scope)} produced ${bad} in its output of shape [${output.shape.join(', ')}]${origin}`,
    op, 'forward', scope ? scopePath(scope) : undefined,
  );
}

/** A parameter's dotted name as the outermost module of the scope names it ('shared.0.weight'). */
function parameterName(scope: readonly object[] | undefined, t: Tensor | undefined): string | undefined {
  if (!t) return undefined;
  const root = scope?.[0] as { namedParameters?(): Iterable<[string, Tensor]> } | undefined;
  if (root && typeof root.namedParameters === 'function') {
    for (const [name, p] of root.namedParameters()) if (p === t) return name;
  }
  return t.name;
}

/** Throws when a backward returned a gradient holding NaN or Inf. */
export function checkBackward(op: string, scope: readonly object[] | undefined, inputs: readonly Tensor[],
  grads: readonly (Tensor | null)[]): void {
  for (let k = 0; k < grads.length; k++) {
    const g = grads[k];
    const data = g && floatData(g);
    const bad = data && nonFinite(data);
    if (!bad) continue;
    const name = parameterName(scope, inputs[k]);
    throw new AnomalyError(
      `detectAnomaly: backward of ${op}${where(scope)} produced ${bad} in the gradient of input ${k}${name ? ` (${name})` : ''}`,
      op, 'backward', scope ? scopePath(scope) : undefined,
    );
  }
}
