// hydranet against values computed by real PyTorch (test/fixtures/torch/, written by
// tools/torch_reference/make_fixtures.py, which records the torch version in every fixture).
// Inputs, weights and the upstream gradients R come from the fixtures, so both sides compute
// the same thing; gradients are those of (out * R).sum().
//
// Tolerances. Ops: max |diff| ≤ 1e-5·max|expected| + 1e-6: both sides compute in float32 and
// differ only in summation order (a few ulps of the largest term); a wrong index, padding,
// divisor or reduction moves values by O(max|expected|). Whole models: 1e-4 of the output scale
// (deeper sums, 8192-wide dot products). Learning rates: 1e-10 relative (both in float64).
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as hn from '../lib/index';
import type { Tensor } from '../lib/tensor';
import type { Conv2dOptions, ConvTranspose2dOptions } from '../lib/ops/conv';
import type { AvgPool2dOptions, MaxPool2dOptions } from '../lib/ops/pool';
import type { CrossEntropyOptions, ReductionOptions } from '../lib/ops/loss';
import {
  EncodedTensor, FIXTURE_DIR, Tolerance, camel, camelOptions, checkTensor, decode, decodeValues, loadFixture, printWorstDifferences,
} from './helpers/torch_fixture';

const OP_TOL: Tolerance = { rel: 1e-5, abs: 1e-6 };
const MODEL_TOL: Tolerance = { rel: 1e-4, abs: 0 };

type Options = Record<string, unknown>;

afterAll(printWorstDifferences);

interface GradCase {
  name: string;
  op: string;
  options: Options;
  x: EncodedTensor;
  R: EncodedTensor;
  out: EncodedTensor;
  grad_x: EncodedTensor;
  weight?: EncodedTensor;
  bias?: EncodedTensor;
  grad_weight?: EncodedTensor;
  grad_bias?: EncodedTensor;
}

/** Runs fn on the decoded leaves, backpropagates (out * R).sum() and checks out and each gradient. */
function checkForwardBackward(c: GradCase, leaves: Record<string, Tensor | null>, fn: () => Tensor): void {
  const out = fn();
  checkTensor(out, c.out, `${c.name}: output`, OP_TOL);
  out.backward(decode(c.R));
  for (const [name, t] of Object.entries(leaves)) {
    if (!t) continue;
    const expected = (c as unknown as Record<string, EncodedTensor | undefined>)[`grad_${name}`];
    if (!expected) throw new Error(`${c.name}: the fixture has no grad_${name}`);
    checkTensor(t.grad, expected, `${c.name}: grad of ${name}`, OP_TOL);
  }
}

describe('fixtures', () => {
  it('record the PyTorch version that wrote them', () => {
    for (const name of ['conv.json', 'pool.json', 'activations.json', 'losses.json', 'batch_norm.json', 'optimizers.json',
      'schedulers.json', 'modules.json', 'init.json', 'safetensors.json']) {
      const f = loadFixture(name);
      expect(f.torch_version, name).toMatch(/^\d+\.\d+/);
      expect(f.cases.length, name).toBeGreaterThan(0);
    }
  });
});

// ---- Convolutions -------------------------------------------------------------------------------

describe('conv2d / convTranspose2d match torch.nn.functional', () => {
  const fixture = loadFixture<GradCase>('conv.json');
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const x = decode(c.x, true);
    const w = decode(c.weight!, true);
    const b = c.bias ? decode(c.bias, true) : null;
    const opts = camelOptions(c.options);
    checkForwardBackward(c, { x, weight: w, bias: b }, () => (c.op === 'conv2d'
      ? hn.F.conv2d(x, w, b, opts as Conv2dOptions)
      : hn.F.convTranspose2d(x, w, b, opts as ConvTranspose2dOptions)));
  });
});

// ---- Pooling ------------------------------------------------------------------------------------

describe('maxPool2d / avgPool2d match torch.nn.functional', () => {
  const fixture = loadFixture<GradCase>('pool.json');
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const x = decode(c.x, true);
    const opts = camelOptions(c.options) as unknown as MaxPool2dOptions & AvgPool2dOptions;
    checkForwardBackward(c, { x }, () => (c.op === 'max_pool2d' ? hn.F.maxPool2d(x, opts) : hn.F.avgPool2d(x, opts)));
  });
});

