// The report's view of a run: metrics.json and samples.json read leniently into plain, checked
// structures. A report is written after hours of training, so a missing or odd part never stops
// it: the part is left out and a note says why (shown at the end of the page).
import { argTypeError, describeValue } from '../errors';

export type TaskKind = 'classification' | 'segmentation' | 'regression' | 'other';

export interface TaskInfo {
  name: string;
  kind: TaskKind;
  loss?: string;
  weight?: number;
  classes?: number;
}

export interface EpochRecord {
  epoch: number;
  seconds?: number;
  imagesPerSecond?: number;
  trainLoss: Map<string, number | null>;
  weights: Map<string, number | null>;
  /** task -> metric name -> value */
  test: Map<string, Map<string, number | null>>;
}

export interface StepRecord {
  step: number;
  epoch?: number;
  losses: Map<string, number | null>;
  weights: Map<string, number | null>;
}

export interface FinalRecord {
  seconds?: number;
  imagesPerSecond?: number;
  metrics: Map<string, Map<string, number | null>>;
  /** The ONNX check's fields as they came (maxAbsDiff first when present). */
  onnx?: Map<string, unknown>;
}

export interface RunReport {
  config: Map<string, unknown>;
  /** Every task seen anywhere, in first-seen order (metrics.tasks first). */
  tasks: TaskInfo[];
  epochs: EpochRecord[];
  steps: StepRecord[];
  final?: FinalRecord;
  notes: string[];
}

/** Reads `key` only when it is the object's own property (a task may be called "constructor"). */
export function own(obj: unknown, key: string): unknown {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
  return Object.prototype.hasOwnProperty.call(obj, key) ? (obj as Record<string, unknown>)[key] : undefined;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function finiteOrUndefined(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** A number map: finite numbers kept, null/NaN/strings become null (a gap in a chart). */
function numberMap(value: unknown, where: string, notes: string[]): Map<string, number | null> {
  const out = new Map<string, number | null>();
  if (value === undefined) return out;
  if (!isPlainObject(value)) {
    notes.push(`${where} is not an object (${describeValue(value)}); ignored`);
    return out;
  }
  for (const [key, v] of Object.entries(value)) out.set(key, finiteOrUndefined(v) ?? null);
  return out;
}

function metricMaps(value: unknown, where: string, notes: string[]): Map<string, Map<string, number | null>> {
  const out = new Map<string, Map<string, number | null>>();
  if (value === undefined) return out;
  if (!isPlainObject(value)) {
    notes.push(`${where} is not an object (${describeValue(value)}); ignored`);
    return out;
  }
  for (const [task, metrics] of Object.entries(value)) out.set(task, numberMap(metrics, `${where}.${task}`, notes));
  return out;
}

const KINDS: readonly TaskKind[] = ['classification', 'segmentation', 'regression'];

function readTasks(value: unknown, notes: string[]): TaskInfo[] {
  if (value === undefined) return [];
  if (!isPlainObject(value)) {
    notes.push(`metrics.tasks is not an object (${describeValue(value)}); task kinds are guessed`);
    return [];
  }
  return Object.entries(value).map(([name, spec]) => {
    const kindValue = own(spec, 'kind');
    const kind = KINDS.includes(kindValue as TaskKind) ? (kindValue as TaskKind) : 'other';
    const loss = own(spec, 'loss');
    const classes = own(spec, 'classes');
    return {
      name,
      kind,
      loss: typeof loss === 'string' ? loss : undefined,
      weight: finiteOrUndefined(own(spec, 'weight')),
      classes: typeof classes === 'number' && Number.isInteger(classes) && classes > 0 ? classes : undefined,
    };
  });
}

function readArray(value: unknown, where: string, notes: string[]): unknown[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value;
  notes.push(`${where} is not an array (${describeValue(value)}); ignored`);
  return [];
}

function readEpochs(value: unknown, notes: string[]): EpochRecord[] {
  const out: EpochRecord[] = [];
  readArray(value, 'metrics.epochs', notes).forEach((entry, i) => {
    const epoch = finiteOrUndefined(own(entry, 'epoch')) ?? i + 1;
    if (!isPlainObject(entry)) {
      notes.push(`metrics.epochs[${i}] is not an object; skipped`);
      return;
    }
    out.push({
      epoch,
      seconds: finiteOrUndefined(entry.seconds),
      imagesPerSecond: finiteOrUndefined(entry.imagesPerSecond),
      trainLoss: numberMap(own(entry, 'trainLoss'), `metrics.epochs[${i}].trainLoss`, notes),
      weights: numberMap(own(entry, 'weights'), `metrics.epochs[${i}].weights`, notes),
      test: metricMaps(own(entry, 'test'), `metrics.epochs[${i}].test`, notes),
    });
  });
  return out;
}

function readSteps(value: unknown, notes: string[]): StepRecord[] {
  const out: StepRecord[] = [];
  let skipped = 0;
  for (const entry of readArray(value, 'metrics.steps', notes)) {
    const step = finiteOrUndefined(own(entry, 'step'));
    if (step === undefined) {
      skipped++;
      continue;
    }
    out.push({
      step,
      epoch: finiteOrUndefined(own(entry, 'epoch')),
      losses: numberMap(own(entry, 'losses'), `metrics.steps (step ${step}).losses`, notes),
      weights: numberMap(own(entry, 'weights'), `metrics.steps (step ${step}).weights`, notes),
    });
  }
  if (skipped > 0) notes.push(`${skipped} entries of metrics.steps have no numeric "step"; skipped`);
  return out;
}

const FINAL_RUN_KEYS = new Set(['seconds', 'imagesPerSecond', 'onnx']);

function readFinal(value: unknown, taskNames: Set<string>, notes: string[]): FinalRecord | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isPlainObject(value)) {
    notes.push(`metrics.final is not an object (${describeValue(value)}); ignored`);
    return undefined;
  }
  const metrics = new Map<string, Map<string, number | null>>();
  for (const [key, v] of Object.entries(value)) {
    // A task literally named "seconds" is still a task when metrics.tasks says so.
    if (FINAL_RUN_KEYS.has(key) && !taskNames.has(key)) continue;
    if (isPlainObject(v)) metrics.set(key, numberMap(v, `metrics.final.${key}`, notes));
  }
  const onnxValue = taskNames.has('onnx') ? undefined : value.onnx;
  let onnx: Map<string, unknown> | undefined;
  if (isPlainObject(onnxValue)) onnx = new Map(Object.entries(onnxValue));
  else if (onnxValue !== undefined && onnxValue !== null) notes.push(`metrics.final.onnx is not an object (${describeValue(onnxValue)}); ignored`);
  return {
    seconds: taskNames.has('seconds') ? undefined : finiteOrUndefined(value.seconds),
    imagesPerSecond: taskNames.has('imagesPerSecond') ? undefined : finiteOrUndefined(value.imagesPerSecond),
    metrics,
    onnx,
  };
}

