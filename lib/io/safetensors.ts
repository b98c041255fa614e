/**
 * The safetensors format (Hugging Face), encoded and decoded in memory; no file system here.
 *
 *   [8 bytes]  N, unsigned little-endian 64-bit: length of the header
 *   [N bytes]  UTF-8 JSON: {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
 *              ..., "__metadata__": {"key": "value"}}, padded with trailing spaces
 *   [rest]     data section: each tensor's raw little-endian bytes at [begin, end) relative to its
 *              start, packed with no gaps or overlaps and covering it entirely
 *
 * Writing emits F32/I32, tensors in the order given, `__metadata__` first, and pads the header so
 * that the data section starts 8-byte aligned (as the reference implementation does). Reading
 * validates every field and converts the other dtypes as described in safetensors_dtypes.ts; a
 * malformed file raises a SafetensorsError naming the file, the tensor and what is wrong.
 *
 * Example:
 *   const bytes = encodeSafetensors({w: {dtype: 'float32', shape: [2], data: new Float32Array([1, 2])}});
 *   decodeSafetensors(bytes).tensors.w.data; // Float32Array [1, 2]
 */
import { findDuplicateKey } from './json_duplicate_keys';
import {
  STORED_DTYPES, StoredDtype, TensorDtype, UNSUPPORTED_DTYPES, WRITE_DTYPE,
  decodeTensorBytes, isStoredDtype, tensorBytes,
} from './safetensors_dtypes';

export type { StoredDtype, TensorDtype } from './safetensors_dtypes';

/** Raised for a malformed safetensors file or buffer. */
export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

export interface TensorEntry {
  dtype: TensorDtype;
  shape: readonly number[];
  data: Float32Array | Int32Array;
}

export interface DecodedTensor {
  dtype: TensorDtype;
  shape: number[];
  data: Float32Array | Int32Array;
  /** The dtype in the file before conversion, e.g. 'F16' for a tensor loaded as float32. */
  storedDtype: StoredDtype;
}

export interface DecodedSafetensors {
  tensors: Record<string, DecodedTensor>;
  metadata: Record<string, string>;
}

/** One validated header entry; begin/end are relative to the data section. */
interface HeaderEntry {
  name: string;
  dtype: StoredDtype;
  shape: number[];
  numel: number;
  begin: number;
  end: number;
}

interface ParsedHeader {
  /** Entries in data order (sorted by begin). */
  entries: HeaderEntry[];
  metadata: Record<string, string>;
}

/** The reference implementation refuses larger headers; so do we, before reading one. */
export const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';
const DEFAULT_SOURCE = '<buffer>';

/** Serialises tensors (and optional string metadata) into safetensors bytes. */
export function encodeSafetensors(
  entries: Record<string, TensorEntry>,
  metadata?: Record<string, string>,
): Uint8Array {
  const chunks = encodeSafetensorsChunks(entries, metadata);
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let position = 0;
  for (const chunk of chunks) {
    out.set(chunk, position);
    position += chunk.length;
  }
  return out;
}

/**
 * The same bytes as encodeSafetensors, as pieces to write one after the other: the length prefix
 * with the header, then each tensor's data (views of `entries` on little-endian hosts, no copy).
 */
export function encodeSafetensorsChunks(
  entries: Record<string, TensorEntry>,
  metadata?: Record<string, string>,
): Uint8Array[] {
  const fields: string[] = [];
  if (metadata !== undefined) fields.push(`${JSON.stringify(METADATA_KEY)}:${encodeMetadata(metadata)}`);
  const payloads: Uint8Array[] = [];
  let offset = 0;
  for (const [name, entry] of Object.entries(entries)) {
    checkEntry(name, entry);
    const bytes = tensorBytes(entry.data);
    const info = { dtype: WRITE_DTYPE[entry.dtype], shape: [...entry.shape], data_offsets: [offset, offset + bytes.length] };
    fields.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    payloads.push(bytes);
    offset += bytes.length;
  }
  const json = new TextEncoder().encode(`{${fields.join(',')}}`);
  const headerLength = json.length + ((8 - (json.length % 8)) % 8); // pad: data starts 8-byte aligned
  const head = new Uint8Array(8 + headerLength);
  new DataView(head.buffer).setBigUint64(0, BigInt(headerLength), true);
  head.set(json, 8);
  head.fill(0x20, 8 + json.length);
  return [head, ...payloads];
}

/**
 * Parses safetensors bytes. `sourceName` (e.g. the file path) is named in error messages.
 * Returned arrays are copies: they do not keep `bytes` alive.
 */
export function decodeSafetensors(bytes: Uint8Array, sourceName = DEFAULT_SOURCE): DecodedSafetensors {
  const steps = decodeSafetensorsSteps(bytes.length, sourceName);
  let step = steps.next();
  while (!step.done) step = steps.next(bytes.subarray(step.value.position, step.value.position + step.value.length));
  return step.value;
}