// ---- Linear, softmax, activations ---------------------------------------------------------------

describe('linear, softmax, logSoftmax and activations match PyTorch', () => {
  const fixture = loadFixture<GradCase>('activations.json');
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const x = decode(c.x, true);
    const w = c.weight ? decode(c.weight, true) : null;
    const b = c.bias ? decode(c.bias, true) : null;
    const dim = c.options.dim as number;
    const run: Record<string, () => Tensor> = {
      linear: () => hn.F.linear(x, w!, b),
      softmax: () => hn.F.softmax(x, dim),
      log_softmax: () => hn.F.logSoftmax(x, dim),
      relu: () => hn.F.relu(x),
      sigmoid: () => hn.F.sigmoid(x),
      tanh: () => hn.F.tanh(x),
    };
    checkForwardBackward(c, { x, weight: w, bias: b }, run[c.op]);
  });
});

// ---- Losses -------------------------------------------------------------------------------------

interface LossCase extends GradCase {
  target: EncodedTensor;
  grad_target?: EncodedTensor;
  class_weight?: EncodedTensor;
  pos_weight?: EncodedTensor;
}

describe('losses match torch.nn.functional', () => {
  const fixture = loadFixture<LossCase>('losses.json');
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const x = decode(c.x, true);
    const opts = camelOptions(c.options);
    if (c.op === 'cross_entropy' || c.op === 'nll_loss') {
      const target = decode(c.target);
      const weight = c.class_weight ? decode(c.class_weight) : null;
      const fn = c.op === 'cross_entropy' ? hn.F.crossEntropy : hn.F.nllLoss;
      checkForwardBackward(c, { x }, () => fn(x, target, { ...opts, weight } as CrossEntropyOptions));
      return;
    }
    const target = decode(c.target, true);
    const weight = c.weight ? decode(c.weight) : null;
    const posWeight = c.pos_weight ? decode(c.pos_weight) : null;
    const run: Record<string, () => Tensor> = {
      mse_loss: () => hn.F.mseLoss(x, target, opts as ReductionOptions),
      l1_loss: () => hn.F.l1Loss(x, target, opts as ReductionOptions),
      binary_cross_entropy_with_logits: () => hn.F.binaryCrossEntropyWithLogits(x, target, { ...opts, weight, posWeight }),
    };
    // weight here is BCE's element weight, not a parameter: only x and target are checked.
    checkForwardBackward({ ...c, weight: undefined }, { x, target }, run[c.op]);
  });
});

// ---- Batch norm ---------------------------------------------------------------------------------

interface BatchNormStep {
  x: EncodedTensor; R: EncodedTensor; out: EncodedTensor;
  grad_x: EncodedTensor; grad_weight: EncodedTensor; grad_bias: EncodedTensor;
  running_mean?: EncodedTensor; running_var?: EncodedTensor; num_batches_tracked?: number;
}

interface BatchNormCase {
  name: string;
  options: { momentum: number | null; eps?: number };
  weight: EncodedTensor;
  bias: EncodedTensor;
  steps: BatchNormStep[];
  eval: BatchNormStep;
}

describe('nn.BatchNorm2d matches PyTorch: 3 training steps, then eval', () => {
  const fixture = loadFixture<BatchNormCase>('batch_norm.json');
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const bn = new hn.nn.BatchNorm2d(3, { momentum: c.options.momentum, ...(c.options.eps !== undefined ? { eps: c.options.eps } : {}) });
    bn.weight!.data.set(decodeValues(c.weight));
    bn.bias!.data.set(decodeValues(c.bias));
    const run = (s: BatchNormStep, label: string): void => {
      bn.zeroGrad();
      const x = decode(s.x, true);
      const out = bn.forward(x);
      checkTensor(out, s.out, `${label}: output`, OP_TOL);
      out.backward(decode(s.R));
      checkTensor(x.grad, s.grad_x, `${label}: grad of x`, OP_TOL);
      checkTensor(bn.weight!.grad, s.grad_weight, `${label}: grad of weight`, OP_TOL);
      checkTensor(bn.bias!.grad, s.grad_bias, `${label}: grad of bias`, OP_TOL);
    };
    c.steps.forEach((s, k) => {
      run(s, `${c.name} training step ${k + 1}`);
      checkTensor(bn.runningMean, s.running_mean!, `${c.name} step ${k + 1}: running_mean`, OP_TOL);
      checkTensor(bn.runningVar, s.running_var!, `${c.name} step ${k + 1}: running_var`, OP_TOL);
      expect(bn.numBatchesTracked!.item(), 'num_batches_tracked').toBe(s.num_batches_tracked);
    });
    bn.eval();
    run(c.eval, `${c.name} eval`);
    expect(bn.numBatchesTracked!.item(), 'eval does not count batches').toBe(c.steps.length);
  });
});

