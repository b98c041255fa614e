// hn.onnx.exportModel: trace a model's forward on an example input, convert every recorded node
// with the converter table, and write an ONNX model (atomically) that onnxruntime runs with the
// same outputs. With dynamicBatch the model is traced a second time at another batch size, and the
// two graphs, which must match node for node, tell which dims follow the batch.
import * as fs from 'fs';
import * as path from 'path';
import { argRangeError, argTypeError, describeValue, shapeString } from '../errors';
import { writeFileAtomic } from '../io/atomic_write';
import { Tensor, isTensor, numelOf } from '../tensor';
import { ConvertContext, batchDependentAttrs, converters, exportError, withoutOnnxForm } from './converters';
import { GraphBuilder } from './graph_builder';
import { Dim, ElementType, encodeModel, onnx } from './proto';
import { Exportable, TracedGraph, traceModel } from './tracer';

export interface ExportOptions {
  /**
   * ONNX opset, 13 (default) to 21. Operators are written in their opset-13 form; where a later
   * opset changed a signature the exporter follows it (ReduceMean takes axes as an input from 18).
   */
  opset?: number;
  /** Graph input names, one per example input. Default ['input'] (['input_0', ...] for several). */
  inputNames?: readonly string[];
  /** Graph output names. Default: the keys of an object output, 'output', or output_0, output_1... */
  outputNames?: readonly string[];
  /** Make dim 0 of the inputs and outputs a symbolic 'batch' (dim_param). Default false. */
  dynamicBatch?: boolean;
  /** Extra metadata_props entries. */
  metadata?: Readonly<Record<string, string | number | boolean>>;
}

export interface ExportResult {
  /** The encoded ModelProto (what was written). */
  readonly bytes: Uint8Array;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly opset: number;
  /** Number of ONNX nodes and initializers written. */
  readonly nodeCount: number;
  readonly initializerCount: number;
}

export const MIN_OPSET = 13;
export const MAX_OPSET = 21;
/** The oldest IR version that carries each opset (the ONNX release that introduced it). */
const IR_VERSION_FOR_OPSET: Readonly<Record<number, number>> = {
  13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10,
};
const RESERVED_METADATA = ['tasks', 'input_shape', 'dynamic_batch'];
const OP = 'onnx.exportModel';

/**
 * Writes `model` as an ONNX file at `filePath` (atomically: readers never see a partial file).
 * The forward runs once (twice with dynamicBatch) in eval mode on the example input; each module's
 * training flag is restored afterwards.
 * @example hn.onnx.exportModel(model, hn.randn([1, 3, 32, 32]), 'seed.onnx', { dynamicBatch: true })
 */
export function exportModel(model: Exportable, exampleInput: Tensor | readonly Tensor[], filePath: string,
  opts: ExportOptions = {}): ExportResult {
  if (typeof filePath !== 'string' || filePath === '') throw argTypeError(OP, 'path', 'a non-empty file path', describeValue(filePath));
  const result = exportToBytes(model, exampleInput, opts);
  writeFileAtomic(filePath, result.bytes);
  return result;
}

