// hn.models: the seed network and Sener & Koltun's MultiMNIST LeNet — shapes, state-dict names
// (PyTorch's for the same modules), the paper's dropouts (shared channel mask, no rescaling,
// identity in eval and hence absent from an ONNX export), and bad options.
import { describe, expect, it } from 'vitest';
import * as hn from '../lib/index';
import { roundTrip } from './helpers/onnx';

const { models } = hn;

describe('seedNet', () => {
  it('gives left/right logits and full-size segmentation logits for MultiMNIST', () => {
    hn.manualSeed(0);
    const model = models.seedNet();
    const out = model.forward(hn.randn([3, 1, 28, 28]));
    expect(Object.keys(out)).toEqual(['left', 'right', 'seg']);
    expect(out.left.shape).toEqual([3, 10]);
    expect(out.right.shape).toEqual([3, 10]);
    expect(out.seg.shape).toEqual([3, 3, 28, 28]);
    const shapes = Object.fromEntries(Object.entries(model.stateDict()).map(([k, v]) => [k, v.shape]));
    expect(shapes).toEqual({
      'shared.0.weight': [32, 1, 3, 3], 'shared.0.bias': [32],
      'shared.3.weight': [64, 32, 3, 3], 'shared.3.bias': [64],
      'heads.left.1.weight': [10, 64 * 7 * 7], 'heads.left.1.bias': [10],
      'heads.right.1.weight': [10, 64 * 7 * 7], 'heads.right.1.bias': [10],
      'heads.seg.0.weight': [64, 32, 2, 2], 'heads.seg.0.bias': [32],
      'heads.seg.2.weight': [32, 3, 2, 2], 'heads.seg.2.bias': [3],
    });
  });

  it('builds W1 (3x32x32, widths 64/128, 11 segmentation classes) and task subsets', () => {
    const w1 = models.seedNet({ inChannels: 3, imageSize: 32, widths: [64, 128], classTasks: ['cls'], segClasses: 11 });
    const out = w1.forward(hn.randn([2, 3, 32, 32]));
    expect(out.cls.shape).toEqual([2, 10]);
    expect(out.seg.shape).toEqual([2, 11, 32, 32]);
    expect(w1.stateDict()['heads.cls.1.weight'].shape).toEqual([10, 8192]);
    expect(models.seedNet({ segClasses: 0 }).taskNames).toEqual(['left', 'right']);
    expect(models.seedNet({ classTasks: [], segTask: 'mask' }).taskNames).toEqual(['mask']);
  });

  it('rejects bad options with the option named', () => {
    expect(() => models.seedNet({ imageSize: 30 })).toThrow(/models\.seedNet: expected imageSize to be a multiple of 4.*got 30/);
    expect(() => models.seedNet({ widths: [32] as unknown as [number, number] })).toThrow(/widths/);
    expect(() => models.seedNet({ widths: [32, 0] })).toThrow(/widths\[1\]/);
    expect(() => models.seedNet({ segClasses: 1 })).toThrow(/segClasses/);
    expect(() => models.seedNet({ classTasks: ['a', 'a'] })).toThrow(/distinct task names.*'a' twice/);
    expect(() => models.seedNet({ classTasks: ['left'], segTask: 'left' })).toThrow(/'left' twice/);
    expect(() => models.seedNet({ classTasks: ['bad name'] })).toThrow(/classTasks\[0\]/);
    expect(() => models.seedNet({ classTasks: [], segClasses: 0 })).toThrow(/at least one task/);
  });
});

