// The seed demo, written against the library API: a shared conv trunk with three heads trained
// on MultiMNIST with Σ_t λ_t L_t, evaluated per task, exported to ONNX.
//
//   node dist/examples/seed_demo.js                 full data, 2 epochs (a few minutes on 2 cores)
//   node dist/examples/seed_demo.js --limit 2000    a quick look
//
// In your own project: import * as hn from 'hydranet';
import * as hn from '../lib';

export interface DemoOptions {
  /** Use only the first `limit` training (and limit/4 test) images. */
  limit?: number;
  epochs?: number;
  /** Where the ONNX file goes. */
  onnxPath?: string;
  log?: (line: string) => void;
}

export async function main(options: DemoOptions = {}): Promise<hn.train.TaskMetrics> {
  const log = options.log ?? console.log;
  const epochs = options.epochs ?? 2;
  hn.manualSeed(0);

  // 1. Data: 28x28 images of two overlapping digits; targets 'left', 'right' (classes) and 'seg'
  //    (a 28x28 mask: 0 background, 1 left digit, 2 right digit).
  const train = hn.data.multiMnist({ split: 'train', limit: options.limit });
  const test = hn.data.multiMnist({ split: 'test', limit: options.limit && Math.max(64, Math.floor(options.limit / 4)) });
  const trainLoader = new hn.data.DataLoader(train, { batchSize: 128, shuffle: true, seed: 0 });
  const testLoader = new hn.data.DataLoader(test, { batchSize: 256 });

  // 2. The model: a shared trunk (two conv + ReLU + max-pool blocks) feeding one head per task.
  //    hn.models.seedNet() builds exactly this; written out, it is:
  const shared = new hn.nn.Sequential(
    new hn.nn.Conv2d(1, 32, 3, { padding: 1 }), new hn.nn.ReLU(), new hn.nn.MaxPool2d(2), // [N, 32, 14, 14]
    new hn.nn.Conv2d(32, 64, 3, { padding: 1 }), new hn.nn.ReLU(), new hn.nn.MaxPool2d(2), // [N, 64, 7, 7]
  );
  const classifier = () => new hn.nn.Sequential(new hn.nn.Flatten(), new hn.nn.Linear(64 * 7 * 7, 10));
  const model = new hn.mtl.MultiTaskModel({
    shared,
    heads: {
      left: classifier(),
      right: classifier(),
      // Per-pixel logits at full resolution: [N, 3, 28, 28].
      seg: new hn.nn.Sequential(
        new hn.nn.ConvTranspose2d(64, 32, 2, { stride: 2 }), new hn.nn.ReLU(),
        new hn.nn.ConvTranspose2d(32, 3, 2, { stride: 2 }),
      ),
    },
  });

  // 3. Losses with their weights λ_t, and the optimizer. WeightedOptimizer computes every task's
  //    loss and gradient in one fused call, backpropagates Σ_t λ_t L_t once and steps Adam.
  //    Swap `weighting` for hn.mtl.weighting.mgda(), .uncertainty(), .pcgrad(), ... to let a
  //    strategy choose the weights instead (then leave out `weight`).
  const optimizer = new hn.mtl.WeightedOptimizer(model, new hn.optim.Adam(model.parameters(), { lr: 1e-3 }), {
    tasks: {
      left: { loss: 'crossEntropy', weight: 1 },
      right: { loss: 'crossEntropy', weight: 1 },
      seg: { loss: 'crossEntropy', weight: 1 }, // pixel-wise: logits [N, 3, H, W], targets [N, H, W]
    },
  });

  // 4. The training loop. `for await` lets the loader gather the next batch while we wait.
  const tasks = { left: { kind: 'classification' as const }, right: { kind: 'classification' as const }, seg: { kind: 'segmentation' as const } };
  let metrics: hn.train.TaskMetrics = {};
  for (let epoch = 0; epoch < epochs; epoch++) {
    model.train();
    let step = 0;
    const sums = { left: 0, right: 0, seg: 0 };
    for await (const { x, targets } of trainLoader) {
      const outputs = model.forward(x); // {left: [N,10], right: [N,10], seg: [N,3,28,28]}
      const { losses } = optimizer.step(outputs, { left: targets.left, right: targets.right, seg: targets.seg });
      for (const t of ['left', 'right', 'seg'] as const) sums[t] += losses[t];
      step++;
    }
    // 5. Evaluation on the test split: accuracy per digit, mean IoU and pixel accuracy for the mask.
    metrics = await hn.train.evaluate(model, testLoader, tasks);
    log(`epoch ${epoch + 1}: train loss left ${(sums.left / step).toFixed(3)} right ${(sums.right / step).toFixed(3)} seg ${(sums.seg / step).toFixed(3)}`
      + ` | test left ${metrics.left.accuracy.toFixed(4)} right ${metrics.right.accuracy.toFixed(4)} seg mIoU ${metrics.seg.miou.toFixed(4)}`);
  }
  // (hn.train.fit runs this same loop with progress callbacks, scheduling and resumable state.)

  // 6. Save the weights (safetensors, readable by PyTorch) and export ONNX with one output per head.
  const onnxPath = options.onnxPath ?? 'seed_demo.onnx';
  hn.save(model.stateDict(), onnxPath.replace(/\.onnx$/, '') + '.safetensors');
  hn.onnx.exportModel(model, hn.zeros([1, 1, 28, 28]), onnxPath, { dynamicBatch: true, inputNames: ['image'] });
  log(`wrote ${onnxPath} (outputs: left, right, seg)`);
  return metrics;
}

function flag(name: string): number | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : undefined;
}

if (require.main === module) {
  main({ limit: flag('--limit'), epochs: flag('--epochs') }).catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
