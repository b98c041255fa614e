// nn.Module: registration (explicit and by field), names and order, state dicts, modes.
import { describe, expect, it } from 'vitest';
import * as hn from '../lib/index';

const { nn } = hn;

// The seed workload's shape: a shared trunk and two heads in a ModuleDict.
class TwoHeadNet extends nn.Module {
  shared = new nn.Sequential(
    new nn.Conv2d(3, 4, 3, { padding: 1 }),
    new nn.BatchNorm2d(4),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
  );
  heads = new nn.ModuleDict({
    cls: new nn.Sequential(new nn.Flatten(), new nn.Linear(4 * 4 * 4, 10)),
    seg: new nn.Sequential(new nn.ConvTranspose2d(4, 3, 2, { stride: 2 }), new nn.ReLU(), new nn.ConvTranspose2d(3, 5, 1)),
  });

  override forward(x: hn.Tensor): Record<string, hn.Tensor> {
    const h = this.shared.forward(x);
    return { cls: this.heads.get('cls').forward(h) as hn.Tensor, seg: this.heads.get('seg').forward(h) as hn.Tensor };
  }
}

const TWO_HEAD_PARAMS = [
  'shared.0.weight', 'shared.0.bias', 'shared.1.weight', 'shared.1.bias',
  'heads.cls.1.weight', 'heads.cls.1.bias',
  'heads.seg.0.weight', 'heads.seg.0.bias', 'heads.seg.2.weight', 'heads.seg.2.bias',
];

describe('names and order', () => {
  it("namedParameters gives PyTorch's dotted names in registration order", () => {
    const net = new TwoHeadNet();
    const named = [...net.namedParameters()];
    expect(named.map(([n]) => n)).toEqual(TWO_HEAD_PARAMS);
    // .name is the dotted name, the shapes are PyTorch's layouts.
    for (const [n, p] of named) expect(p.name).toBe(n);
    const shapes = Object.fromEntries(named.map(([n, p]) => [n, p.shape]));
    expect(shapes['shared.0.weight']).toEqual([4, 3, 3, 3]);
    expect(shapes['heads.seg.0.weight']).toEqual([4, 3, 2, 2]);
    expect(shapes['heads.cls.1.weight']).toEqual([10, 64]);
    expect([...net.parameters()].every((p) => p.requiresGrad)).toBe(true);
  });

  it('stateDict adds persistent buffers in place, with PyTorch key names', () => {
    const net = new TwoHeadNet();
    const keys = Object.keys(net.stateDict());
    expect(keys).toEqual([
      'shared.0.weight', 'shared.0.bias', 'shared.1.weight', 'shared.1.bias',
      'shared.1.running_mean', 'shared.1.running_var', 'shared.1.num_batches_tracked',
      'heads.cls.1.weight', 'heads.cls.1.bias',
      'heads.seg.0.weight', 'heads.seg.0.bias', 'heads.seg.2.weight', 'heads.seg.2.bias',
    ]);
    const sd = net.stateDict();
    expect(sd['shared.1.num_batches_tracked'].dtype).toBe('int32');
    expect(sd['shared.1.num_batches_tracked'].shape).toEqual([]);
    expect([...net.namedBuffers()].map(([n]) => n)).toEqual(['shared.1.running_mean', 'shared.1.running_var', 'shared.1.num_batches_tracked']);
  });

  it('a top-level Sequential names children by index', () => {
    const seq = new nn.Sequential(new nn.Conv2d(1, 2, 3), new nn.BatchNorm2d(2), new nn.Linear(2, 2, { bias: false }));
    expect(Object.keys(seq.stateDict())).toEqual([
      '0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked', '2.weight',
    ]);
    expect(seq.length).toBe(3);
    expect(seq.at(-1)).toBeInstanceOf(nn.Linear);
    expect((seq as unknown as Record<string, unknown>)['1']).toBe(seq.at(1));
  });

  it('children, modules, getSubmodule', () => {
    const net = new TwoHeadNet();
    expect([...net.namedChildren()].map(([n]) => n)).toEqual(['shared', 'heads']);
    expect([...net.namedModules()].map(([n]) => n)).toEqual([
      '', 'shared', 'shared.0', 'shared.1', 'shared.2', 'shared.3', 'heads', 'heads.cls', 'heads.cls.0', 'heads.cls.1',
      'heads.seg', 'heads.seg.0', 'heads.seg.1', 'heads.seg.2',
    ]);
    expect(net.getSubmodule('heads.seg.2')).toBeInstanceOf(nn.ConvTranspose2d);
    expect(() => net.getSubmodule('heads.depth')).toThrow(/ModuleDict at 'heads' has no submodule 'depth'/);
  });

  it('a parameter shared by two modules is listed once by parameters(), under both keys by stateDict()', () => {
    const a = new nn.Linear(3, 3);
    const b = new nn.Linear(3, 3);
    b.weight = a.weight;
    const seq = new nn.Sequential(a, b);
    expect([...seq.namedParameters()].map(([n]) => n)).toEqual(['0.weight', '0.bias', '1.bias']);
    expect(Object.keys(seq.stateDict())).toEqual(['0.weight', '0.bias', '1.weight', '1.bias']);
  });
});

