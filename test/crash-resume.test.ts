// Crash safety of checkpoints and exact resumption of training.
// 1. A child process saving a 1 MB checkpoint in a loop is killed with SIGKILL at random moments,
//    30 times: the file on disk must always be a complete checkpoint, the last one finished or
//    the one in progress, never a torn mix (lib/io/atomic_write.ts: temp file, fsync, rename).
// 2. Training 20 steps straight equals 10 steps, a checkpoint (model, optimizer, weighting state,
//    RNG state) loaded into fresh objects, and 10 more: the same losses, bit for bit.
// The child runs the compiled library (dist/, built by `npm ci` / `npx tsc -p tsconfig.json`).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as hn from '../lib/index';
import { buildW2, syntheticBatch } from '../bench/w2';

const root = path.resolve(__dirname, '..');
const distIndex = path.join(root, 'dist', 'lib', 'index.js');

interface KillOutcome {
  lastDone: number | null;
  inProgress: number | null;
}

/** Starts the save loop, kills it `delayMs` after its first "start" line, returns what it said. */
function saveAndKill(file: string, first: number, mode: 'sync' | 'async', delayMs: number): Promise<KillOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'helpers', 'save_loop.cjs'), path.dirname(distIndex), file, String(first), mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let armed = false;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (!armed && out.includes('start ')) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString(); });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') {
        reject(new Error(`save loop exited by itself (code ${code}, signal ${signal}): ${err.slice(-1000)}`));
        return;
      }
      const done = [...out.matchAll(/^done (\d+)$/gm)].map((m) => Number(m[1]));
      const started = [...out.matchAll(/^start (\d+)$/gm)].map((m) => Number(m[1]));
      const lastDone = done.length ? Math.max(...done) : null;
      const lastStart = started.length ? Math.max(...started) : null;
      resolve({ lastDone, inProgress: lastStart !== null && lastStart !== lastDone ? lastStart : null });
    });
  });
}

/** Loads the checkpoint and checks that it is one whole version; returns that version. */
function checkedVersion(file: string): number {
  const ckpt = hn.load(file) as { model: Record<string, hn.Tensor>; version: number };
  const keys = Object.keys(ckpt.model).sort();
  expect(keys).toEqual(['layer0.weight', 'layer1.weight', 'layer2.weight', 'layer3.weight']);
  for (const t of Object.values(ckpt.model)) {
    expect(t.shape).toEqual([256, 256]);
    const d = t.data;
    // Every value equals the record's version: no piece of another save.
    let same = true;
    for (let i = 0; i < d.length; i++) if (d[i] !== ckpt.version) same = false;
    expect(same).toBe(true);
  }
  return ckpt.version;
}

