// writeFileAtomic: the protocol (temp file, fsync, rename, fsync folder) and what a failure at each
// step leaves behind. Failures are injected through a pass-through mock of node:fs, because the
// tests run as root, for whom a read-only folder is no obstacle.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { writeFileAtomic, writeFileAtomicAsync } from '../lib/io/atomic_write';

const control = vi.hoisted(() => ({
  failOn: new Set<string>(),
  log: [] as string[],
  recording: false,
}));

vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  const fault = (name: string) => Object.assign(new Error(`injected ${name} failure`), { code: name === 'writeSync' ? 'ENOSPC' : 'EIO' });
  // Records the call, then fails it when asked to; otherwise does the real thing.
  const wrap = <F extends (...args: never[]) => unknown>(name: string, real: F, describeCall: (...args: Parameters<F>) => string) =>
    ((...args: Parameters<F>) => {
      if (control.recording) control.log.push(`${name} ${describeCall(...args)}`);
      if (control.failOn.has(name)) {
        if (name === 'writeSync') (real as unknown as typeof actual.writeSync)(args[0] as number, Buffer.from('partial')); // half a write first
        throw fault(name);
      }
      return real(...args);
    }) as unknown as F;
  const base = (p: unknown) => (typeof p === 'string' ? path.basename(p).replace(/\.\d+\.[0-9a-f]+\.tmp$/, '.TMP') : 'fd');
  return {
    ...actual,
    openSync: wrap('openSync', actual.openSync, (p, flags) => `${base(p)} ${flags}`),
    writeSync: wrap('writeSync', actual.writeSync, () => ''),
    fsyncSync: wrap('fsyncSync', actual.fsyncSync, () => ''),
    closeSync: wrap('closeSync', actual.closeSync, () => ''),
    renameSync: wrap('renameSync', actual.renameSync, (from, to) => `${base(from)} -> ${base(to)}`),
    promises: {
      ...actual.promises,
      rename: wrap('rename', actual.promises.rename, (from, to) => `${base(from)} -> ${base(to)}`),
    },
  };
});

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-atomic-'));
  control.failOn.clear();
  control.log.length = 0;
  control.recording = false;
});
afterEach(() => {
  control.failOn.clear();
  fs.rmSync(dir, { recursive: true, force: true });
});

const bytes = (text: string) => new Uint8Array(Buffer.from(text));
const read = (file: string) => fs.readFileSync(file, 'utf8');

describe('writeFileAtomic', () => {
  it('writes a temp file, fsyncs it, renames it over the target, then fsyncs the folder', () => {
    const target = path.join(dir, 'model.safetensors');
    control.recording = true;
    writeFileAtomic(target, bytes('weights'));
    control.recording = false;
    expect(read(target)).toBe('weights');
    expect(fs.readdirSync(dir)).toEqual(['model.safetensors']);
    expect(control.log).toEqual([
      'openSync .model.safetensors.TMP wx',
      'writeSync ',
      'fsyncSync ',
      'closeSync ',
      'renameSync .model.safetensors.TMP -> model.safetensors',
      `openSync ${path.basename(dir)} r`,
      'fsyncSync ',
      'closeSync ',
    ]);
  });

  it('replaces an existing file and keeps its permission bits', () => {
    const target = path.join(dir, 'ckpt');
    fs.writeFileSync(target, 'old');
    fs.chmodSync(target, 0o640);
    writeFileAtomic(target, bytes('new and longer'));
    expect(read(target)).toBe('new and longer');
    expect(fs.statSync(target).mode & 0o777).toBe(0o640);
  });

  it.each([
    ['renameSync', 'EIO'],
    ['writeSync', 'ENOSPC'],
    ['fsyncSync', 'EIO'],
  ])('a %s failure leaves the previous file intact and no temp file behind', (step, code) => {
    const target = path.join(dir, 'ckpt.safetensors');
    fs.writeFileSync(target, 'previous');
    control.failOn.add(step);
    let error: NodeJS.ErrnoException | undefined;
    try {
      writeFileAtomic(target, bytes('x'.repeat(100_000)));
    } catch (e) {
      error = e as NodeJS.ErrnoException;
    }
    expect(error?.message).toMatch(new RegExp(`^writeFileAtomic: could not write ".*ckpt\\.safetensors"; the existing file, if any, is unchanged: injected ${step} failure`));
    expect(error?.code).toBe(code);
    expect(read(target)).toBe('previous');
    expect(fs.readdirSync(dir)).toEqual(['ckpt.safetensors']);
  });

  it('a real rename failure (the target is a folder) removes the temp file', () => {
    const target = path.join(dir, 'taken');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'inside'), 'keep');
    expect(() => writeFileAtomic(target, bytes('x'))).toThrow(/could not write ".*taken".*(EISDIR|ENOTEMPTY|EEXIST)/);
    expect(fs.readdirSync(dir)).toEqual(['taken']);
    expect(read(path.join(target, 'inside'))).toBe('keep');
  });

  it('names the target when its folder does not exist', () => {
    const target = path.join(dir, 'missing', 'ckpt');
    expect(() => writeFileAtomic(target, bytes('x'))).toThrow(/could not write ".*missing\/ckpt".*ENOENT/);
  });

  it('handles a 255-byte file name (the temp name must stay within the limit)', () => {
    const target = path.join(dir, 'w'.repeat(255));
    writeFileAtomic(target, bytes('long'));
    expect(read(target)).toBe('long');
    expect(fs.readdirSync(dir)).toHaveLength(1);
  });

  it('writes a list of pieces one after the other', async () => {
    writeFileAtomic(path.join(dir, 'joined'), [bytes('head|'), new Uint8Array(0), bytes('a|'), bytes('b')]);
    expect(read(path.join(dir, 'joined'))).toBe('head|a|b');
    await writeFileAtomicAsync(path.join(dir, 'joined'), [bytes('x'), bytes('yz')]);
    expect(read(path.join(dir, 'joined'))).toBe('xyz');
  });

  it('writes empty files', () => {
    const target = path.join(dir, 'empty');
    writeFileAtomic(target, new Uint8Array(0));
    expect(fs.statSync(target).size).toBe(0);
  });
});

describe('writeFileAtomicAsync', () => {
  it('replaces the file and keeps its permission bits', async () => {
    const target = path.join(dir, 'ckpt');
    fs.writeFileSync(target, 'old');
    fs.chmodSync(target, 0o600);
    await writeFileAtomicAsync(target, bytes('async data'));
    expect(read(target)).toBe('async data');
    expect(fs.statSync(target).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(dir)).toEqual(['ckpt']);
  });

  it('a rename failure leaves the previous file intact and no temp file behind', async () => {
    const target = path.join(dir, 'ckpt');
    fs.writeFileSync(target, 'previous');
    control.failOn.add('rename');
    await expect(writeFileAtomicAsync(target, bytes('new'))).rejects.toThrow(/could not write ".*ckpt".*injected rename failure/);
    expect(read(target)).toBe('previous');
    expect(fs.readdirSync(dir)).toEqual(['ckpt']);
  });
});