/** Adds tasks that appear in records but not in metrics.tasks, guessing the kind from metric names. */
function completeTasks(tasks: TaskInfo[], report: Omit<RunReport, 'tasks' | 'config' | 'notes'>): TaskInfo[] {
  const byName = new Map(tasks.map((t) => [t.name, t]));
  const metricNames = new Map<string, Set<string>>();
  const see = (task: string, metrics?: Iterable<string>): void => {
    if (!byName.has(task)) {
      const info: TaskInfo = { name: task, kind: 'other' };
      byName.set(task, info);
      tasks.push(info);
    }
    if (metrics) {
      const set = metricNames.get(task) ?? new Set<string>();
      for (const m of metrics) set.add(m);
      metricNames.set(task, set);
    }
  };
  for (const e of report.epochs) {
    for (const t of e.trainLoss.keys()) see(t);
    for (const [t, m] of e.test) see(t, m.keys());
  }
  for (const s of report.steps) for (const t of s.losses.keys()) see(t);
  if (report.final) for (const [t, m] of report.final.metrics) see(t, m.keys());
  for (const info of tasks) {
    if (info.kind !== 'other') continue;
    const names = metricNames.get(info.name) ?? new Set<string>();
    if (names.has('miou') || names.has('pixelAccuracy')) info.kind = 'segmentation';
    else if (names.has('accuracy')) info.kind = 'classification';
    else if (names.has('mse') || names.has('mae')) info.kind = 'regression';
  }
  return tasks;
}

/** Reads a parsed metrics.json; throws only when it is not an object at all. */
export function readRunMetrics(raw: unknown): RunReport {
  if (!isPlainObject(raw)) throw argTypeError('renderReport', 'metrics', 'the object parsed from metrics.json', describeValue(raw));
  const notes: string[] = [];
  const config = new Map<string, unknown>();
  if (isPlainObject(raw.config)) for (const [k, v] of Object.entries(raw.config)) config.set(k, v);
  else if (raw.config !== undefined) notes.push(`metrics.config is not an object (${describeValue(raw.config)}); ignored`);
  const declared = readTasks(raw.tasks, notes);
  const epochs = readEpochs(raw.epochs, notes).sort((a, b) => a.epoch - b.epoch);
  const steps = readSteps(raw.steps, notes).sort((a, b) => a.step - b.step);
  const final = readFinal(raw.final, new Set(declared.map((t) => t.name)), notes);
  const tasks = completeTasks(declared, { epochs, steps, final });
  return { config, tasks, epochs, steps, final, notes };
}
