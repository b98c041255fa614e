// @ts-check
'use strict';
// Fuzzes every function the native addon exports, in a process of its own (a crash must not take
// the test runner with it). Run by test/fuzz-bindings.test.ts:
//
//   node test/helpers/fuzz_driver.cjs <addon.node> <log file> <seed> <calls per function>
//
// Plain JavaScript on purpose: it needs no compile step, so `npm test` runs it on a fresh clone.
//
// Two kinds of calls, for every key of require(addon):
// - blind: 0..16 arguments drawn from a pool of hostile values (wrong types, NaN/Infinity/negative/
//   huge numbers, shapes whose product overflows 32 and 64 bits, typed arrays of the wrong dtype,
//   length or liveness, objects with throwing getters, ...). A binding added later is covered by
//   these without any change here.
// - mutated: a known-valid call (TEMPLATES below) with one to three changes: an argument replaced
//   by a hostile value, an entry of a shape list changed, an array made shorter/longer/detached/of
//   the other dtype, arguments dropped, added or swapped, a list whose getter detaches the other
//   arguments' buffers while the binding reads it. Valid calls get deep into each binding's
//   checks; blind ones rarely pass the first argument.
// Before each call its description goes to the log file (written synchronously), so that when the
// process dies the parent prints the call that killed it. Every call must return or throw an
// Error; the summary on stdout counts what each did.

const fs = require('node:fs');

const [addonPath, logPath, seedArg, callsArg] = process.argv.slice(2);
if (!addonPath || !logPath) {
  process.stderr.write('usage: node fuzz_driver.cjs <addon.node> <log file> [seed] [calls per function]\n');
  process.exit(2);
}
/** @type {Record<string, (...args: unknown[]) => unknown>} */
const addon = require(addonPath);
const seed = Number(seedArg ?? 1) >>> 0;
const callsPerFunction = Number(callsArg ?? 1000);
const log = fs.openSync(logPath, 'w');

// ---- Seeded randomness (mulberry32): a failing run is replayed with the same seed. ----------------
let state = seed || 1;
function random() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
/** @param {number} n */
const randInt = (n) => Math.floor(random() * n);
/** @template T @param {readonly T[]} list @returns {T} */
const pick = (list) => list[randInt(list.length)];

// ---- Hostile values ------------------------------------------------------------------------------
const HOSTILE_NUMBERS = [
  0, -0, 1, -1, 2, 3, 7, 0.5, -0.5, 1.5, NaN, Infinity, -Infinity, 255, 256, 4096, 65536,
  2 ** 24, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 40,
  2 ** 53, 2 ** 53 + 2, 2 ** 63, -(2 ** 63), 2 ** 64, 1e308, Number.MAX_VALUE, Number.MIN_VALUE,
  -Number.MAX_VALUE, 1e-300,
];

/** A typed array whose buffer has been detached (what a disposed tensor holds). */
function detached(Ctor = Float32Array, n = 8) {
  const array = new Ctor(n);
  structuredClone(array.buffer, { transfer: [array.buffer] });
  return array;
}

/** A length-tracking view over a resizable buffer that was then shrunk to nothing. */
function shrunkView() {
  // @ts-ignore: resizable ArrayBuffer (ES2024) is in Node 20 but not in our lib target.
  const buffer = new ArrayBuffer(64, { maxByteLength: 128 });
  const view = new Float32Array(buffer);
  // @ts-ignore
  buffer.resize(0);
  return view;
}

/** An array with `length` set far beyond its contents (sparse). */
function sparseArray(length) {
  const a = [];
  a.length = length;
  return a;
}

/** An array whose element getter throws. */
function throwingArray(n = 2) {
  const a = new Array(n).fill(1);
  Object.defineProperty(a, 0, { get() { throw new Error('fuzz: getter threw'); } });
  return a;
}

