// W1 and W2 of shared/WORKLOADS.md, K8 (the fused multi-loss), and the cost of each weighting
// strategy on the W1 train step.
import * as hn from '../lib/index';
import type { Tensor } from '../lib/tensor';
import { Measurement, timeIt } from './harness';

const { nn, mtl } = hn;

/** W1: conv trunk 3→64→128 with pools; cls head Linear(8192→10); seg head of two transposed convs. */
export function w1Model(): hn.mtl.MultiTaskModel {
  return new mtl.MultiTaskModel({
    shared: new nn.Sequential(
      new nn.Conv2d(3, 64, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.Conv2d(64, 128, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
    ),
    heads: {
      cls: new nn.Sequential(new nn.Flatten(), new nn.Linear(8192, 10)),
      seg: new nn.Sequential(new nn.ConvTranspose2d(128, 64, 2, { stride: 2 }), new nn.ReLU(), new nn.ConvTranspose2d(64, 11, 2, { stride: 2 })),
    },
  });
}

/** W2: Sener & Koltun's MultiMNIST LeNet without dropout (the speed benchmark leaves it out). */
export function w2Model(): hn.mtl.MultiTaskModel {
  const head = () => new nn.Sequential(new nn.Linear(50, 50), new nn.ReLU(), new nn.Linear(50, 10));
  return new mtl.MultiTaskModel({
    shared: new nn.Sequential(
      new nn.Conv2d(1, 10, 5), new nn.MaxPool2d(2), new nn.ReLU(),
      new nn.Conv2d(10, 20, 5), new nn.MaxPool2d(2), new nn.ReLU(),
      new nn.Flatten(), new nn.Linear(320, 50), new nn.ReLU(),
    ),
    heads: { left: head(), right: head() },
  });
}

function labels(n: number, classes: number, shape: number[]): Tensor {
  return hn.randint(0, classes, shape.length ? shape : [n]);
}

export const W1_TASKS = { cls: { loss: 'crossEntropy' as const, weight: 1 }, seg: { loss: 'crossEntropy' as const, weight: 0.5 } };
const W1_TASKS_UNWEIGHTED = { cls: { loss: 'crossEntropy' as const }, seg: { loss: 'crossEntropy' as const } };

function w1TrainStep(batch: number, strategy?: hn.mtl.weighting.WeightingStrategy): () => void {
  const model = w1Model();
  const opt = new hn.optim.Adam(model.parameters(), { lr: 1e-3 });
  const wopt = new mtl.WeightedOptimizer(model, opt, strategy ? { tasks: W1_TASKS_UNWEIGHTED, weighting: strategy } : { tasks: W1_TASKS });
  const x = hn.randn([batch, 3, 32, 32]);
  const targets = { cls: labels(batch, 10, [batch]), seg: labels(batch, 11, [batch, 32, 32]) };
  return () => {
    wopt.step(model.forward(x), targets);
  };
}

/** W1 inference (both heads, no gradient) at B=64 and B=1: the rows measured against onnxruntime. */
export function w1InferenceCases(): { name: string; batch: number; forward: () => void }[] {
  const model = w1Model();
  model.eval();
  return [64, 1].map((batch) => {
    const x = hn.randn([batch, 3, 32, 32]);
    return { name: `W1 inference B=${batch}`, batch, forward: () => hn.noGrad(() => { model.forward(x); }) };
  });
}

export function workloadBenchmarks(): Measurement[] {
  hn.manualSeed(0);
  const rows: Measurement[] = [];
  {
    const B = 64;
    const cls = hn.randn([B, 10], { requiresGrad: true });
    const seg = hn.randn([B, 11, 32, 32], { requiresGrad: true });
    const specs = mtl.normalizeTasks('K8', W1_TASKS);
    const yc = labels(B, 10, [B]);
    const ys = labels(B, 11, [B, 32, 32]);
    const seconds = timeIt(() => mtl.fusedMultiTaskLoss('K8', ['cls', 'seg'], [specs.cls, specs.seg], [cls, seg], [yc, ys], [1, 0.5]));
    rows.push({ name: 'K8 fused multi-loss fwd+bwd', seconds, items: B });
  }
  {
    const B = 64;
    const step = w1TrainStep(B);
    rows.push({ name: 'W1 train step B=64 (static)', seconds: timeIt(step, { warmup: 2, minRepeats: 5, budgetMs: 4000 }), items: B, flops: B * 141e6 });
    for (const c of w1InferenceCases()) rows.push({ name: c.name, seconds: timeIt(c.forward, { warmup: 20 }), items: c.batch });
  }
  {
    const B = 256;
    const model = w2Model();
    const wopt = new mtl.WeightedOptimizer(model, new hn.optim.Adam(model.parameters(), { lr: 1e-3 }), {
      tasks: { left: { loss: 'crossEntropy' }, right: { loss: 'crossEntropy' } },
    });
    const x = hn.randn([B, 1, 28, 28]);
    const targets = { left: labels(B, 10, [B]), right: labels(B, 10, [B]) };
    rows.push({ name: 'W2 train step B=256', seconds: timeIt(() => wopt.step(model.forward(x), targets), { budgetMs: 3000 }), items: B });
  }
  return rows;
}

/** The W1 train step under each strategy, as a ratio to static weights (same run). */
export function strategyBenchmarks(): Measurement[] {
  hn.manualSeed(0);
  const B = 64;
  const base = timeIt(w1TrainStep(B), { warmup: 1, minRepeats: 5, budgetMs: 3000 });
  const rows: Measurement[] = [{ name: 'W1 step: static', seconds: base, items: B, note: '1.00x' }];
  const w = mtl.weighting;
  const strategies: [string, () => hn.mtl.weighting.WeightingStrategy][] = [
    ['equal', () => w.equal()], ['uncertainty', () => w.uncertainty()], ['dwa', () => w.dwa()], ['rlw', () => w.rlw()],
    ['gradNorm', () => w.gradNorm()], ['mgda', () => w.mgda()], ['pcgrad', () => w.pcgrad()], ['cagrad', () => w.cagrad()],
    ['imtl', () => w.imtl()], ['nashMtl', () => w.nashMtl()], ['alignedMtl', () => w.alignedMtl()],
  ];
  for (const [name, make] of strategies) {
    const strategy = make();
    const seconds = timeIt(w1TrainStep(B, strategy), { warmup: 1, minRepeats: 5, budgetMs: 3000 });
    const level = strategy.kind === 'gradient' ? `, ${strategy.gradientLevel}` : '';
    rows.push({ name: `W1 step: ${name}${level}`, seconds, items: B, note: `${(seconds / base).toFixed(2)}x` });
  }
  return rows;
}