// ---- Optimizers ---------------------------------------------------------------------------------

type Entry = [string, unknown];

interface OptimizerCase {
  name: string;
  optimizer: 'SGD' | 'Adam' | 'AdamW';
  options: Options;
  two_groups: boolean;
  initial: EncodedTensor[];
  grads: EncodedTensor[][];
  after_step: EncodedTensor[][];
  state_dict: { param_groups: Entry[][]; state: Record<string, Entry[]> };
}

describe('optimizers match torch.optim: 5 steps on fixed gradients, and the state-dict layout', () => {
  const fixture = loadFixture<OptimizerCase>('optimizers.json');
  // Keys PyTorch's param_groups carry that select its implementation, not the algorithm.
  const implementationFlags = new Set(fixture.implementation_flags as string[]);
  // hydranet's Adam/AdamW say which weight decay they use, as PyTorch's Adam does since 2.x.
  const hydranetExtraKeys = new Set(['decoupled_weight_decay']);

  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const params = c.initial.map((t) => decode(t, true));
    const options = camelOptions(c.options);
    const groups = c.two_groups
      ? [{ params: params.slice(0, 2) }, { params: [params[2]], lr: (options.lr as number) * 0.5, weightDecay: 0 }]
      : params;
    const Ctor = hn.optim[c.optimizer] as unknown as new (p: unknown, o: Options) => hn.optim.Optimizer<object>;
    const opt = new Ctor(groups, options);
    c.grads.forEach((stepGrads, k) => {
      opt.zeroGrad();
      params.forEach((p, i) => { p.grad = decode(stepGrads[i]); });
      opt.step();
      params.forEach((p, i) => checkTensor(p, c.after_step[k][i], `${c.name} step ${k + 1}: param ${i}`, OP_TOL));
    });

    const sd = opt.stateDict();
    expect(sd.param_groups.length).toBe(c.state_dict.param_groups.length);
    c.state_dict.param_groups.forEach((torchGroup, gi) => {
      const ours = sd.param_groups[gi];
      const theirs = torchGroup.filter(([k]) => !implementationFlags.has(k));
      // Same keys and values (PyTorch's tuples are JSON lists). The order is the defaults' order
      // in both, except that PyTorch puts a group's own overrides first, in the order the user's
      // dict had them (an accident of dict.setdefault): the order is compared for group 0 only.
      const ourKeys = Object.keys(ours).filter((k) => !hydranetExtraKeys.has(k));
      const theirKeys = theirs.map(([k]) => k);
      if (gi === 0) expect(ourKeys, `param_groups[${gi}] keys`).toEqual(theirKeys);
      else expect([...ourKeys].sort(), `param_groups[${gi}] keys`).toEqual([...theirKeys].sort());
      for (const [k, v] of theirs) expect(ours[k], `param_groups[${gi}].${k}`).toEqual(v);
    });
    // PyTorch 1.13's SGD stores {momentum_buffer: None} for momentum 0; hydranet stores nothing
    // then, as PyTorch 2 does. Only entries with values are compared.
    const torchState = Object.entries(c.state_dict.state)
      .map(([index, entries]) => [index, entries.filter(([, v]) => v !== null)] as const)
      .filter(([, entries]) => entries.length > 0);
    expect(Object.keys(sd.state), 'state: parameter indices').toEqual(torchState.map(([index]) => index));
    for (const [index, present] of torchState) {
      const ours = sd.state[index];
      expect(Object.keys(ours), `state[${index}] keys`).toEqual(present.map(([k]) => k));
      for (const [k, v] of present) {
        if (typeof v === 'number') expect(ours[k], `state[${index}].${k}`).toBe(v); // Adam's step: a number here, a 0-D tensor there
        else checkTensor(ours[k] as Tensor, v as EncodedTensor, `${c.name}: state[${index}].${k}`, OP_TOL);
      }
    }
  });
});