/** The same export, returned as bytes (e.g. for onnxruntime's InferenceSession.create(bytes)). */
export function exportToBytes(model: Exportable, exampleInput: Tensor | readonly Tensor[], opts: ExportOptions = {}): ExportResult {
  if (model === null || typeof model !== 'object' || typeof (model as Exportable).forward !== 'function') {
    throw argTypeError(OP, 'model', 'an object with a forward(input) method (an nn.Module)', describeValue(model));
  }
  const inputs = checkInputs(exampleInput, opts.dynamicBatch === true);
  const options = checkOptions(opts, inputs.length);

  const main = traceModel(model, inputs);
  const outputNames = resolveOutputNames(main, options.outputNames, options.inputNames);
  const alt = options.dynamicBatch ? pairWithSecondTrace(model, main) : null;

  const builder = new GraphBuilder();
  inputs.forEach((t, i) => {
    builder.tryClaim(options.inputNames[i]);
    builder.addInput(options.inputNames[i], elementType(t), declaredDims(t.shape, alt ? alt.get(t)?.shape : undefined, 'batch', t.shape[0]));
  });
  for (const name of outputNames) builder.tryClaim(name);

  const valueNames = convertGraph(main, alt, builder, options, outputNames, stateNames(model));
  const batch = inputs[0].shape[0];
  main.outputs.forEach((t, i) => {
    const name = outputNames[i];
    if (valueNames.get(t) !== name) builder.addNode('Identity', [valueNames.get(t) as string], [name]);
    builder.addOutput(name, elementType(t), declaredDims(t.shape, alt?.get(t)?.shape, `${name}_dim`, batch, alt?.get(inputs[0])?.shape[0]));
  });

  const inputShape = declaredDims(inputs[0].shape, alt?.get(inputs[0])?.shape, 'batch', batch);
  const metadata: Record<string, string> = {
    input_shape: JSON.stringify(inputs.length === 1 ? inputShape
      : Object.fromEntries(inputs.map((t, i) => [options.inputNames[i], declaredDims(t.shape, alt?.get(t)?.shape, 'batch', t.shape[0])]))),
    dynamic_batch: String(options.dynamicBatch),
  };
  if (main.kind === 'object') metadata.tasks = JSON.stringify(main.keys);
  for (const [k, v] of Object.entries(options.metadata)) metadata[k] = String(v);

  const modelProto: onnx.IModelProto = {
    irVersion: IR_VERSION_FOR_OPSET[options.opset],
    producerName: 'hydranet',
    producerVersion: packageVersion(),
    opsetImport: [{ domain: '', version: options.opset }],
    docString: 'Exported by hydranet (hn.onnx.exportModel).',
    graph: builder.toGraph(modelName(model)),
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  };
  return {
    bytes: encodeModel(modelProto),
    inputNames: options.inputNames,
    outputNames,
    opset: options.opset,
    nodeCount: builder.nodes.length,
    initializerCount: builder.initializers.length,
  };
}

// ---- Validation ------------------------------------------------------------------------------

function checkInputs(exampleInput: Tensor | readonly Tensor[], dynamicBatch: boolean): Tensor[] {
  const list = Array.isArray(exampleInput) ? [...exampleInput] : [exampleInput as Tensor];
  if (list.length === 0) throw argTypeError(OP, 'exampleInput', 'a tensor or a non-empty array of tensors', 'an empty array');
  list.forEach((t, i) => {
    const arg = Array.isArray(exampleInput) ? `exampleInput[${i}]` : 'exampleInput';
    if (!isTensor(t)) throw argTypeError(OP, arg, 'a tensor', describeValue(t));
    if (t.isDisposed) throw argTypeError(OP, arg, 'a live tensor', `a disposed tensor of shape ${shapeString(t.shape)}`);
    if (t.dtype !== 'float32' && t.dtype !== 'int32') throw argTypeError(OP, arg, 'a float32 or int32 tensor', `dtype ${String(t.dtype)}`);
    if (t.device !== 'cpu') throw argTypeError(OP, arg, "a tensor on 'cpu' (call .to('cpu'))", `device '${t.device}'`);
    if (t.shape.some((d) => d === 0)) throw argRangeError(OP, arg, 'a tensor with no empty dims', `shape ${shapeString(t.shape)}`);
    if (dynamicBatch && t.ndim === 0) {
      throw argRangeError(OP, arg, 'a tensor with a batch dim 0 (dynamicBatch)', `a scalar of shape ${shapeString(t.shape)}`);
    }
  });
  if (new Set(list).size !== list.length) throw argTypeError(OP, 'exampleInput', 'distinct tensors, one per graph input', 'the same tensor twice');
  if (dynamicBatch && list.some((t) => t.shape[0] !== list[0].shape[0])) {
    throw argRangeError(OP, 'exampleInput', 'tensors with the same batch size in dim 0 (dynamicBatch)', list.map((t) => shapeString(t.shape)).join(', '));
  }
  return list;
}

