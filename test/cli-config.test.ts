// The CLI's configuration: presets are valid, precedence is preset < config file < flags, loss
// weights attach to the resolved tasks, and bad values are refused with the key named.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, DEFAULTS, PRESETS, didYouMean, resolveConfig, validateConfig } from '../lib/cli/config';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-config-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('config', () => {
  it('every preset validates', () => {
    for (const name of Object.keys(PRESETS)) expect(() => resolveConfig({ preset: name }), name).not.toThrow();
    const demo = resolveConfig({ preset: 'demo' });
    expect(demo).toMatchObject({ name: 'demo', out: 'runs/demo', model: 'seed', dataset: 'multimnist', threads: 2, weighting: 'static' });
    expect(Object.keys(demo.tasks)).toEqual(['left', 'right', 'seg']);
  });

  it('defaults fill what is not given', () => {
    const c = validateConfig({});
    expect(c).toMatchObject({ ...DEFAULTS, out: 'runs/run' });
  });

  it('merges preset < config file < flags, and the file may name the preset', () => {
    const file = path.join(tmp, 'run.json');
    fs.writeFileSync(file, JSON.stringify({ preset: 'demo', epochs: 5, batchSize: 64, tasks: ['left', 'seg'] }));
    const c = resolveConfig({ file, flags: { batchSize: 32, lr: undefined } });
    expect(c.name).toBe('demo');
    expect(c.epochs).toBe(5);
    expect(c.batchSize).toBe(32);
    expect(c.lr).toBe(PRESETS.demo.lr);
    expect(Object.keys(c.tasks)).toEqual(['left', 'seg']);
    expect(c.tasks.left).toEqual({ loss: 'crossEntropy' });
  });

  it('applies --loss-weights to the resolved tasks', () => {
    const c = resolveConfig({ flags: { tasks: ['left', 'seg'] }, lossWeights: { seg: 0.25 } });
    expect(c.tasks).toEqual({ left: { loss: 'crossEntropy' }, seg: { loss: 'crossEntropy', weight: 0.25 } });
  });

  it("drops a preset's loss weights when another strategy is chosen, but not weights the user gave", () => {
    const c = resolveConfig({ preset: 'demo', flags: { weighting: 'mgda' } });
    expect(c.tasks.seg).toEqual({ loss: 'crossEntropy' });
    expect(() => resolveConfig({ preset: 'demo', flags: { weighting: 'mgda' }, lossWeights: { seg: 2 } })).toThrow(/tasks\.seg\.weight: loss weights are for weighting 'static'/);
  });

  it.each([
    [{ dataset: 'cifar' }, /dataset: unknown value 'cifar'; expected one of multimnist, mnist/],
    [{ dataset: 'mnist', tasks: ['left'] }, /unknown task 'left' for data set 'mnist'; its tasks are label/],
    [{ tasks: [] }, /tasks: expected at least one task/],
    [{ tasks: ['left', 'left'] }, /task 'left' is listed twice/],
    [{ tasks: { left: { loss: 'crossEntropy', wieght: 2 } } }, /tasks\.left: unknown key 'wieght' \(did you mean 'weight'\?\)/],
    [{ tasks: { left: { weight: -1 } } }, /tasks\.left\.weight: expected a finite number >= 0, got -1/],
    [{ widths: [32] }, /widths: expected two channel counts/],
    [{ batchSize: 2.5 }, /batchSize: expected an integer >= 1, got 2\.5/],
    [{ momentum: 1 }, /momentum: expected a number in \[0, 1\)/],
    [{ name: 'a/b' }, /name: expected letters, digits/],
    [{ weighting: 'static', weightingOptions: { alpha: 1 } }, /weightingOptions: weighting 'static' has no options/],
    [{ weighting: 'cagrad', weightingOptions: { c: -1 } }, /weightingOptions: .*mtl\.weighting\.cagrad/],
    [{ scheduler: 'cosin' }, /scheduler: unknown value 'cosin' \(did you mean 'cosine'\?\)/],
    [{ onnx: 'yes' }, /onnx: expected true or false/],
  ])('refuses %j', (raw, message) => {
    expect(() => validateConfig(raw as Record<string, unknown>)).toThrow(ConfigError);
    expect(() => validateConfig(raw as Record<string, unknown>)).toThrow(message);
  });

  it('suggests only close names', () => {
    expect(didYouMean('lfet', ['left', 'right'])).toBe(" (did you mean 'left'?)");
    expect(didYouMean('depth', ['left', 'right', 'seg'])).toBe('');
  });
});