function throwingObject() {
  return new Proxy({}, {
    get() { throw new Error('fuzz: proxy get threw'); },
    has() { throw new Error('fuzz: proxy has threw'); },
    ownKeys() { throw new Error('fuzz: proxy ownKeys threw'); },
  });
}

/** Shapes: empty, zero, negative, fractional, non-numbers, too many dims, overflowing products. */
const HOSTILE_SHAPES = [
  () => [], () => [0], () => [1], () => [-1], () => [2, 3], () => [NaN], () => [Infinity], () => [1.5],
  () => ['2'], () => [null], () => [undefined], () => [2 ** 31], () => [2 ** 31 - 1, 2 ** 31 - 1],
  () => [2 ** 16, 2 ** 16], () => [2 ** 16, 2 ** 16, 2 ** 16, 2 ** 16], () => [2 ** 20, 2 ** 20, 2 ** 20],
  () => [2 ** 21, 2 ** 21, 2 ** 22], () => [0, 2 ** 31 - 1, 2 ** 31 - 1], () => new Array(9).fill(1),
  () => new Array(64).fill(2), () => [1, 1, 1, 1], () => [1, 0, 1, 1], () => [4, 4, 4, 4],
  () => [2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1], () => sparseArray(2 ** 32 - 1), () => sparseArray(5),
  () => throwingArray(2), () => throwingArray(4), () => [2 ** 53], () => [-0], () => [2, -2],
];

const TYPED_CTORS = [Float32Array, Int32Array, Float64Array, Uint8Array, Int16Array, Uint32Array];

/** @type {(() => unknown)[]} */
const HOSTILE_VALUES = [
  () => undefined, () => null, () => true, () => false, () => '', () => 'abc', () => '3',
  () => Symbol('fuzz'), () => 3n, () => ({}), () => [], () => () => 1, () => new Date(0),
  () => pick(HOSTILE_NUMBERS), () => pick(HOSTILE_NUMBERS), () => pick(HOSTILE_NUMBERS),
  () => pick(HOSTILE_SHAPES)(), () => pick(HOSTILE_SHAPES)(),
  () => new (pick(TYPED_CTORS))(pick([0, 1, 2, 3, 4, 8, 16, 64, 1000])),
  () => new Float32Array(pick([0, 1, 4, 16, 64])).fill(pick([NaN, Infinity, -Infinity, 1e38, 0])),
  () => new Int32Array(pick([1, 4, 16, 64])).fill(pick([-1, 2 ** 31 - 1, -(2 ** 31), 255, 1e9])),
  () => detached(pick([Float32Array, Int32Array]), pick([0, 1, 8])),
  () => new Float32Array(16).subarray(pick([0, 3, 8, 16])),
  () => new Float32Array(new SharedArrayBuffer(64)), () => shrunkView(),
  () => new DataView(new ArrayBuffer(16)), () => new ArrayBuffer(16), () => detached().buffer,
  () => throwingObject(), () => ({ length: 2 ** 32 }), () => [new Float32Array(4)], () => [[1, 2], [3]],
  () => [{ name: 't', kind: 0 }], () => sparseArray(2 ** 32 - 1),
];

const hostile = () => pick(HOSTILE_VALUES)();

// ---- Valid calls ---------------------------------------------------------------------------------
const f32 = (n, fill = 0.5) => new Float32Array(n).fill(fill);
const i32 = (n, fill = 0) => new Int32Array(n).fill(fill);
const rand32 = (n) => Float32Array.from({ length: n }, () => random() * 2 - 1);

/**
 * One valid argument list per binding, small enough that a call takes microseconds. A binding
 * without an entry is still fuzzed blind.
 * @type {Record<string, () => unknown[]>}
 */
