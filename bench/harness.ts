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

/** A Markdown table: name, time, GFLOP/s, items/s, note. */
export function formatTable(rows: Measurement[]): string {
  const lines = ['| benchmark | median ms | GFLOP/s | items/s | note |', '| --- | ---: | ---: | ---: | --- |'];
  for (const r of rows) {
    const gflops = r.flops ? (r.flops / r.seconds / 1e9).toFixed(1) : '';
    const items = r.items ? Math.round(r.items / r.seconds).toLocaleString('en-US') : '';
    lines.push(`| ${pad(r.name, 34)} | ${pad((r.seconds * 1e3).toFixed(3), 9, true)} | ${pad(gflops, 7, true)} | ${pad(items, 8, true)} | ${r.note ?? ''} |`);
  }
  return lines.join('\n');
}