describe('user-defined modules', () => {
  class Scale extends nn.Module {
    // A field holding a leaf tensor with requiresGrad is a parameter; a plain tensor is not.
    gain = hn.ones([2]).requiresGrad_();
    constantTable = hn.tensor([1, 2]);
    override forward(x: hn.Tensor): hn.Tensor {
      return x.mul(this.gain);
    }
  }

  class Block extends nn.Module {
    first: hn.nn.Linear;
    scale: Scale;
    count: hn.Tensor;
    last: hn.nn.Linear;
    constructor() {
      super();
      this.first = new nn.Linear(2, 2);
      this.scale = this.registerModule('scale', new Scale());
      this.count = this.registerBuffer('count', hn.zeros([1]));
      this.registerBuffer('cache', hn.zeros([2]), { persistent: false });
      this.last = new nn.Linear(2, 1);
    }
    override forward(x: hn.Tensor): hn.Tensor {
      return this.last.forward(this.scale.forward(this.first.forward(x).relu()));
    }
  }

  it('discovers fields and explicit registrations in the order they happened', () => {
    const block = new Block();
    expect([...block.namedParameters()].map(([n]) => n)).toEqual(['first.weight', 'first.bias', 'scale.gain', 'last.weight', 'last.bias']);
    expect(Object.keys(block.stateDict())).toEqual(['count', 'first.weight', 'first.bias', 'scale.gain', 'last.weight', 'last.bias']);
    expect([...block.namedBuffers()].map(([n]) => n)).toEqual(['count', 'cache']);
    const y = block.forward(hn.ones([3, 2]));
    expect(y.shape).toEqual([3, 1]);
    y.sum().backward();
    expect([...block.parameters()].every((p) => p.grad !== null)).toBe(true);
    block.zeroGrad();
    expect([...block.parameters()].every((p) => p.grad === null)).toBe(true);
  });

  it('reassigning a field replaces the entry in place; null leaves an empty slot', () => {
    const block = new Block();
    block.first = new nn.Linear(2, 2, { bias: false });
    expect([...block.namedParameters()].map(([n]) => n)).toEqual(['first.weight', 'scale.gain', 'last.weight', 'last.bias']);
    (block as unknown as { last: null }).last = null;
    expect([...block.namedChildren()].map(([n]) => n)).toEqual(['first', 'scale']);
  });

  it('works with optimizers end to end', () => {
    hn.manualSeed(3);
    const block = new Block();
    const opt = new hn.optim.Adam(block.parameters(), { lr: 0.05 });
    const x = hn.tensor([[1, 2], [0.5, -1], [-2, 0.3]]);
    const target = hn.tensor([[1], [-1], [0.5]]);
    const loss = (): number => {
      const l = block.forward(x).sub(target).pow(2).mean();
      opt.zeroGrad();
      l.backward();
      return l.item();
    };
    const first = loss();
    for (let i = 0; i < 60; i++) {
      loss();
      opt.step();
    }
    expect(loss()).toBeLessThan(first * 0.5);
  });

  it('rejects bad registrations with clear messages', () => {
    const m = new nn.Module();
    expect(() => m.registerParameter('a.b', hn.zeros([1]))).toThrow(/registerParameter: expected name to be a non-empty name without "."/);
    expect(() => m.registerModule('x', 3 as never)).toThrow(/registerModule: expected x to be a Module or null, got number 3/);
    expect(() => m.registerParameter('w', hn.zeros([1], { dtype: 'int32' }))).toThrow(/expected w to be a float32 tensor/);
    m.registerBuffer('b', hn.zeros([1]));
    expect(() => m.registerParameter('b', hn.zeros([1]))).toThrow(/expected name to be a name not already used by a buffer, got 'b'/);
    expect(() => (m.forward as (x: unknown) => unknown)(1)).toThrow(/Module: missing the required forward\(\) method/);
  });

  it('call() is forward()', () => {
    const lin = new nn.Linear(2, 3);
    const x = hn.ones([1, 2]);
    expect(Array.from(lin.call(x).data)).toEqual(Array.from(lin.forward(x).data));
  });
});