const TEMPLATES = {
  numThreads: () => [],
  setNumThreads: () => [2],
  cpuFeatures: () => [],
  memoryPolicy: () => [],
  convDirectStatus: () => [],
  setConvDirect: () => [true],
  setConvDirect512: () => [true],
  setForcePortable: () => [random() < 0.5],
  detachBuffer: () => [new ArrayBuffer(16)],
  cudaDeviceCount: () => [],
  cudaIsAvailable: () => [],
  cudaStatus: () => [],
  binaryForward: () => [randInt(6), rand32(6), [3, 1], rand32(3), [0, 1], f32(6), [2, 3]],
  unaryForward: () => [randInt(12), rand32(8), f32(8), 2],
  unaryBackward: () => [randInt(12), rand32(8), rand32(8), rand32(8), f32(8), 2],
  axpy: () => [0.5, rand32(8), rand32(8)],
  reduceSum: () => [rand32(24), [2, 3, 4], [0, 1, 0], 1, f32(8)],
  sgemm: () => [false, true, 2, 3, 4, 1, rand32(8), 4, rand32(12), 4, 0, f32(6), 3],
  measurePeakGflops: () => [1, 1],
  conv2dForward: () => [[2, 2, 5, 5], [4, 1, 3, 3], [1, 1], [1, 1], [1, 1], 2, rand32(100), rand32(36), rand32(4), f32(200)],
  conv2dBackwardData: () => [[2, 2, 5, 5], [4, 1, 3, 3], [1, 1], [1, 1], [1, 1], 2, rand32(200), rand32(36), f32(100)],
  conv2dBackwardWeight: () => [[2, 2, 5, 5], [4, 1, 3, 3], [1, 1], [1, 1], [1, 1], 2, rand32(100), rand32(200), f32(36), f32(4)],
  // epilogue 0 none, 1 relu, 2 relu + 2x2 max pool (conv2d only: y [2, 4, 2, 2]).
  conv2dForwardFused: () => {
    const epilogue = randInt(3);
    return [[2, 2, 5, 5], [4, 1, 3, 3], [1, 1], [1, 1], [1, 1], 2, rand32(100), rand32(36), rand32(4), f32(epilogue === 2 ? 32 : 200), epilogue];
  },
  convTranspose2dForwardFused: () => [[1, 2, 3, 3], [2, 3, 2, 2], [2, 2], [0, 0], [0, 0], [1, 1], 1, rand32(18), rand32(24), rand32(3), f32(108), randInt(2)],
  convTranspose2dForward: () => [[1, 2, 3, 3], [2, 3, 2, 2], [2, 2], [0, 0], [0, 0], [1, 1], 1, rand32(18), rand32(24), rand32(3), f32(108)],
  convTranspose2dBackwardData: () => [[1, 2, 3, 3], [2, 3, 2, 2], [2, 2], [0, 0], [0, 0], [1, 1], 1, rand32(108), rand32(24), f32(18)],
  convTranspose2dBackwardWeight: () => [[1, 2, 3, 3], [2, 3, 2, 2], [2, 2], [0, 0], [0, 0], [1, 1], 1, rand32(18), rand32(108), f32(24), f32(3)],
  batchNormForward: () => [rand32(24), [2, 3, 4], f32(3, 1), f32(3, 0), f32(3, 0), f32(3, 1), true, 0.1, 1e-5, f32(24), f32(3), f32(3)],
  batchNormBackward: () => [rand32(24), rand32(24), [2, 3, 4], f32(3, 1), f32(3), f32(3, 1), true, f32(24), f32(3), f32(3)],
  crossEntropyForward: () => [rand32(24), Int32Array.from([0, 1, 2, 3, 1, 0]), null, [2, 4, 3], -100, 0.1, f32(6), f32(6)],
  crossEntropyBackward: () => [rand32(24), Int32Array.from([0, 1, 2, 3, 1, 0]), f32(4, 1), f32(6), null, 0.5, [2, 4, 3], -100, 0, f32(24)],
  nllLossForward: () => [rand32(12), Int32Array.from([0, 1, 2, 1]), null, [4, 3, 1], -100, f32(4)],
  nllLossBackward: () => [Int32Array.from([0, 1, 2, 1]), null, null, 0.25, [4, 3, 1], -100, f32(12)],
  pointwiseLossForward: () => [randInt(5), rand32(8), rand32(8), null, null, 1, f32(8)],
  pointwiseLossBackward: () => [randInt(5), rand32(8), rand32(8), null, null, 1, null, 0.125, f32(8), f32(8)],
  multiTaskLoss: () => [[
    { name: 'cls', kind: 0, reduction: 0, n: 2, c: 3, s: 1, output: rand32(6), labels: Int32Array.from([0, 2]), ignoreIndex: -100, weight: 1, grad: f32(6) },
    { name: 'reg', kind: randInt(3) + 1, reduction: 1, n: 2, c: 1, s: 2, output: rand32(4), target: rand32(4), mask: f32(2, 1), weight: 0.5, grad: f32(4) },
  ]],
  sgdStep: () => [rand32(8), rand32(8), f32(8), 0.1, 0.9, 0, 0, false, false, true],
  adamStep: () => [rand32(8), rand32(8), f32(8), f32(8), f32(8), 1e-3, 0.9, 0.999, 1e-8, 0, true, true, false, 1],
  maxPool2dForward: () => [rand32(32), [1, 2, 4, 4], [2, 2], [2, 2], [0, 0], [1, 1], false, f32(8), i32(8)],
  maxPool2dBackward: () => [rand32(8), i32(8, 5), [1, 2, 4, 4], [2, 2], [2, 2], [0, 0], [1, 1], false, f32(32)],
  avgPool2dForward: () => [rand32(32), [1, 2, 4, 4], [2, 2], [2, 2], [1, 1], true, false, 0, f32(18)],
  avgPool2dBackward: () => [rand32(18), [1, 2, 4, 4], [2, 2], [2, 2], [1, 1], true, false, 0, f32(32)],
  softmaxForward: () => [rand32(24), [2, 3, 4], random() < 0.5, f32(24)],
  softmaxBackward: () => [rand32(24), rand32(24), [2, 3, 4], random() < 0.5, f32(24)],
  // (enabled, force, maxIsa 0..2): any mix is valid; force makes later convolutions take the sparse path.
  setConvSparse: () => [random() < 0.5, random() < 0.5, randInt(3)],
  setConvWgrad512: () => [random() < 0.5],
  setConvWinograd: () => [random() < 0.5],
  // x [2, 2, 5, 5], w [3, 2, 3, 3], stride 1, padding 1 -> y [2, 3, 5, 5]; 2x2/2 pool -> grad [2, 3, 2, 2].
  convPooledBackward: () => [[2, 2, 5, 5], [3, 2, 3, 3], [1, 1], [1, 1], [2, 2], [2, 2], random() < 0.5,
    rand32(100), rand32(54), rand32(150), rand32(24), f32(100), f32(54), f32(3)],
};

