// Learning-rate schedulers (torch.optim.lr_scheduler): StepLR, CosineAnnealingLR, OneCycleLR.
//
// As in PyTorch, constructing a scheduler records each group's `initialLr` (stateDict key
// `initial_lr`) and performs step 0, which sets the lr for the first epoch; call step() after each
// optimizer.step() (per epoch for StepLR/CosineAnnealingLR, per batch for OneCycleLR). StepLR and
// CosineAnnealingLR use PyTorch's chainable (recursive) forms, so they compose with other
// schedulers and with manual lr changes exactly as PyTorch's do. stateDict() holds PyTorch's
// attribute names (base_lrs, last_epoch, _step_count, _last_lr, step_size, T_max, ...).
import { argRangeError, argTypeError, describeValue } from '../errors';
import { Optimizer, ParamGroup, camelToSnake, snakeToCamel } from './optimizer';

type LrGroup = ParamGroup<{ lr: number }> & { initialLr?: number; maxLr?: number; minLr?: number };
type AnyOptimizer = Optimizer<{ lr: number }>;

function checkOptimizer(op: string, optimizer: unknown): AnyOptimizer {
  if (!(optimizer instanceof Optimizer)) throw argTypeError(op, 'optimizer', 'an Optimizer (SGD, Adam, AdamW, ...)', describeValue(optimizer));
  return optimizer as AnyOptimizer;
}

function checkLastEpoch(op: string, lastEpoch: unknown): number {
  if (typeof lastEpoch !== 'number' || !Number.isInteger(lastEpoch) || lastEpoch < -1) {
    throw argRangeError(op, 'lastEpoch', 'an integer >= -1', describeValue(lastEpoch));
  }
  return lastEpoch;
}

function positiveInt(op: string, arg: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw argRangeError(op, arg, 'a positive integer', describeValue(v));
  return v;
}

function finiteNumber(op: string, arg: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw argTypeError(op, arg, 'a finite number', describeValue(v));
  return v;
}

function numberArray(op: string, arg: string, v: unknown, length: number): number[] {
  if (!Array.isArray(v) || v.length !== length || v.some((x) => typeof x !== 'number' || Number.isNaN(x))) {
    throw argTypeError(op, arg, `an array of ${length} numbers`, describeValue(v));
  }
  return [...v];
}

export type SchedulerStateDict = Record<string, unknown>;

export abstract class LRScheduler {
  readonly optimizer: AnyOptimizer;
  /** Each group's lr at the start of the schedule (its initialLr). */
  baseLrs: number[];
  /** The index of the current epoch (or batch, for OneCycleLR); -1 before the first step. */
  lastEpoch: number;
  protected stepCount = 0;
  protected lastLr: number[] = [];

  constructor(optimizer: Optimizer<{ lr: number }>, lastEpoch = -1) {
    const op = this.constructor.name;
    this.optimizer = checkOptimizer(op, optimizer);
    this.lastEpoch = checkLastEpoch(op, lastEpoch);
    const groups = this.groups();
    if (lastEpoch === -1) {
      for (const g of groups) if (g.initialLr === undefined) g.initialLr = g.lr;
    } else {
      groups.forEach((g, i) => {
        if (g.initialLr === undefined) {
          throw argRangeError(op, `optimizer.paramGroups[${i}].initialLr`, 'set when resuming with lastEpoch >= 0 (load the optimizer state first)', 'undefined');
        }
      });
    }
    this.baseLrs = groups.map((g) => g.initialLr as number);
  }

  protected groups(): LrGroup[] {
    return this.optimizer.paramGroups as unknown as LrGroup[];
  }

  /** The learning rates for the epoch lastEpoch (PyTorch's get_lr). */
  protected abstract getLr(): number[];

  /** Scheduler settings saved in the state dict: PyTorch attribute name -> this object's field. */
  protected abstract settings(): Record<string, string>;

  /** Subclasses call this at the end of their constructor: PyTorch's initial step. */
  protected initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /** Advances one epoch (or batch) and writes the new lr into every parameter group. */
  step(): void {
    this.lastEpoch += 1;
    let lrs: number[];
    try {
      lrs = this.getLr();
    } catch (error) {
      this.lastEpoch -= 1;
      throw error;
    }
    this.stepCount += 1;
    this.groups().forEach((g, i) => {
      g.lr = lrs[i];
    });
    this.lastLr = this.groups().map((g) => g.lr);
  }