describe('loadStateDict', () => {
  it('copies values in place and reproduces the outputs', () => {
    hn.manualSeed(1);
    const a = new TwoHeadNet();
    hn.manualSeed(2);
    const b = new TwoHeadNet();
    const weightBefore = b.shared.at(0) as hn.nn.Conv2d;
    const tensorBefore = weightBefore.weight;
    const x = hn.randn([2, 3, 8, 8]);
    a.eval();
    b.eval();
    const ya = a.forward(x);
    expect(Array.from(b.forward(x).cls.data)).not.toEqual(Array.from(ya.cls.data));
    expect(b.loadStateDict(a.stateDict())).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(weightBefore.weight).toBe(tensorBefore);
    const yb = b.forward(x);
    expect(Array.from(yb.cls.data)).toEqual(Array.from(ya.cls.data));
    expect(Array.from(yb.seg.data)).toEqual(Array.from(ya.seg.data));
  });

  it('strict: lists missing and unexpected keys and copies nothing', () => {
    const net = new TwoHeadNet();
    const sd = new TwoHeadNet().stateDict();
    delete sd['heads.seg.2.bias'];
    delete sd['shared.1.running_var'];
    sd['heads.depth.weight'] = hn.zeros([1]);
    const before = net.stateDict()['shared.0.weight'].toArray();
    let message = '';
    try {
      net.loadStateDict(sd);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/TwoHeadNet.loadStateDict: error\(s\) in loading the state dict for TwoHeadNet \(nothing was copied\)/);
    expect(message).toMatch(/Missing key\(s\) in state_dict: "shared.1.running_var", "heads.seg.2.bias"\./);
    expect(message).toMatch(/Unexpected key\(s\) in state_dict: "heads.depth.weight"\./);
    expect(Array.from(net.stateDict()['shared.0.weight'].data)).toEqual(Array.from(before));
    // Non-strict loads what matches and reports the rest.
    expect(net.loadStateDict(sd, { strict: false })).toEqual({ missingKeys: ['shared.1.running_var', 'heads.seg.2.bias'], unexpectedKeys: ['heads.depth.weight'] });
    expect(Array.from(net.stateDict()['shared.0.weight'].data)).toEqual(Array.from(sd['shared.0.weight'].data));
  });

  it('shape and dtype mismatches name the key and both sides, even when not strict', () => {
    const net = new nn.Sequential(new nn.Linear(3, 2), new nn.BatchNorm2d(2));
    const sd = net.stateDict();
    sd['0.weight'] = hn.zeros([3, 2]);
    expect(() => net.loadStateDict(sd, { strict: false })).toThrow(/size mismatch for 0.weight: copying a tensor of shape \[3, 2\] from the state dict, the shape in the current model is \[2, 3\]/);
    const sd2 = net.stateDict();
    sd2['1.num_batches_tracked'] = hn.zeros([]);
    expect(() => net.loadStateDict(sd2)).toThrow(/dtype mismatch for 1.num_batches_tracked: copying a float32 tensor \(Float32Array\) from the state dict, the dtype in the current model is int32/);
  });

  it('accepts {shape, dtype, data} records (decoded safetensors)', () => {
    const lin = new nn.Linear(2, 1);
    lin.loadStateDict({
      weight: { shape: [1, 2], dtype: 'float32', data: new Float32Array([3, 4]) },
      bias: { shape: [1], data: new Float32Array([5]) },
    });
    expect(Array.from(lin.forward(hn.tensor([[1, 1]])).data)).toEqual([12]);
  });
});

describe('modes and devices', () => {
  it('train/eval switch every descendant', () => {
    const net = new TwoHeadNet();
    expect([...net.modules()].every((m) => m.training)).toBe(true);
    expect(net.eval()).toBe(net);
    expect([...net.modules()].some((m) => m.training)).toBe(false);
    net.train();
    expect([...net.modules()].every((m) => m.training)).toBe(true);
  });

  it("to('cpu') keeps the same tensors; CUDA without a GPU is a clear error", () => {
    const lin = new nn.Linear(2, 2);
    const w = lin.weight;
    expect(lin.to('cpu').weight).toBe(w);
    if (!hn.cuda.isAvailable()) expect(() => lin.to('cuda')).toThrow(/to: expected device/);
  });

  it('requiresGrad_(false) freezes parameters', () => {
    const lin = new nn.Linear(2, 2).requiresGrad_(false);
    expect([...lin.parameters()].every((p) => !p.requiresGrad)).toBe(true);
  });

  it('toString prints the tree', () => {
    const s = new nn.Sequential(new nn.Linear(2, 3), new nn.ReLU()).toString();
    expect(s).toBe('Sequential(\n  (0): Linear(inFeatures=2, outFeatures=3, bias=true)\n  (1): ReLU()\n)');
  });
});

