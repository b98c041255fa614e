/**
 * The safetensors dtypes hydranet reads, and how their raw little-endian bytes become hydranet's
 * two tensor dtypes. hydranet computes in float32 (int32 for class labels), so on load:
 *
 *   F32 -> float32 (bit-exact)            I32 -> int32 (bit-exact)
 *   F16, BF16 -> float32 (exact: every half/bfloat16 value is a float32 value)
 *   F64 -> float32 (rounded to nearest; a finite value beyond float32's range is an error, not Infinity)
 *   I8, U8, I16, U16 -> int32 (exact)
 *   I64, U32, U64 -> int32 when every value fits in int32, else an error naming the tensor and value
 *   BOOL -> int32 0/1 (a byte other than 0 or 1 is an error)
 *
 * Every other dtype (F8_*, F6_*, F4, C64, ...) is rejected with an error naming the tensor and dtype.
 * Writing only ever produces F32 and I32.
 */

export type TensorDtype = 'float32' | 'int32';

export type StoredDtype =
  | 'BOOL' | 'U8' | 'I8' | 'U16' | 'I16' | 'F16' | 'BF16' | 'U32' | 'I32' | 'F32' | 'F64' | 'U64' | 'I64';

/** Bytes per element of each readable dtype and the hydranet dtype it loads as. */
export const STORED_DTYPES: Readonly<Record<StoredDtype, { itemsize: number; loadsAs: TensorDtype }>> = {
  BOOL: { itemsize: 1, loadsAs: 'int32' },
  U8: { itemsize: 1, loadsAs: 'int32' },
  I8: { itemsize: 1, loadsAs: 'int32' },
  U16: { itemsize: 2, loadsAs: 'int32' },
  I16: { itemsize: 2, loadsAs: 'int32' },
  F16: { itemsize: 2, loadsAs: 'float32' },
  BF16: { itemsize: 2, loadsAs: 'float32' },
  U32: { itemsize: 4, loadsAs: 'int32' },
  I32: { itemsize: 4, loadsAs: 'int32' },
  F32: { itemsize: 4, loadsAs: 'float32' },
  F64: { itemsize: 8, loadsAs: 'float32' },
  U64: { itemsize: 8, loadsAs: 'int32' },
  I64: { itemsize: 8, loadsAs: 'int32' },
};

/** dtypes the safetensors format defines that hydranet cannot represent; named in the error. */
export const UNSUPPORTED_DTYPES: ReadonlySet<string> = new Set([
  'F8_E5M2', 'F8_E4M3', 'F8_E8M0', 'F6_E2M3', 'F6_E3M2', 'F4', 'C64',
]);

/** The stored dtype hydranet writes for each of its tensor dtypes. */
export const WRITE_DTYPE: Readonly<Record<TensorDtype, StoredDtype>> = { float32: 'F32', int32: 'I32' };

export function isStoredDtype(name: string): name is StoredDtype {
  return Object.prototype.hasOwnProperty.call(STORED_DTYPES, name);
}

export const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Converts `raw` (exactly numel * itemsize bytes, little-endian) to a Float32Array or Int32Array.
 * `where` prefixes error messages (file and tensor). The result never aliases `raw` unless `raw`
 * is a whole ArrayBuffer of its own, which the caller then hands over.
 */
export function decodeTensorBytes(dtype: StoredDtype, raw: Uint8Array, numel: number, where: string): Float32Array | Int32Array {
  if ((dtype === 'F32' || dtype === 'I32') && LITTLE_ENDIAN_HOST) {
    // new Uint8Array(raw) copies; raw.slice() would not when raw is a Node Buffer.
    const buffer = ownsWholeBuffer(raw) ? raw.buffer : new Uint8Array(raw).buffer;
    return dtype === 'F32' ? new Float32Array(buffer, 0, numel) : new Int32Array(buffer, 0, numel);
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (dtype) {
    case 'F32': return mapFloat(numel, (i) => view.getFloat32(4 * i, true));
    case 'F64': return decodeF64(view, numel, where);
    case 'F16': {
      const table = halfTable();
      return mapFloat(numel, (i) => table[view.getUint16(2 * i, true)]);
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32: shift the bits into place (keeps NaN payloads too).
      const out = new Float32Array(numel);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < numel; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      return out;
    }
    case 'I32': return mapInt(numel, (i) => view.getInt32(4 * i, true));
    case 'I16': return mapInt(numel, (i) => view.getInt16(2 * i, true));
    case 'U16': return mapInt(numel, (i) => view.getUint16(2 * i, true));
    case 'I8': return mapInt(numel, (i) => view.getInt8(i));
    case 'U8': return mapInt(numel, (i) => view.getUint8(i));
    case 'BOOL': return mapInt(numel, (i) => {
      const b = view.getUint8(i);
      if (b > 1) throw new Error(`${where}: BOOL element ${i} is the byte ${b}, expected 0 or 1`);
      return b;
    });
    case 'U32': return mapInt(numel, (i) => {
      const v = view.getUint32(4 * i, true);
      if (v > 0x7fffffff) throw outOfInt32(where, dtype, i, String(v));
      return v;
    });
    case 'I64':
    case 'U64': return mapInt(numel, (i) => {
      // Fits in int32 iff the high word is the sign extension of the low word (I64) or zero (U64).
      const lo = view.getInt32(8 * i, true);
      const hi = view.getInt32(8 * i + 4, true);
      const fits = dtype === 'I64' ? hi === lo >> 31 : hi === 0 && lo >= 0;
      if (!fits) {
        const value = dtype === 'I64' ? view.getBigInt64(8 * i, true) : view.getBigUint64(8 * i, true);
        throw outOfInt32(where, dtype, i, value.toString());
      }
      return lo;
    });
  }
}

/** Raw little-endian bytes of a Float32Array/Int32Array, for writing. */
export function tensorBytes(data: Float32Array | Int32Array): Uint8Array {
  if (LITTLE_ENDIAN_HOST) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  if (data instanceof Float32Array) data.forEach((v, i) => view.setFloat32(4 * i, v, true));
  else data.forEach((v, i) => view.setInt32(4 * i, v, true));
  return out;
}

function ownsWholeBuffer(raw: Uint8Array): boolean {
  return raw.buffer instanceof ArrayBuffer && raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength;
}

function mapFloat(n: number, at: (i: number) => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = at(i);
  return out;
}

function mapInt(n: number, at: (i: number) => number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = at(i);
  return out;
}

function decodeF64(view: DataView, n: number, where: string): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = view.getFloat64(8 * i, true);
    out[i] = v;
    // Rounding is expected; silently turning a finite weight into Infinity is not.
    if (!Number.isFinite(out[i]) && Number.isFinite(v)) {
      throw new Error(`${where}: F64 element ${i} = ${v} is outside float32's range (max 3.4028234663852886e38)`);
    }
  }
  return out;
}

function outOfInt32(where: string, dtype: string, index: number, value: string): Error {
  return new Error(`${where}: ${dtype} element ${index} = ${value} does not fit in int32, hydranet's integer dtype`);
}

let halfToFloat: Float32Array | undefined;

/** float32 value of each of the 65536 IEEE half-precision bit patterns (built once, 256 KiB). */
function halfTable(): Float32Array {
  if (halfToFloat) return halfToFloat;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) table[h] = sign * mantissa * 2 ** -24; // zero and subnormals
    else if (exponent === 31) table[h] = mantissa === 0 ? sign * Infinity : NaN;
    else table[h] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  halfToFloat = table;
  return table;
}