/**
 * Valid calls whose cost grows with an argument (seconds of work, thousands of threads). The
 * fuzzer keeps those arguments small; it does not hide a failure mode, it keeps the run short.
 * @type {Record<string, (args: unknown[]) => void>}
 */
const BUDGET = {
  measurePeakGflops: (args) => {
    if (typeof args[0] === 'number' && args[0] > 4) args[0] = 4;
    if (typeof args[1] === 'number' && args[1] > 2) args[1] = 2;
  },
};

// ---- Mutations -----------------------------------------------------------------------------------
/** A variant of a typed array: other dtype, other length, detached, offset view, shared memory. */
function mutateTypedArray(a) {
  const n = a.length;
  switch (randInt(8)) {
    case 0: return new (a instanceof Float32Array ? Int32Array : Float32Array)(n);
    case 1: return new a.constructor(Math.max(0, n - 1 - randInt(2)));
    case 2: return new a.constructor(n + 1 + randInt(4));
    case 3: return detached(a.constructor, n);
    case 4: return new a.constructor(0);
    case 5: { const big = new a.constructor(n + 3); return big.subarray(3); } // offset view, right length
    case 6: return new a.constructor(new SharedArrayBuffer(n * a.BYTES_PER_ELEMENT));
    default: return hostile();
  }
}

