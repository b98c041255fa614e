// Memory soak: trains the W2 LeNet (bench/w2.ts) with hn.mtl for many steps on synthetic data,
// creating fresh tensors every step and dropping them (half disposed explicitly, half left to the
// GC), and prints RSS, V8 heap and external memory along the way. A leak shows as RSS that keeps
// growing once the process has warmed up; the run fails (exit code 1) when RSS at the end is 5%
// or more above RSS at step 2000.
//
//   npm run soak                      (node dist/bench/soak.js: 10 000 steps, batch 64)
//   node dist/bench/soak.js --steps 3000 --batch 32 --every 500
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import * as hn from '../lib/index';
import { addon } from '../lib/native';
import { buildW2, syntheticBatch, w2Optimizer, w2Step } from './w2';

export interface SoakSample {
  step: number;
  /** process.memoryUsage() in bytes, sampled as the process runs (no forced GC). */
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** RSS and heap + external right after a full GC (what is really still held). */
  rssAfterGc: number;
  liveAfterGc: number;
  /** Memory V8 has committed for its heap after GC (the young generation grows under load). */
  heapTotalAfterGc: number;
  loss: number;
  stepsPerSecond: number;
}

export interface SoakOptions {
  steps: number;
  batch: number;
  every: number;
  /** Step whose sample is the baseline of the growth figure (after warm-up). */
  baselineStep: number;
  seed?: number;
  onSample?: (s: SoakSample) => void;
}

export interface SoakResult {
  samples: SoakSample[];
  /** (RSS at the end − RSS at the baseline) / RSS at the baseline, sampled without forced GC. */
  rssGrowth: number;
  /** The same for RSS after a full GC. */
  rssAfterGcGrowth: number;
  /** Heap + external after GC, end minus baseline, in bytes. */
  liveGrowthBytes: number;
  /** V8's committed heap after GC, end minus baseline, in bytes (part of the RSS growth). */
  heapTotalGrowthBytes: number;
  firstLoss: number;
  lastLoss: number;
}

/** A full GC on demand, without --expose-gc on the command line. */
export function gcFunction(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

export function soak(options: SoakOptions): SoakResult {
  const { steps, batch, every, baselineStep } = options;
  const gc = gcFunction();
  const model = buildW2(options.seed ?? 1);
  const wopt = w2Optimizer(model);
  const gen = new hn.Generator((options.seed ?? 1) + 1000);
  const samples: SoakSample[] = [];
  let firstLoss = NaN;
  let lastLoss = NaN;
  let windowStart = performance.now();
  for (let step = 1; step <= steps; step++) {
    const b = syntheticBatch(gen, batch);
    const losses = w2Step(model, wopt, b);
    lastLoss = losses.left + losses.right;
    if (step === 1) firstLoss = lastLoss;
    // Half the batches are released at once, half left to the garbage collector.
    if (step % 2 === 0) {
      b.x.dispose();
      b.targets.left.dispose();
      b.targets.right.dispose();
    }
    if (step % every === 0) {
      const seconds = (performance.now() - windowStart) / 1000;
      const m = process.memoryUsage();
      // Twice: ArrayBuffers found dead by one full GC are sometimes released (and uncounted) only
      // by the next.
      gc();
      gc();
      const after = process.memoryUsage();
      const sample: SoakSample = {
        step, rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers,
        rssAfterGc: after.rss, liveAfterGc: after.heapUsed + after.external, heapTotalAfterGc: after.heapTotal,
        loss: lastLoss, stepsPerSecond: every / seconds,
      };
      samples.push(sample);
      options.onSample?.(sample);
      windowStart = performance.now();
    }
  }
  const base = samples.find((s) => s.step >= baselineStep) ?? samples[0];
  const end = samples[samples.length - 1];
  return {
    samples,
    rssGrowth: (end.rss - base.rss) / base.rss,
    rssAfterGcGrowth: (end.rssAfterGc - base.rssAfterGc) / base.rssAfterGc,
    liveGrowthBytes: end.liveAfterGc - base.liveAfterGc,
    heapTotalGrowthBytes: end.heapTotalAfterGc - base.heapTotalAfterGc,
    firstLoss,
    lastLoss,
  };
}

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new RangeError(`soak: expected --${name} to be a positive integer, got ${process.argv[i + 1]}`);
  return v;
}

function main(): void {
  const steps = flag('steps', 10_000);
  const batch = flag('batch', 64);
  const every = flag('every', 1000);
  const baselineStep = Math.min(flag('baseline', 2000), steps);
  const mb = (b: number) => (b / 2 ** 20).toFixed(1).padStart(8);
  // The addon may ask malloc to keep freed blocks for reuse (native/common/memory_policy.cc,
  // HYDRANET_MALLOC_TUNING=0 turns it off): RSS then includes memory that is free but kept.
  const policy = typeof addon.memoryPolicy === 'function' ? (addon.memoryPolicy() as { mallocTuned: boolean; trimThreshold: number }) : null;
  const malloc = policy ? (policy.mallocTuned ? `malloc tuned (trim threshold ${policy.trimThreshold / 2 ** 20} MiB)` : 'malloc untuned') : 'malloc default';
  console.log(`soak: W2 LeNet, hn.mtl WeightedOptimizer + Adam, batch ${batch}, ${steps} steps, ${hn.getNumThreads()} threads, ${malloc}, Node ${process.version}`);
  console.log('    step   rss MB  heap MB   ext MB    ab MB | after GC: rss MB  live MB  v8 heap MB |  loss  steps/s');
  const result = soak({
    steps, batch, every, baselineStep,
    onSample: (s) => console.log(`${String(s.step).padStart(8)} ${mb(s.rss)} ${mb(s.heapUsed)} ${mb(s.external)} ${mb(s.arrayBuffers)} |        ${mb(s.rssAfterGc)} ${mb(s.liveAfterGc)}    ${mb(s.heapTotalAfterGc)} | ${s.loss.toFixed(3).padStart(5)} ${s.stepsPerSecond.toFixed(1).padStart(8)}`),
  });
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  console.log(`RSS growth from step ${baselineStep} to ${steps}: ${pct(result.rssGrowth)} sampled, ${pct(result.rssAfterGcGrowth)} after GC; `
    + `heap + external after GC: ${(result.liveGrowthBytes / 2 ** 20).toFixed(2)} MB; V8's committed heap: ${(result.heapTotalGrowthBytes / 2 ** 20).toFixed(1)} MB `
    + `(its young generation grows with the allocation rate; \`node --min-semi-space-size=16\` starts it at full size); loss ${result.firstLoss.toFixed(3)} -> ${result.lastLoss.toFixed(3)}`);
  const ok = result.rssGrowth < 0.05;
  // Live memory (V8 heap + external, after a full GC) tells a leak from memory malloc keeps.
  const liveFlat = result.liveGrowthBytes < 4 * 2 ** 20;
  console.log(ok ? 'soak: PASS (RSS grew less than 5%)'
    : `soak: FAIL (RSS grew 5% or more${liveFlat ? '; live heap + external memory did not grow: memory freed but kept by malloc' : ': a leak?'})`);
  process.exitCode = ok ? 0 : 1;
}

if (require.main === module) main();
