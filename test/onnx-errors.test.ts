// What exportModel refuses, and how it says so: ops without an ONNX form (named with their
// module path), bad example inputs and options, graphs that a symbolic batch cannot describe.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import * as hn from '../lib/index';
import { record } from '../lib/autograd';
import { Tensor } from '../lib/tensor';

const { nn } = hn;

/** A layer whose op ('foo') the exporter has never heard of. */
class Foo extends nn.Module {
  override forward(x: Tensor): Tensor {
    const out = new Tensor(x.toArray(), x.shape);
    return record(out, 'foo', { strength: 2 }, [x], (g) => [g]);
  }
}

class TwoHeads extends nn.Module {
  heads = new nn.ModuleDict({
    cls: new nn.Sequential(new nn.Linear(4, 3)),
    seg: new nn.Sequential(new nn.ReLU(), new Foo()),
  });
  override forward(x: Tensor): Record<string, Tensor> {
    return { cls: this.heads.get('cls').forward(x) as Tensor, seg: this.heads.get('seg').forward(x) as Tensor };
  }
}

const x24 = (): Tensor => hn.randn([2, 4]);

describe('ops without an ONNX form', () => {
  it('names the op and the module path it was recorded in', () => {
    expect(() => hn.onnx.exportToBytes(new TwoHeads(), x24())).toThrow("onnx.exportModel: op 'foo' (in module heads.seg.1) has no ONNX form");
  });

  it('names the op alone at the top level', () => {
    const model = { forward: (x: Tensor) => record(new Tensor(x.toArray(), x.shape), 'foo', {}, [x], (g) => [g]) };
    expect(() => hn.onnx.exportToBytes(model, x24())).toThrow(/^onnx\.exportModel: op 'foo' has no ONNX form$/);
  });

  it('a training loss inside forward has no ONNX form either', () => {
    const target = hn.tensor([0, 2], { dtype: 'int32' });
    const model = { forward: (x: Tensor) => hn.F.crossEntropy(x, target) };
    expect(() => hn.onnx.exportToBytes(model, x24())).toThrow(/op 'crossEntropy' has no ONNX form/);
  });

  it('refuses batch norm on batch statistics and dropout recorded in training mode', () => {
    const rm = hn.zeros([4]), rv = hn.ones([4]);
    const bn = { forward: (x: Tensor) => hn.F.batchNorm2d(x, rm, rv, null, null, { training: true }) };
    expect(() => hn.onnx.exportToBytes(bn, hn.randn([2, 4, 3, 3]))).toThrow(/op 'batchNorm2d' normalises with the batch's own statistics/);
    const noStats = new nn.BatchNorm2d(4, { trackRunningStats: false });
    expect(() => hn.onnx.exportToBytes(noStats, hn.randn([2, 4, 3, 3]))).toThrow(/op 'batchNorm2d'.*own statistics/);
    const drop = { forward: (x: Tensor) => hn.F.dropout(x, { p: 0.5, training: true }) };
    expect(() => hn.onnx.exportToBytes(drop, x24())).toThrow(/op 'dropout' was recorded in training mode/);
  });

  it('refuses avgPool2d divisorOverride when ceilMode windows overhang', () => {
    const model = { forward: (x: Tensor) => hn.F.avgPool2d(x, { kernelSize: 2, ceilMode: true, divisorOverride: 3 }) };
    expect(() => hn.onnx.exportToBytes(model, hn.randn([1, 1, 5, 5]))).toThrow(/op 'avgPool2d' uses divisorOverride = 3 with ceilMode windows/);
    // Without overhang (even size) the same options export.
    expect(() => hn.onnx.exportToBytes(model, hn.randn([1, 1, 4, 4]))).not.toThrow();
  });
});

describe('bad example inputs', () => {
  const mlp = new nn.Sequential(new nn.Linear(4, 3));

  it('not a tensor', () => {
    expect(() => hn.onnx.exportToBytes(mlp, new Float32Array(8) as unknown as Tensor)).toThrow(TypeError);
    expect(() => hn.onnx.exportToBytes(mlp, [[1, 2, 3, 4]] as unknown as Tensor)).toThrow(/expected exampleInput\[0\] to be a tensor, got array of length 4/);
    expect(() => hn.onnx.exportToBytes(mlp, null as unknown as Tensor)).toThrow(/expected exampleInput to be a tensor, got null/);
  });

  it('the wrong shape for the model: the model\'s own message, with the example\'s shape', () => {
    expect(() => hn.onnx.exportToBytes(mlp, hn.randn([2, 5]))).toThrow(RangeError);
    expect(() => hn.onnx.exportToBytes(mlp, hn.randn([2, 5]))).toThrow(/^onnx\.exportModel: model\.forward failed on the example input \[2, 5\] \(float32\): linear: expected input to be a tensor \[\.\.\., 4\]/);
  });

  it('the wrong dtype for the model', () => {
    const ints = hn.tensor([[1, 2, 3, 4]], { dtype: 'int32' });
    expect(() => hn.onnx.exportToBytes(mlp, ints)).toThrow(TypeError);
    expect(() => hn.onnx.exportToBytes(mlp, ints)).toThrow(/example input \[1, 4\] \(int32\): linear: expected input to be a float32 tensor/);
  });

  it('disposed, empty, or a scalar with dynamicBatch', () => {
    const gone = hn.randn([2, 4]);
    gone.dispose();
    expect(() => hn.onnx.exportToBytes(mlp, gone)).toThrow(/expected exampleInput to be a live tensor, got a disposed tensor of shape \[2, 4\]/);
    expect(() => hn.onnx.exportToBytes(mlp, hn.zeros([0, 4]))).toThrow(/expected exampleInput to be a tensor with no empty dims, got shape \[0, 4\]/);
    const id = { forward: (x: Tensor) => x.mul(2) };
    expect(() => hn.onnx.exportToBytes(id, hn.tensor(3), { dynamicBatch: true })).toThrow(/expected exampleInput to be a tensor with a batch dim 0/);
  });
});

describe('bad models and options', () => {
  const id = { forward: (x: Tensor) => x.mul(2) };

  it('a model without forward, or a forward that returns no tensors', () => {
    expect(() => hn.onnx.exportToBytes({} as never, x24())).toThrow(/expected model to be an object with a forward\(input\) method/);
    expect(() => hn.onnx.exportToBytes({ forward: () => 3 }, x24())).toThrow(/expected model\.forward to return a tensor, an array of tensors or an object of tensors, got number 3/);
    expect(() => hn.onnx.exportToBytes({ forward: (x: Tensor) => ({ a: x, b: 'no' }) }, x24())).toThrow(/got 'no' under key 'b'/);
  });

  it('options out of range', () => {
    expect(() => hn.onnx.exportToBytes(id, x24(), { opset: 12 })).toThrow(/expected opts\.opset to be an integer in \[13, 21\], got number 12/);
    expect(() => hn.onnx.exportToBytes(id, x24(), { outputNames: ['a', 'b'] })).toThrow(/expected opts\.outputNames to be 1 name\(s\), one per model output, got 2/);
    expect(() => hn.onnx.exportToBytes(id, x24(), { inputNames: ['x', 'y'] })).toThrow(/expected opts\.inputNames to be 1 name/);
    expect(() => hn.onnx.exportToBytes(id, x24(), { inputNames: ['same'], outputNames: ['same'] })).toThrow(/names distinct from the input names/);
    expect(() => hn.onnx.exportToBytes(id, x24(), { metadata: { tasks: 'x' } })).toThrow(/keys other than 'tasks'/);
    expect(() => hn.onnx.exportToBytes(id, x24(), { metadata: { a: {} as never } })).toThrow(/expected opts\.metadata\.a to be a string, number or boolean/);
    expect(() => hn.onnx.exportModel(id, x24(), '')).toThrow(/expected path to be a non-empty file path/);
  });

  it('leaves no file behind when the export fails', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-onnx-err-'));
    try {
      expect(() => hn.onnx.exportModel(new TwoHeads(), x24(), path.join(dir, 'm.onnx'))).toThrow(/has no ONNX form/);
      expect(fs.readdirSync(dir)).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('dynamicBatch limits', () => {
  it('a tensor created inside forward with the batch in its shape', () => {
    const model = { forward: (x: Tensor) => x.add(hn.ones([x.shape[0], 4])) };
    expect(() => hn.onnx.exportToBytes(model, x24())).not.toThrow();
    expect(() => hn.onnx.exportToBytes(model, x24(), { dynamicBatch: true })).toThrow(/dynamicBatch needs a graph that is the same at every batch size, but value \d+ \(a constant tensor\) was created inside forward with shape \[2, 4\] at one and \[1, 4\] at the other/);
  });

  it('a forward whose ops depend on the batch size', () => {
    const model = { forward: (x: Tensor) => (x.shape[0] > 1 ? x.mul(2) : x.add(2)) };
    expect(() => hn.onnx.exportToBytes(model, x24(), { dynamicBatch: true })).toThrow(/dynamicBatch needs a graph that is the same at every batch size/);
  });

  it('a reshape with two batch-dependent dims', () => {
    const model = {
      forward: (x: Tensor) => {
        const col = x.reshape([-1, 1]);
        const outer = hn.matmul(col, col.reshape([1, -1])); // [4N, 4N]
        return outer.reshape([outer.shape[0] / 2, -1]); // [2N, 8N]
      },
    };
    expect(() => hn.onnx.exportToBytes(model, x24())).not.toThrow();
    expect(() => hn.onnx.exportToBytes(model, x24(), { dynamicBatch: true })).toThrow(/op 'reshape' reshapes to \[4, 16\] \(\[2, 8\] at another batch size\): 2 dims change with the batch/);
  });
});