interface ResolvedOptions {
  opset: number;
  inputNames: readonly string[];
  outputNames: readonly string[] | undefined;
  dynamicBatch: boolean;
  metadata: Readonly<Record<string, string | number | boolean>>;
}

function checkNames(arg: string, names: unknown, count: number | undefined): readonly string[] {
  if (!Array.isArray(names)) throw argTypeError(OP, arg, 'an array of strings', describeValue(names));
  if (count !== undefined && names.length !== count) throw argRangeError(OP, arg, `${count} name(s), one per ${arg === 'opts.inputNames' ? 'example input' : 'model output'}`, `${names.length}`);
  names.forEach((n, i) => {
    if (typeof n !== 'string' || n === '') throw argTypeError(OP, `${arg}[${i}]`, 'a non-empty string', describeValue(n));
  });
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw argRangeError(OP, arg, 'distinct names', `'${dup}' twice`);
  return names as string[];
}

function checkOptions(opts: ExportOptions, inputCount: number): ResolvedOptions {
  if (opts === null || typeof opts !== 'object') throw argTypeError(OP, 'opts', 'an options object', describeValue(opts));
  const opset = opts.opset ?? MIN_OPSET;
  if (typeof opset !== 'number' || !Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw argRangeError(OP, 'opts.opset', `an integer in [${MIN_OPSET}, ${MAX_OPSET}]`, describeValue(opset));
  }
  if (opts.dynamicBatch !== undefined && typeof opts.dynamicBatch !== 'boolean') {
    throw argTypeError(OP, 'opts.dynamicBatch', 'a boolean', describeValue(opts.dynamicBatch));
  }
  const inputNames = checkNames('opts.inputNames', opts.inputNames ?? (inputCount === 1 ? ['input'] : Array.from({ length: inputCount }, (_, i) => `input_${i}`)), inputCount);
  const outputNames = opts.outputNames === undefined ? undefined : checkNames('opts.outputNames', opts.outputNames, undefined);
  const metadata = opts.metadata ?? {};
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) throw argTypeError(OP, 'opts.metadata', 'an object of strings', describeValue(metadata));
  for (const [k, v] of Object.entries(metadata)) {
    if (!['string', 'number', 'boolean'].includes(typeof v)) throw argTypeError(OP, `opts.metadata.${k}`, 'a string, number or boolean', describeValue(v));
    if (RESERVED_METADATA.includes(k)) throw argRangeError(OP, 'opts.metadata', `keys other than ${RESERVED_METADATA.map((r) => `'${r}'`).join(', ')} (written by the exporter)`, `'${k}'`);
  }
  return { opset, inputNames, outputNames, dynamicBatch: opts.dynamicBatch === true, metadata };
}

function resolveOutputNames(graph: TracedGraph, given: readonly string[] | undefined, inputNames: readonly string[]): readonly string[] {
  const names = given ?? (graph.kind === 'tensor' ? ['output'] : graph.kind === 'array' ? graph.keys.map((k) => `output_${k}`) : graph.keys);
  if (names.length !== graph.outputs.length) {
    throw argRangeError(OP, 'opts.outputNames', `${graph.outputs.length} name(s), one per model output`, `${names.length}`);
  }
  checkNames('output names', names, undefined);
  const clash = names.find((n) => inputNames.includes(n));
  if (clash !== undefined) throw argRangeError(OP, 'opts.outputNames', 'names distinct from the input names', `'${clash}'`);
  return names;
}

// ---- Dynamic batch: a second trace -----------------------------------------------------------

/** The example inputs with dim 0 resized to `batch`, rows repeated cyclically (valid values). */
function resizeBatch(t: Tensor, batch: number): Tensor {
  const row = numelOf(t.shape.slice(1));
  const out = Tensor.empty([batch, ...t.shape.slice(1)], t.dtype);
  const src = t.data, dst = out.data;
  for (let b = 0; b < batch; b++) {
    const from = (b % t.shape[0]) * row;
    dst.set(src.subarray(from, from + row), b * row);
  }
  return out;
}

