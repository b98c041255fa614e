import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { IdxFormatError, parseIdx, readIdx } from '../lib/data/idx';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-idx-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** An IDX file written by hand: magic, big-endian int32 sizes, then the bytes. */
function idxBytes(shape: number[], data: number[], type = 0x08): Buffer {
  const header = Buffer.alloc(4 + 4 * shape.length);
  header[2] = type;
  header[3] = shape.length;
  shape.forEach((d, i) => header.writeInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data)]);
}

function writeTemp(name: string, bytes: Uint8Array): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}

const values = Array.from({ length: 24 }, (_, i) => (i * 11) % 256);

describe('IDX reader', () => {
  it('parses a 3-d unsigned byte file built here, big-endian sizes, row-major data', () => {
    // 258 needs the second byte of the big-endian size: catches little-endian reads.
    const big = Array.from({ length: 258 }, (_, i) => i % 251);
    const file = writeTemp('big.idx1', idxBytes([258], big));
    const one = readIdx(file);
    expect(one.shape).toEqual([258]);
    expect(Array.from(one.data)).toEqual(big);

    const three = readIdx(writeTemp('ok.idx3', idxBytes([2, 3, 4], values)));
    expect(three.shape).toEqual([2, 3, 4]);
    expect(three.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(three.data)).toEqual(values);
    // element [1, 2, 3] sits at 1*12 + 2*4 + 3
    expect(three.data[1 * 12 + 2 * 4 + 3]).toBe(values[23]);
  });

  it('reads gzip-compressed files (the distributed form) transparently', () => {
    const file = writeTemp('ok.idx3.gz', zlib.gzipSync(idxBytes([2, 3, 4], values)));
    expect(Array.from(readIdx(file).data)).toEqual(values);
  });

  it('accepts an empty array (a zero size) when the file size agrees', () => {
    expect(parseIdx(idxBytes([0, 28, 28], [])).shape).toEqual([0, 28, 28]);
  });

  const corrupt: Array<[string, () => Uint8Array, RegExp]> = [
    ['bad magic', () => { const b = idxBytes([2, 3, 4], values); b[0] = 0x12; return b; }, /bad magic number.*0x12 0x00/],
    ['unsupported type', () => idxBytes([24], values, 0x0d), /unsupported element type 0x0d \(float32\)/],
    ['unknown type', () => idxBytes([24], values, 0x42), /unsupported element type 0x42 \(not an IDX type\)/],
    ['zero dimensions', () => idxBytes([], []), /number of dimensions is 0/],
    ['truncated header', () => idxBytes([2, 3, 4], values).subarray(0, 10), /truncated header: 3 dimensions need 16 header bytes, file has 10/],
    ['shorter than the magic', () => Buffer.from([0, 0]), /shorter than the 4-byte magic/],
    ['truncated data', () => idxBytes([2, 3, 4], values).subarray(0, 16 + 23), /file truncated: shape \[2, 3, 4\] needs 16 \+ 24 = 40 bytes, file has 39/],
    ['trailing bytes', () => Buffer.concat([idxBytes([2, 3, 4], values), Buffer.from([7])]), /has trailing bytes.*40 bytes, file has 41/],
    ['dims that disagree with the data', () => idxBytes([3, 3, 4], values), /file truncated: shape \[3, 3, 4\]/],
    ['negative size', () => idxBytes([-2, 3, 4], values), /dimension 0 has negative size -2/],
    ['corrupt gzip', () => zlib.gzipSync(idxBytes([24], values)).subarray(0, 20), /gzip stream is corrupt/],
  ];

  it.each(corrupt)('rejects %s with an IdxFormatError naming the file', (name, make, message) => {
    const file = writeTemp(`${name.replace(/ /g, '_')}.idx`, make());
    let error: unknown;
    try {
      readIdx(file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(IdxFormatError);
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toMatch(message);
  });

  it('names the missing file', () => {
    const file = path.join(dir, 'nope.idx');
    expect(() => readIdx(file)).toThrow(new RegExp(`readIdx: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot read file \\(ENOENT\\)`));
  });
});
