// Whole models through the ONNX exporter and onnxruntime-node: a small MLP, the W1 seed model
// (conv trunk + classifier and segmenter heads) and the W2 MultiMNIST LeNet of
// shared/WORKLOADS.md, plus the file, metadata and mode contracts of exportModel.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import * as hn from '../lib/index';
import type { Tensor } from '../lib/tensor';
import { compareOnce, opTypes, roundTrip, session } from './helpers/onnx';

const { nn } = hn;
const gen = new hn.Generator(77);
hn.manualSeed(1234);

function input(shape: number[]): Tensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  gen.fillUniform(data, -1, 1);
  return hn.tensor(data, { shape });
}

/** Shared trunk + heads, returning {task: output} (what mtl.MultiTaskModel does). */
class MultiHead extends nn.Module {
  shared: hn.nn.Module;
  heads: hn.nn.ModuleDict;
  constructor(shared: hn.nn.Module, heads: Record<string, hn.nn.Module>) {
    super();
    this.shared = shared;
    this.heads = new nn.ModuleDict(heads);
  }
  override forward(x: Tensor): Record<string, Tensor> {
    const h = this.shared.forward(x) as Tensor;
    return Object.fromEntries(this.heads.entries().map(([k, m]) => [k, m.forward(h) as Tensor]));
  }
}

/** W1 "seed": conv trunk, 'cls' and 'seg' heads. */
function seedModel(): MultiHead {
  return new MultiHead(
    new nn.Sequential(
      new nn.Conv2d(3, 64, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2, { stride: 2 }),
      new nn.Conv2d(64, 128, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2, { stride: 2 }),
    ),
    {
      cls: new nn.Sequential(new nn.Flatten(), new nn.Linear(8192, 10)),
      seg: new nn.Sequential(new nn.ConvTranspose2d(128, 64, 2, { stride: 2 }), new nn.ReLU(), new nn.ConvTranspose2d(64, 11, 2, { stride: 2 })),
    },
  );
}