/** A variant of a shape/stride list: one entry hostile, an entry added or removed, or a new list. */
function mutateList(list) {
  if (list.length > 64) return hostile(); // a hostile sparse array from an earlier change: never copy it
  const copy = [...list];
  switch (randInt(5)) {
    case 0: if (copy.length) copy[randInt(copy.length)] = pick(HOSTILE_NUMBERS); return copy;
    case 1: copy.push(pick([1, 0, 2, 2 ** 31 - 1])); return copy;
    case 2: copy.pop(); return copy;
    case 3: if (copy.length) copy[randInt(copy.length)] = hostile(); return copy;
    default: return pick(HOSTILE_SHAPES)();
  }
}

/**
 * The list's values behind a getter that first detaches every typed array among `args`: a binding
 * that borrowed a pointer before reading this list would then use freed memory.
 */
function detachingList(list, args) {
  if (list.length > 64) return hostile();
  const copy = [...list];
  if (copy.length === 0) return copy;
  const first = copy[0];
  Object.defineProperty(copy, 0, {
    get() {
      for (const a of args) {
        if (ArrayBuffer.isView(a) && !(a.buffer instanceof SharedArrayBuffer) && a.buffer.byteLength > 0) {
          try { structuredClone(a.buffer, { transfer: [a.buffer] }); } catch { /* already detached */ }
        }
      }
      return first;
    },
  });
  return copy;
}

/** The same, hidden in a task object's field (multiTaskLoss reads objects). */
function mutateTask(task, allTasks) {
  const copy = { ...task };
  const keys = Object.keys(copy);
  const key = pick(keys);
  switch (randInt(4)) {
    case 0: copy[key] = hostile(); return copy;
    case 1: delete copy[key]; return copy;
    case 2: {
      const value = copy[key];
      Object.defineProperty(copy, key, {
        enumerable: true,
        get() {
          for (const t of allTasks) {
            for (const v of Object.values(t)) {
              if (ArrayBuffer.isView(v) && v.buffer.byteLength > 0) {
                try { structuredClone(v.buffer, { transfer: [v.buffer] }); } catch { /* detached */ }
              }
            }
          }
          return value;
        },
      });
      return copy;
    }
    default: {
      const value = copy[key];
      copy[key] = ArrayBuffer.isView(value) && !(value instanceof DataView) ? mutateTypedArray(value) : Array.isArray(value) ? mutateList(value) : pick(HOSTILE_NUMBERS);
      return copy;
    }
  }
}

function mutate(args) {
  const out = [...args];
  const changes = 1 + randInt(3);
  for (let c = 0; c < changes; c++) {
    try {
      mutateOne(out);
    } catch {
      out[randInt(Math.max(out.length, 1))] = hostile(); // an earlier change made a value we cannot copy
    }
  }
  return out;
}

function mutateOne(out) {
  {
    const i = randInt(Math.max(out.length, 1));
    const value = out[i];
    const r = random();
    if (r < 0.08) {
      out.length = randInt(out.length + 1); // missing arguments
    } else if (r < 0.12) {
      out.push(hostile()); // extra argument
    } else if (r < 0.16 && out.length > 1) {
      const j = randInt(out.length);
      [out[i], out[j]] = [out[j], out[i]];
    } else if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
      out[i] = mutateTypedArray(value);
    } else if (Array.isArray(value) && value.length > 64) {
      out[i] = hostile(); // a hostile sparse array from an earlier change: never copy it
    } else if (Array.isArray(value) && value.length > 0 && typeof value[0] === 'object' && value[0] !== null) {
      const tasks = [...value];
      const k = randInt(tasks.length);
      tasks[k] = random() < 0.85 ? mutateTask(tasks[k], tasks) : hostile();
      out[i] = tasks;
    } else if (Array.isArray(value)) {
      out[i] = random() < 0.15 ? detachingList(value, out) : mutateList(value);
    } else if (typeof value === 'number' && random() < 0.7) {
      out[i] = pick(HOSTILE_NUMBERS);
    } else {
      out[i] = hostile();
    }
  }
}

