// LR schedulers against their closed forms. StepLR and CosineAnnealingLR compute recursively
// (PyTorch's chainable form), so they match the closed form to float64 rounding: relative 1e-12.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as hn from '../lib/index';

const { SGD, Adam, StepLR, CosineAnnealingLR, OneCycleLR } = hn.optim;

function optimizer(lrs: number[] = [0.1]): hn.optim.SGD {
  return new SGD(lrs.map((lr) => ({ params: [hn.zeros([2]).requiresGrad_()], lr })), { momentum: 0.9 });
}

function expectRel(actual: number, expected: number, rel = 1e-12, what = ''): void {
  if (Math.abs(actual - expected) > rel * Math.max(Math.abs(expected), 1e-300)) expect.fail(`${what}: got ${actual}, expected ${expected}`);
}

// Runs `epochs` epochs: records the lr used in each, then steps the scheduler.
function lrsOver(opt: hn.optim.SGD, sched: { step(): void }, epochs: number): number[][] {
  const out: number[][] = [];
  for (let e = 0; e < epochs; e++) {
    out.push(opt.paramGroups.map((g) => g.lr));
    sched.step();
  }
  return out;
}

describe('StepLR', () => {
  it('lr(e) = base · gamma^floor(e / stepSize) for each group', () => {
    const opt = optimizer([0.1, 0.02]);
    const sched = new StepLR(opt, { stepSize: 3, gamma: 0.5 });
    lrsOver(opt, sched, 13).forEach((lrs, e) => {
      expectRel(lrs[0], 0.1 * 0.5 ** Math.floor(e / 3), 1e-12, `epoch ${e} group 0`);
      expectRel(lrs[1], 0.02 * 0.5 ** Math.floor(e / 3), 1e-12, `epoch ${e} group 1`);
    });
    expect(sched.getLastLr()).toEqual(opt.paramGroups.map((g) => g.lr));
    expect(opt.paramGroups[0].initialLr).toBe(0.1);
  });

  it('gamma defaults to 0.1', () => {
    const opt = optimizer([1]);
    const sched = new StepLR(opt, { stepSize: 1 });
    sched.step();
    expectRel(opt.paramGroups[0].lr, 0.1);
  });
});

describe('CosineAnnealingLR', () => {
  it('follows eta_min + (base - eta_min)(1 + cos(pi t / T)) / 2, also past T', () => {
    const opt = optimizer([0.1, 0.5]);
    const tMax = 10, etaMin = 0.001;
    const sched = new CosineAnnealingLR(opt, { tMax, etaMin });
    lrsOver(opt, sched, 3 * tMax + 2).forEach((lrs, t) => {
      [0.1, 0.5].forEach((base, i) => {
        expectRel(lrs[i], etaMin + ((base - etaMin) * (1 + Math.cos((Math.PI * t) / tMax))) / 2, 1e-10, `t ${t} group ${i}`);
      });
    });
  });

  it('reaches etaMin = 0 at tMax and rises again (the 0/0 step)', () => {
    const opt = optimizer([1]);
    const sched = new CosineAnnealingLR(opt, { tMax: 4 });
    const lrs = lrsOver(opt, sched, 7).map((l) => l[0]);
    expect(lrs[4]).toBeCloseTo(0, 15);
    expectRel(lrs[5], (1 - Math.cos(Math.PI / 4)) / 2, 1e-12, 't 5');
    expect(lrs.every(Number.isFinite)).toBe(true);
  });
});

// OneCycleLR's schedule written directly from its definition (Smith & Topin; PyTorch's phases).
function oneCycleClosedForm(step: number, o: { maxLr: number; total: number; pct?: number; div?: number; finalDiv?: number; threePhase?: boolean; linear?: boolean }): number {
  const { maxLr, total, pct = 0.3, div = 25, finalDiv = 1e4, threePhase = false, linear = false } = o;
  const initial = maxLr / div, min = initial / finalDiv;
  const anneal = (a: number, b: number, p: number): number => (linear ? a + (b - a) * p : b + ((a - b) / 2) * (1 + Math.cos(Math.PI * p)));
  const up = pct * total - 1;
  if (!threePhase) {
    if (step <= up) return anneal(initial, maxLr, step / up);
    return anneal(maxLr, min, (step - up) / (total - 1 - up));
  }
  const down = 2 * pct * total - 2;
  if (step <= up) return anneal(initial, maxLr, step / up);
  if (step <= down) return anneal(maxLr, initial, (step - up) / (down - up));
  return anneal(initial, min, (step - down) / (total - 1 - down));
}