describe('multiMnistLeNet', () => {
  it('has the paper\'s layers and parameter count', () => {
    hn.manualSeed(1);
    const model = models.multiMnistLeNet();
    const out = model.forward(hn.randn([4, 1, 28, 28]));
    expect(out.left.shape).toEqual([4, 10]);
    expect(out.right.shape).toEqual([4, 10]);
    const shapes = Object.fromEntries(Object.entries(model.stateDict()).map(([k, v]) => [k, v.shape]));
    // The authors' module names (multi_lenet.py: conv1, conv2, fc; fc1, fc2 per head).
    expect(shapes).toEqual({
      'shared.conv1.weight': [10, 1, 5, 5], 'shared.conv1.bias': [10],
      'shared.conv2.weight': [20, 10, 5, 5], 'shared.conv2.bias': [20],
      'shared.fc.weight': [50, 320], 'shared.fc.bias': [50],
      'heads.left.fc1.weight': [50, 50], 'heads.left.fc1.bias': [50], 'heads.left.fc2.weight': [10, 50], 'heads.left.fc2.bias': [10],
      'heads.right.fc1.weight': [50, 50], 'heads.right.fc1.bias': [50], 'heads.right.fc2.weight': [10, 50], 'heads.right.fc2.bias': [10],
    });
    // conv1 260 + conv2 5020 + fc 16050 + 2 heads x (2550 + 510)
    const count = [...model.parameters()].reduce((n, p) => n + p.numel, 0);
    expect(count).toBe(260 + 5020 + 16050 + 2 * (2550 + 510));
  });

  it('with dropout: one channel mask for the whole batch, kept values unscaled, identity in eval', () => {
    hn.manualSeed(2);
    const plain = models.multiMnistLeNet({ dropout: false });
    hn.manualSeed(2);
    const model = models.multiMnistLeNet({ dropout: true });
    // Same keys and weights: the dropout modules have no parameters and draw nothing at init.
    expect(Object.keys(model.stateDict())).toEqual(Object.keys(plain.stateDict()));
    expect(Array.from(model.stateDict()['shared.fc.weight'].data)).toEqual(Array.from(plain.stateDict()['shared.fc.weight'].data));
    const x = hn.randn([5, 1, 28, 28]);
    const conv = model.shared as hn.nn.Sequential;
    const afterConv2 = conv.at(3).forward(conv.at(2).forward(conv.at(1).forward(conv.at(0).forward(x))));
    const dropped = conv.at(4).forward(afterConv2);
    const [N, C, H, W] = afterConv2.shape;
    const a = afterConv2.data;
    const d = dropped.data;
    const at = (n: number, c: number, i: number) => (n * C + c) * H * W + i;
    let kept = 0;
    let wrong = 0;
    for (let c = 0; c < C; c++) {
      let keptChannel = false;
      for (let n = 0; n < N; n++) for (let i = 0; i < H * W; i++) if (d[at(n, c, i)] !== 0) keptChannel = true;
      if (keptChannel) kept++;
      // Every sample drops the same channels, and kept values are not rescaled by 1/(1-p).
      for (let n = 0; n < N; n++) {
        for (let i = 0; i < H * W; i++) if (d[at(n, c, i)] !== (keptChannel ? a[at(n, c, i)] : 0)) wrong++;
      }
    }
    expect(wrong).toBe(0);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(C);

    const head = model.heads.get('left') as hn.nn.Sequential;
    const h = hn.randn([64, 50]);
    const hd = head.at(2).forward(h).data;
    let zeros = 0;
    for (let i = 0; i < hd.length; i++) {
      if (hd[i] === 0) zeros++;
      else expect(hd[i]).toBe(h.data[i]);
    }
    // p = 0.5 over 3200 draws: zeros within 5 standard deviations (±141) of 1600.
    expect(Math.abs(zeros - 1600)).toBeLessThan(141);

    model.eval();
    plain.eval();
    const e1 = hn.noGrad(() => model.forward(x));
    const e2 = hn.noGrad(() => plain.forward(x));
    expect(Array.from(e1.left.data)).toEqual(Array.from(e2.left.data));
  });

  it('exports to ONNX without its dropouts (eval is the identity) and matches onnxruntime', async () => {
    hn.manualSeed(3);
    const model = models.multiMnistLeNet({ dropout: true });
    const { proto, worst } = await roundTrip(model, hn.randn([2, 1, 28, 28]), new hn.Generator(3), { export: { dynamicBatch: true }, batches: [2, 5] });
    const ops = (proto.graph?.node ?? []).map((n) => n.opType);
    expect(ops).not.toContain('Mul');
    expect(ops.filter((o) => o === 'Conv').length).toBe(2);
    expect(worst).toBeLessThanOrEqual(1e-4);
    expect(model.training).toBe(true);
  });

  it('rejects bad options', () => {
    expect(() => models.multiMnistLeNet({ dropout: 'yes' as unknown as boolean })).toThrow(/models\.multiMnistLeNet: expected dropout to be a boolean/);
    expect(() => models.multiMnistLeNet({ tasks: [] })).toThrow(/tasks/);
    expect(() => new models.SharedChannelDropout(1.5)).toThrow(/SharedChannelDropout: expected p to be a probability in \[0, 1\], got .*1\.5/);
    expect(() => new models.SharedChannelDropout(0.5).forward(hn.randn([2, 3]))).toThrow(/4-D/);
  });
});
