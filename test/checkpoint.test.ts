// save/load: state dicts stay plain safetensors files, nested records round-trip, corrupt files and
// unsupported values give clear errors. When a Python with safetensors + torch is available
// (HYDRANET_PYTHON, default python3), PyTorch reads our files and we read PyTorch's.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tensor, tensor } from '../lib/tensor';
import {
  RECORD_METADATA_KEY, load, loadAsync, loadWithMetadata, loadWithMetadataAsync, save, saveAsync,
} from '../lib/io/checkpoint';
import { SafetensorsError, decodeSafetensors, encodeSafetensors } from '../lib/io/safetensors';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-ckpt-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string) => path.join(dir, name);

/** Replaces tensors by {dtype, shape, values} so whole structures compare with toEqual. */
function plain(value: unknown): unknown {
  if (value instanceof Tensor) return { dtype: value.dtype, shape: [...value.shape], values: Array.from(value.toArray()) };
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

/** The header JSON of a file, read by hand. */
function headerOf(p: string): Record<string, unknown> {
  const bytes = fs.readFileSync(p);
  const n = Number(bytes.readBigUInt64LE(0));
  return JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
}

const stateDict = () => ({
  'conv1.weight': tensor([0.25, -1.5, 3, 1e-7, 2, 4], { shape: [1, 2, 3, 1] }),
  'conv1.bias': tensor([0.5]),
  'bn.num_batches_tracked': tensor([7], { dtype: 'int32', shape: [] }),
});

describe('save/load of a state dict', () => {
  it('writes a plain safetensors file and loads the same tensors', () => {
    const sd = stateDict();
    save(sd, file('sd.safetensors'));
    const header = headerOf(file('sd.safetensors'));
    expect(Object.keys(header)).toEqual(['conv1.weight', 'conv1.bias', 'bn.num_batches_tracked']); // no __metadata__
    expect(header['bn.num_batches_tracked']).toEqual({ dtype: 'I32', shape: [], data_offsets: [28, 32] });
    const loaded = load(file('sd.safetensors'));
    expect(Object.keys(loaded)).toEqual(Object.keys(sd));
    for (const value of Object.values(loaded)) {
      expect(value).toBeInstanceOf(Tensor);
      const t = value as Tensor;
      expect(t.data.buffer.byteLength).toBe(t.numel * 4); // each tensor owns its memory (dispose detaches it)
    }
    expect(plain(loaded)).toEqual(plain(sd));
  });

  it('keeps user metadata, and refuses the reserved key', () => {
    save(stateDict(), file('meta.safetensors'), { metadata: { format: 'pt', run: 'a' } });
    const { data, metadata } = loadWithMetadata(file('meta.safetensors'));
    expect(metadata).toEqual({ format: 'pt', run: 'a' });
    expect(plain(data)).toEqual(plain(stateDict()));
    expect(() => save(stateDict(), file('x'), { metadata: { [RECORD_METADATA_KEY]: '{}' } })).toThrow(/reserved/);
  });

  it('loads any safetensors file, converting F16 to float32 and I64 to int32', () => {
    const header = '{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"i":{"dtype":"I64","shape":[1],"data_offsets":[4,12]}}';
    const json = Buffer.from(header);
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(json.length));
    fs.writeFileSync(file('torch.safetensors'), Buffer.concat([prefix, json, Buffer.from([0x00, 0x3c, 0x00, 0xc2, 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])]));
    const loaded = load<Record<string, Tensor>>(file('torch.safetensors'));
    expect(plain(loaded)).toEqual({ h: { dtype: 'float32', shape: [2], values: [1, -3] }, i: { dtype: 'int32', shape: [1], values: [-3] } });
  });
});

