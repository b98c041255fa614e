// worker_threads: the addon loads in several workers at once (N-API modules registered with
// NODE_API_MODULE are context-aware), they share one kernel thread pool safely, four workers
// training different models at the same time get exactly what each gets alone, and a worker that
// ends gives its memory back. Workers run the compiled library (dist/, built by `npm ci`).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import * as hn from '../lib/index';

const dist = path.resolve(__dirname, '..', 'dist');
const script = path.join(__dirname, 'helpers', 'train_worker.cjs');

interface TrainResult {
  losses: number[];
  checksum: number;
}

type Job = { kind: 'train'; seed: number; steps: number; batch: number } | { kind: 'hold'; seed: number; steps: number; batch: number; mb: number };

function start(job: Job): { worker: Worker; result: Promise<unknown>; exited: Promise<number> } {
  const worker = new Worker(script, { workerData: { dist, job } });
  const result = new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  return { worker, result, exited };
}

async function runAlone(job: Job): Promise<TrainResult> {
  const w = start(job);
  const r = (await w.result) as TrainResult;
  await w.exited;
  return r;
}


describe('worker_threads', () => {
  if (!fs.existsSync(path.join(dist, 'bench', 'w2.js'))) {
    it('needs the compiled library', () => {
      throw new Error(`${dist}/bench/w2.js is missing: build the TypeScript first (npx tsc -p tsconfig.json)`);
    });
    return;
  }

  it('four workers training different models at once get the same results as one at a time', async () => {
    const jobs: Job[] = [11, 22, 33, 44].map((seed) => ({ kind: 'train', seed, steps: 6, batch: 16 }));
    const together = await Promise.all(jobs.map((j) => runAlone(j)));
    const alone: TrainResult[] = [];
    for (const j of jobs) alone.push(await runAlone(j));
    for (let i = 0; i < jobs.length; i++) {
      expect(together[i].losses.every(Number.isFinite)).toBe(true);
      expect(together[i]).toEqual(alone[i]); // bit for bit: the shared pool changes no result
    }
    // Different seeds really are different models.
    expect(new Set(alone.map((r) => r.checksum)).size).toBe(jobs.length);
  }, 120_000);

  it('kernels stay right while another thread resizes the pool under them', async () => {
    const jobs: Job[] = [5, 6].map((seed) => ({ kind: 'train', seed, steps: 6, batch: 16 }));
    const reference = await Promise.all(jobs.map((j) => runAlone(j)));
    const threads = hn.getNumThreads();
    const running = jobs.map((j) => runAlone(j));
    let resizes = 0;
    let done = false;
    void Promise.all(running).then(() => { done = true; });
    try {
      // set_num_threads waits for a kernel in flight instead of pulling workers from under it.
      while (!done) {
        hn.setNumThreads(1 + (resizes % 3));
        resizes++;
        await new Promise((r) => setTimeout(r, 2));
      }
    } finally {
      hn.setNumThreads(threads);
    }
    const results = await Promise.all(running);
    expect(resizes).toBeGreaterThan(3);
    // Thread counts change how partial sums are split, so the last bits may differ.
    results.forEach((r, i) => r.losses.forEach((l, k) => expect(Math.abs(l - reference[i].losses[k])).toBeLessThan(1e-4 * Math.abs(reference[i].losses[k]) + 1e-6)));
  }, 120_000);

  it('a worker terminated in the middle of training leaves the process and the addon working', async () => {
    const w = start({ kind: 'train', seed: 9, steps: 1000, batch: 64 });
    await new Promise((r) => setTimeout(r, 300));
    await w.worker.terminate();
    const y = hn.tensor([[1, 2], [3, 4]]).matmul(hn.tensor([[1, 0], [0, 1]]));
    expect(Array.from(y.toArray())).toEqual([1, 2, 3, 4]);
    const again = await runAlone({ kind: 'train', seed: 9, steps: 2, batch: 8 });
    expect(again.losses.every(Number.isFinite)).toBe(true);
  }, 60_000);

  it('a worker that ends frees its tensors (RSS measured)', () => {
    // Measured in a child process of its own, twice: as the addon sets malloc up by default, and
    // with a fixed mmap threshold (MALLOC_MMAP_THRESHOLD_; the addon then leaves malloc alone)
    // under which freed blocks go straight back to the OS.
    const measure = (env: Record<string, string>) => {
      const child = spawnSync(process.execPath, [path.join(__dirname, 'helpers', 'worker_memory.cjs'), dist, '3', String(MB)], {
        encoding: 'utf8', timeout: 90_000, env: { ...process.env, ...env },
      });
      if (child.status !== 0) throw new Error(`worker_memory.cjs failed (${child.status} ${child.signal}): ${child.stderr}`);
      return JSON.parse(child.stdout.trim()) as { base: number; peaks: number[]; after: number[] };
    };
    const MB = 200;
    const fmt = (m: { base: number; peaks: number[]; after: number[] }) => m.peaks.map((p, i) => `+${(p - m.base).toFixed(0)} -> +${(m.after[i] - m.base).toFixed(0)}`).join(', ');
    const plain = measure({});
    const fixed = measure({ MALLOC_MMAP_THRESHOLD_: '131072' });
    console.log(`worker memory: 3 workers in a row, each holding ${MB} MiB of tensors; RSS while alive -> after exit, MiB above the start: `
      + `default ${fmt(plain)}; MALLOC_MMAP_THRESHOLD_=131072 ${fmt(fixed)}`);
    for (const m of [plain, fixed]) for (const p of m.peaks) expect(p - m.base).toBeGreaterThan(MB * 0.9); // really held
    // Freed: with blocks returned at once, RSS falls back to within 20 MiB of the start.
    for (const a of fixed.after) expect(a - fixed.base).toBeLessThan(20);
    // By default the addon asks malloc to keep freed blocks for reuse (native/common/
    // memory_policy.cc), so part of a worker's memory stays with the process after it ends. It is
    // reused, not piled up: every worker peaks at the same level, and RSS after an exit stays
    // below one worker's worth.
    expect(Math.max(...plain.peaks) - Math.min(...plain.peaks)).toBeLessThan(MB * 0.25);
    for (const a of plain.after) expect(a - plain.base).toBeLessThan(MB * 1.1);
  }, 120_000);
});