// ---- Describing a call (for the crash report) ------------------------------------------------------
function describe(v, depth = 0) {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'undefined': return 'undefined';
    case 'number': return Object.is(v, -0) ? '-0' : String(v);
    case 'bigint': return `${v}n`;
    case 'symbol': return 'Symbol()';
    case 'string': return JSON.stringify(v);
    case 'boolean': return String(v);
    case 'function': return 'function';
  }
  try {
    if (ArrayBuffer.isView(v)) {
      // @ts-ignore
      const buffer = v.buffer;
      const shared = buffer instanceof SharedArrayBuffer;
      const tag = shared ? ' shared' : isDetached(buffer) ? ' detached' : '';
      return `${v.constructor.name}(${/** @type {any} */ (v).length ?? v.byteLength}${tag})`;
    }
    if (v instanceof ArrayBuffer) return `ArrayBuffer(${v.byteLength})`;
    if (Array.isArray(v)) {
      if (v.length > 16) return `Array(length ${v.length})`;
      const own = Object.getOwnPropertyDescriptor(v, 0);
      if (own && own.get) return `[getter, ...${v.length - 1}]`;
      return depth > 2 ? '[...]' : `[${v.map((x) => describe(x, depth + 1)).join(', ')}]`;
    }
    if (depth > 2) return '{...}';
    const parts = Object.keys(v).map((k) => {
      const d = Object.getOwnPropertyDescriptor(v, k);
      return `${k}: ${d && d.get ? 'getter' : describe(v[k], depth + 1)}`;
    });
    return `{${parts.join(', ')}}`;
  } catch {
    return 'object(throws on inspection)';
  }
}

function isDetached(buffer) {
  // @ts-ignore: ArrayBuffer.prototype.detached is newer than our lib target.
  if (typeof buffer.detached === 'boolean') return buffer.detached;
  try { new Uint8Array(buffer); return false; } catch { return true; }
}

// ---- The run ---------------------------------------------------------------------------------------
// Every function export, and those of namespace objects one level down (addon.cuda.*), by
// qualified name ('cuda.conv2dForward'), with the object to call it on.
/** @type {Map<string, {fn: (...args: unknown[]) => unknown, self: object}>} */
const exported = new Map();
for (const key of Object.keys(addon).sort()) {
  const value = addon[key];
  if (typeof value === 'function') exported.set(key, { fn: value, self: addon });
  else if (value !== null && typeof value === 'object') {
    for (const inner of Object.keys(value).sort()) {
      if (typeof value[inner] === 'function') exported.set(`${key}.${inner}`, { fn: value[inner], self: value });
    }
  }
}
const names = [...exported.keys()];
const defaultThreads = typeof addon.numThreads === 'function' ? addon.numThreads() : 1;
const summary = {
  seed,
  functions: names.length,
  templated: names.filter((n) => TEMPLATES[n]).length,
  untemplated: names.filter((n) => !TEMPLATES[n]),
  calls: 0,
  returned: 0,
  threw: /** @type {Record<string, number>} */ ({}),
  validCallsThatThrew: /** @type {string[]} */ ([]),
  nonErrorThrows: /** @type {string[]} */ ([]),
  perFunction: /** @type {Record<string, {calls: number, returned: number, threw: number}>} */ ({}),
  sanityChecks: 0,
};