  /** The lr of each group as last set by this scheduler. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  stateDict(): SchedulerStateDict {
    const out: SchedulerStateDict = {
      base_lrs: [...this.baseLrs],
      last_epoch: this.lastEpoch,
      _step_count: this.stepCount,
      _last_lr: [...this.lastLr],
    };
    const self = this as unknown as Record<string, unknown>;
    for (const [key, field] of Object.entries(this.settings())) out[key] = structuredClone(self[field]);
    return out;
  }

  /** Restores stateDict() output; validated first, nothing changes on error. */
  loadStateDict(stateDict: SchedulerStateDict): void {
    const op = `${this.constructor.name}.loadStateDict`;
    if (stateDict === null || typeof stateDict !== 'object') throw argTypeError(op, 'stateDict', 'an object', describeValue(stateDict));
    const n = this.groups().length;
    const baseLrs = numberArray(op, 'stateDict.base_lrs', stateDict.base_lrs, n);
    const lastLr = numberArray(op, 'stateDict._last_lr', stateDict._last_lr ?? [], stateDict._last_lr === undefined ? 0 : n);
    const lastEpoch = checkLastEpoch(op, stateDict.last_epoch);
    const stepCount = stateDict._step_count ?? 0;
    if (typeof stepCount !== 'number' || !Number.isInteger(stepCount) || stepCount < 0) throw argRangeError(op, 'stateDict._step_count', 'a non-negative integer', describeValue(stepCount));
    const settings = Object.entries(this.settings());
    for (const [key] of settings) {
      if (!(key in stateDict)) throw argRangeError(op, `stateDict.${key}`, `present (a ${this.constructor.name} state dict)`, 'missing');
    }
    this.checkSettings(op, stateDict);
    this.baseLrs = baseLrs;
    this.lastLr = lastLr;
    this.lastEpoch = lastEpoch;
    this.stepCount = stepCount;
    const self = this as unknown as Record<string, unknown>;
    for (const [key, field] of settings) self[field] = structuredClone(stateDict[key]);
  }

  /** Validates loaded settings (subclasses check their own). */
  protected checkSettings(_op: string, _stateDict: SchedulerStateDict): void {}
}

export interface StepLROptions {
  stepSize: number;
  gamma?: number;
  lastEpoch?: number;
}

/**
 * Multiplies each group's lr by gamma every stepSize epochs:
 * lr(epoch) = baseLr · gamma^⌊epoch / stepSize⌋.
 * @example const sched = new optim.StepLR(opt, { stepSize: 30, gamma: 0.1 });
 */
export class StepLR extends LRScheduler {
  stepSize: number;
  gamma: number;

  constructor(optimizer: Optimizer<{ lr: number }>, { stepSize, gamma = 0.1, lastEpoch = -1 }: StepLROptions) {
    super(optimizer, lastEpoch);
    this.stepSize = positiveInt('StepLR', 'stepSize', stepSize);
    this.gamma = finiteNumber('StepLR', 'gamma', gamma);
    this.initialStep();
  }

  protected getLr(): number[] {
    const groups = this.groups();
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * this.gamma);
  }

  protected settings(): Record<string, string> {
    return { step_size: 'stepSize', gamma: 'gamma' };
  }

  protected override checkSettings(op: string, sd: SchedulerStateDict): void {
    positiveInt(op, 'stateDict.step_size', sd.step_size);
    finiteNumber(op, 'stateDict.gamma', sd.gamma);
  }
}

export interface CosineAnnealingLROptions {
  tMax: number;
  etaMin?: number;
  lastEpoch?: number;
}

/**
 * Cosine annealing (Loshchilov & Hutter, SGDR, without restarts):
 * lr(t) = etaMin + (baseLr − etaMin)·(1 + cos(π·t / tMax)) / 2, continuing as a cosine past tMax.
 * @example const sched = new optim.CosineAnnealingLR(opt, { tMax: 100 });
 */
export class CosineAnnealingLR extends LRScheduler {
  tMax: number;
  etaMin: number;

  constructor(optimizer: Optimizer<{ lr: number }>, { tMax, etaMin = 0, lastEpoch = -1 }: CosineAnnealingLROptions) {
    super(optimizer, lastEpoch);
    this.tMax = positiveInt('CosineAnnealingLR', 'tMax', tMax);
    this.etaMin = finiteNumber('CosineAnnealingLR', 'etaMin', etaMin);
    this.initialStep();
  }

  // PyTorch's recursive form: each step rescales the current lr, so manual changes carry over.
  protected getLr(): number[] {
    const groups = this.groups();
    const { lastEpoch: t, tMax, etaMin } = this;
    if (t === 0) return groups.map((g) => g.lr);
    if (this.stepCount === 0 && t > 0) {
      // Resuming at epoch t: the closed form.
      return this.baseLrs.map((base) => etaMin + ((base - etaMin) * (1 + Math.cos((t * Math.PI) / tMax))) / 2);
    }
    if ((t - 1 - tMax) % (2 * tMax) === 0) {
      // The step out of a minimum, where the ratio below would be 0/0.
      return groups.map((g, i) => g.lr + ((this.baseLrs[i] - etaMin) * (1 - Math.cos(Math.PI / tMax))) / 2);
    }
    return groups.map((g) => ((1 + Math.cos((Math.PI * t) / tMax)) / (1 + Math.cos((Math.PI * (t - 1)) / tMax))) * (g.lr - etaMin) + etaMin);
  }