function kindOf(graph: TracedGraph, t: Tensor): string {
  const input = graph.inputs.indexOf(t);
  if (input >= 0) return `input ${input}`;
  return t.gradFn ? `op '${t.gradFn.op}'` : 'a constant tensor';
}

/**
 * Traces again at another batch size and pairs the two graphs tensor by tensor: the same ops in
 * the same order with the same attributes (except those that are shapes, like reshape's), and
 * constants of the same shape. Returns main tensor -> its twin.
 */
function pairWithSecondTrace(model: Exportable, main: TracedGraph): Map<Tensor, Tensor> {
  const batch = main.inputs[0].shape[0];
  const altBatch = batch === 1 ? 2 : 1;
  const other = traceModel(model, main.inputs.map((t) => resizeBatch(t, altBatch)));
  const changes = (what: string): Error => new Error(
    `${OP}: dynamicBatch needs a graph that is the same at every batch size, but ${what} (traced at batch ${batch} and ${altBatch}); export without dynamicBatch`);
  if (other.order.length !== main.order.length) {
    throw changes(`it has ${main.order.length} values at one and ${other.order.length} at the other`);
  }
  const pairs = new Map<Tensor, Tensor>();
  main.order.forEach((a, i) => {
    const b = other.order[i];
    const where = `value ${i} (${kindOf(main, a)}${main.scopes.get(a) ? ` in module ${main.scopes.get(a)}` : ''})`;
    if (kindOf(main, a) !== kindOf(other, b)) throw changes(`${where} becomes ${kindOf(other, b)}`);
    if (a.ndim !== b.ndim || a.dtype !== b.dtype) throw changes(`${where} changes rank or dtype`);
    if (a.gradFn && b.gradFn) {
      const aIn = a.gradFn.inputs.map((t) => main.index.get(t));
      const bIn = b.gradFn.inputs.map((t) => other.index.get(t));
      if (aIn.join() !== bIn.join()) throw changes(`${where} reads different inputs`);
      const ignored = batchDependentAttrs[a.gradFn.op] ?? [];
      for (const key of new Set([...Object.keys(a.gradFn.attrs), ...Object.keys(b.gradFn.attrs)])) {
        if (ignored.includes(key)) continue;
        const va = JSON.stringify(a.gradFn.attrs[key]), vb = JSON.stringify(b.gradFn.attrs[key]);
        if (va !== vb) throw changes(`${where} has attribute ${key} = ${va} at one and ${vb} at the other`);
      }
    } else if (!main.inputs.includes(a) && shapeString(a.shape) !== shapeString(b.shape)) {
      throw changes(`${where} was created inside forward with shape ${shapeString(a.shape)} at one and ${shapeString(b.shape)} at the other (derive it from the input instead)`);
    }
    pairs.set(a, b);
  });
  // Inputs the outputs do not depend on are still graph inputs with a batch dim.
  main.inputs.forEach((t, i) => pairs.set(t, other.inputs[i]));
  return pairs;
}

/**
 * Declared dims of a graph input or output: literals, except dims that changed in the second trace,
 * which are symbolic: 'batch' when they equal the batch size in both traces, else `${prefix}${i}`.
 */
function declaredDims(shape: readonly number[], altShape: readonly number[] | undefined, prefix: string,
  batch: number, altBatch?: number): Dim[] {
  if (!altShape) return [...shape];
  return shape.map((d, i) => {
    if (d === altShape[i]) return d;
    if (prefix === 'batch' || (d === batch && altShape[i] === altBatch)) return 'batch';
    return `${prefix}${i}`;
  });
}

// ---- Conversion ------------------------------------------------------------------------------

function elementType(t: Tensor): ElementType {
  return t.dtype === 'int32' ? 'int32' : 'float32';
}