describe('OneCycleLR', () => {
  it.each([
    ['two phases, cos', {}],
    ['two phases, linear', { annealStrategy: 'linear' as const, linear: true }],
    ['three phases', { threePhase: true }],
    ['custom factors', { pctStart: 0.25, pct: 0.25, divFactor: 10, div: 10, finalDivFactor: 100, finalDiv: 100 }],
  ])('%s matches the closed form at every step', (_, extra) => {
    const total = 40;
    const opt = optimizer([0.3]);
    const sched = new OneCycleLR(opt, { maxLr: 0.3, totalSteps: total, ...extra });
    const lrs = lrsOver(opt, sched, total).map((l) => l[0]);
    lrs.forEach((lr, s) => expectRel(lr, oneCycleClosedForm(s, { maxLr: 0.3, total, ...extra }), 1e-12, `step ${s}`));
    expectRel(lrs[0], 0.3 / ('div' in extra ? extra.div : 25), 1e-12, 'first lr');
    expect(Math.max(...lrs)).toBeCloseTo(0.3, 12);
  });

  it('takes epochs x stepsPerEpoch, per-group maxLr, and sets initial/max/min lr on the groups', () => {
    const opt = optimizer([1, 1]);
    const sched = new OneCycleLR(opt, { maxLr: [0.1, 0.2], epochs: 4, stepsPerEpoch: 5 });
    expect(sched.totalSteps).toBe(20);
    expect(opt.paramGroups[1].maxLr).toBe(0.2);
    expectRel(opt.paramGroups[1].initialLr as number, 0.2 / 25);
    expectRel(opt.paramGroups[1].minLr as number, 0.2 / 25 / 1e4);
    expectRel(opt.paramGroups[0].lr, 0.1 / 25);
  });

  it('refuses to step past totalSteps', () => {
    const opt = optimizer();
    const sched = new OneCycleLR(opt, { maxLr: 0.1, totalSteps: 3 });
    sched.step();
    sched.step();
    sched.step();
    expect(() => sched.step()).toThrow(/OneCycleLR.step: expected the number of steps to be at most totalSteps \(3\), got step 4/);
    expect(sched.lastEpoch).toBe(3);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['no length', { maxLr: 0.1 }, /OneCycleLR: expected options to be given totalSteps, or epochs and stepsPerEpoch/],
    ['zero steps', { maxLr: 0.1, totalSteps: 0 }, /expected totalSteps to be a positive integer, got number 0/],
    ['pctStart', { maxLr: 0.1, totalSteps: 10, pctStart: 1.5 }, /expected pctStart to be a number in \[0, 1\]/],
    ['anneal', { maxLr: 0.1, totalSteps: 10, annealStrategy: 'exp' }, /expected annealStrategy to be 'cos' or 'linear', got 'exp'/],
    ['maxLr count', { maxLr: [0.1, 0.2], totalSteps: 10 }, /expected maxLr to be a number or 1 numbers \(one per group\), got 2 numbers/],
    ['cycleMomentum', { maxLr: 0.1, totalSteps: 10, cycleMomentum: true }, /cycleMomentum to be false or absent/],
  ])('bad option: %s', (_, options, message) => {
    expect(() => new OneCycleLR(optimizer(), options as never)).toThrow(message);
  });
});

