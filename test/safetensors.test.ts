// safetensors encode/decode against the format spec: files built byte by byte, an independent
// reader, every dtype conversion, and each kind of corruption giving a clear error.
import { describe, expect, it } from 'vitest';
import { MAX_HEADER_BYTES, SafetensorsError, decodeSafetensors, encodeSafetensors } from '../lib/io/safetensors';
import { findDuplicateKey } from '../lib/io/json_duplicate_keys';

/** A file from a hand-written header and raw data bytes; `length` overrides the 8-byte prefix. */
function buildFile(header: string, data: ArrayLike<number> = [], length?: bigint): Uint8Array {
  const json = Buffer.from(header, 'utf8');
  const n = length ?? BigInt(json.length);
  const prefix = [];
  for (let i = 0n; i < 8n; i++) prefix.push(Number((n >> (8n * i)) & 0xffn)); // little-endian by hand
  return Uint8Array.from([...prefix, ...json, ...Array.from(data)]);
}

/** A minimal reader written from the spec alone, sharing no code with lib/io. */
function referenceRead(bytes: Uint8Array) {
  let n = 0;
  for (let i = 7; i >= 0; i--) n = n * 256 + bytes[i];
  const headerText = Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8');
  const header = JSON.parse(headerText) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const view = new DataView(bytes.buffer, bytes.byteOffset + 8 + n);
  const tensors: Record<string, { dtype: string; shape: number[]; offsets: [number, number]; values: number[] }> = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [begin, end] = info.data_offsets;
    const values = [];
    for (let at = begin; at < end; at += 4) values.push(info.dtype === 'F32' ? view.getFloat32(at, true) : view.getInt32(at, true));
    tensors[name] = { dtype: info.dtype, shape: info.shape, offsets: info.data_offsets, values };
  }
  return { n, headerText, tensors, metadata: (header.__metadata__ ?? {}) as unknown as Record<string, string> };
}

const f32 = (...v: number[]) => new Float32Array(v);
const i32 = (...v: number[]) => new Int32Array(v);
const bytesOf = (a: ArrayBufferView) => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));

describe('decodeSafetensors on files built by hand', () => {
  it('reads a header and data written byte by byte (unpadded header, tensors out of key order)', () => {
    const header = '{"b":{"dtype":"I32","shape":[2],"data_offsets":[8,16]},'
      + '"a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"__metadata__":{"format":"pt"}}';
    const data = [
      0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0, // F32 1.0, -2.5
      0x07, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, // I32 7, -1
    ];
    const out = decodeSafetensors(buildFile(header, data), 'hand.safetensors');
    expect(out.metadata).toEqual({ format: 'pt' });
    expect(out.tensors.a.dtype).toBe('float32');
    expect(out.tensors.a.shape).toEqual([1, 2]);
    expect(Array.from(out.tensors.a.data)).toEqual([1, -2.5]);
    expect(out.tensors.b.dtype).toBe('int32');
    expect(out.tensors.b.data).toBeInstanceOf(Int32Array);
    expect(Array.from(out.tensors.b.data)).toEqual([7, -1]);
  });

  it('accepts space padding, an empty file body, scalars, zero-size tensors and null metadata', () => {
    const header = '{"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},'
      + '"e":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]},"__metadata__":null}      ';
    const out = decodeSafetensors(buildFile(header, bytesOf(f32(3.5))));
    expect(out.tensors.s.shape).toEqual([]);
    expect(Array.from(out.tensors.s.data)).toEqual([3.5]);
    expect(out.tensors.e.shape).toEqual([0, 3]);
    expect(out.tensors.e.data.length).toBe(0);
    expect(out.metadata).toEqual({});
    expect(decodeSafetensors(buildFile('{}')).tensors).toEqual({});
  });

  it('copies out of the input, even from a Node Buffer at an odd offset', () => {
    const file = encodeSafetensors({ w: { dtype: 'float32', shape: [3], data: f32(1, 2, 3) } });
    const odd = Buffer.concat([Buffer.from([9]), Buffer.from(file)]).subarray(1);
    const out = decodeSafetensors(odd);
    odd.fill(0);
    expect(Array.from(out.tensors.w.data)).toEqual([1, 2, 3]);
    expect(out.tensors.w.data.buffer.byteLength).toBe(12); // owns its memory, does not pin the file
  });
});