describe('save/load of a nested record', () => {
  const record = () => ({
    model: stateDict(),
    optimizer: {
      state: { 0: { step: 3, expAvg: tensor([0.1, 0.2]) }, 1: { step: 3, expAvg: tensor([[1, 2], [3, 4]]) } },
      paramGroups: [{ lr: 1e-3, betas: [0.9, 0.999], weightDecay: 0, params: [0, 1], amsgrad: false }],
    },
    epoch: 3,
    name: 'multimnist "run" ü',
    bestLoss: Infinity,
    worst: -Infinity,
    notANumber: NaN,
    nothing: null,
    skipped: undefined,
    mixed: [tensor([9], { dtype: 'int32' }), 1.5, 'x', [true, null], {}],
    'dotted.key': { 'a.b': tensor([5]) },
  });

  it('round-trips the structure, the scalars and every tensor', () => {
    save(record(), file('record.safetensors'), { metadata: { note: 'n' } });
    const { data, metadata } = loadWithMetadata(file('record.safetensors'));
    const { skipped: _, ...expected } = record();
    expect(plain(data)).toEqual(plain(expected));
    expect(Object.is((data as { notANumber: number }).notANumber, NaN)).toBe(true);
    expect(metadata).toEqual({ note: 'n' });
  });

  it('stores tensors under dotted names any safetensors reader sees, the rest as JSON metadata', () => {
    save(record(), file('record2.safetensors'));
    const decoded = decodeSafetensors(fs.readFileSync(file('record2.safetensors')));
    expect(Object.keys(decoded.tensors).sort()).toEqual([
      'dotted.key.a.b', 'mixed.0', 'model.bn.num_batches_tracked', 'model.conv1.bias', 'model.conv1.weight',
      'optimizer.state.0.expAvg', 'optimizer.state.1.expAvg',
    ]);
    expect(Object.keys(decoded.metadata)).toEqual([RECORD_METADATA_KEY]);
    expect(JSON.parse(decoded.metadata[RECORD_METADATA_KEY]).tree.epoch).toBe(3);
  });

  it('saves and loads asynchronously', async () => {
    await saveAsync(record(), file('async.safetensors'), { metadata: { a: 'b' } });
    const { skipped: _, ...expected } = record();
    expect(plain(await loadAsync(file('async.safetensors')))).toEqual(plain(expected));
    expect((await loadWithMetadataAsync(file('async.safetensors'))).metadata).toEqual({ a: 'b' });
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('rejects values it cannot store, naming where they are, and leaves the old file intact', () => {
    const target = file('keep.safetensors');
    save(stateDict(), target);
    const before = fs.readFileSync(target);
    expect(() => save({ model: stateDict(), when: new Date() }, target)).toThrow(/save: expected "when" to be a tensor, number, string, boolean, null, array or plain object, got Date/);
    expect(() => save({ a: { raw: new Float32Array(2) } }, target)).toThrow(/expected "a.raw" to be .* got Float32Array/);
    expect(() => save({ n: 1n }, target)).toThrow(/expected "n" to be .* got bigint 1/);
    expect(() => save({ list: [1, undefined] }, target)).toThrow(/"list.1" is undefined/);
    const cyclic: Record<string, unknown> = { epoch: 1 };
    cyclic.self = cyclic;
    expect(() => save(cyclic, target)).toThrow(/"self" refers back to an enclosing object/);
    expect(() => save({ a: { b: tensor([1]) }, 'a.b': tensor([2]), n: 1 }, target))
      .toThrow(/tensors at paths \["a","b"\] and \["a.b"\] would both be named "a.b" in the file; rename one of the keys/);
    expect(() => save(tensor([1]), target)).toThrow(/save: expected a state dict or a plain object record, got Tensor/);
    expect(() => save([tensor([1])], target)).toThrow(/got Array/);
    expect(() => save({ w: tensor([1]) }, '')).toThrow(/save: expected path to be a non-empty string/);
    expect(fs.readFileSync(target).equals(before)).toBe(true);
  });
});

describe('load errors', () => {
  it('a truncated file names the file and the tensor, sync and async', async () => {
    save(stateDict(), file('whole.safetensors'));
    const bytes = fs.readFileSync(file('whole.safetensors'));
    fs.writeFileSync(file('cut.safetensors'), bytes.subarray(0, bytes.length - 2));
    const pattern = /safetensors: .*cut\.safetensors: tensor "bn\.num_batches_tracked": data_offsets \[28, 32\] run past the end of the 30-byte data section/;
    expect(() => load(file('cut.safetensors'))).toThrow(pattern);
    await expect(loadAsync(file('cut.safetensors'))).rejects.toThrow(pattern);
    await expect(loadAsync(file('cut.safetensors'))).rejects.toBeInstanceOf(SafetensorsError);
    fs.writeFileSync(file('stub.safetensors'), bytes.subarray(0, 3));
    expect(() => load(file('stub.safetensors'))).toThrow(/stub\.safetensors: file is 3 bytes, too short/);
  });

  it('record metadata that does not match the tensors', () => {
    const bad = (name: string, record: unknown, tensors: Record<string, number[]> = { w: [1] }) => {
      const entries = Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k, { dtype: 'float32' as const, shape: [v.length], data: new Float32Array(v) }]));
      fs.writeFileSync(file(name), encodeSafetensors(entries, { [RECORD_METADATA_KEY]: typeof record === 'string' ? record : JSON.stringify(record) }));
      return () => load(file(name));
    };
    const ok = { version: 1, tree: { w: null }, tensors: [[['w'], 'w']], numbers: [] };
    expect(bad('ok', ok)()).toHaveProperty('w');
    expect(bad('r1', '{oops')).toThrow(/load: .*r1: hydranet\.record metadata is not valid JSON/);
    expect(bad('r1', '{oops')).toThrow(SafetensorsError);
    expect(bad('r2', { ...ok, version: 2 })).toThrow(/has version number 2; this hydranet reads version 1/);
    expect(bad('r3', { ...ok, tensors: [[['w'], 'missing']] })).toThrow(/names tensor "missing", which the file does not hold/);
    expect(bad('r4', { ...ok, tensors: [] })).toThrow(/does not place tensor "w"/);
    expect(bad('r5', { ...ok, tensors: [[['nowhere', 0], 'w']] })).toThrow(/has a path "nowhere.0" that does not exist in the tree/);
    expect(bad('r6', { ...ok, tree: { w: 5 } })).toThrow(/path "w" does not point at a placeholder/);
    expect(bad('r7', { ...ok, tensors: 'w' })).toThrow(/malformed "tensors" list/);
    expect(bad('r8', { ...ok, numbers: [[['w'], '1e999']] })).toThrow(/has the number "1e999"/);
  });

  it('a missing file is the usual ENOENT error', () => {
    expect(() => load(file('nope.safetensors'))).toThrow(/ENOENT.*nope\.safetensors/);
  });
});