/** W2 MultiMNIST LeNet with the authors' dropouts (identity in eval mode). */
function multiMnistModel(): MultiHead {
  const head = (): hn.nn.Module => new nn.Sequential(new nn.Linear(50, 50), new nn.ReLU(), new nn.Dropout(0.5), new nn.Linear(50, 10));
  return new MultiHead(
    new nn.Sequential(
      new nn.Conv2d(1, 10, 5), new nn.MaxPool2d(2), new nn.ReLU(),
      new nn.Conv2d(10, 20, 5), new nn.Dropout2d(0.5), new nn.MaxPool2d(2), new nn.ReLU(),
      new nn.Flatten(), new nn.Linear(320, 50), new nn.ReLU(),
    ),
    { left: head(), right: head() },
  );
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-onnx-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('whole models in onnxruntime-node', () => {
  it('an MLP (Gemm chain), static and with a dynamic batch', async () => {
    const mlp = new nn.Sequential(new nn.Linear(10, 32), new nn.ReLU(), new nn.Linear(32, 16), new nn.Tanh(), new nn.Linear(16, 4), new nn.Sigmoid());
    const { proto } = await roundTrip(mlp, input([8, 10]), gen);
    expect(opTypes(proto)).toEqual(['Gemm', 'Relu', 'Gemm', 'Tanh', 'Gemm', 'Sigmoid']);
    // Parameters keep their state-dict names.
    expect(proto.graph?.initializer?.map((t) => t.name).sort()).toEqual(Object.keys(mlp.stateDict()).sort());
    await roundTrip(mlp, input([8, 10]), gen, { export: { dynamicBatch: true }, batches: [1, 17] });
  });

  it('W1 seed model: one output per head, batch 1 and 17 from one file', async () => {
    const model = seedModel();
    const { proto } = await roundTrip(model, input([2, 3, 32, 32]), gen, { export: { dynamicBatch: true }, batches: [1, 17] });
    expect(proto.graph?.output?.map((o) => o.name)).toEqual(['cls', 'seg']);
    const dims = (i: number) => proto.graph?.output?.[i].type?.tensorType?.shape?.dim?.map((d) => d.dimParam || Number(d.dimValue));
    expect(dims(0)).toEqual(['batch', 10]);
    expect(dims(1)).toEqual(['batch', 11, 32, 32]);
    expect(opTypes(proto)).toEqual(expect.arrayContaining(['Conv', 'MaxPool', 'Flatten', 'Gemm', 'ConvTranspose']));
    // Node names carry the module path.
    expect(proto.graph?.node?.some((n) => n.name?.startsWith('/heads.seg.2/'))).toBe(true);
  });

  it('W2 MultiMNIST LeNet (with eval-mode dropouts): left and right heads', async () => {
    const model = multiMnistModel();
    const { proto } = await roundTrip(model, input([4, 1, 28, 28]), gen, { export: { dynamicBatch: true }, batches: [1, 17] });
    expect(proto.graph?.output?.map((o) => o.name)).toEqual(['left', 'right']);
    expect(opTypes(proto)).not.toContain('Dropout');
    expect(model.training).toBe(true);
  });

  it.each([18, 21])('the seed and LeNet models at opset %d', async (opset) => {
    await roundTrip(seedModel(), input([2, 3, 32, 32]), gen, { export: { opset } });
    await roundTrip(multiMnistModel(), input([3, 1, 28, 28]), gen, { export: { opset, dynamicBatch: true }, batches: [1, 17] });
  });

  it('a conv + BatchNorm2d model with trained running statistics, exported in eval mode', async () => {
    const model = new nn.Sequential(new nn.Conv2d(3, 8, 3, { padding: 1 }), new nn.BatchNorm2d(8), new nn.ReLU(), new nn.AvgPool2d(2));
    // A few training-mode forwards move the running statistics away from 0 / 1.
    hn.noGrad(() => { for (let i = 0; i < 3; i++) model.forward(input([4, 3, 8, 8]).mul(2).add(0.5)); });
    const { proto } = await roundTrip(model, input([2, 3, 8, 8]), gen, { export: { dynamicBatch: true }, batches: [1, 17] });
    expect(opTypes(proto)).toContain('BatchNormalization');
    expect(proto.graph?.initializer?.map((t) => t.name)).toEqual(expect.arrayContaining(['1.running_mean', '1.running_var', '1.weight']));
    expect(model.training).toBe(true);
  });
});

// hn.mtl.MultiTaskModel returns {task: Tensor}; its export has one output per head.
const mtl = (hn as unknown as { mtl?: { MultiTaskModel?: new (o: { shared: hn.nn.Module; heads: Record<string, hn.nn.Module> }) => hn.nn.Module } }).mtl;
describe.runIf(typeof mtl?.MultiTaskModel === 'function')('hn.mtl.MultiTaskModel', () => {
  it('exports the trunk once and one output per task, in training mode too', async () => {
    const Ctor = mtl?.MultiTaskModel as NonNullable<NonNullable<typeof mtl>['MultiTaskModel']>;
    const model = new Ctor({
      shared: new nn.Sequential(new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.ReLU(), new nn.Flatten()),
      heads: { digit: new nn.Linear(4 * 8 * 8, 10), parity: new nn.Linear(4 * 8 * 8, 2) },
    });
    model.train();
    const { proto } = await roundTrip(model, input([2, 1, 8, 8]), gen, { export: { dynamicBatch: true }, batches: [1, 17] });
    expect(proto.graph?.output?.map((o) => o.name)).toEqual(['digit', 'parity']);
    expect(opTypes(proto).filter((t) => t === 'Conv')).toHaveLength(1);
    const meta = Object.fromEntries(proto.metadataProps.map((p) => [p.key, p.value]));
    expect(JSON.parse(meta.tasks)).toEqual(['digit', 'parity']);
    expect(model.training).toBe(true);
  });
});

describe('exportModel: file, metadata and modes', () => {
  it('writes the file atomically (no temporary left), replaces an old one, and ORT runs it', async () => {
    const model = multiMnistModel();
    const file = path.join(tmp, 'lenet.onnx');
    fs.writeFileSync(file, 'old contents');
    const result = hn.onnx.exportModel(model, input([2, 1, 28, 28]), file, { dynamicBatch: true });
    expect(fs.readdirSync(tmp)).toEqual(['lenet.onnx']);
    expect(fs.readFileSync(file).equals(Buffer.from(result.bytes.buffer, result.bytes.byteOffset, result.bytes.length))).toBe(true);
    const sess = await session(file);
    expect(sess.inputNames).toEqual(['input']);
    expect(sess.outputNames).toEqual(['left', 'right']);
    await compareOnce(sess, model, [input([5, 1, 28, 28])], result.inputNames, result.outputNames);
    await sess.release();
  });

  it('records producer, version, opset and metadata (tasks, input shape, user entries)', () => {
    const model = seedModel();
    const { bytes } = hn.onnx.exportToBytes(model, input([1, 3, 32, 32]), {
      dynamicBatch: true, opset: 17, metadata: { dataset: 'seed', epochs: 3, augmented: false },
    });
    const proto = hn.onnx.decodeModel(bytes);
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
    expect(proto.producerName).toBe('hydranet');
    expect(proto.producerVersion).toBe(pkg.version);
    expect(proto.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 17]]);
    const meta = Object.fromEntries(proto.metadataProps.map((p) => [p.key, p.value]));
    expect(JSON.parse(meta.tasks)).toEqual(['cls', 'seg']);
    expect(JSON.parse(meta.input_shape)).toEqual(['batch', 3, 32, 32]);
    expect(meta).toMatchObject({ dataset: 'seed', epochs: '3', augmented: 'false', dynamic_batch: 'true' });
  });

  it('restores each module\'s own training flag after exporting in eval mode', () => {
    const model = seedModel();
    model.train();
    model.heads.get('seg').eval();
    const before = [...model.namedModules()].map(([name, m]) => [name, m.training]);
    hn.onnx.exportToBytes(model, input([1, 3, 32, 32]));
    expect([...model.namedModules()].map(([name, m]) => [name, m.training])).toEqual(before);
    // And the forward hooks that learn module paths are gone.
    expect([...model.namedModules()].some(([, m]) => Object.prototype.hasOwnProperty.call(m, 'forward'))).toBe(false);
  });

  it('several inputs (forward(a, b)), exported from a batch-1 example with a dynamic batch', async () => {
    const fc = new nn.Linear(6, 3);
    const model = { forward: (a: Tensor, b: Tensor) => fc.forward(hn.concat([a, b.mul(b)], 1)).add(a.sum(1, true)) };
    const { proto } = await roundTrip(model, [input([1, 4]), input([1, 2])], gen, { export: { dynamicBatch: true }, batches: [1, 17] });
    expect(proto.graph?.input?.map((i) => i.name)).toEqual(['input_0', 'input_1']);
    const meta = Object.fromEntries(proto.metadataProps.map((p) => [p.key, p.value]));
    expect(JSON.parse(meta.input_shape)).toEqual({ input_0: ['batch', 4], input_1: ['batch', 2] });
  });

  it('custom input and output names; an array output', async () => {
    const model = { forward: (x: Tensor) => [x.relu(), x.sigmoid()] };
    const result = hn.onnx.exportToBytes(model, input([3, 4]), { inputNames: ['pixels'], outputNames: ['pos', 'prob'] });
    const sess = await session(result.bytes);
    expect(sess.inputNames).toEqual(['pixels']);
    expect(sess.outputNames).toEqual(['pos', 'prob']);
    await compareOnce(sess, model, [input([3, 4])], result.inputNames, result.outputNames);
    await sess.release();
  });
});
