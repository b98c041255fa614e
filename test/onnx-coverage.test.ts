// Every op recorded in lib/ops has an ONNX converter or a stated reason not to (STYLE: one op
// table, a test that fails when an op lacks its export). Op names are read from the sources with
// the patterns the op files use to name their nodes.
import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { converters, withoutOnnxForm } from '../lib/onnx/converters';

const PATTERNS = [
  /record\(\s*\w+,\s*'(\w+)'/g, // record(out, 'add', ...)
  /const op = '(\w+)'/g, // const op = 'conv2d'; ... record(y, op, ...)
  /unary\('\w+', '(\w+)'/g, // unary('exp', 'exp', x)
  /(?:softmaxOp|reduce|pointwise)\('(\w+)'/g, // helpers taking the op name first
  /view\(\w+, \w+, '(\w+)'/g, // shape views: reshape, flatten
];

function recordedOps(): Set<string> {
  const dir = path.join(__dirname, '..', 'lib', 'ops');
  const ops = new Set<string>();
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const source = fs.readFileSync(path.join(dir, file), 'utf8');
    if (!source.includes('record(')) continue;
    for (const pattern of PATTERNS) for (const m of source.matchAll(pattern)) ops.add(m[1]);
  }
  return ops;
}

describe('onnx coverage of recorded ops', () => {
  const ops = recordedOps();

  it('finds the ops (the patterns still match the sources)', () => {
    for (const op of ['add', 'exp', 'linear', 'reshape', 'flatten', 'sum', 'concat']) expect(ops).toContain(op);
  });

  it.each([...ops].sort())('%s has a converter or a reason for having none', (op) => {
    const covered = Object.prototype.hasOwnProperty.call(converters, op) || Object.prototype.hasOwnProperty.call(withoutOnnxForm, op);
    expect(covered, `op '${op}' is recorded in lib/ops but lib/onnx/converters.ts has no entry for it`).toBe(true);
  });
});