// ---- LR schedulers ------------------------------------------------------------------------------

interface SchedulerCase {
  name: string;
  scheduler: 'StepLR' | 'CosineAnnealingLR' | 'OneCycleLR';
  options: Options;
  lr0: number;
  optimizer_momentum: number;
  steps: number;
  lrs: number[];
  momenta: number[];
  get_last_lr: number[];
  optimizer_group_keys: string[];
}

describe('lr schedulers match torch.optim.lr_scheduler', () => {
  const fixture = loadFixture<SchedulerCase>('schedulers.json');
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const p = hn.zeros([2], { requiresGrad: true });
    const opt = new hn.optim.SGD([p], { lr: c.lr0, momentum: c.optimizer_momentum });
    const options = camelOptions(c.options);
    // PyTorch's OneCycleLR cycles momentum by default; hydranet's schedules the lr only.
    const cyclesMomentum = c.scheduler === 'OneCycleLR' && options.cycleMomentum !== false;
    delete options.cycleMomentum;
    const Ctor = hn.optim[c.scheduler] as unknown as new (o: unknown, opts: Options) => hn.optim.LRScheduler;
    const sched = new Ctor(opt, options);
    const lrs = [opt.paramGroups[0].lr];
    const momenta = [opt.paramGroups[0].momentum];
    for (let k = 0; k < c.steps; k++) {
      p.grad = hn.zeros([2]);
      opt.step();
      sched.step();
      lrs.push(opt.paramGroups[0].lr);
      momenta.push(opt.paramGroups[0].momentum);
    }
    expect(lrs.length).toBe(c.lrs.length);
    lrs.forEach((lr, k) => {
      const want = c.lrs[k];
      if (Math.abs(lr - want) > 1e-10 * Math.abs(want) + 1e-15) expect.fail(`${c.name} step ${k}: lr ${lr}, PyTorch ${want}`);
    });
    sched.getLastLr().forEach((lr, i) => expect(lr).toBeCloseTo(c.get_last_lr[i], 12));
    if (!cyclesMomentum) expect(momenta).toEqual(c.momenta);
    // The keys a scheduler adds to the optimizer's param_groups (initial_lr; max_lr, min_lr).
    const scheduleKeys = (keys: string[]): string[] => keys.filter((k) => /^(initial|max|min)_lr$/.test(k));
    expect(scheduleKeys(Object.keys(opt.stateDict().param_groups[0]))).toEqual(scheduleKeys(c.optimizer_group_keys));
  });
});

// ---- Modules: state-dict layout, PyTorch weights, forward ---------------------------------------

interface Layout {
  state_dict: [string, number[], string][];
  named_parameters: [string, number[]][];
  named_buffers: [string, number[]][];
}

interface ModuleCase {
  name: 'w1_seed' | 'w2_multimnist' | 'bn_model';
  weights: string;
  layout: Layout;
  x: EncodedTensor;
  outputs: Record<string, EncodedTensor>;
  train_outputs?: Record<string, EncodedTensor>;
  buffers_after_train_forward?: Record<string, EncodedTensor>;
}

const { nn } = hn;

