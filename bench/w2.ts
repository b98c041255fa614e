// W2 of /work/shared/WORKLOADS.md, the Sener & Koltun MultiMNIST LeNet (speed variant, no
// dropout), with synthetic batches and one WeightedOptimizer step. Shared by bench/soak.ts and
// the robustness tests (memory soak, worker_threads, event-loop latency, crash and resume).
import * as hn from '../lib/index';

const { nn } = hn;

/** Shared trunk and the two digit heads, initialised from `seed`. */
export function buildW2(seed: number): hn.mtl.MultiTaskModel {
  hn.manualSeed(seed);
  const head = () => new nn.Sequential(new nn.Linear(50, 50), new nn.ReLU(), new nn.Linear(50, 10));
  return new hn.mtl.MultiTaskModel({
    shared: new nn.Sequential(
      new nn.Conv2d(1, 10, 5), new nn.MaxPool2d(2), new nn.ReLU(),
      new nn.Conv2d(10, 20, 5), new nn.MaxPool2d(2), new nn.ReLU(),
      new nn.Flatten(), new nn.Linear(320, 50), new nn.ReLU(),
    ),
    heads: { left: head(), right: head() },
  });
}

/** Equal-weight sum of the two cross-entropies, Adam at lr 1e-3 (the workload's optimizer). */
export function w2Optimizer(model: hn.mtl.MultiTaskModel, lr = 1e-3): hn.mtl.WeightedOptimizer {
  return new hn.mtl.WeightedOptimizer(model, new hn.optim.Adam(model.parameters(), { lr }), {
    tasks: { left: { loss: 'crossEntropy' }, right: { loss: 'crossEntropy' } },
  });
}

export interface W2Batch {
  x: hn.Tensor;
  targets: { left: hn.Tensor; right: hn.Tensor };
}

/**
 * A fresh batch from `gen`: noise images whose mean brightness in the top-left and bottom-right
 * quarters encodes the two labels, so the losses fall as the model learns.
 */
export function syntheticBatch(gen: hn.Generator, batch: number): W2Batch {
  const x = hn.zeros([batch, 1, 28, 28]);
  const left = hn.zeros([batch], { dtype: 'int32' });
  const right = hn.zeros([batch], { dtype: 'int32' });
  const xd = x.data as Float32Array;
  gen.fillNormal(xd, 0, 0.3);
  for (let i = 0; i < batch; i++) {
    const l = Math.floor(gen.uniform() * 10);
    const r = Math.floor(gen.uniform() * 10);
    left.data[i] = l;
    right.data[i] = r;
    for (let row = 0; row < 14; row++) {
      for (let col = 0; col < 14; col++) {
        xd[i * 784 + row * 28 + col] += l / 10;
        xd[i * 784 + (row + 14) * 28 + col + 14] += r / 10;
      }
    }
  }
  return { x, targets: { left, right } };
}

/** One training step; returns the two losses. */
export function w2Step(model: hn.mtl.MultiTaskModel, wopt: hn.mtl.WeightedOptimizer, b: W2Batch): { left: number; right: number } {
  const r = wopt.step(model.forward(b.x), b.targets);
  return { left: r.losses.left, right: r.losses.right };
}
