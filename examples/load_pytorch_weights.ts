// Loading weights trained in PyTorch (saved with safetensors) into a hydranet model.
//
//   node dist/examples/load_pytorch_weights.js seed_pytorch.safetensors
//   node dist/examples/load_pytorch_weights.js            (writes a stand-in file first)
//
// On the PyTorch side, a seed network with its own module names, saved as safetensors:
//
//   class SeedNet(nn.Module):
//       def __init__(self):
//           super().__init__()
//           self.trunk = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
//                                      nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
//           self.left = nn.Linear(64 * 7 * 7, 10)
//           self.right = nn.Linear(64 * 7 * 7, 10)
//           self.seg = nn.Sequential(nn.ConvTranspose2d(64, 32, 2, stride=2), nn.ReLU(),
//                                    nn.ConvTranspose2d(32, 3, 2, stride=2))
//   ...
//   from safetensors.torch import save_file
//   save_file(model.state_dict(), "seed_pytorch.safetensors")
//
// Layouts agree (NCHW; Conv2d weight [out, in, kH, kW]; ConvTranspose2d [in, out, kH, kW]; Linear
// [out, in]), so only the names differ. hn.load reads the file (F16/BF16/F64 become float32).
// In your own project: import * as hn from 'hydranet';
import * as fs from 'fs';
import * as hn from '../lib';

/** PyTorch name -> hydranet name (hn.models.seedNet names its layers like nn.Sequential indices). */
export function renameFromPytorch(name: string): string {
  return name
    .replace(/^trunk\./, 'shared.')
    .replace(/^(left|right)\./, 'heads.$1.1.') // our classifier heads are Sequential(Flatten, Linear)
    .replace(/^seg\./, 'heads.seg.');
}

/** The inverse, used only to write a stand-in file when no PyTorch file is given. */
function renameToPytorch(name: string): string {
  return name.replace(/^shared\./, 'trunk.').replace(/^heads\.(left|right)\.1\./, '$1.').replace(/^heads\.seg\./, 'seg.');
}

export interface LoadOptions {
  /** A safetensors file from PyTorch; default: write a stand-in to `standInPath` and load that. */
  file?: string;
  standInPath?: string;
  log?: (line: string) => void;
}

export async function main(options: LoadOptions = {}): Promise<{ model: hn.mtl.MultiTaskModel; predictions: Record<string, Int32Array> }> {
  const log = options.log ?? console.log;
  let file = options.file;
  let reference: hn.mtl.MultiTaskModel | null = null;
  if (!file) {
    // Stand-in for PyTorch's file: other weights, PyTorch's names, plain safetensors.
    hn.manualSeed(123);
    reference = hn.models.seedNet();
    const renamed = Object.fromEntries(Object.entries(reference.stateDict()).map(([k, v]) => [renameToPytorch(k), v]));
    file = options.standInPath ?? 'seed_pytorch.safetensors';
    hn.save(renamed, file, { metadata: { format: 'pt' } });
    log(`no file given: wrote a stand-in with PyTorch's names to ${file}`);
  }
  if (!fs.existsSync(file)) throw new Error(`no such file: ${file}`);

  // 1. Read the flat {name: tensor} dict and show what is in it.
  const weights = hn.load<Record<string, hn.Tensor>>(file);
  for (const [name, t] of Object.entries(weights)) log(`  ${name.padEnd(16)} [${t.shape.join(', ')}]`);

  // 2. Rename to hydranet's keys and load. loadStateDict is strict by default: a missing or
  //    unexpected key, or a shape that differs, throws an error naming it.
  const model = hn.models.seedNet();
  const renamed = Object.fromEntries(Object.entries(weights).map(([k, v]) => [renameFromPytorch(k), v]));
  model.loadStateDict(renamed);
  model.eval();
  log(`loaded ${Object.keys(renamed).length} tensors into hn.models.seedNet()`);

  // 3. Use it: predictions on a few test images.
  const test = hn.data.multiMnist({ split: 'test', limit: 8 });
  const x = new hn.Tensor(test.inputs.data.slice(), test.inputs.shape);
  const outputs = hn.noGrad(() => model.forward(x));
  const predictions = {
    left: hn.mtl.argmaxClasses(outputs.left),
    right: hn.mtl.argmaxClasses(outputs.right),
    seg: hn.mtl.argmaxClasses(outputs.seg),
  };
  log(`left digits  predicted ${Array.from(predictions.left).join(' ')} | true ${Array.from(test.targets.left.data).join(' ')}`);
  log(`right digits predicted ${Array.from(predictions.right).join(' ')} | true ${Array.from(test.targets.right.data).join(' ')}`);

  if (reference) {
    // The round trip is exact: the same weights give the same logits.
    reference.eval();
    const expected = hn.noGrad(() => reference!.forward(x));
    const same = (['left', 'right', 'seg'] as const).every((t) => outputs[t].data.every((v, i) => v === expected[t].data[i]));
    log(same ? 'outputs equal the source model\'s exactly' : 'outputs DIFFER from the source model');
    if (!same) throw new Error('load_pytorch_weights: the loaded model does not reproduce the saved one');
  }
  return { model, predictions };
}

if (require.main === module) {
  main({ file: process.argv[2] }).catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