/** The same models as make_fixtures.py's w1_seed(), w2_multimnist() and bn_model(). */
const builders: Record<ModuleCase['name'], () => hn.mtl.MultiTaskModel> = {
  w1_seed: () => new hn.mtl.MultiTaskModel({
    shared: new nn.Sequential(new nn.Conv2d(3, 64, 3, { stride: 1, padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2, { stride: 2 }),
      new nn.Conv2d(64, 128, 3, { stride: 1, padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2, { stride: 2 })),
    heads: {
      cls: new nn.Sequential(new nn.Flatten(), new nn.Linear(8192, 10)),
      seg: new nn.Sequential(new nn.ConvTranspose2d(128, 64, 2, { stride: 2 }), new nn.ReLU(), new nn.ConvTranspose2d(64, 11, 2, { stride: 2 })),
    },
  }),
  w2_multimnist: () => new hn.mtl.MultiTaskModel({
    shared: new nn.Sequential(new nn.Conv2d(1, 10, 5), new nn.MaxPool2d(2), new nn.ReLU(), new nn.Conv2d(10, 20, 5), new nn.MaxPool2d(2),
      new nn.ReLU(), new nn.Flatten(), new nn.Linear(320, 50), new nn.ReLU()),
    heads: {
      left: new nn.Sequential(new nn.Linear(50, 50), new nn.ReLU(), new nn.Linear(50, 10)),
      right: new nn.Sequential(new nn.Linear(50, 50), new nn.ReLU(), new nn.Linear(50, 10)),
    },
  }),
  bn_model: () => new hn.mtl.MultiTaskModel({
    shared: new nn.Sequential(new nn.Conv2d(3, 8, 3, { padding: 1, bias: false }), new nn.BatchNorm2d(8), new nn.ReLU(), new nn.MaxPool2d(2)),
    heads: {
      cls: new nn.Sequential(new nn.Flatten(), new nn.Linear(8 * 4 * 4, 5)),
      seg: new nn.Sequential(new nn.ConvTranspose2d(8, 4, 2, { stride: 2 }), new nn.BatchNorm2d(4, { momentum: null }), new nn.ReLU(),
        new nn.Conv2d(4, 3, 1)),
    },
  }),
};

// PyTorch's int64 buffers (num_batches_tracked) are int32 in hydranet, which has no int64 dtype.
const hydranetDtype: Record<string, string> = { float32: 'float32', int64: 'int32' };

describe('nn modules: PyTorch state-dict layout, weights and forward outputs', () => {
  const fixture = loadFixture<ModuleCase>('modules.json');
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const model = builders[c.name]();
    const sd = model.stateDict();
    expect(Object.entries(sd).map(([k, t]) => [k, [...t.shape], t.dtype]), 'stateDict keys, shapes, dtypes in order')
      .toEqual(c.layout.state_dict.map(([k, shape, dtype]) => [k, shape, hydranetDtype[dtype]]));
    expect([...model.namedParameters()].map(([k, t]) => [k, [...t.shape]]), 'namedParameters').toEqual(c.layout.named_parameters);
    expect([...model.namedBuffers()].map(([k, t]) => [k, [...t.shape]]), 'namedBuffers').toEqual(c.layout.named_buffers);

    // The weights come from a file written by safetensors.torch.save_file.
    const weights = hn.load<Record<string, Tensor>>(path.join(FIXTURE_DIR, c.weights));
    expect(model.loadStateDict(weights)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    model.eval();
    const x = decode(c.x);
    const outputs = hn.noGrad(() => model.forward(x));
    expect(Object.keys(outputs)).toEqual(Object.keys(c.outputs));
    for (const [head, expected] of Object.entries(c.outputs)) checkTensor(outputs[head], expected, `${c.name} eval: head ${head}`, MODEL_TOL);

    if (c.train_outputs) {
      // Training mode: batch statistics normalise, and the running ones move (momentum 0.1 and
      // the cumulative average of momentum None).
      model.train();
      const trainOutputs = hn.noGrad(() => model.forward(x));
      for (const [head, expected] of Object.entries(c.train_outputs)) checkTensor(trainOutputs[head], expected, `${c.name} train: head ${head}`, MODEL_TOL);
      const after = model.stateDict();
      for (const [key, expected] of Object.entries(c.buffers_after_train_forward!)) {
        if (expected.dtype === 'int32') expect(Array.from(after[key].data), key).toEqual(Array.from(decodeValues(expected)));
        else checkTensor(after[key], expected, `${c.name}: ${key} after a training forward`, OP_TOL);
      }
    }
  });
});

// ---- Default initialisation ---------------------------------------------------------------------

interface InitCase {
  name: string;
  module: 'Conv2d' | 'ConvTranspose2d' | 'Linear';
  args: number[];
  options: Options;
  weight_shape: number[];
  fan_in: number;
  bound: number;
  weight: { n: number; min: number; max: number; mean: number; std: number };
  bias: { n: number; min: number; max: number };
}

describe('default init matches PyTorch: U(±1/√fanIn) for weights and biases', () => {
  const fixture = loadFixture<InitCase>('init.json');
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    hn.manualSeed(7);
    const Ctor = nn[c.module] as unknown as new (...args: unknown[]) => hn.nn.Module & { weight: Tensor; bias: Tensor };
    const m = new Ctor(...c.args, camelOptions(c.options));
    expect([...m.weight.shape]).toEqual(c.weight_shape);
    const w = Float64Array.from(m.weight.data);
    const n = w.length;
    let min = Infinity, max = -Infinity, sum = 0;
    for (const v of w) { min = Math.min(min, v); max = Math.max(max, v); sum += v; }
    const mean = sum / n;
    let sq = 0;
    for (const v of w) sq += (v - mean) ** 2;
    const std = Math.sqrt(sq / (n - 1));
    const b = c.bound;
    // Both samples lie inside ±bound. With n ≥ 12800 draws the extremes are within 2e-3·bound
    // of it except with probability < 2·exp(-n·1e-3) < 1e-5: PyTorch's do (checked here too), so
    // must hydranet's (with its fixed seed the check is deterministic). The std of U(-b, b) is b/√3 (sampling error ~0.5% here; 3% allowed), the
    // mean 0 (6 standard errors allowed).
    for (const [who, s] of [['pytorch', c.weight], ['hydranet', { min, max }]] as const) {
      expect(s.min, `${who} min`).toBeGreaterThanOrEqual(-b);
      expect(s.max, `${who} max`).toBeLessThanOrEqual(b);
      expect(s.min, `${who} min near -bound`).toBeLessThan(-b * (1 - 2e-3));
      expect(s.max, `${who} max near bound`).toBeGreaterThan(b * (1 - 2e-3));
    }
    expect(n).toBe(c.weight.n);
    expect(Math.abs(std / (b / Math.sqrt(3)) - 1), 'std vs b/√3').toBeLessThan(0.03);
    expect(Math.abs(c.weight.std / (b / Math.sqrt(3)) - 1), 'PyTorch std vs b/√3').toBeLessThan(0.03);
    expect(Math.abs(mean), 'mean').toBeLessThan(6 * b / Math.sqrt(3 * n));
    for (const v of m.bias.data) {
      expect(Math.abs(v)).toBeLessThanOrEqual(b);
    }
    expect(Math.max(Math.abs(c.bias.min), Math.abs(c.bias.max)), 'PyTorch bias inside the same bound').toBeLessThanOrEqual(b);
  });
});

