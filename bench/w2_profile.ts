// Profile of the W2 train step (shared/WORKLOADS.md, B = 256, the bench's model and data):
// wall time of forward, loss, backward and Adam per step, every native call grouped by
// function and shape (calls per step, ms per step), tensors allocated per step, JS time around
// the native calls, and V8's garbage collections. Not a benchmark row: the wrappers add about a
// microsecond per call. Run after tsc:
//   HYDRANET_ADDON=$PWD/build-<you>/Release/hydranet.node node dist-<you>/bench/w2_profile.js [--steps N] [--threads N]
import { PerformanceObserver } from 'perf_hooks';
import * as hn from '../lib/index';
import { addon } from '../lib/native';
import { Tensor } from '../lib/tensor';
import { w2Model } from './workloads';

function argValue(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

type Phase = 'forward' | 'loss' | 'backward' | 'adam' | 'other';
let phase: Phase = 'other';

interface Slot { calls: number; ms: number; cpuMs: number }
const slots = new Map<string, Slot>();
const phaseNative: Record<Phase, number> = { forward: 0, loss: 0, backward: 0, adam: 0, other: 0 };
const phaseWall: Record<Phase, number> = { forward: 0, loss: 0, backward: 0, adam: 0, other: 0 };
let counting = false;

// A short description of a call's shape: the first array of plain numbers among its arguments
// (the binding's dims), else the length of its first typed array.
function signature(args: unknown[]): string {
  for (const a of args) if (Array.isArray(a) && a.every((v) => typeof v === 'number')) return `[${a.join(',')}]`;
  for (const a of args) if (ArrayBuffer.isView(a)) return `n=${(a as Float32Array).length}`;
  return '';
}

for (const [name, fn] of Object.entries(addon)) {
  if (typeof fn !== 'function') continue;
  addon[name] = (...args: unknown[]) => {
    if (!counting) return fn(...args);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const result = fn(...args);
    const ms = performance.now() - t0;
    const c1 = process.cpuUsage(c0);
    const key = `${phase.padEnd(8)} ${name} ${signature(args)}`;
    const s = slots.get(key) ?? { calls: 0, ms: 0, cpuMs: 0 };
    s.calls++;
    s.ms += ms;
    s.cpuMs += (c1.user + c1.system) / 1e3;
    slots.set(key, s);
    phaseNative[phase] += ms;
    return result;
  };
}

// Tensor allocations through the two factories every op uses.
let allocCount = 0;
let allocBytes = 0;
for (const factory of ['empty', 'uninitialized'] as const) {
  const original = (Tensor as unknown as Record<string, (...a: unknown[]) => Tensor>)[factory];
  (Tensor as unknown as Record<string, unknown>)[factory] = (...a: unknown[]) => {
    const t = original.apply(Tensor, a);
    if (counting) {
      allocCount++;
      allocBytes += t.numel * 4;
    }
    return t;
  };
}

// GC entries arrive asynchronously (after the synchronous timed loop): kept with their start
// times and counted when they fall inside the timed window.
const gcEntries: { start: number; duration: number }[] = [];
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcEntries.push({ start: e.startTime, duration: e.duration });
});
gcObserver.observe({ entryTypes: ['gc'] });

async function main(): Promise<void> {
  const steps = Number(argValue('--steps') ?? 40);
  hn.setNumThreads(Number(argValue('--threads') ?? 2));
  hn.manualSeed(0);
  const B = 256;
  const model = w2Model();
  const optimizer = new hn.optim.Adam(model.parameters(), { lr: 1e-3 });
  const wopt = new hn.mtl.WeightedOptimizer(model, optimizer, {
    tasks: { left: { loss: 'crossEntropy' }, right: { loss: 'crossEntropy' } },
  });
  const x = hn.randn([B, 1, 28, 28]);
  const targets = { left: hn.randint(0, 10, [B]), right: hn.randint(0, 10, [B]) };

  // Phases: forward is model.forward; inside wopt.step the fused loss call, then the backward,
  // then optimizer.step (Adam).
  const origStep = optimizer.step.bind(optimizer);
  let tPhase = 0;
  const enter = (p: Phase): void => {
    const now = performance.now();
    phaseWall[phase] += now - tPhase;
    tPhase = now;
    phase = p;
  };
  optimizer.step = (closure?: () => number | Tensor) => {
    enter('adam');
    const r = origStep(closure);
    enter('other');
    return r;
  };
  const multi = addon.multiTaskLoss;
  addon.multiTaskLoss = (...a: unknown[]) => {
    enter('loss');
    const r = multi(...a);
    enter('backward');
    return r;
  };

  const once = (): void => {
    enter('forward');
    const out = model.forward(x);
    enter('other');
    wopt.step(out, targets);
    enter('other');
  };
  for (let i = 0; i < 5; i++) once();
  const times: number[] = [];
  counting = true;
  for (const p of Object.keys(phaseWall) as Phase[]) phaseWall[p] = 0;
  tPhase = performance.now();
  phase = 'other';
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    once();
    times.push(performance.now() - t0);
  }
  const wall = performance.now() - wall0;
  const cpu = process.cpuUsage(cpu0);
  counting = false;
  times.sort((a, b) => a - b);
  await new Promise((resolve) => setTimeout(resolve, 50));
  gcObserver.disconnect();
  const inWindow = gcEntries.filter((e) => e.start >= wall0 && e.start <= wall0 + wall);
  const gcMs = inWindow.reduce((sum, e) => sum + e.duration, 0);

  const per = (v: number): string => (v / steps).toFixed(3);
  console.log(`W2 train step, B=${B}, ${steps} steps, threads ${hn.getNumThreads()}`);
  console.log(`median step ${times[Math.floor(steps / 2)].toFixed(3)} ms, mean ${(wall / steps).toFixed(3)} ms, ` +
    `min ${times[0].toFixed(3)} ms; process CPU ${((cpu.user + cpu.system) / 1e3 / steps).toFixed(3)} ms/step`);
  console.log('\nphase      wall ms/step  native ms/step  JS+glue ms/step');
  let nativeTotal = 0;
  for (const p of ['forward', 'loss', 'backward', 'adam', 'other'] as Phase[]) {
    nativeTotal += phaseNative[p];
    console.log(`${p.padEnd(10)} ${per(phaseWall[p]).padStart(12)} ${per(phaseNative[p]).padStart(15)} ${per(phaseWall[p] - phaseNative[p]).padStart(16)}`);
  }
  let calls = 0;
  for (const s of slots.values()) calls += s.calls;
  console.log(`\nnative calls per step: ${(calls / steps).toFixed(1)}; native time ${per(nativeTotal)} ms/step`);
  console.log(`tensors allocated per step: ${(allocCount / steps).toFixed(1)} (${(allocBytes / steps / 2 ** 20).toFixed(2)} MiB)`);
  console.log(`GC: ${(inWindow.length / steps).toFixed(2)} collections/step, ${per(gcMs)} ms/step`);
  console.log('\nwall ms/step  CPU ms/step  calls/step  phase    native function and shape');
  const rows = [...slots.entries()].sort((a, b) => b[1].cpuMs - a[1].cpuMs);
  for (const [key, s] of rows) {
    console.log(`${per(s.ms).padStart(12)} ${per(s.cpuMs).padStart(12)} ${(s.calls / steps).toFixed(1).padStart(11)}  ${key}`);
  }
}

void main();
