// The peers hydranet is measured against in the same run: onnxruntime-node running the exported
// W1 model, and PyTorch (bench/torch_peer.py) when a python3 with torch is found.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as hn from '../lib/index';
import { timeAlternating, timeItAsync } from './harness';
import { w1Model } from './workloads';

export interface PeerResult {
  /** benchmark name -> median seconds (the names of hydranet's rows) */
  seconds: Record<string, number>;
  /** one line about the peer (version, threads), or why it was skipped */
  info: string;
  available: boolean;
}

interface OrtModule {
  InferenceSession: { create(path: string, opts: object): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
  env: { versions?: { common?: string } };
}
interface OrtSession {
  inputNames: readonly string[];
  run(feeds: Record<string, unknown>): Promise<unknown>;
  release(): Promise<void>;
}

/**
 * W1 inference at B=64 and B=1 under onnxruntime-node with `threads` intra-op threads, timed in
 * alternating rounds with hydranet's own forward of the same batch (`ours`, by row name): the
 * result's `ours` holds hydranet's medians from those same rounds.
 */
export async function ortPeer(threads: number, ours: Record<string, () => void> = {}): Promise<PeerResult & { ours: Record<string, number> }> {
  let ort: OrtModule;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ort = require('onnxruntime-node') as OrtModule;
  } catch (error) {
    return { seconds: {}, ours: {}, info: `onnxruntime-node not loadable: ${(error as Error).message}`, available: false };
  }
  hn.manualSeed(0);
  const model = w1Model();
  model.eval();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-bench-'));
  const file = path.join(dir, 'w1.onnx');
  try {
    hn.onnx.exportModel(model, hn.randn([1, 3, 32, 32]), file, { dynamicBatch: true });
    const session = await ort.InferenceSession.create(file, {
      intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
    });
    const seconds: Record<string, number> = {};
    const oursSeconds: Record<string, number> = {};
    for (const b of [64, 1]) {
      const name = `W1 inference B=${b}`;
      const x = hn.randn([b, 3, 32, 32]).data as Float32Array;
      const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x, [b, 3, 32, 32]) };
      const theirs = () => session.run(feeds);
      if (ours[name]) {
        [oursSeconds[name], seconds[name]] = await timeAlternating(ours[name], theirs);
      } else {
        seconds[name] = await timeItAsync(theirs, { warmup: 20 });
      }
    }
    await session.release();
    const info = `onnxruntime-node ${ort.env.versions?.common ?? ''}, intraOpNumThreads ${threads}`
      + (Object.keys(oursSeconds).length ? '; W1 inference rows timed in alternating rounds with it' : '');
    return { seconds, ours: oursSeconds, info, available: true };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The first of `python3`, `/usr/bin/python3` that imports torch, or null. */
export function findTorchPython(): string | null {
  for (const candidate of [process.env.HYDRANET_TORCH_PYTHON, 'python3', '/usr/bin/python3']) {
    if (!candidate) continue;
    const probe = spawnSync(candidate, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60000 });
    if (probe.status === 0) return candidate;
  }
  return null;
}

/**
 * Only torch's own pool: no second BLAS pool competing for the two cores. OpenMP threads spin
 * while they wait by default; on a machine shared with other jobs a spinning thread burns the
 * time slice its partner needs (K4 backward measured 10x slower than with passive waiting), so
 * the peer waits passively unless `spinning` (the default of an idle machine) is asked for.
 */
function torchEnv(spinning: boolean): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
  if (!spinning && env.OMP_WAIT_POLICY === undefined) env.OMP_WAIT_POLICY = 'PASSIVE';
  return env;
}

/** bench/torch_peer.py under `python`, `threads` torch threads; groups: kernels, workloads. */
export function torchPeer(python: string, threads: number, groups: string[], spinning = false): PeerResult {
  const script = path.join(__dirname, '..', '..', 'bench', 'torch_peer.py');
  const only = groups.filter((g) => g === 'kernels' || g === 'workloads');
  if (only.length === 0) return { seconds: {}, info: 'not run (no kernels or workloads group)', available: false };
  const out = execFileSync(python, [script, '--threads', String(threads), '--only', only.join(',')], {
    env: torchEnv(spinning), maxBuffer: 1 << 20, timeout: 30 * 60 * 1000,
  }).toString();
  const parsed = JSON.parse(out.trim().split('\n').pop() ?? '{}') as {
    info: { torch: string; threads: number; python: string }; seconds: Record<string, number>;
  };
  return {
    seconds: parsed.seconds,
    info: `PyTorch ${parsed.info.torch} (${python}, Python ${parsed.info.python}), ${parsed.info.threads} threads, OPENBLAS_NUM_THREADS=1, OMP_WAIT_POLICY=${torchEnv(spinning).OMP_WAIT_POLICY ?? 'default (spinning)'}`,
    available: true,
  };
}

/** Peak RSS in bytes of a separate PyTorch process training W1 for `steps` steps at B=64. */
export function torchPeakRss(python: string, threads: number, steps: number, spinning = false): number {
  const script = path.join(__dirname, '..', '..', 'bench', 'torch_peer.py');
  const out = execFileSync(python, [script, '--threads', String(threads), '--rss-w1', String(steps)], {
    env: torchEnv(spinning), timeout: 30 * 60 * 1000,
  }).toString();
  return (JSON.parse(out.trim().split('\n').pop() ?? '{}') as { peakRssBytes: number }).peakRssBytes;
}

/** Peak RSS in bytes of a separate hydranet process training W1 for `steps` steps at B=64. */
export function hydranetPeakRss(threads: number, steps: number): number {
  const script = path.join(__dirname, 'rss_w1.js');
  const out = execFileSync(process.execPath, [script, String(threads), String(steps)], { timeout: 30 * 60 * 1000 }).toString();
  return (JSON.parse(out.trim().split('\n').pop() ?? '{}') as { peakRssBytes: number }).peakRssBytes;
}