describe('scheduler state dicts', () => {
  it.each([
    ['StepLR', (o: hn.optim.SGD) => new StepLR(o, { stepSize: 2, gamma: 0.7 })],
    ['CosineAnnealingLR', (o: hn.optim.SGD) => new CosineAnnealingLR(o, { tMax: 6, etaMin: 0.01 })],
    ['OneCycleLR', (o: hn.optim.SGD) => new OneCycleLR(o, { maxLr: 0.5, totalSteps: 20, threePhase: true })],
  ])('%s resumes exactly from its state dict and the optimizer state dict', (_, make) => {
    const opt = optimizer([0.1, 0.3]);
    const sched = make(opt);
    for (let i = 0; i < 5; i++) sched.step();
    const schedState = sched.stateDict();
    const optState = opt.stateDict();
    const opt2 = optimizer([9, 9]);
    const sched2 = make(opt2);
    opt2.loadStateDict(optState);
    sched2.loadStateDict(schedState);
    expect(sched2.stateDict()).toEqual(schedState);
    expect(sched2.getLastLr()).toEqual(sched.getLastLr());
    for (let i = 0; i < 6; i++) {
      sched.step();
      sched2.step();
      expect(opt2.paramGroups.map((g) => g.lr)).toEqual(opt.paramGroups.map((g) => g.lr));
    }
  });

  it('model, optimizer and scheduler state survive hn.save / hn.load', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-optim-'));
    try {
      hn.manualSeed(4);
      const model = new hn.nn.Sequential(new hn.nn.Linear(2, 3), new hn.nn.BatchNorm2d(3));
      const opt = new Adam(model.parameters(), { amsgrad: true });
      const sched = new OneCycleLR(opt, { maxLr: 0.1, totalSteps: 10 });
      for (const p of model.parameters()) p.grad = hn.ones([...p.shape]);
      opt.step();
      sched.step();
      const file = path.join(dir, 'ckpt.safetensors');
      hn.save({ model: model.stateDict(), optimizer: opt.stateDict(), scheduler: sched.stateDict() }, file);
      const back = hn.load(file) as unknown as { model: hn.nn.StateDict; optimizer: hn.optim.OptimizerStateDict; scheduler: Record<string, unknown> };
      hn.manualSeed(5);
      const model2 = new hn.nn.Sequential(new hn.nn.Linear(2, 3), new hn.nn.BatchNorm2d(3));
      model2.loadStateDict(back.model);
      const opt2 = new Adam(model2.parameters());
      const sched2 = new OneCycleLR(opt2, { maxLr: 0.5, totalSteps: 10 });
      opt2.loadStateDict(back.optimizer);
      sched2.loadStateDict(back.scheduler);
      expect(opt2.stateDict().param_groups).toEqual(opt.stateDict().param_groups);
      expect(sched2.stateDict()).toEqual(sched.stateDict());
      [...model.parameters()].forEach((p, i) => {
        p.grad = hn.full([...p.shape], 0.3);
        [...model2.parameters()][i].grad = hn.full([...p.shape], 0.3);
      });
      opt.step();
      opt2.step();
      sched.step();
      sched2.step();
      expect(sched2.getLastLr()).toEqual(sched.getLastLr());
      const sdA = model.stateDict(), sdB = model2.stateDict();
      for (const k of Object.keys(sdA)) expect(Array.from(sdB[k].data), k).toEqual(Array.from(sdA[k].data));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("uses PyTorch's attribute names", () => {
    const opt = optimizer();
    expect(Object.keys(new StepLR(opt, { stepSize: 2 }).stateDict()).sort()).toEqual(['_last_lr', '_step_count', 'base_lrs', 'gamma', 'last_epoch', 'step_size']);
    const cos = new CosineAnnealingLR(optimizer(), { tMax: 3 }).stateDict();
    expect(cos).toMatchObject({ T_max: 3, eta_min: 0, last_epoch: 0, _step_count: 1, base_lrs: [0.1] });
    const one = new OneCycleLR(optimizer(), { maxLr: 1, totalSteps: 10 }).stateDict();
    expect(one._schedule_phases).toEqual([
      { end_step: 2, start_lr: 'initial_lr', end_lr: 'max_lr' },
      { end_step: 9, start_lr: 'max_lr', end_lr: 'min_lr' },
    ]);
    expect(opt.stateDict().param_groups[0].initial_lr).toBe(0.1);
  });

  it('resuming with lastEpoch needs initialLr in the groups', () => {
    expect(() => new StepLR(new Adam([hn.zeros([1]).requiresGrad_()]), { stepSize: 1, lastEpoch: 3 }))
      .toThrow(/StepLR: expected optimizer.paramGroups\[0\].initialLr to be set when resuming/);
  });

  it('rejects bad scheduler options', () => {
    expect(() => new StepLR(optimizer(), { stepSize: 0 })).toThrow(/StepLR: expected stepSize to be a positive integer, got number 0/);
    expect(() => new CosineAnnealingLR(optimizer(), { tMax: 2.5 })).toThrow(/CosineAnnealingLR: expected tMax to be a positive integer/);
    expect(() => new StepLR({} as never, { stepSize: 1 })).toThrow(/StepLR: expected optimizer to be an Optimizer/);
    expect(() => new StepLR(optimizer(), { stepSize: 1 }).loadStateDict({ base_lrs: [1, 2] })).toThrow(/expected stateDict.base_lrs to be an array of 1 numbers/);
  });
});
