// Worker-thread entry of off_thread.ts: builds a MultiMNIST split and posts it back, its typed
// arrays transferred (moved, not copied). workerData: the multiMnist options.
import { parentPort, workerData } from 'worker_threads';
import { multiMnist, MultiMnistOptions } from './multi_mnist';

/** Every distinct ArrayBuffer under `value` (plain objects and arrays, a few levels deep). */
function buffersIn(value: unknown, out = new Set<ArrayBuffer>(), depth = 0): Set<ArrayBuffer> {
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer) out.add(value.buffer);
  } else if (depth < 4 && value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) buffersIn(v, out, depth + 1);
  }
  return out;
}

const result = multiMnist(workerData as MultiMnistOptions);
parentPort!.postMessage(result, [...buffersIn(result)]);