  protected settings(): Record<string, string> {
    return { T_max: 'tMax', eta_min: 'etaMin' };
  }

  protected override checkSettings(op: string, sd: SchedulerStateDict): void {
    positiveInt(op, 'stateDict.T_max', sd.T_max);
    finiteNumber(op, 'stateDict.eta_min', sd.eta_min);
  }
}

export interface OneCycleLROptions {
  /** Peak lr, one for all groups or one per group. */
  maxLr: number | number[];
  /** The number of steps in the cycle; or give epochs and stepsPerEpoch. */
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent increasing the lr. */
  pctStart?: number;
  annealStrategy?: 'cos' | 'linear';
  /** initialLr = maxLr / divFactor. */
  divFactor?: number;
  /** minLr = initialLr / finalDivFactor. */
  finalDivFactor?: number;
  /** Three phases (up, down to initialLr, down to minLr) as in fast.ai, instead of two. */
  threePhase?: boolean;
  lastEpoch?: number;
  /** Not supported: hydranet's OneCycleLR schedules the lr only, never momentum or betas. */
  cycleMomentum?: false;
}

interface Phase {
  endStep: number;
  startLr: 'initialLr' | 'maxLr' | 'minLr';
  endLr: 'initialLr' | 'maxLr' | 'minLr';
}

const PHASE_KEYS = ['initialLr', 'maxLr', 'minLr'];

/**
 * The 1cycle policy (Smith & Topin, 2018): the lr rises from maxLr/divFactor to maxLr over
 * pctStart of the steps, then anneals to initialLr/finalDivFactor. Step it after every batch.
 * Unlike PyTorch (cycle_momentum=True by default) it never changes momentum or Adam's beta1; the
 * lr values are PyTorch's.
 * @example const sched = new optim.OneCycleLR(opt, { maxLr: 0.01, totalSteps: 1000 });
 */
export class OneCycleLR extends LRScheduler {
  totalSteps: number;
  annealStrategy: 'cos' | 'linear';
  schedulePhases: Phase[];

  constructor(optimizer: Optimizer<{ lr: number }>, options: OneCycleLROptions) {
    const op = 'OneCycleLR';
    if (options === null || typeof options !== 'object') throw argTypeError(op, 'options', 'an object {maxLr, totalSteps | epochs + stepsPerEpoch, ...}', describeValue(options));
    const {
      maxLr, totalSteps, epochs, stepsPerEpoch, pctStart = 0.3, annealStrategy = 'cos', divFactor = 25,
      finalDivFactor = 1e4, threePhase = false, lastEpoch = -1, cycleMomentum,
    } = options;
    if (cycleMomentum !== undefined && cycleMomentum !== false) {
      throw argRangeError(op, 'cycleMomentum', 'false or absent (momentum cycling is not implemented; only the lr is scheduled)', describeValue(cycleMomentum));
    }
    let total: number;
    if (totalSteps !== undefined) {
      total = positiveInt(op, 'totalSteps', totalSteps);
    } else if (epochs !== undefined && stepsPerEpoch !== undefined) {
      total = positiveInt(op, 'epochs', epochs) * positiveInt(op, 'stepsPerEpoch', stepsPerEpoch);
    } else {
      throw argTypeError(op, 'options', 'given totalSteps, or epochs and stepsPerEpoch', 'neither');
    }
    if (typeof pctStart !== 'number' || !(pctStart >= 0 && pctStart <= 1)) throw argRangeError(op, 'pctStart', 'a number in [0, 1]', describeValue(pctStart));
    if (annealStrategy !== 'cos' && annealStrategy !== 'linear') throw argRangeError(op, 'annealStrategy', "'cos' or 'linear'", describeValue(annealStrategy));
    if (typeof divFactor !== 'number' || !(divFactor > 0) || !Number.isFinite(divFactor)) throw argRangeError(op, 'divFactor', 'a positive number', describeValue(divFactor));
    if (typeof finalDivFactor !== 'number' || !(finalDivFactor > 0) || !Number.isFinite(finalDivFactor)) throw argRangeError(op, 'finalDivFactor', 'a positive number', describeValue(finalDivFactor));
    if (typeof threePhase !== 'boolean') throw argTypeError(op, 'threePhase', 'a boolean', describeValue(threePhase));
    const opt = checkOptimizer(op, optimizer);
    const groups = opt.paramGroups as unknown as LrGroup[];
    const maxLrs = Array.isArray(maxLr) ? maxLr : groups.map(() => maxLr);
    if (maxLrs.length !== groups.length) throw argRangeError(op, 'maxLr', `a number or ${groups.length} numbers (one per group)`, `${maxLrs.length} numbers`);
    maxLrs.forEach((v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw argRangeError(op, Array.isArray(maxLr) ? `maxLr[${i}]` : 'maxLr', 'a non-negative number', describeValue(v));
    });
    if (lastEpoch === -1) {
      // PyTorch overwrites these three group entries when a cycle starts.
      groups.forEach((g, i) => {
        g.initialLr = maxLrs[i] / divFactor;
        g.maxLr = maxLrs[i];
        g.minLr = g.initialLr / finalDivFactor;
      });
    }
    super(optimizer, lastEpoch);
    this.totalSteps = total;
    this.annealStrategy = annealStrategy;
    this.schedulePhases = threePhase
      ? [
        { endStep: pctStart * total - 1, startLr: 'initialLr', endLr: 'maxLr' },
        { endStep: 2 * pctStart * total - 2, startLr: 'maxLr', endLr: 'initialLr' },
        { endStep: total - 1, startLr: 'initialLr', endLr: 'minLr' },
      ]
      : [
        { endStep: pctStart * total - 1, startLr: 'initialLr', endLr: 'maxLr' },
        { endStep: total - 1, startLr: 'maxLr', endLr: 'minLr' },
      ];
    this.initialStep();
  }

