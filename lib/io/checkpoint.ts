/**
 * hn.save / hn.load: checkpoints as safetensors files, written atomically.
 *
 * A state dict ({name: Tensor}) becomes a plain safetensors file that PyTorch reads with
 * `safetensors.torch.load_file`. A record (nested objects and arrays mixing tensors with numbers,
 * strings, booleans and null) keeps its tensors as tensors named by dotted path and its other
 * values as JSON in `__metadata__` (see record.ts), so load returns the same structure.
 * Loaded tensors are float32 or int32 CPU tensors; other dtypes in a file are converted or rejected
 * as safetensors_dtypes.ts documents (F16/BF16/F64 -> float32, small integers -> int32).
 *
 * Loading reads the header first and each tensor straight into its own buffer: peak memory is the
 * weights once, not the file plus the weights.
 *
 * @example
 *   hn.save({model: model.stateDict(), epoch: 3}, 'ckpt.safetensors', {metadata: {run: 'a'}});
 *   const {model, epoch} = hn.load('ckpt.safetensors');
 */
import * as fs from 'node:fs';
import { fromTypedArray, Tensor } from '../tensor';
import { writeFileAtomic, writeFileAtomicAsync } from './atomic_write';
import { RECORD_METADATA_KEY, assembleRecord, flattenRecord } from './record';
import {
  ByteRange, DecodedSafetensors, SafetensorsError, TensorEntry, decodeSafetensorsSteps, defineOwn, encodeSafetensorsChunks,
} from './safetensors';

export { RECORD_METADATA_KEY } from './record';
export type { TensorLike } from './record';

/** A loaded value: tensors, JSON scalars, arrays and plain objects of them. */
export type CheckpointValue = Tensor | number | string | boolean | null | CheckpointValue[] | CheckpointRecord;
export interface CheckpointRecord {
  [key: string]: CheckpointValue;
}

export interface SaveOptions {
  /** Free-form strings stored in the file's `__metadata__` (e.g. {format: 'pt'} for transformers). */
  metadata?: Record<string, string>;
}

export interface LoadedCheckpoint<T> {
  data: T;
  /** The file's `__metadata__` without hydranet's own record key. */
  metadata: Record<string, string>;
}

/** Saves a state dict or a record to `path` (replaced atomically: never a half-written file). */
export function save(value: object, path: string, options: SaveOptions = {}): void {
  writeFileAtomic(checkPath('save', path), encodeCheckpoint(value, options, 'save'));
}

/** save() without blocking the event loop on disk I/O. */
export async function saveAsync(value: object, path: string, options: SaveOptions = {}): Promise<void> {
  await writeFileAtomicAsync(checkPath('saveAsync', path), encodeCheckpoint(value, options, 'saveAsync'));
}

/** Loads what save() wrote (or any safetensors file: a flat {name: Tensor}). */
export function load<T extends object = CheckpointRecord>(path: string): T {
  return loadWithMetadata<T>(path).data;
}

export async function loadAsync<T extends object = CheckpointRecord>(path: string): Promise<T> {
  return (await loadWithMetadataAsync<T>(path)).data;
}

/** load() that also returns the file's string metadata. */
export function loadWithMetadata<T extends object = CheckpointRecord>(path: string): LoadedCheckpoint<T> {
  checkPath('load', path);
  const fd = fs.openSync(path, 'r');
  try {
    const reader = decodeSafetensorsSteps(fs.fstatSync(fd).size, path);
    let step = reader.next();
    while (!step.done) step = reader.next(readExactly(fd, path, step.value));
    return toCheckpoint<T>(step.value, path);
  } finally {
    fs.closeSync(fd);
  }
}

export async function loadWithMetadataAsync<T extends object = CheckpointRecord>(path: string): Promise<LoadedCheckpoint<T>> {
  checkPath('loadAsync', path);
  const handle = await fs.promises.open(path, 'r');
  try {
    const reader = decodeSafetensorsSteps((await handle.stat()).size, path);
    let step = reader.next();
    while (!step.done) step = reader.next(await readExactlyAsync(handle, path, step.value));
    return toCheckpoint<T>(step.value, path);
  } finally {
    await handle.close();
  }
}

/** The file's bytes in pieces (header, then each tensor) so that saving never joins them. */
function encodeCheckpoint(value: object, options: SaveOptions, op: string): Uint8Array[] {
  const { tensors, recordJson } = flattenRecord(value, op);
  const metadata: Record<string, string> = { ...options.metadata };
  if (Object.prototype.hasOwnProperty.call(metadata, RECORD_METADATA_KEY)) {
    throw new RangeError(`${op}: the metadata key ${JSON.stringify(RECORD_METADATA_KEY)} is reserved for hydranet's records`);
  }
  if (recordJson !== undefined) metadata[RECORD_METADATA_KEY] = recordJson;
  const entries: Record<string, TensorEntry> = {};
  for (const [name, t] of tensors) {
    const entry = { dtype: t.dtype as TensorEntry['dtype'], shape: t.shape, data: t.toArray() };
    defineOwn(entries, name, entry);
  }
  return encodeSafetensorsChunks(entries, Object.keys(metadata).length > 0 ? metadata : undefined);
}

/** Large reads go in pieces: one read call takes at most 2 GiB. */
const MAX_READ = 1 << 30;

// Each range gets a fresh buffer: the tensor built from it owns all of it (dispose detaches it).
function readExactly(fd: number, path: string, range: ByteRange): Uint8Array {
  const bytes = new Uint8Array(range.length);
  for (let done = 0; done < range.length;) {
    const n = fs.readSync(fd, bytes, done, Math.min(range.length - done, MAX_READ), range.position + done);
    if (n === 0) throw endOfFile(path, range, done);
    done += n;
  }
  return bytes;
}

async function readExactlyAsync(handle: fs.promises.FileHandle, path: string, range: ByteRange): Promise<Uint8Array> {
  const bytes = new Uint8Array(range.length);
  for (let done = 0; done < range.length;) {
    const { bytesRead } = await handle.read(bytes, done, Math.min(range.length - done, MAX_READ), range.position + done);
    if (bytesRead === 0) throw endOfFile(path, range, done);
    done += bytesRead;
  }
  return bytes;
}

function endOfFile(path: string, range: ByteRange, done: number): SafetensorsError {
  return new SafetensorsError(`safetensors: ${path}: file ended at byte ${range.position + done} while reading `
    + `${range.what} (${range.length} bytes from ${range.position}); was it truncated while loading?`);
}

function toCheckpoint<T>(decoded: DecodedSafetensors, path: string): LoadedCheckpoint<T> {
  const tensors = new Map<string, Tensor>();
  // The decoded arrays are fresh and unshared, so the tensors adopt them without another copy.
  for (const [name, t] of Object.entries(decoded.tensors)) tensors.set(name, fromTypedArray(t.data, t.shape));
  const { [RECORD_METADATA_KEY]: recordJson, ...metadata } = decoded.metadata;
  return { data: assembleRecord(tensors, recordJson, path) as T, metadata };
}

function checkPath(op: string, path: unknown): string {
  if (typeof path !== 'string' || path.length === 0) {
    throw new TypeError(`${op}: expected path to be a non-empty string, got ${path === '' ? "''" : typeof path}`);
  }
  return path;
}
