// Fuzzes the whole native boundary in a child process (test/helpers/fuzz_driver.cjs): every function
// the addon exports gets thousands of calls with hostile arguments, and each must return or throw a
// JS error. A crash (abort, segfault, V8 fatal error) shows up as the child's exit signal or code;
// the test then fails, printing the call that killed it. Allocation failures must be RangeErrors.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as hn from '../lib/index';
import { addon } from '../lib/native';

const root = path.resolve(__dirname, '..');
const driver = path.join(__dirname, 'helpers', 'fuzz_driver.cjs');
// The same addon lib/native.ts loaded (HYDRANET_ADDON first, then build/Release).
const addonPath = process.env.HYDRANET_ADDON ?? path.join(root, 'build', 'Release', 'hydranet.node');

// 1000 mutated + 250 blind calls per function with a template (every CPU binding has one: ~60 000
// calls over 48 functions, ~10 s on 2 cores); 1000 blind calls per function without (cuda.* twins).
const CALLS_PER_FUNCTION = 1000;
// A new seed each run widens the search over time; the seed is printed with any failure.
const SEED = Number(process.env.HN_FUZZ_SEED ?? Date.now() % 1_000_000);

interface Summary {
  seed: number;
  functions: number;
  untemplated: string[];
  calls: number;
  returned: number;
  threw: Record<string, number>;
  validCallsThatThrew: string[];
  nonErrorThrows: string[];
  perFunction: Record<string, { calls: number; returned: number; threw: number }>;
  sanityChecks: number;
}

interface FuzzRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  lastCall: string;
  stderr: string;
  summary: Summary | null;
}

function runDriver(target: string, seed: number, calls: number, timeoutMs: number): FuzzRun {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-fuzz-'));
  const logPath = path.join(dir, 'calls.log');
  try {
    const child = spawnSync(process.execPath, [driver, target, logPath, String(seed), String(calls)], {
      encoding: 'utf8',
      timeout: timeoutMs,
      maxBuffer: 64 << 20,
    });
    const lines = fs.existsSync(logPath) ? fs.readFileSync(logPath, 'utf8').trimEnd().split('\n') : [];
    let summary: Summary | null = null;
    try {
      summary = JSON.parse(child.stdout.trim().split('\n').pop() ?? '') as Summary;
    } catch {
      summary = null;
    }
    return { status: child.status, signal: child.signal, lastCall: lines[lines.length - 1] ?? '(none)', stderr: child.stderr ?? '', summary };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function crashReport(run: FuzzRun, seed: number): string {
  return `fuzz child died (exit code ${run.status}, signal ${run.signal}; replay with HN_FUZZ_SEED=${seed})\n`
    + `last call: ${run.lastCall}\nstderr (tail):\n${run.stderr.slice(-2000)}`;
}

describe('native boundary fuzz', () => {
  it('every exported function returns or throws a JS error on hostile input; none crashes', () => {
    const run = runDriver(addonPath, SEED, CALLS_PER_FUNCTION, 120_000);
    if (run.status !== 0 || run.signal !== null || !run.summary) throw new Error(crashReport(run, SEED));
    const s = run.summary;
    // Enumerated from require(addon), namespaces (addon.cuda) included: a new binding is fuzzed
    // (blind) without touching the driver.
    const exported: string[] = [];
    for (const key of Object.keys(addon).sort()) {
      const value = addon[key] as unknown;
      if (typeof value === 'function') exported.push(key);
      else if (value !== null && typeof value === 'object') {
        for (const inner of Object.keys(value).sort()) {
          if (typeof (value as Record<string, unknown>)[inner] === 'function') exported.push(`${key}.${inner}`);
        }
      }
    }
    expect(s.functions).toBe(exported.length);
    expect(Object.keys(s.perFunction)).toEqual(exported);
    for (const [name, stats] of Object.entries(s.perFunction)) expect(stats.calls, name).toBeGreaterThanOrEqual(250);
    expect(s.calls).toBeGreaterThan(1.25 * 30 * CALLS_PER_FUNCTION);
    // Each template's valid call succeeds, so the mutations around it start from a real call.
    expect(s.validCallsThatThrew).toEqual([]);
    expect(s.nonErrorThrows).toEqual([]);
    // The mutated calls reach the kernels too, not only the first argument check.
    expect(s.returned).toBeGreaterThan(s.calls / 20);
    expect(s.sanityChecks).toBe(exported.length);
    // A binding without a template is fuzzed blind only (listed below: add one to
    // test/helpers/fuzz_driver.cjs). CUDA twins take device handles; without a GPU they only
    // reach the device check.
    console.log(`fuzz seed ${s.seed}: ${s.calls} calls over ${s.functions} functions, ${s.returned} returned, threw ${JSON.stringify(s.threw)}, crashes 0`
      + (s.untemplated.length ? `; fuzzed blind only (add a template): ${s.untemplated.join(', ')}` : ''));
  });

  it('the harness catches a crash and names the call (self-test with a crashing stand-in)', () => {
    const run = runDriver(path.join(__dirname, 'helpers', 'fuzz_crashing_addon.cjs'), 7, 2000, 30_000);
    expect(run.signal).toBe('SIGSEGV');
    expect(run.summary).toBeNull();
    expect(run.lastCall).toMatch(/crashOnNaN\(.*NaN/);
    expect(crashReport(run, 7)).toMatch(/signal SIGSEGV.*\n.*last call: .*crashOnNaN/);
  });
});

describe('allocation failures are RangeErrors', () => {
  it('a tensor larger than memory', () => {
    expect(() => hn.zeros([2 ** 40])).toThrow(RangeError);
    expect(() => hn.zeros([2 ** 20, 2 ** 20, 2 ** 20])).toThrow(RangeError);
    expect(() => hn.randn([2 ** 31, 2 ** 31])).toThrow(RangeError);
  });

  it('a binding given a sparse array claiming 2^32 - 1 entries', () => {
    const tasks: unknown[] = [];
    tasks.length = 2 ** 32 - 1;
    expect(() => addon.multiTaskLoss(tasks)).toThrow(RangeError);
  });
});