describe('crash safety', () => {
  it('SIGKILL in the middle of hn.save / hn.saveAsync, 30 times: the checkpoint is always the old or the new one, complete', async () => {
    if (!fs.existsSync(distIndex)) throw new Error(`${distIndex} is missing: build the TypeScript first (npx tsc -p tsconfig.json)`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-kill-'));
    const file = path.join(dir, 'ckpt.safetensors');
    try {
      // Version 0 written here; how long one save takes sets the range of kill times.
      const model: Record<string, hn.Tensor> = {};
      for (let i = 0; i < 4; i++) model[`layer${i}.weight`] = hn.zeros([256, 256]);
      const t0 = performance.now();
      hn.save({ model, version: 0 }, file);
      const saveMs = performance.now() - t0;
      let version = 0;
      let midSave = 0;
      const kills = 30;
      for (let k = 0; k < kills; k++) {
        // From right after "start" to a few saves later: most kills land inside a save.
        const delay = Math.random() * Math.max(5, 2 * saveMs);
        const { lastDone, inProgress } = await saveAndKill(file, version + 1, k % 2 === 0 ? 'sync' : 'async', delay);
        if (inProgress !== null) midSave++;
        const onDisk = checkedVersion(file);
        const finished = lastDone ?? version;
        // Either the last save that finished, or the one that was interrupted after its rename.
        expect([finished, ...(inProgress !== null ? [inProgress] : [])]).toContain(onDisk);
        version = onDisk;
      }
      const leftovers = fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'));
      console.log(`crash safety: ${kills} SIGKILLs (${midSave} inside a save, one save ~${saveMs.toFixed(0)} ms), checkpoint complete and loadable after each; `
        + `${leftovers.length} orphaned temp file(s) left by the killed writers`);
      // A kill is sometimes too early or too late; most must hit a save for the test to mean anything.
      expect(midSave).toBeGreaterThanOrEqual(kills / 2);
      // The next save removes the temp files of dead writers once they are a minute old.
      const old = new Date(Date.now() - 120_000);
      for (const n of leftovers) fs.utimesSync(path.join(dir, n), old, old);
      hn.save({ model, version: version + 1 }, file);
      expect(fs.readdirSync(dir)).toEqual(['ckpt.safetensors']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

/** W2 with the authors' head dropout: resuming must restore the RNG that draws its masks. */
function w2WithDropout(seed: number): hn.mtl.MultiTaskModel {
  const trunk = buildW2(seed).shared;
  const { nn } = hn;
  const head = () => new nn.Sequential(new nn.Linear(50, 50), new nn.ReLU(), new nn.Dropout(0.5), new nn.Linear(50, 10));
  return new hn.mtl.MultiTaskModel({ shared: trunk, heads: { left: head(), right: head() } });
}

function trainer(seed: number) {
  const model = w2WithDropout(seed);
  const optimizer = new hn.optim.Adam(model.parameters(), { lr: 1e-3 });
  const wopt = new hn.mtl.WeightedOptimizer(model, optimizer, {
    tasks: { left: { loss: 'crossEntropy' }, right: { loss: 'crossEntropy' } },
    weighting: hn.mtl.weighting.uncertainty(), // learned weights: strategy state to restore too
  });
  return { model, optimizer, wopt };
}

/** Steps [from, to) on the batches of those step numbers; returns [left, right, total] per step. */
function train(t: ReturnType<typeof trainer>, from: number, to: number): number[][] {
  const out: number[][] = [];
  for (let step = from; step < to; step++) {
    const b = syntheticBatch(new hn.Generator(100 + step), 16);
    const r = t.wopt.step(t.model.forward(b.x), b.targets);
    out.push([r.losses.left, r.losses.right, r.total]);
  }
  return out;
}

describe('resume', () => {
  it('20 steps straight = 10 steps + checkpoint (model, optimizer, weighting, RNG) + fresh objects + 10 steps', () => {
    hn.manualSeed(0);
    const straight = train(trainer(7), 0, 20);

    const first = trainer(7);
    const losses = train(first, 0, 10);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hn-resume-')), 'ckpt.safetensors');
    try {
      hn.save({
        model: first.model.stateDict(),
        optimizer: first.optimizer.stateDict() as unknown as hn.CheckpointValue,
        weighting: first.wopt.stateDict() as unknown as hn.CheckpointValue,
        rng: hn.getRngState(),
        step: 10,
      }, file);
      hn.manualSeed(12345); // the RNG moves on (and the fresh model gets other weights)
      const resumed = trainer(99);
      const ckpt = hn.load(file) as unknown as {
        model: Record<string, hn.Tensor>; optimizer: never; weighting: never; rng: number[]; step: number;
      };
      resumed.model.loadStateDict(ckpt.model);
      resumed.optimizer.loadStateDict(ckpt.optimizer);
      resumed.wopt.loadStateDict(ckpt.weighting);
      hn.setRngState(ckpt.rng);
      losses.push(...train(resumed, ckpt.step, 20));
      expect(losses).toEqual(straight);

      // Control: the same resume without the RNG state draws other dropout masks.
      const again = trainer(99);
      again.model.loadStateDict(ckpt.model);
      again.optimizer.loadStateDict(ckpt.optimizer);
      again.wopt.loadStateDict(ckpt.weighting);
      expect(train(again, 10, 11)[0]).not.toEqual(straight[10]);
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });

  it('getRngState / setRngState round-trip through JSON and reject bad states', () => {
    hn.manualSeed(3);
    hn.randn([3]); // leaves a cached normal sample behind
    const state = hn.getRngState();
    const next = hn.randn([5]).toArray();
    hn.setRngState(JSON.parse(JSON.stringify(state)));
    expect(hn.randn([5]).toArray()).toEqual(next);
    expect(() => hn.setRngState([1, 2, 3])).toThrow(/setRngState: expected state to be the array getRngState\(\) returned/);
    expect(() => hn.setRngState([1, 2, 3, -4])).toThrow(/state\[3\] to be a uint32/);
    expect(() => hn.setRngState([0, 0, 0, 0])).toThrow(/non-zero/);
  });
});
