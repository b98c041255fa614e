// MultiTaskModel: one shared trunk, one head per task. The trunk runs once per batch and its
// output feeds every head.
import { isGradEnabled, isTracing, record } from '../autograd';
import { argTypeError, describeValue } from '../errors';
import { Module, ModuleDict } from '../nn';
import { Tensor, isTensor } from '../tensor';

/** Where a training forward split the graph: the trunk's output and the heads' shared input. */
export interface TrunkSplit {
  /** z = shared(x), with the trunk's graph behind it. */
  readonly representation: Tensor;
  /** An alias of z (same storage, gradient passed straight through) that every head reads. */
  readonly headInput: Tensor;
}

const SPLIT = Symbol('hydranet.trunkSplit');

/** The forward's result: one tensor per head, plus (hidden) where the trunk was split. */
export type MultiTaskOutputs = Record<string, Tensor>;

export function trunkSplitOf(outputs: MultiTaskOutputs): TrunkSplit | undefined {
  return (outputs as { [SPLIT]?: TrunkSplit })[SPLIT];
}

export interface MultiTaskModelOptions {
  shared: Module;
  heads: Record<string, Module>;
}

/**
 * A shared trunk and named task heads. State-dict keys are `shared.*` and `heads.<task>.*`, as a
 * PyTorch module with `self.shared` and `self.heads = nn.ModuleDict(...)` would name them.
 *
 * @example
 *   const model = new hn.mtl.MultiTaskModel({
 *     shared: new nn.Sequential(new nn.Conv2d(1, 8, 3, { padding: 1 }), new nn.ReLU()),
 *     heads: { cls: new nn.Sequential(new nn.Flatten(), new nn.Linear(8 * 28 * 28, 10)) },
 *   });
 *   const { cls } = model.forward(x);
 */
export class MultiTaskModel extends Module {
  readonly shared: Module;
  readonly heads: ModuleDict;

  constructor(options: MultiTaskModelOptions) {
    super();
    const op = 'MultiTaskModel';
    if (!options || typeof options !== 'object') throw argTypeError(op, 'options', '{shared, heads}', describeValue(options));
    if (!(options.shared instanceof Module)) throw argTypeError(op, 'shared', 'an nn.Module', describeValue(options.shared));
    const heads = options.heads;
    if (!heads || typeof heads !== 'object' || Object.keys(heads).length === 0) {
      throw argTypeError(op, 'heads', 'an object {taskName: nn.Module} with at least one head', describeValue(heads));
    }
    for (const [name, head] of Object.entries(heads)) {
      if (!(head instanceof Module)) throw argTypeError(op, `heads.${name}`, 'an nn.Module', describeValue(head));
    }
    this.shared = this.registerModule('shared', options.shared);
    this.heads = this.registerModule('heads', new ModuleDict(heads));
  }

  /** The task names, in the order the heads were given. */
  get taskNames(): string[] {
    return [...this.heads.keys()];
  }

  /** The trunk's output for x (the shared representation). */
  representation(x: Tensor): Tensor {
    return this.shared.forward(x) as Tensor;
  }

  override forward(x: Tensor): MultiTaskOutputs {
    if (!isTensor(x)) throw argTypeError('MultiTaskModel.forward', 'input', 'a tensor', describeValue(x));
    const z = this.representation(x);
    if (!isTensor(z)) throw argTypeError('MultiTaskModel.forward', 'shared(input)', 'a tensor', describeValue(z));
    // Training: the heads read an alias of z at which WeightedOptimizer can stop a backward to
    // take each task's gradient at the representation, before one backward through the trunk.
    // A plain loss.backward() passes straight through it.
    const split = z.requiresGrad && isGradEnabled() && !isTracing();
    const headInput = split ? record(new Tensor(z.shareStorage(), z.shape, z.device), 'alias', {}, [z], (g) => [g]) : z;
    const outputs: MultiTaskOutputs = {};
    for (const name of this.taskNames) {
      const out = this.heads.get(name).forward(headInput);
      if (!isTensor(out)) throw argTypeError('MultiTaskModel.forward', `heads.${name} output`, 'a tensor', describeValue(out));
      outputs[name] = out;
    }
    if (split) Object.defineProperty(outputs, SPLIT, { value: { representation: z, headInput }, enumerable: false });
    return outputs;
  }

  /** Parameters of the trunk only (what gradient-combining strategies act on). */
  sharedParameters(): Tensor[] {
    return [...this.shared.parameters()];
  }

  /** Parameters of one task's head. */
  headParameters(task: string): Tensor[] {
    return [...this.heads.get(task).parameters()];
  }
}
