'use strict';
// A worker_threads worker for test/workers.test.ts. workerData: {dist, job}.
//   job.kind 'train': trains the W2 LeNet (dist/bench/w2.js) from job.seed for job.steps steps at
//     job.batch and posts {losses, checksum} (checksum: sum of every parameter, in float64).
//   job.kind 'hold': allocates job.mb MiB of tensors, touches them, runs job.steps training steps,
//     posts {allocatedMb} and waits for 'exit' from the parent (so the parent can measure).
const path = require('node:path');
const { parentPort, workerData } = require('node:worker_threads');

const { dist, job } = workerData;
const hn = require(path.join(dist, 'lib', 'index.js'));
const w2 = require(path.join(dist, 'bench', 'w2.js'));

function train(seed, steps, batch) {
  const model = w2.buildW2(seed);
  const wopt = w2.w2Optimizer(model, 1e-2);
  const gen = new hn.Generator(seed + 1);
  const losses = [];
  for (let i = 0; i < steps; i++) {
    const l = w2.w2Step(model, wopt, w2.syntheticBatch(gen, batch));
    losses.push(l.left, l.right);
  }
  let checksum = 0;
  for (const p of model.parameters()) for (const v of p.data) checksum += v;
  return { losses, checksum };
}

if (job.kind === 'train') {
  parentPort.postMessage(train(job.seed, job.steps, job.batch));
} else if (job.kind === 'hold') {
  const held = [];
  for (let i = 0; i < job.mb / 4; i++) held.push(hn.full([1 << 20], i)); // 4 MiB each, written
  train(job.seed, job.steps, job.batch);
  parentPort.postMessage({ allocatedMb: held.length * 4 });
  parentPort.on('message', (m) => { if (m === 'exit') process.exit(0); });
}