describe('encodeSafetensors', () => {
  const entries = {
    'conv.weight': { dtype: 'float32' as const, shape: [2, 1, 1, 2], data: f32(0.5, -1, 1e-8, 3e38) },
    labels: { dtype: 'int32' as const, shape: [3], data: i32(0, -7, 2147483647) },
    bias: { dtype: 'float32' as const, shape: [1], data: f32(NaN) },
  };

  it('writes what an independent spec reader reads: aligned, packed in order, metadata kept', () => {
    const file = encodeSafetensors(entries, { epoch: '3', note: 'héllo "quoted"' });
    const ref = referenceRead(file);
    expect((8 + ref.n) % 8).toBe(0);
    expect(ref.headerText.startsWith('{')).toBe(true);
    expect(ref.headerText).toMatch(/\} *$/); // any padding is trailing spaces
    expect(file.length).toBe(8 + ref.n + 4 * 8);
    expect(ref.metadata).toEqual({ epoch: '3', note: 'héllo "quoted"' });
    expect(ref.tensors['conv.weight']).toEqual({ dtype: 'F32', shape: [2, 1, 1, 2], offsets: [0, 16], values: Array.from(entries['conv.weight'].data) });
    expect(ref.tensors.labels).toEqual({ dtype: 'I32', shape: [3], offsets: [16, 28], values: [0, -7, 2147483647] });
    expect(ref.tensors.bias.offsets).toEqual([28, 32]);
    expect(ref.tensors.bias.values[0]).toBeNaN();
  });

  it('round-trips through decodeSafetensors bit for bit', () => {
    const out = decodeSafetensors(encodeSafetensors(entries));
    for (const [name, entry] of Object.entries(entries)) {
      expect(out.tensors[name].dtype).toBe(entry.dtype);
      expect(out.tensors[name].shape).toEqual(entry.shape);
      expect(bytesOf(out.tensors[name].data)).toEqual(bytesOf(entry.data));
    }
    expect(out.metadata).toEqual({});
  });

  it('keeps odd but legal names, including "__proto__"', () => {
    const names = ['__proto__', '', 'a.b.c', 'ünïcødé', 'with "quote"'];
    const input: Record<string, { dtype: 'float32'; shape: number[]; data: Float32Array }> = {};
    names.forEach((name, i) => Object.defineProperty(input, name, { value: { dtype: 'float32', shape: [1], data: f32(i) }, enumerable: true }));
    const out = decodeSafetensors(encodeSafetensors(input));
    expect(Object.keys(out.tensors)).toEqual(names);
    names.forEach((name, i) => expect(Array.from(out.tensors[name].data)).toEqual([i]));
  });

  it('rejects bad input naming the tensor, the expected and the actual', () => {
    const enc = (e: unknown, m?: unknown) => () => encodeSafetensors(e as never, m as never);
    expect(enc({ w: { dtype: 'float32', shape: [2], data: i32(1, 2) } }))
      .toThrow(/tensor "w": expected data to be a Float32Array for dtype float32, got Int32Array/);
    expect(enc({ w: { dtype: 'float32', shape: [2, 2], data: f32(1, 2) } }))
      .toThrow(/tensor "w": shape \[2, 2\] has 4 elements but data has 2/);
    expect(enc({ w: { dtype: 'float64', shape: [1], data: f32(1) } })).toThrow(/tensor "w": expected dtype 'float32' or 'int32', got "float64"/);
    expect(enc({ w: { dtype: 'float32', shape: [-1], data: f32(1) } })).toThrow(/expected shape to be an array of non-negative integers, got \[-1\]/);
    expect(enc({ __metadata__: { dtype: 'float32', shape: [1], data: f32(1) } })).toThrow(/__metadata__ is reserved/);
    expect(enc({}, { epoch: 3 })).toThrow(/expected metadata "epoch" to be a string, got 3/);
  });
});

