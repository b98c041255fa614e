// Data set building off the main thread: hn.data.multiMnistAsync runs multiMnist() in a worker
// thread (pairing, normalising and the cache file take 0.5 s to several seconds for a split) and
// resolves with the same data set, its arrays moved over without a copy. The event loop keeps
// running meanwhile. (mnist() only reads two files and is left synchronous.)
//
//   const train = await hn.data.multiMnistAsync({ split: 'train', seed: 1 });
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { multiMnist, MultiMnist, MultiMnistOptions } from './multi_mnist';

// The worker runs compiled JavaScript: build_worker.js beside this file (dist/lib/data), or, when
// this file runs from the TypeScript sources (tests), the compiled copy in dist/ if there is one.
function workerScript(): string | null {
  const beside = path.join(__dirname, 'build_worker.js');
  if (fs.existsSync(beside)) return beside;
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  const compiled = path.join(dir, 'dist', 'lib', 'data', 'build_worker.js');
  return fs.existsSync(compiled) ? compiled : null;
}

/** multiMnist(options) built in a worker thread (same data, same cache file, same errors). */
export function multiMnistAsync(options: MultiMnistOptions): Promise<MultiMnist> {
  const script = workerScript();
  // No compiled worker (sources without a build): build here, after the current tick.
  if (!script) return new Promise((resolve, reject) => setImmediate(() => { try { resolve(multiMnist(options)); } catch (e) { reject(e); } }));
  return new Promise<MultiMnist>((resolve, reject) => {
    const worker = new Worker(script, { workerData: options });
    let settled = false;
    worker.once('message', (result: MultiMnist) => { settled = true; resolve(result); });
    worker.once('error', (err) => { settled = true; reject(err); });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`multiMnistAsync: the worker building the data set exited (code ${code}) without a result`));
    });
  });
}