/** A byte range that decoding needs next, relative to the start of the file. */
export interface ByteRange {
  position: number;
  length: number;
  /** What the bytes are, for an "unexpected end of file" message. */
  what: string;
}

/**
 * Decoding as steps, for readers that fetch bytes themselves (a file read piece by piece): yields
 * the ranges it needs, in file order, and takes back exactly those bytes. Each tensor's bytes are
 * validated and converted as they come; a tensor adopts a range given as a whole ArrayBuffer of
 * its own, without copying.
 */
export function* decodeSafetensorsSteps(fileSize: number, sourceName = DEFAULT_SOURCE): Generator<ByteRange, DecodedSafetensors, Uint8Array> {
  const prefix = yield { position: 0, length: Math.min(8, fileSize), what: 'the header length' };
  const headerLength = readHeaderLength(prefix, fileSize, sourceName);
  const headerBytes = yield { position: 8, length: headerLength, what: 'the header' };
  const dataStart = 8 + headerLength;
  const header = parseHeader(headerBytes, fileSize - dataStart, sourceName);
  const tensors: Record<string, DecodedTensor> = {};
  for (const entry of header.entries) {
    const raw = yield { position: dataStart + entry.begin, length: entry.end - entry.begin, what: `tensor ${JSON.stringify(entry.name)}` };
    defineOwn(tensors, entry.name, decodeEntry(entry, raw, sourceName));
  }
  return { tensors, metadata: header.metadata };
}

/**
 * Reads and checks the 8-byte length prefix. `prefix` holds the file's first bytes (up to 8),
 * `fileSize` the whole file's size. Returns N, the header length.
 */