function call(name, args, kind) {
  const budget = BUDGET[name];
  if (budget) budget(args);
  fs.writeSync(log, `${summary.calls} ${kind} ${name}(${args.map((a) => describe(a)).join(', ')})\n`);
  const stats = (summary.perFunction[name] ??= { calls: 0, returned: 0, threw: 0 });
  summary.calls++;
  stats.calls++;
  try {
    const { fn, self } = /** @type {{fn: Function, self: object}} */ (exported.get(name));
    fn.apply(self, args);
    summary.returned++;
    stats.returned++;
    return null;
  } catch (err) {
    stats.threw++;
    if (!(err instanceof Error)) {
      summary.nonErrorThrows.push(`${name}: threw ${describe(err)}`);
      return err;
    }
    summary.threw[err.constructor.name] = (summary.threw[err.constructor.name] ?? 0) + 1;
    return err;
  } finally {
    // Keep later calls fast and their results comparable.
    if (name === 'setNumThreads') addon.setNumThreads(defaultThreads);
    if (name === 'setForcePortable' && random() < 0.5) addon.setForcePortable(false);
    if ((name === 'setConvDirect' || name === 'setConvDirect512' || name === 'setConvWgrad512' || name === 'setConvWinograd')
      && random() < 0.5) {
      try { addon[name](true); } catch { /* a build without that path */ }
    }
    if (name === 'setConvSparse' && random() < 0.5) addon.setConvSparse(true, false, 2); // its default
  }
}

/** The addon still computes right after all that (no silent corruption of shared state). */
function sanity() {
  if (typeof addon.axpy !== 'function' || typeof addon.sgemm !== 'function') return; // not our addon (the harness self-test)
  summary.sanityChecks++;
  const x = Float32Array.from({ length: 1000 }, (_, i) => i);
  const y = new Float32Array(1000).fill(1);
  addon.axpy(2, x, y);
  for (let i = 0; i < 1000; i++) if (y[i] !== 2 * i + 1) throw new Error(`sanity: axpy gave ${y[i]} at ${i}, want ${2 * i + 1}`);
  const c = new Float32Array(4);
  addon.sgemm(false, false, 2, 2, 2, 1, Float32Array.from([1, 2, 3, 4]), 2, Float32Array.from([5, 6, 7, 8]), 2, 0, c, 2);
  if (c.join(',') !== '19,22,43,50') throw new Error(`sanity: sgemm gave ${c.join(',')}, want 19,22,43,50`);
}

for (const name of names) {
  const template = TEMPLATES[name];
  // The valid call itself must succeed (else the template is stale and mutations prove little).
  if (template) {
    const err = call(name, template(), 'valid');
    if (err) summary.validCallsThatThrew.push(`${name}: ${err instanceof Error ? err.message : describe(err)}`);
  }
  const blind = template ? Math.ceil(callsPerFunction / 4) : callsPerFunction;
  for (let i = 0; i < blind; i++) {
    const arity = randInt(17);
    call(name, Array.from({ length: arity }, hostile), 'blind');
  }
  if (template) {
    for (let i = 0; i < callsPerFunction; i++) call(name, mutate(template()), 'mutated');
  }
  sanity();
}
// The switches (portable, direct, sparse, Winograd, ...) are process-wide state of the addon
// loaded here: whatever the last call left flipped dies with this child process and never reaches
// the test runner's own addon. Reset anyway, so a run reads the same wherever it stops.
if (typeof addon.setForcePortable === 'function') addon.setForcePortable(false);
for (const name of ['setConvDirect', 'setConvDirect512', 'setConvWgrad512', 'setConvWinograd']) {
  try { if (typeof addon[name] === 'function') addon[name](true); } catch { /* a build without that path */ }
}
if (typeof addon.setConvSparse === 'function') addon.setConvSparse(true, false, 2);
fs.writeSync(log, 'done\n');
fs.closeSync(log);
process.stdout.write(`${JSON.stringify(summary)}\n`);
