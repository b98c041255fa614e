// Reader for the IDX format of the MNIST files (http://yann.lecun.com/exdb/mnist/):
//   bytes 0-1  zero
//   byte  2    element type (0x08 = unsigned byte; the only one MNIST uses and we accept)
//   byte  3    number of dimensions d
//   then d big-endian int32 sizes, then the elements in row-major order.
// Every field is checked, and the file size must equal header + product of the sizes exactly:
// a corrupt or truncated file raises an IdxFormatError naming the file, never returns garbage.
import * as fs from 'fs';
import * as zlib from 'zlib';

export interface IdxArray {
  /** Row-major elements; a view into the file's bytes (not a copy). */
  data: Uint8Array;
  shape: number[];
}

export class IdxFormatError extends Error {
  constructor(
    readonly source: string,
    problem: string,
  ) {
    super(`readIdx: ${source}: ${problem}`);
    this.name = 'IdxFormatError';
  }
}

const TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

const hex = (b: number) => `0x${b.toString(16).padStart(2, '0')}`;

/**
 * Parses IDX bytes. `source` names the file in error messages. A gzip stream (the form the
 * files are distributed in) is inflated first.
 * @example parseIdx(fs.readFileSync('t10k-labels-idx1-ubyte')).shape // [10000]
 */
export function parseIdx(bytes: Uint8Array, source = '<buffer>'): IdxArray {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = zlib.gunzipSync(bytes);
    } catch (error) {
      throw new IdxFormatError(source, `gzip stream is corrupt (${(error as Error).message})`);
    }
  }
  if (bytes.length < 4) {
    throw new IdxFormatError(source, `file is ${bytes.length} bytes, shorter than the 4-byte magic number`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new IdxFormatError(source, `bad magic number: expected first two bytes 0x00 0x00, got ${hex(bytes[0])} ${hex(bytes[1])} (not an IDX file)`);
  }
  const type = bytes[2];
  if (type !== 0x08) {
    const name = TYPE_NAMES[type] ? ` (${TYPE_NAMES[type]})` : ' (not an IDX type)';
    throw new IdxFormatError(source, `unsupported element type ${hex(type)}${name}; only 0x08 (unsigned byte) is supported`);
  }
  const ndims = bytes[3];
  if (ndims === 0) throw new IdxFormatError(source, 'number of dimensions is 0; expected at least 1');
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new IdxFormatError(source, `truncated header: ${ndims} dimensions need ${headerBytes} header bytes, file has ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const size = view.getInt32(4 + 4 * i, false);
    if (size < 0) throw new IdxFormatError(source, `dimension ${i} has negative size ${size}`);
    shape.push(size);
    count *= size;
  }
  const expected = headerBytes + count;
  if (bytes.length !== expected) {
    const what = bytes.length < expected ? 'truncated' : 'has trailing bytes';
    throw new IdxFormatError(
      source,
      `file ${what}: shape [${shape.join(', ')}] needs ${headerBytes} + ${count} = ${expected} bytes, file has ${bytes.length}`,
    );
  }
  return { data: bytes.subarray(headerBytes), shape };
}

/** Reads and parses an IDX file (optionally gzip-compressed). */
export function readIdx(path: string): IdxArray {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(path);
  } catch (error) {
    throw new IdxFormatError(path, `cannot read file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  return parseIdx(bytes, path);
}