  private anneal(start: number, end: number, pct: number): number {
    if (this.annealStrategy === 'linear') return (end - start) * pct + start;
    return end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
  }

  protected getLr(): number[] {
    const stepNum = this.lastEpoch;
    if (stepNum > this.totalSteps) {
      throw argRangeError('OneCycleLR.step', 'the number of steps', `at most totalSteps (${this.totalSteps})`, `step ${stepNum}`);
    }
    return this.groups().map((g, gi) => {
      let startStep = 0;
      const phases = this.schedulePhases;
      for (let i = 0; i < phases.length; i++) {
        const { endStep, startLr, endLr } = phases[i];
        if (stepNum <= endStep || i === phases.length - 1) {
          const pct = (stepNum - startStep) / (endStep - startStep);
          const start = g[startLr], end = g[endLr];
          if (start === undefined || end === undefined) {
            throw argRangeError('OneCycleLR.step', `optimizer.paramGroups[${gi}].${start === undefined ? startLr : endLr}`, 'set (OneCycleLR sets it when a cycle starts)', 'undefined');
          }
          return this.anneal(start, end, pct);
        }
        startStep = endStep;
      }
      return g.lr; // unreachable: the last phase always matches
    });
  }

  protected settings(): Record<string, string> {
    return { total_steps: 'totalSteps', _anneal_func_type: 'annealStrategy', _schedule_phases: 'schedulePhases' };
  }

  override stateDict(): SchedulerStateDict {
    const out = super.stateDict();
    // Phases name group keys; the state dict uses the optimizer state dict's names for them.
    out._schedule_phases = this.schedulePhases.map((p) => ({
      end_step: p.endStep, start_lr: camelToSnake(p.startLr), end_lr: camelToSnake(p.endLr),
    }));
    return out;
  }

  override loadStateDict(stateDict: SchedulerStateDict): void {
    const op = 'OneCycleLR.loadStateDict';
    const phases = stateDict?._schedule_phases;
    if (!Array.isArray(phases) || phases.length < 1) throw argTypeError(op, 'stateDict._schedule_phases', 'an array of phases', describeValue(phases));
    const converted: Phase[] = phases.map((p: Record<string, unknown>, i: number) => {
      const startLr = typeof p?.start_lr === 'string' ? snakeToCamel(p.start_lr) : '';
      const endLr = typeof p?.end_lr === 'string' ? snakeToCamel(p.end_lr) : '';
      if (typeof p?.end_step !== 'number' || !PHASE_KEYS.includes(startLr) || !PHASE_KEYS.includes(endLr)) {
        throw argTypeError(op, `stateDict._schedule_phases[${i}]`, "{end_step, start_lr, end_lr} with lr keys among 'initial_lr', 'max_lr', 'min_lr'", describeValue(p));
      }
      return { endStep: p.end_step, startLr, endLr } as Phase;
    });
    super.loadStateDict({ ...stateDict, _schedule_phases: converted });
  }

  protected override checkSettings(op: string, sd: SchedulerStateDict): void {
    positiveInt(op, 'stateDict.total_steps', sd.total_steps);
    if (sd._anneal_func_type !== 'cos' && sd._anneal_func_type !== 'linear') throw argRangeError(op, 'stateDict._anneal_func_type', "'cos' or 'linear'", describeValue(sd._anneal_func_type));
  }
}