function readHeaderLength(prefix: Uint8Array, fileSize: number, sourceName = DEFAULT_SOURCE): number {
  if (fileSize < 8 || prefix.length < 8) {
    throw fail(sourceName, `file is ${fileSize} bytes, too short for the 8-byte header length (truncated or empty file)`);
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw fail(sourceName, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit (corrupt or not a safetensors file)`);
  }
  if (n > BigInt(fileSize - 8)) {
    throw fail(sourceName, `header length ${n} exceeds the ${fileSize - 8} bytes after the length prefix (truncated file?)`);
  }
  return Number(n);
}

/** Parses and validates the JSON header against a data section of `dataLength` bytes. */
function parseHeader(headerBytes: Uint8Array, dataLength: number, sourceName = DEFAULT_SOURCE): ParsedHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    throw fail(sourceName, 'header is not valid UTF-8');
  }
  if (!text.startsWith('{')) {
    throw fail(sourceName, `header must be a JSON object starting with '{', got ${JSON.stringify(text.slice(0, 20))}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw fail(sourceName, `header is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(json)) throw fail(sourceName, 'header must be a JSON object');
  const duplicate = findDuplicateKey(text);
  if (duplicate) {
    const where = duplicate.path.length === 0 ? 'header' : `header entry ${JSON.stringify(duplicate.path.join('.'))}`;
    throw fail(sourceName, `${where} has the key ${JSON.stringify(duplicate.key)} twice`);
  }

  let metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === METADATA_KEY) metadata = parseMetadata(value, sourceName);
    else entries.push(parseEntry(name, value, dataLength, sourceName));
  }
  checkCoverage(entries, dataLength, sourceName);
  return { entries, metadata };
}

/** Converts one entry's raw bytes (exactly end - begin of them) to a decoded tensor. */
function decodeEntry(entry: HeaderEntry, raw: Uint8Array, sourceName = DEFAULT_SOURCE): DecodedTensor {
  const where = `safetensors: ${sourceName}: tensor ${JSON.stringify(entry.name)}`;
  let data: Float32Array | Int32Array;
  try {
    data = decodeTensorBytes(entry.dtype, raw, entry.numel, where);
  } catch (err) {
    throw new SafetensorsError((err as Error).message);
  }
  return { dtype: STORED_DTYPES[entry.dtype].loadsAs, shape: entry.shape, data, storedDtype: entry.dtype };
}

function parseEntry(name: string, value: unknown, dataLength: number, sourceName: string): HeaderEntry {
  const bad = (what: string) => fail(sourceName, `tensor ${JSON.stringify(name)}: ${what}`);
  if (!isObject(value)) throw bad(`expected an object {dtype, shape, data_offsets}, got ${describe(value)}`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string') throw bad(`expected dtype to be a string, got ${describe(dtype)}`);
  if (!isStoredDtype(dtype)) {
    throw bad(UNSUPPORTED_DTYPES.has(dtype)
      ? `dtype ${dtype} is not supported by hydranet (readable: ${Object.keys(STORED_DTYPES).join(', ')})`
      : `unknown dtype ${JSON.stringify(dtype)} (readable: ${Object.keys(STORED_DTYPES).join(', ')})`);
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw bad(`expected shape to be an array of non-negative integers, got ${describe(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw bad(`expected data_offsets to be [begin, end] with non-negative integers, got ${describe(offsets)}`);
  }
  const [begin, end] = offsets as number[];
  if (begin > end) throw bad(`data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataLength) {
    throw bad(`data_offsets [${begin}, ${end}] run past the end of the ${dataLength}-byte data section (truncated file?)`);
  }
  const numel = (shape as number[]).reduce((a, b) => a * b, 1);
  const needed = numel * STORED_DTYPES[dtype].itemsize;
  if (!Number.isSafeInteger(needed) || needed !== end - begin) {
    throw bad(`data_offsets [${begin}, ${end}] hold ${end - begin} bytes but dtype ${dtype} with shape `
      + `[${shape.join(', ')}] needs ${needed} bytes`);
  }
  return { name, dtype, shape: [...(shape as number[])], numel, begin, end };
}

/** Sorts entries by position and checks they tile the data section exactly, as the format requires. */
function checkCoverage(entries: HeaderEntry[], dataLength: number, sourceName: string): void {
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let position = 0;
  let previous: HeaderEntry | undefined;
  for (const entry of entries) {
    if (entry.begin < position && previous) {
      throw fail(sourceName, `tensors ${JSON.stringify(previous.name)} [${previous.begin}, ${previous.end}) and `
        + `${JSON.stringify(entry.name)} [${entry.begin}, ${entry.end}) overlap in the data section`);
    }
    if (entry.begin > position) {
      throw fail(sourceName, `data section bytes [${position}, ${entry.begin}) before tensor `
        + `${JSON.stringify(entry.name)} belong to no tensor`);
    }
    position = entry.end;
    previous = entry;
  }
  if (position !== dataLength) {
    throw fail(sourceName, `data section bytes [${position}, ${dataLength}) belong to no tensor `
      + '(trailing bytes or a header missing entries)');
  }
}

function parseMetadata(value: unknown, sourceName: string): Record<string, string> {
  if (value === null) return {};
  if (!isObject(value)) throw fail(sourceName, `${METADATA_KEY} must be an object of strings, got ${describe(value)}`);
  const metadata: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw fail(sourceName, `${METADATA_KEY} value for ${JSON.stringify(key)} must be a string, got ${describe(v)}`);
    }
    defineOwn(metadata, key, v);
  }
  return metadata;
}

function encodeMetadata(metadata: Record<string, string>): string {
  if (!isObject(metadata)) throw new TypeError(`encodeSafetensors: expected metadata to be an object of strings, got ${describe(metadata)}`);
  const fields = Object.entries(metadata).map(([key, value]) => {
    if (typeof value !== 'string') {
      throw new TypeError(`encodeSafetensors: expected metadata ${JSON.stringify(key)} to be a string, got ${describe(value)}`);
    }
    return `${JSON.stringify(key)}:${JSON.stringify(value)}`;
  });
  return `{${fields.join(',')}}`;
}

function checkEntry(name: string, entry: TensorEntry): void {
  const label = `encodeSafetensors: tensor ${JSON.stringify(name)}`;
  if (name === METADATA_KEY) throw new RangeError(`encodeSafetensors: the name ${METADATA_KEY} is reserved for metadata`);
  if (!isObject(entry)) throw new TypeError(`${label}: expected {dtype, shape, data}, got ${describe(entry)}`);
  const expected = entry.dtype === 'float32' ? Float32Array : entry.dtype === 'int32' ? Int32Array : undefined;
  if (!expected) throw new TypeError(`${label}: expected dtype 'float32' or 'int32', got ${describe(entry.dtype)}`);
  if (!Array.isArray(entry.shape) || !entry.shape.every(isCount)) {
    throw new TypeError(`${label}: expected shape to be an array of non-negative integers, got ${describe(entry.shape)}`);
  }
  if (!(entry.data instanceof expected)) {
    throw new TypeError(`${label}: expected data to be a ${expected.name} for dtype ${entry.dtype}, got ${describe(entry.data)}`);
  }
  const numel = entry.shape.reduce((a, b) => a * b, 1);
  if (entry.data.length !== numel) {
    throw new RangeError(`${label}: shape [${entry.shape.join(', ')}] has ${numel} elements but data has ${entry.data.length}`);
  }
}

function fail(sourceName: string, message: string): SafetensorsError {
  return new SafetensorsError(`safetensors: ${sourceName}: ${message}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function describe(value: unknown): string {
  if (value === null || value === undefined || typeof value === 'number') return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function' || typeof value === 'symbol') return typeof value;
  if (ArrayBuffer.isView(value)) return value.constructor.name;
  if (typeof value === 'object' && !Array.isArray(value) && Object.getPrototypeOf(value) !== Object.prototype) {
    return value.constructor?.name ?? 'object';
  }
  let text: string;
  try {
    text = JSON.stringify(value) ?? typeof value;
  } catch {
    text = typeof value; // e.g. an array holding a bigint
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Sets a property even when the key is "__proto__" (a legal tensor name). */
export function defineOwn(target: object, key: string | number, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