/** Converts every tensor of the trace; returns tensor -> ONNX value name. */
function convertGraph(graph: TracedGraph, alt: Map<Tensor, Tensor> | null, builder: GraphBuilder,
  options: ResolvedOptions, outputNames: readonly string[], stateName: ReadonlyMap<Tensor, string>): Map<Tensor, string> {
  const names = new Map<Tensor, string>();
  graph.inputs.forEach((t, i) => names.set(t, options.inputNames[i]));
  // A node that makes an output writes straight into the output's name (the first, if repeated).
  const outputOf = new Map<Tensor, string>();
  graph.outputs.forEach((t, i) => { if (!outputOf.has(t)) outputOf.set(t, outputNames[i]); });

  let constants = 0;
  for (const t of graph.order) {
    if (names.has(t)) continue;
    const node = t.gradFn;
    const scope = graph.scopes.get(t) ?? '';
    if (!node) {
      names.set(t, addInitializer(builder, t, stateName.get(t) ?? t.name, () => `/constants/tensor_${constants++}`));
      continue;
    }
    const where = `op '${node.op}'${scope ? ` (in module ${scope})` : ''}`;
    const converter = Object.prototype.hasOwnProperty.call(converters, node.op) ? converters[node.op] : undefined;
    if (!converter) {
      const reason = Object.prototype.hasOwnProperty.call(withoutOnnxForm, node.op) ? ` (${withoutOnnxForm[node.op]})` : '';
      throw exportError({ where }, `has no ONNX form${reason}`);
    }
    const outputName = outputOf.get(t) ?? builder.temp(`${scope ? `${scope}/` : ''}${node.op}`);
    const twin = alt?.get(t);
    const ctx: ConvertContext = {
      op: node.op,
      attrs: node.attrs,
      inputs: node.inputs,
      inputNames: node.inputs.map((x) => names.get(x) as string),
      output: t,
      outputName,
      opset: options.opset,
      alt: twin && twin.gradFn ? { inputs: twin.gradFn.inputs, output: twin } : null,
      builder,
      scope,
      where,
    };
    converter(ctx);
    names.set(t, outputName);
  }
  return names;
}

/**
 * Parameter and buffer names as seen from the model ('shared.0.weight', 'bn.running_mean'); a
 * tensor's own .name may be relative to a submodule, or missing for buffers.
 */
function stateNames(model: Exportable): Map<Tensor, string> {
  const names = new Map<Tensor, string>();
  const m = model as { namedParameters?: () => Iterable<[string, Tensor]>; namedBuffers?: () => Iterable<[string, Tensor]> };
  for (const list of [m.namedParameters, m.namedBuffers]) {
    if (typeof list !== 'function') continue;
    for (const [name, t] of list.call(model)) if (isTensor(t) && !names.has(t)) names.set(t, name);
  }
  return names;
}

/** A leaf tensor becomes an initializer named after its parameter/buffer name when it has one. */
function addInitializer(builder: GraphBuilder, t: Tensor, preferred: string | undefined, fallback: () => string): string {
  if (t.isDisposed) {
    throw new Error(`${OP}: the model reads a disposed tensor${preferred ? ` '${preferred}'` : ''} of shape ${shapeString(t.shape)}`);
  }
  const name = builder.uniqueName(preferred && preferred.length > 0 ? preferred : fallback());
  return builder.addInitializer(name, elementType(t), t.shape, t.data);
}

// ---- Model metadata --------------------------------------------------------------------------

let cachedVersion: string | undefined;

/** hydranet's version from its package.json (found upwards from this file, in lib/ or dist/lib/). */
function packageVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate)) {
      const pkg = JSON.parse(fs.readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'hydranet' && typeof pkg.version === 'string') return (cachedVersion = pkg.version);
    }
    if (path.dirname(dir) === dir) return (cachedVersion = 'unknown');
    dir = path.dirname(dir);
  }
}

function modelName(model: Exportable): string {
  const name = (model as { constructor?: { name?: string } }).constructor?.name;
  return name && name !== 'Object' ? name : 'hydranet_model';
}
