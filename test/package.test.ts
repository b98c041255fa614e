// The compiled package loads the way users load it: require('hydranet') and import * as hn.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const built = fs.existsSync(path.join(root, 'dist', 'lib', 'index.js'));

function run(file: string, source: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-pkg-'));
  // A consumer folder whose node_modules/hydranet is this package.
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(root, path.join(dir, 'node_modules', 'hydranet'), 'dir');
  fs.writeFileSync(path.join(dir, file), source);
  try {
    return execFileSync(process.execPath, [path.join(dir, file)], { cwd: dir, encoding: 'utf8', env: { ...process.env } });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe.runIf(built)('package entry points (dist/)', () => {
  it('require("hydranet") works from CommonJS', () => {
    const out = run('main.cjs', `const hn = require('hydranet');
      const y = hn.F.linear(hn.ones([2, 3]), hn.ones([4, 3]));
      console.log(JSON.stringify({ shape: y.shape, sum: y.sum().item(), cuda: hn.cuda.isAvailable() }));`);
    expect(JSON.parse(out)).toEqual({ shape: [2, 4], sum: 24, cuda: false });
  });

  it('import * as hn from "hydranet" works from an ES module, with named exports', () => {
    const out = run('main.mjs', `import * as hn from 'hydranet';
      import { tensor, nn, mtl, optim } from 'hydranet';
      const m = new nn.Linear(3, 2);
      console.log(JSON.stringify({ t: tensor([1, 2]).shape, params: [...m.parameters()].length, hasMtl: typeof mtl.MultiTaskModel, adam: typeof optim.Adam, F: typeof hn.F.conv2d }));`);
    expect(JSON.parse(out)).toEqual({ t: [2], params: 2, hasMtl: 'function', adam: 'function', F: 'function' });
  });
});
