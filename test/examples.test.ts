// The programs in examples/ run end to end on tiny slices (each exports main(options); the
// command line in its header runs the same function on the full data).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import { main as seedDemo } from '../examples/seed_demo';
import { main as customWeighting } from '../examples/custom_weighting';
import { main as loadPytorchWeights, renameFromPytorch } from '../examples/load_pytorch_weights';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-examples-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('examples', () => {
  it('seed_demo trains, evaluates every task and writes the ONNX file and weights', async () => {
    const lines: string[] = [];
    const onnxPath = path.join(tmp, 'seed.onnx');
    const metrics = await seedDemo({ limit: 256, epochs: 1, onnxPath, log: (l) => lines.push(l) });
    expect(Object.keys(metrics)).toEqual(['left', 'right', 'seg']);
    expect(metrics.left.accuracy).toBeGreaterThan(0);
    expect(metrics.seg.miou).toBeGreaterThan(0);
    expect(lines[0]).toMatch(/^epoch 1: train loss left \d/);
    expect(fs.statSync(onnxPath).size).toBeGreaterThan(1000);
    expect(fs.existsSync(path.join(tmp, 'seed.safetensors'))).toBe(true);
  });

  it('custom_weighting trains with a loss strategy and a gradient strategy of its own', async () => {
    const lines: string[] = [];
    const results = await customWeighting({ limit: 256, steps: 4, testLimit: 100, log: (l) => lines.push(l) });
    expect(Object.keys(results)).toEqual(['lossRatio', 'unitGradient']);
    expect(lines[0]).toMatch(/^lossRatio: after 4 steps weights left \d\.\d{3}/);
    // Loss-ratio weights sum to T = 3.
    const w = lines[0].match(/left ([\d.]+) right ([\d.]+) seg ([\d.]+)/)!.slice(1, 4).map(Number);
    expect(w[0] + w[1] + w[2]).toBeCloseTo(3, 2);
    expect(lines[1]).toMatch(/^unitGradient: after 4 steps/);
  });

  it('load_pytorch_weights maps PyTorch names and reproduces the saved model exactly', async () => {
    expect(renameFromPytorch('trunk.3.weight')).toBe('shared.3.weight');
    expect(renameFromPytorch('left.bias')).toBe('heads.left.1.bias');
    expect(renameFromPytorch('seg.2.weight')).toBe('heads.seg.2.weight');
    const lines: string[] = [];
    const { predictions } = await loadPytorchWeights({ standInPath: path.join(tmp, 'pt.safetensors'), log: (l) => lines.push(l) });
    expect(predictions.left).toHaveLength(8);
    expect(predictions.seg).toHaveLength(8 * 784);
    expect(lines).toContain("outputs equal the source model's exactly");
    expect(lines.some((l) => /^ {2}trunk\.0\.weight +\[32, 1, 3, 3\]$/.test(l))).toBe(true);
  });
});
