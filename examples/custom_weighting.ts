// Writing your own task-weighting strategy and training with it.
//
//   node dist/examples/custom_weighting.js [--limit 4000] [--steps 100]
//
// A strategy is a plain object. Two kinds (see lib/mtl/weighting/types.ts for the contract):
// - 'loss' strategies return one weight per task each step; training minimises Σ_t w_t L_t.
// - 'gradient' strategies get the task gradients G (T rows, at the shared representation or the
//   shared parameters) and return the update direction Σ_t w_t G[t] with the weights they chose.
// In your own project: import * as hn from 'hydranet';
import * as hn from '../lib';

/**
 * Loss-ratio weighting: a task whose loss fell least, relative to where it started, gets more
 * weight: w_t = T · r_t / Σ_j r_j with r_t = L_t / L_t(first step). Weights sum to T.
 */
class LossRatioWeighting implements hn.mtl.weighting.LossWeighting {
  readonly name = 'lossRatio';
  readonly kind = 'loss' as const;
  taskNames: readonly string[] = [];
  private initial: number[] | null = null;

  init(taskNames: readonly string[]): this {
    this.taskNames = [...taskNames];
    this.initial = null;
    return this;
  }

  weights(losses?: hn.mtl.weighting.TaskLosses): number[] {
    const T = this.taskNames.length;
    if (!losses) return new Array(T).fill(1);
    // WeightedOptimizer passes the losses in taskNames order.
    const L = Array.from(losses as ArrayLike<number>);
    this.initial ??= L.map((l) => Math.max(l, 1e-8));
    const ratios = L.map((l, t) => l / this.initial![t]);
    const sum = ratios.reduce((a, b) => a + b, 0);
    return ratios.map((r) => (T * r) / sum);
  }
}

/**
 * Unit-gradient averaging: every task's gradient at the shared representation is scaled to unit
 * length before they are summed, so no task dominates by gradient size: w_t = 1 / ||g_t||.
 */
class UnitGradientWeighting implements hn.mtl.weighting.GradientWeighting {
  readonly name = 'unitGradient';
  readonly kind = 'gradient' as const;
  readonly gradientLevel = 'representation' as const;
  taskNames: readonly string[] = [];

  init(taskNames: readonly string[]): this {
    this.taskNames = [...taskNames];
    return this;
  }

  combine(G: hn.mtl.weighting.GradientMatrix): hn.mtl.weighting.CombineResult {
    const weights = G.map((row) => {
      let s = 0;
      for (let i = 0; i < row.length; i++) s += row[i] * row[i];
      return s > 0 ? 1 / Math.sqrt(s) : 0;
    });
    const direction = new Float32Array(G[0].length);
    G.forEach((row, t) => {
      for (let i = 0; i < row.length; i++) direction[i] += weights[t] * row[i];
    });
    return { direction, weights };
  }
}

export interface CustomWeightingOptions {
  limit?: number;
  steps?: number;
  testLimit?: number;
  log?: (line: string) => void;
}

async function trainWith(strategy: hn.mtl.weighting.WeightingStrategy, options: CustomWeightingOptions): Promise<hn.train.TaskMetrics> {
  const log = options.log ?? console.log;
  hn.manualSeed(0);
  const model = hn.models.seedNet({ widths: [16, 32] });
  // Strategies other than static choose the weights themselves: no `weight` on the tasks.
  const optimizer = new hn.mtl.WeightedOptimizer(model, new hn.optim.Adam(model.parameters(), { lr: 2e-3 }), {
    tasks: { left: { loss: 'crossEntropy' }, right: { loss: 'crossEntropy' }, seg: { loss: 'crossEntropy' } },
    weighting: strategy,
  });
  const train = hn.data.multiMnist({ split: 'train', limit: options.limit ?? 4000 });
  const loader = new hn.data.DataLoader(train, { batchSize: 64, shuffle: true, seed: 1 });
  const maxSteps = options.steps ?? 100;
  let step = 0;
  let last: hn.mtl.StepResult | null = null;
  while (step < maxSteps) {
    for (const { x, targets } of loader) {
      last = optimizer.step(model.forward(x), targets);
      if (++step >= maxSteps) break;
    }
  }
  const test = new hn.data.DataLoader(hn.data.multiMnist({ split: 'test', limit: options.testLimit ?? 1000 }), { batchSize: 250 });
  const metrics = await hn.train.evaluate(model, test, {
    left: { kind: 'classification' }, right: { kind: 'classification' }, seg: { kind: 'segmentation' },
  });
  const w = last!.weights;
  log(`${strategy.name}: after ${step} steps weights left ${w.left.toFixed(3)} right ${w.right.toFixed(3)} seg ${w.seg.toFixed(3)}`
    + ` | test left ${metrics.left.accuracy.toFixed(3)} right ${metrics.right.accuracy.toFixed(3)} seg mIoU ${metrics.seg.miou.toFixed(3)}`);
  return metrics;
}

export async function main(options: CustomWeightingOptions = {}): Promise<Record<string, hn.train.TaskMetrics>> {
  return {
    lossRatio: await trainWith(new LossRatioWeighting(), options),
    unitGradient: await trainWith(new UnitGradientWeighting(), options),
  };
}

function flag(name: string): number | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : undefined;
}

if (require.main === module) {
  main({ limit: flag('--limit'), steps: flag('--steps') }).catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
