/**
 * Crash-safe file replacement: readers (and a machine that loses power) see either the old file or
 * the complete new one, never a torn mix.
 *
 * 1. write the bytes to a fresh temporary file in the target's folder (same file system, so the
 *    rename below is atomic), 2. fsync it (the data is on disk before the name points at it),
 * 3. rename it over the target, 4. fsync the folder (the rename itself is on disk).
 * Any failure before the rename removes the temporary file and leaves the old file untouched.
 * A target that is a symbolic link is replaced by the new file, like `mv` (the link is not followed).
 * An existing target's permission bits are kept.
 * A writer killed mid-write (SIGKILL, power loss) leaves its temporary file behind; the next write
 * of the same target removes such files once their process is gone and they are a minute old.
 *
 * Example: writeFileAtomic('model.safetensors', bytes);
 */
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * Atomically replaces (or creates) `path` with `data` (bytes, or pieces written one after the
 * other so a caller need not join them). Blocks until the data is durable.
 */
export function writeFileAtomic(path: string, data: Uint8Array | readonly Uint8Array[]): void {
  const target = resolve(path);
  const temp = tempPathFor(target);
  let fd: number | undefined;
  try {
    const mode = existingMode(fs.statSync(target, { throwIfNoEntry: false }));
    fd = fs.openSync(temp, 'wx', 0o666); // 'wx': fail rather than share a name with another writer
    if (mode !== undefined) fs.fchmodSync(fd, mode);
    for (const chunk of chunksOf(data)) {
      for (let written = 0; written < chunk.length;) {
        written += fs.writeSync(fd, chunk, written, chunk.length - written);
      }
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(temp, target);
  } catch (err) {
    if (fd !== undefined) ignoreErrors(() => fs.closeSync(fd as number));
    ignoreErrors(() => fs.unlinkSync(temp));
    throw writeError(target, err);
  }
  syncDirectory(dirname(target));
  ignoreErrors(() => removeOrphanedTemps(target, fs.readdirSync(dirname(target))));
}

/** Same as writeFileAtomic with fs.promises, so a server's event loop keeps running meanwhile. */
export async function writeFileAtomicAsync(path: string, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
  const target = resolve(path);
  const temp = tempPathFor(target);
  let handle: fs.promises.FileHandle | undefined;
  try {
    const mode = existingMode(await fs.promises.stat(target).catch(missingAsUndefined));
    handle = await fs.promises.open(temp, 'wx', 0o666);
    if (mode !== undefined) await handle.chmod(mode);
    for (const chunk of chunksOf(data)) {
      for (let written = 0; written < chunk.length;) {
        written += (await handle.write(chunk, written, chunk.length - written)).bytesWritten;
      }
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.promises.rename(temp, target);
  } catch (err) {
    if (handle !== undefined) await handle.close().catch(() => undefined);
    await fs.promises.unlink(temp).catch(() => undefined);
    throw writeError(target, err);
  }
  await syncDirectoryAsync(dirname(target));
  await fs.promises.readdir(dirname(target)).then((names) => removeOrphanedTemps(target, names), () => undefined);
}

function chunksOf(data: Uint8Array | readonly Uint8Array[]): readonly Uint8Array[] {
  return data instanceof Uint8Array ? [data] : data;
}

/** A unique sibling name; the base is shortened so the name stays under the 255-byte limit. */
function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target).slice(0, 64)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** A temporary file of a writer that is gone is this old before it is removed (clock skew, NFS). */
const ORPHAN_AGE_MS = 60_000;

/**
 * Removes the temporary files of `target` (named by tempPathFor) whose writing process no longer
 * exists on this machine and that have not been touched for a minute. Best effort: a file that
 * cannot be checked or removed stays.
 */
function removeOrphanedTemps(target: string, names: readonly string[]): void {
  const prefix = `.${basename(target).slice(0, 64)}.`;
  const now = Date.now();
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const match = /^(\d+)\.[0-9a-f]{12}\.tmp$/.exec(name.slice(prefix.length));
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid === process.pid || processExists(pid)) continue;
    const file = join(dirname(target), name);
    ignoreErrors(() => {
      if (now - fs.statSync(file).mtimeMs >= ORPHAN_AGE_MS) fs.unlinkSync(file);
    });
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, owned by someone else
  }
}

function existingMode(stats: fs.Stats | undefined): number | undefined {
  return stats?.isFile() ? stats.mode & 0o7777 : undefined;
}

function missingAsUndefined(err: NodeJS.ErrnoException): undefined {
  if (err.code === 'ENOENT') return undefined;
  throw err;
}

/**
 * Some platforms cannot open or fsync a folder (Windows: EISDIR/EPERM; some network file systems:
 * EINVAL). The file is already in place then, so only a real I/O error is worth raising.
 */
const DIRECTORY_SYNC_UNSUPPORTED = new Set(['EISDIR', 'EPERM', 'EACCES', 'EINVAL', 'ENOTSUP', 'EBADF']);

function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (err) {
    if (!DIRECTORY_SYNC_UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? '')) throw syncError(dir, err);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

async function syncDirectoryAsync(dir: string): Promise<void> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(dir, 'r');
    await handle.sync();
  } catch (err) {
    if (!DIRECTORY_SYNC_UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? '')) throw syncError(dir, err);
  } finally {
    await handle?.close();
  }
}

function writeError(target: string, err: unknown): Error {
  return withCode(`writeFileAtomic: could not write ${JSON.stringify(target)}; the existing file, if any, is unchanged`, err);
}

function syncError(dir: string, err: unknown): Error {
  return withCode(`writeFileAtomic: the new file is in place but fsync of its folder ${JSON.stringify(dir)} failed`, err);
}

/** An Error that names our target and keeps the system error's code (ENOSPC, EACCES...) and cause. */
function withCode(message: string, err: unknown): Error {
  const cause = err as NodeJS.ErrnoException;
  const wrapped: NodeJS.ErrnoException = new Error(`${message}: ${cause?.message ?? String(err)}`, { cause: err });
  if (cause?.code !== undefined) wrapped.code = cause.code;
  return wrapped;
}

function ignoreErrors(fn: () => void): void {
  try {
    fn();
  } catch {
    // Cleanup after a failure: the first error is the one worth reporting.
  }
}
