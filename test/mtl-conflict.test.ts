// A two-task problem with conflicting gradients: one shared feature (a bottleneck) must serve
// two regression tasks whose targets lie along orthogonal input directions, and task A's loss is
// 100× task B's in scale. Equal weighting follows A's gradient and leaves B unexplained; gradient
// strategies that balance the tasks keep both.
//
// Data: x ~ N(0, I₄), y_A = 10·x₁, y_B = x₂. Model: z = w·x (trunk, w ∈ R⁴), ŷ_t = a_t·z (one
// scalar head per task). With w = (cos φ, sin φ, 0, 0) and optimal heads, task A explains cos²φ of
// its variance and task B sin²φ: the tasks conflict over φ. Success for a task: its MSE falls to
// at most 0.8 of its target variance (it explains at least 20%). Start: φ = 60°.
import { describe, expect, it } from 'vitest';
import * as hn from '../lib/index';

const { nn, mtl } = hn;
const N = 256;
const THRESHOLD = 0.8;

function data() {
  const gen = new hn.Generator(42);
  const x = hn.zeros([N, 4]);
  gen.fillNormal(x.data as Float32Array);
  const xd = x.data;
  const yA = hn.tensor(Float32Array.from({ length: N }, (_, i) => 10 * xd[i * 4]), { shape: [N, 1] });
  const yB = hn.tensor(Float32Array.from({ length: N }, (_, i) => xd[i * 4 + 1]), { shape: [N, 1] });
  const variance = (t: hn.Tensor) => {
    const d = t.data;
    const mean = d.reduce((a, b) => a + b, 0) / d.length;
    return d.reduce((a, b) => a + (b - mean) ** 2, 0) / d.length;
  };
  return { x, yA, yB, varA: variance(yA), varB: variance(yB) };
}

function model(): hn.mtl.MultiTaskModel {
  const trunk = new nn.Linear(4, 1, { bias: false });
  trunk.weight.data.set([Math.cos(Math.PI / 3), Math.sin(Math.PI / 3), 0, 0]);
  const head = (): hn.nn.Linear => {
    const h = new nn.Linear(1, 1, { bias: false });
    h.weight.data.set([1]);
    return h;
  };
  return new mtl.MultiTaskModel({ shared: trunk, heads: { a: head(), b: head() } });
}

/** Trains 400 full-batch steps; returns each task's MSE over its target variance. */
function train(strategy: hn.mtl.weighting.WeightingStrategy): { a: number; b: number } {
  const { x, yA, yB, varA, varB } = data();
  const m = model();
  const wopt = new mtl.WeightedOptimizer(m, new hn.optim.Adam(m.parameters(), { lr: 0.02 }), {
    tasks: { a: { loss: 'mse' }, b: { loss: 'mse' } },
    weighting: strategy,
  });
  let last = { a: 1, b: 1 };
  for (let step = 0; step < 400; step++) {
    const r = wopt.step(m.forward(x), { a: yA, b: yB });
    last = { a: r.losses.a / varA, b: r.losses.b / varB };
  }
  return last;
}

describe('conflicting gradients (one shared feature, two orthogonal tasks, 100× loss scale)', () => {
  it(`equal weighting sacrifices the small task (relative MSE of b stays above ${THRESHOLD})`, () => {
    const r = train(mtl.weighting.equal());
    expect(r.a).toBeLessThan(THRESHOLD);
    expect(r.b).toBeGreaterThan(THRESHOLD);
  });

  // The strategies that balance the two tasks here. Measured but not listed: CAGrad (c = 0.4
  // keeps the direction near the average gradient, which task a dominates), Nash-MTL at its
  // default parameter level (4 shared numbers; it converges towards task a), and the loss
  // strategies uncertainty and DWA: each ends with task b's relative MSE above 0.95.
  const balancing = {
    'MGDA-UB (l2 normalisation)': () => mtl.weighting.mgda({ normalization: 'l2' }),
    'IMTL-G': () => mtl.weighting.imtl(),
    'Aligned-MTL': () => mtl.weighting.alignedMtl(),
    'Nash-MTL (representation level)': () => mtl.weighting.nashMtl({ gradientLevel: 'representation' }),
    PCGrad: () => mtl.weighting.pcgrad(),
    GradNorm: () => mtl.weighting.gradNorm(),
  };
  for (const [name, make] of Object.entries(balancing)) {
    it(`${name} reaches both tasks (relative MSE <= ${THRESHOLD} for each)`, () => {
      const r = train(make());
      expect(r.a, `task a with ${name}`).toBeLessThanOrEqual(THRESHOLD);
      expect(r.b, `task b with ${name}`).toBeLessThanOrEqual(THRESHOLD);
    });
  }
});