// ---- safetensors written by PyTorch -------------------------------------------------------------

interface SafetensorsCase {
  file: string;
  metadata: Record<string, string>;
  tensors: Record<string, { shape: number[]; source_dtype: string; values: number[] }>;
}

describe('safetensors written by safetensors.torch.save_file', () => {
  const fixture = loadFixture<SafetensorsCase>('safetensors.json');
  it('hn.loadWithMetadata reads every dtype, shape, value and the metadata', () => {
    const c = fixture.cases[0];
    const { data, metadata } = hn.loadWithMetadata<Record<string, Tensor>>(path.join(FIXTURE_DIR, c.file));
    expect(metadata).toEqual(c.metadata);
    expect(Object.keys(data).sort()).toEqual(Object.keys(c.tensors).sort());
    for (const [name, want] of Object.entries(c.tensors)) {
      const t = data[name];
      expect([...t.shape], `${name} shape`).toEqual(want.shape);
      const isFloat = /float|half/.test(want.source_dtype);
      expect(t.dtype, `${name} dtype (${want.source_dtype})`).toBe(isFloat ? 'float32' : 'int32');
      // Floats load as float32 (f16/bf16 exactly, f64 rounded); integers and bools as int32.
      expect(Array.from(t.data), `${name} values`).toEqual(isFloat ? want.values.map(Math.fround) : want.values);
    }
  });
});

// Keep camel() honest: the option names above rely on it.
it('camel() maps PyTorch option names to hydranet\'s', () => {
  expect(['weight_decay', 'T_max', 'eta_min', 'output_padding', 'divisor_override', 'count_include_pad', 'max_lr'].map(camel))
    .toEqual(['weightDecay', 'tMax', 'etaMin', 'outputPadding', 'divisorOverride', 'countIncludePad', 'maxLr']);
});