// Interop with Hugging Face's reference implementation, when a Python that has it is installed.
const python = process.env.HYDRANET_PYTHON ?? 'python3';
const hasTorch = spawnSync(python, ['-c', 'import safetensors.torch, torch'], { timeout: 60_000 }).status === 0;

describe.skipIf(!hasTorch)('interop with safetensors.torch (PyTorch)', () => {
  const runPython = (code: string, ...args: string[]) => {
    const result = spawnSync(python, ['-c', code, ...args], { encoding: 'utf8', timeout: 120_000 });
    if (result.status !== 0) throw new Error(`python failed: ${result.stderr}`);
    return JSON.parse(result.stdout);
  };

  it('safetensors.torch.load_file reads our state dicts and records', () => {
    save(stateDict(), file('for_torch.safetensors'), { metadata: { format: 'pt' } });
    save({ model: stateDict(), epoch: 2 }, file('record_for_torch.safetensors'));
    const out = runPython(`
import json, sys
from safetensors.torch import load_file
from safetensors import safe_open
res = {}
for p in sys.argv[1:]:
    sd = load_file(p)
    with safe_open(p, 'pt') as f:
        meta = f.metadata()
    res[p] = {'tensors': {k: {'dtype': str(v.dtype), 'shape': list(v.shape), 'values': v.flatten().tolist()} for k, v in sd.items()}, 'meta': meta}
print(json.dumps(res))`, file('for_torch.safetensors'), file('record_for_torch.safetensors'));
    const sd = out[file('for_torch.safetensors')];
    expect(sd.meta).toEqual({ format: 'pt' });
    expect(sd.tensors['conv1.weight']).toEqual({ dtype: 'torch.float32', shape: [1, 2, 3, 1], values: Array.from(new Float32Array([0.25, -1.5, 3, 1e-7, 2, 4])) });
    expect(sd.tensors['bn.num_batches_tracked']).toEqual({ dtype: 'torch.int32', shape: [], values: [7] });
    const rec = out[file('record_for_torch.safetensors')];
    expect(Object.keys(rec.tensors).sort()).toEqual(['model.bn.num_batches_tracked', 'model.conv1.bias', 'model.conv1.weight']);
    expect(Object.keys(rec.meta)).toEqual([RECORD_METADATA_KEY]);
  });

  it('we read what safetensors.torch.save_file writes, in every dtype we convert', () => {
    const p = file('from_torch.safetensors');
    const expected = runPython(`
import json, sys, torch
from safetensors.torch import save_file
save_file({
  'f32': torch.tensor([[1.5, -2.0], [3.25, 1e-30]]),
  'f16': torch.tensor([0.1, -65504.0, 6e-8], dtype=torch.float16),
  'bf16': torch.tensor([0.1, -3.0e38], dtype=torch.bfloat16),
  'f64': torch.tensor([0.1, -1e-3], dtype=torch.float64),
  'i64': torch.tensor([-5, 2**31 - 1], dtype=torch.int64),
  'i32': torch.tensor([-2**31], dtype=torch.int32),
  'u8': torch.tensor([255, 0], dtype=torch.uint8),
  'i8': torch.tensor([-128], dtype=torch.int8),
  'i16': torch.tensor([-32768], dtype=torch.int16),
  'b': torch.tensor([True, False, True]),
  'empty': torch.zeros(0, 4),
  'scalar': torch.tensor(2.5),
}, sys.argv[1], metadata={'format': 'pt'})
from safetensors.torch import load_file
print(json.dumps({k: {'shape': list(v.shape), 'values': v.to(torch.float32 if v.is_floating_point() else torch.int32).flatten().tolist()} for k, v in load_file(sys.argv[1]).items()}))`, p);
    const { data, metadata } = loadWithMetadata<Record<string, Tensor>>(p);
    expect(metadata).toEqual({ format: 'pt' });
    expect(Object.keys(data).sort()).toEqual(Object.keys(expected).sort());
    for (const [name, t] of Object.entries(data)) {
      // torch's own .to(float32 / int32) is the reference: exact agreement, no tolerance needed.
      expect({ name, shape: [...t.shape], values: Array.from(t.toArray()) }).toEqual({ name, ...expected[name] });
      expect(t.dtype).toBe(['f32', 'f16', 'bf16', 'f64', 'empty', 'scalar'].includes(name) ? 'float32' : 'int32');
    }
  });
});
