// Benchmark plumbing: warm-up, medians, machine facts, the printed table.
import { execSync } from 'child_process';
import * as os from 'os';

export interface Measurement {
  name: string;
  /** median seconds per call */
  seconds: number;
  /** optional work per call, for GFLOP/s */
  flops?: number;
  /** optional items per call (images), for items/s */
  items?: number;
  note?: string;
}

/** Median of `repeats` timed calls after `warmup` untimed ones; repeats adapt to ~budgetMs. */
export function timeIt(fn: () => void, { warmup = 2, minRepeats = 5, budgetMs = 1500 } = {}): number {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minRepeats || (performance.now() - start < budgetMs && times.length < 200)) {
    const t0 = performance.now();
    fn();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** timeIt for asynchronous calls (a peer's session.run). */
export async function timeItAsync(fn: () => Promise<unknown>, { warmup = 2, minRepeats = 5, budgetMs = 1500 } = {}): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minRepeats || (performance.now() - start < budgetMs && times.length < 200)) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/**
 * Medians of two contenders timed in alternating rounds (`rounds` turns each, ~budgetMs in all),
 * after the same number of warmup calls, so that both meet the same load on a shared machine.
 */
export async function timeAlternating(ours: () => void, theirs: () => Promise<unknown>,
  { warmup = 20, rounds = 6, budgetMs = 3000 } = {}): Promise<[number, number]> {
  for (let i = 0; i < warmup; i++) ours();
  for (let i = 0; i < warmup; i++) await theirs();
  const a: number[] = [];
  const b: number[] = [];
  const turnMs = budgetMs / (2 * rounds);
  for (let r = 0; r < rounds; r++) {
    for (let start = performance.now(), n = 0; n < 3 || performance.now() - start < turnMs; n++) {
      const t0 = performance.now();
      ours();
      a.push((performance.now() - t0) / 1000);
    }
    for (let start = performance.now(), n = 0; n < 3 || performance.now() - start < turnMs; n++) {
      const t0 = performance.now();
      await theirs();
      b.push((performance.now() - t0) / 1000);
    }
  }
  const median = (v: number[]): number => v.sort((x, y) => x - y)[Math.floor(v.length / 2)];
  return [median(a), median(b)];
}

export function machineDescription(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${cpu}, ${os.cpus().length} logical cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
}

export function gitCommit(): string {
  try {
    return execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'unknown';
  }
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

/** A peer's medians for the same rows (onnxruntime, PyTorch). */
export interface PeerColumn {
  label: string;
  seconds: Record<string, number>;
}

/** Minimum speed-up over a peer (peer time / hydranet time) that a row is meant to reach. */
export interface Target {
  peer: string;
  ratio: number;
}

/**
 * A Markdown table: name, hydranet's median, GFLOP/s, items/s, then per peer its median and the
 * ratio peer/hydranet (> 1: hydranet is faster), and the row's target when it has one.
 */
export function formatTable(rows: Measurement[], peers: PeerColumn[] = [], targets: Record<string, Target[]> = {}): string {
  const head = ['benchmark', 'hydranet ms', 'GFLOP/s', 'items/s'];
  const align = ['---', '---:', '---:', '---:'];
  for (const p of peers) {
    head.push(`${p.label} ms`, `vs ${p.label}`);
    align.push('---:', '---:');
  }
  head.push('target', 'note');
  align.push('---', '---');
  const lines = [`| ${head.join(' | ')} |`, `| ${align.join(' | ')} |`];
  for (const r of rows) {
    const cells = [
      pad(r.name, 34),
      pad((r.seconds * 1e3).toFixed(3), 9, true),
      r.flops ? (r.flops / r.seconds / 1e9).toFixed(1) : '',
      r.items ? Math.round(r.items / r.seconds).toLocaleString('en-US') : '',
    ];
    const ratios: Record<string, number> = {};
    for (const p of peers) {
      const t = p.seconds[r.name];
      if (t === undefined) {
        cells.push('', '');
        continue;
      }
      ratios[p.label] = t / r.seconds;
      cells.push((t * 1e3).toFixed(3), `${ratios[p.label].toFixed(2)}x`);
    }
    const goals = (targets[r.name] ?? []).map((g) => {
      const got = ratios[g.peer];
      const verdict = got === undefined ? 'not measured' : got >= g.ratio ? 'met' : 'MISSED';
      return `>= ${g.ratio}x ${g.peer}: ${verdict}`;
    });
    cells.push(goals.join('; '), r.note ?? '');
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}