describe('containers', () => {
  it('ModuleList indexes, appends and inserts with renumbering', () => {
    const list = new nn.ModuleList([new nn.Linear(1, 1), new nn.Linear(1, 2)]);
    list.append(new nn.Linear(1, 3));
    list.insert(1, new nn.ReLU());
    expect(list.length).toBe(4);
    expect([...list].map((m) => m.constructor.name)).toEqual(['Linear', 'ReLU', 'Linear', 'Linear']);
    expect(Object.keys(list.stateDict())).toEqual(['0.weight', '0.bias', '2.weight', '2.bias', '3.weight', '3.bias']);
    expect((list.at(-1) as hn.nn.Linear).outFeatures).toBe(3);
    expect(() => list.at(4)).toThrow(/ModuleList.at: expected index to be an integer in \[-4, 3\], got number 4/);
  });

  it('ModuleDict keeps insertion order and allows keys that are method names', () => {
    const dict = new nn.ModuleDict({ train: new nn.Linear(1, 1), b: new nn.ReLU() });
    dict.set('forward', new nn.Linear(1, 2));
    expect(dict.keys()).toEqual(['train', 'b', 'forward']);
    expect(typeof dict.train).toBe('function');
    expect(dict.get('forward')).toBeInstanceOf(nn.Linear);
    expect(Object.keys(dict.stateDict())).toEqual(['train.weight', 'train.bias', 'forward.weight', 'forward.bias']);
    expect(dict.delete('train')).toBe(true);
    expect(dict.keys()).toEqual(['b', 'forward']);
    expect(() => dict.get('train')).toThrow(/ModuleDict.get: expected key to be one of \["b","forward"\], got 'train'/);
  });

  it('Sequential accepts named children and runs a module listed twice twice', () => {
    const double = new nn.Linear(1, 1);
    double.weight.data[0] = 2;
    double.bias!.data[0] = 0;
    const seq = new nn.Sequential(double, double);
    expect(seq.forward(hn.tensor([[3]])).item()).toBe(12);
    const named = new nn.Sequential({ conv: new nn.Conv2d(1, 1, 1), act: new nn.ReLU() });
    expect(Object.keys(named.stateDict())).toEqual(['conv.weight', 'conv.bias']);
  });

  it('Sequential under noGrad disposes the intermediates built-in modules made and used, nothing else', () => {
    // Records what each step received and returned.
    const seen: hn.Tensor[] = [];
    class Spy extends nn.Module {
      override forward(x: hn.Tensor): hn.Tensor {
        seen.push(x);
        const y = hn.F.relu(x);
        seen.push(y);
        return y;
      }
    }
    const x = hn.randn([2, 3, 8, 8]);
    const conv = new nn.Conv2d(3, 4, 3, { padding: 1 });
    const mid: hn.Tensor[] = [];
    // A plain module between built-in ones: what it was given and what it made stay alive.
    const seq = new nn.Sequential(conv, new nn.BatchNorm2d(4), new Spy(), new nn.MaxPool2d(2), new nn.Flatten(), new nn.Linear(64, 5));
    seq.eval();
    const expected = seq.forward(x).toArray();
    seen.length = 0;
    const out = hn.noGrad(() => seq.forward(x));
    expect(out.toArray()).toEqual(expected);
    expect(x.isDisposed).toBe(false);
    expect(out.isDisposed).toBe(false);
    expect(seen.map((t) => t.isDisposed)).toEqual([false, false]);
    // A chain of built-in modules: BatchNorm2d's input (the conv output) and its output (pooled
    // next) are disposed. Seen through BatchNorm2d's prototype: a subclass or an own forward
    // would make the module unknown, and then nothing around it is disposed.
    const chain = new nn.Sequential(new nn.Conv2d(3, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4), new nn.MaxPool2d(2), new nn.Flatten());
    chain.eval();
    const original = nn.BatchNorm2d.prototype.forward;
    nn.BatchNorm2d.prototype.forward = function (this: nn.BatchNorm2d, t: hn.Tensor): hn.Tensor {
      mid.push(t);
      const y = original.call(this, t);
      mid.push(y);
      return y;
    };
    try {
      const flat = hn.noGrad(() => chain.forward(x));
      expect(flat.shape).toEqual([2, 64]);
      expect(mid.map((t) => t.isDisposed)).toEqual([true, true]);
      expect(x.isDisposed).toBe(false);
      expect(flat.isDisposed).toBe(false);
      // With a gradient to keep, nothing is disposed.
      mid.length = 0;
      chain.forward(x);
      expect(mid.map((t) => t.isDisposed)).toEqual([false, false]);
    } finally {
      nn.BatchNorm2d.prototype.forward = original;
    }
  });
});
