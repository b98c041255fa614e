'use strict';
// Child of test/workers.test.ts: starts `rounds` workers one after the other, each holding `mb` MiB
// of tensors (test/helpers/train_worker.cjs, 'hold'), and prints JSON {base, peaks, after}: this
// process's RSS in MiB before, while each worker is alive and after it exited.
//
//   node worker_memory.cjs <dist> <rounds> <mb>
const { Worker } = require('node:worker_threads');
const path = require('node:path');

const [dist, roundsArg, mbArg] = process.argv.slice(2);
const script = path.join(__dirname, 'train_worker.cjs');
const rss = () => process.memoryUsage().rss / 2 ** 20;

async function round(mb) {
  const w = new Worker(script, { workerData: { dist, job: { kind: 'hold', seed: 1, steps: 3, batch: 32, mb } } });
  await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
  const peak = rss();
  w.postMessage('exit');
  await new Promise((resolve) => w.once('exit', resolve));
  await new Promise((resolve) => setTimeout(resolve, 50));
  return [peak, rss()];
}

(async () => {
  await round(16); // first worker: code, the addon's per-thread buffers, allocator arenas
  const base = rss();
  const peaks = [];
  const after = [];
  for (let i = 0; i < Number(roundsArg); i++) {
    const [p, a] = await round(Number(mbArg));
    peaks.push(p);
    after.push(a);
  }
  process.stdout.write(`${JSON.stringify({ base, peaks, after })}\n`);
})();