describe('dtype conversions on load', () => {
  const one = (dtype: string, shape: number[], data: number[]) =>
    decodeSafetensors(buildFile(`{"t":{"dtype":"${dtype}","shape":${JSON.stringify(shape)},"data_offsets":[0,${data.length}]}}`, data), 'conv.safetensors').tensors.t;
  const u16le = (...v: number[]) => v.flatMap((x) => [x & 0xff, x >> 8]);

  it('F16 -> float32 exactly, with subnormals, signed zero, infinities and NaN', () => {
    const t = one('F16', [9], u16le(0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x8000, 0x7c00, 0xfc00, 0x7e00));
    expect(t.dtype).toBe('float32');
    expect(t.storedDtype).toBe('F16');
    const v = Array.from(t.data);
    expect(v.slice(0, 5)).toEqual([1, -2, 65504, 2 ** -24, 1023 * 2 ** -24]);
    expect(Object.is(v[5], -0)).toBe(true);
    expect(v.slice(6, 8)).toEqual([Infinity, -Infinity]);
    expect(v[8]).toBeNaN();
  });

  it('BF16 -> float32 by placing the bits on top', () => {
    const t = one('BF16', [4], u16le(0x3f80, 0xc0a0, 0x4049, 0x0001));
    expect(Array.from(t.data)).toEqual([1, -5, new Float32Array(new Uint32Array([0x40490000]).buffer)[0], new Float32Array(new Uint32Array([0x00010000]).buffer)[0]]);
  });

  it('F64 -> float32 rounded to nearest, but refuses values float32 cannot hold', () => {
    const t = one('F64', [3], bytesOf(new Float64Array([0.1, -1e-50, 123456789.123])));
    expect(Array.from(t.data)).toEqual([Math.fround(0.1), -0, Math.fround(123456789.123)]);
    expect(() => one('F64', [2], bytesOf(new Float64Array([1, 1e300]))))
      .toThrow(/conv\.safetensors: tensor "t": F64 element 1 = 1e\+300 is outside float32's range/);
  });

  it('integer dtypes -> int32, refusing values outside int32', () => {
    expect(Array.from(one('I64', [3], bytesOf(new BigInt64Array([-3n, 2147483647n, -2147483648n]))).data)).toEqual([-3, 2147483647, -2147483648]);
    expect(() => one('I64', [2], bytesOf(new BigInt64Array([0n, 2147483648n]))))
      .toThrow(/tensor "t": I64 element 1 = 2147483648 does not fit in int32/);
    expect(() => one('I64', [1], bytesOf(new BigInt64Array([-(2n ** 40n)])))).toThrow(/I64 element 0 = -1099511627776 does not fit/);
    expect(Array.from(one('U64', [1], bytesOf(new BigUint64Array([5n]))).data)).toEqual([5]);
    expect(() => one('U64', [1], bytesOf(new BigUint64Array([2n ** 63n])))).toThrow(/U64 element 0 = 9223372036854775808 does not fit/);
    expect(() => one('U32', [1], bytesOf(new Uint32Array([2 ** 31])))).toThrow(/U32 element 0 = 2147483648 does not fit/);
    expect(Array.from(one('U32', [1], bytesOf(new Uint32Array([7]))).data)).toEqual([7]);
    expect(Array.from(one('I16', [2], bytesOf(new Int16Array([-300, 300]))).data)).toEqual([-300, 300]);
    expect(Array.from(one('U16', [1], bytesOf(new Uint16Array([65535]))).data)).toEqual([65535]);
    expect(Array.from(one('I8', [2], [0xff, 0x7f]).data)).toEqual([-1, 127]);
    expect(Array.from(one('U8', [2], [0xff, 0x7f]).data)).toEqual([255, 127]);
    const bool = one('BOOL', [3], [1, 0, 1]);
    expect(bool.dtype).toBe('int32');
    expect(Array.from(bool.data)).toEqual([1, 0, 1]);
    expect(() => one('BOOL', [2], [0, 2])).toThrow(/tensor "t": BOOL element 1 is the byte 2, expected 0 or 1/);
  });

  it('rejects dtypes it cannot represent, naming the tensor and the dtype', () => {
    expect(() => one('F8_E4M3', [1], [0x38])).toThrow(/conv\.safetensors: tensor "t": dtype F8_E4M3 is not supported by hydranet/);
    expect(() => one('Q4', [1], [0])).toThrow(/tensor "t": unknown dtype "Q4" \(readable: BOOL, U8/);
    expect(() => one('f32', [1], [0, 0, 0, 0])).toThrow(/unknown dtype "f32"/); // dtype names are case-sensitive
  });
});

describe('corrupt files give a clear SafetensorsError', () => {
  const good = encodeSafetensors({
    w: { dtype: 'float32', shape: [2, 2], data: f32(1, 2, 3, 4) },
    b: { dtype: 'float32', shape: [2], data: f32(5, 6) },
  });
  const entry = (name: string, dtype: string, shape: unknown, offsets: unknown) =>
    `${JSON.stringify(name)}:{"dtype":"${dtype}","shape":${JSON.stringify(shape)},"data_offsets":${JSON.stringify(offsets)}}`;
  const expectError = (bytes: Uint8Array, pattern: RegExp) => {
    let error: unknown;
    try {
      decodeSafetensors(bytes, 'model.safetensors');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SafetensorsError);
    expect((error as Error).message).toMatch(/^safetensors: model\.safetensors: /);
    expect((error as Error).message).toMatch(pattern);
  };

  it('truncated anywhere: inside the data, inside the header, inside the length prefix', () => {
    expectError(good.subarray(0, good.length - 1), /tensor "b": data_offsets \[16, 24\] run past the end of the 23-byte data section \(truncated file\?\)/);
    expectError(good.subarray(0, 20), /header length \d+ exceeds the 12 bytes after the length prefix \(truncated file\?\)/);
    expectError(good.subarray(0, 5), /file is 5 bytes, too short for the 8-byte header length/);
    expectError(new Uint8Array(0), /file is 0 bytes/);
  });

  it('header length larger than the file, or absurdly large', () => {
    expectError(buildFile('{}', [], 3n), /header length 3 exceeds the 2 bytes after the length prefix/);
    expectError(buildFile('{}', [], 2n ** 63n), new RegExp(`header length 9223372036854775808 exceeds the ${MAX_HEADER_BYTES}-byte limit`));
  });

  it('offsets out of bounds, reversed or malformed', () => {
    expectError(buildFile(`{${entry('w', 'F32', [1], [4, 8])}}`, [0, 0, 0, 0]), /tensor "w": data_offsets \[4, 8\] run past the end of the 4-byte data section/);
    expectError(buildFile(`{${entry('w', 'F32', [0], [4, 0])}}`, [0, 0, 0, 0]), /tensor "w": data_offsets \[4, 0\] end before they begin/);
    expectError(buildFile(`{${entry('w', 'F32', [1], [0])}}`, [0, 0, 0, 0]), /tensor "w": expected data_offsets to be \[begin, end\] with non-negative integers, got \[0\]/);
    expectError(buildFile(`{${entry('w', 'F32', [1], [-4, 0])}}`), /tensor "w": expected data_offsets .* got \[-4,0\]/);
    expectError(buildFile(`{${entry('w', 'F32', [1], [0, 4.5])}}`, [0, 0, 0, 0]), /tensor "w": expected data_offsets .* got \[0,4.5\]/);
  });

  it('overlapping tensors, gaps and trailing bytes (the data section must be covered exactly)', () => {
    const eight = [0, 0, 0, 0, 0, 0, 0, 0];
    expectError(buildFile(`{${entry('a', 'F32', [2], [0, 8])},${entry('b', 'F32', [1], [4, 8])}}`, eight),
      /tensors "a" \[0, 8\) and "b" \[4, 8\) overlap in the data section/);
    expectError(buildFile(`{${entry('a', 'F32', [1], [4, 8])}}`, eight), /data section bytes \[0, 4\) before tensor "a" belong to no tensor/);
    expectError(buildFile(`{${entry('a', 'F32', [1], [0, 4])}}`, eight), /data section bytes \[4, 8\) belong to no tensor \(trailing bytes/);
    expectError(buildFile('{}', [1]), /data section bytes \[0, 1\) belong to no tensor/);
  });

  it('a byte count that does not match dtype and shape', () => {
    expectError(buildFile(`{${entry('w', 'F32', [2, 2], [0, 12])}}`, new Array(12).fill(0)),
      /tensor "w": data_offsets \[0, 12\] hold 12 bytes but dtype F32 with shape \[2, 2\] needs 16 bytes/);
    expectError(buildFile(`{${entry('w', 'F16', [3], [0, 12])}}`, new Array(12).fill(0)), /hold 12 bytes but dtype F16 with shape \[3\] needs 6 bytes/);
  });

  it('bad JSON, bad UTF-8, a header that is not an object', () => {
    expectError(buildFile('{"w": {"dtype": "F32",}'), /header is not valid JSON: /);
    expectError(buildFile(''), /header must be a JSON object starting with '\{', got ""/);
    expectError(buildFile('[1, 2]'), /header must be a JSON object starting with '\{', got "\[1, 2\]"/);
    expectError(buildFile('\ufeff{}'), /header must be a JSON object starting with '\{'/); // a BOM is not allowed either
    const invalidUtf8 = buildFile('{"w":1}');
    invalidUtf8[10] = 0xff;
    expectError(invalidUtf8, /header is not valid UTF-8/);
  });

  it('bad dtype, shape and entry fields', () => {
    expectError(buildFile(`{${entry('w', 'F32', [-1], [0, 0])}}`), /tensor "w": expected shape to be an array of non-negative integers, got \[-1\]/);
    expectError(buildFile(`{${entry('w', 'F32', [1.5], [0, 0])}}`), /tensor "w": expected shape .* got \[1.5\]/);
    expectError(buildFile(`{${entry('w', 'F32', '2', [0, 0])}}`), /tensor "w": expected shape .* got "2"/);
    expectError(buildFile('{"w":{"shape":[],"data_offsets":[0,0]}}'), /tensor "w": expected dtype to be a string, got undefined/);
    expectError(buildFile('{"w":[1,2]}'), /tensor "w": expected an object \{dtype, shape, data_offsets\}, got \[1,2\]/);
    expectError(buildFile(`{${entry('w', 'F32', [2 ** 40, 2 ** 40], [0, 0])}}`), /tensor "w": data_offsets \[0, 0\] hold 0 bytes but dtype F32 with shape \[1099511627776, 1099511627776\] needs/);
  });

  it('duplicate keys, which JSON.parse alone would hide', () => {
    expectError(buildFile(`{${entry('w', 'F32', [1], [0, 4])},${entry('w', 'F32', [1], [4, 8])}}`, new Array(8).fill(0)),
      /header has the key "w" twice/);
    expectError(buildFile('{"__metadata__":{"a":"1","\\u0061":"2"}}'), /header entry "__metadata__" has the key "a" twice/);
    expectError(buildFile(`{"w":{"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4]}}`, [0, 0, 0, 0]), /header entry "w" has the key "dtype" twice/);
  });

  it('metadata that is not string to string', () => {
    expectError(buildFile('{"__metadata__":{"epoch":3}}'), /__metadata__ value for "epoch" must be a string, got 3/);
    expectError(buildFile('{"__metadata__":"x"}'), /__metadata__ must be an object of strings, got "x"/);
  });
});

describe('findDuplicateKey', () => {
  it('finds repeats at any depth and ignores equal keys in different objects', () => {
    expect(findDuplicateKey('{"a":{"x":1},"b":{"x":2},"c":[{"y":1},{"y":2}]}')).toBeNull();
    expect(findDuplicateKey('{"a":[{"k":"\\"}"},{"k":1,"k":2}]}')).toEqual({ path: ['a', 1], key: 'k' });
    expect(findDuplicateKey('{"s":"{\\"a\\":1,\\"a\\":2}"}')).toBeNull(); // keys inside a string value are not keys
  });
});
