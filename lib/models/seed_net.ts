// The seed model (W1 in WORKLOADS.md, sized for MultiMNIST by default): a shared conv trunk, one
// linear classifier per digit and a transposed-conv segmenter giving per-pixel logits at full size.
//
//   trunk:  Conv2d(in -> c1, k3, p1) + ReLU + MaxPool2d(2)      [N, c1, S/2, S/2]
//           Conv2d(c1 -> c2, k3, p1) + ReLU + MaxPool2d(2)      [N, c2, S/4, S/4]
//   class head (one per task): Flatten + Linear(c2·(S/4)² -> numClasses)
//   seg head:  ConvTranspose2d(c2 -> c1, k2, s2) + ReLU         [N, c1, S/2, S/2]
//              ConvTranspose2d(c1 -> segClasses, k2, s2)        [N, segClasses, S, S]
import { argRangeError, argTypeError, checkInt, describeValue } from '../errors';
import { MultiTaskModel } from '../mtl/model';
import { Conv2d, ConvTranspose2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential } from '../nn';

export interface SeedNetOptions {
  /** Input channels (default 1: MNIST). */
  inChannels?: number;
  /** Input height and width, a multiple of 4 (default 28). */
  imageSize?: number;
  /**
   * Channels of the two trunk convolutions (default [32, 64]: on MultiMNIST it reaches the demo's
   * targets in 2 epochs; W1 uses [64, 128]).
   */
  widths?: readonly [number, number];
  /** The classification tasks, one linear head each (default ['left', 'right']). */
  classTasks?: readonly string[];
  /** Classes of every classification head (default 10). */
  numClasses?: number;
  /** Classes of the segmentation head; 0 leaves it out (default 3: background, left, right). */
  segClasses?: number;
  /** Name of the segmentation task (default 'seg'). */
  segTask?: string;
}

export const SEED_NET_DEFAULTS = {
  inChannels: 1,
  imageSize: 28,
  widths: [32, 64] as readonly [number, number],
  classTasks: ['left', 'right'] as readonly string[],
  numClasses: 10,
  segClasses: 3,
  segTask: 'seg',
};

function checkTaskName(op: string, arg: string, name: unknown): string {
  if (typeof name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw argTypeError(op, arg, 'a task name of letters, digits and _ (not starting with a digit)', describeValue(name));
  }
  return name;
}

/**
 * @example
 *   const model = hn.models.seedNet();                       // MultiMNIST: left, right, seg
 *   const { left, right, seg } = model.forward(x);           // [N,10], [N,10], [N,3,28,28]
 *   hn.models.seedNet({ inChannels: 3, imageSize: 32, widths: [64, 128], classTasks: ['cls'], segClasses: 11 }) // W1
 */
export function seedNet(options: SeedNetOptions = {}): MultiTaskModel {
  const op = 'models.seedNet';
  if (options === null || typeof options !== 'object') throw argTypeError(op, 'options', 'an object', describeValue(options));
  const o = { ...SEED_NET_DEFAULTS, ...options };
  const inChannels = checkInt(op, 'inChannels', o.inChannels, 1);
  const size = checkInt(op, 'imageSize', o.imageSize, 4);
  if (size % 4 !== 0) throw argRangeError(op, 'imageSize', 'a multiple of 4 (two 2x2 poolings, then two 2x upsamplings)', String(size));
  if (!Array.isArray(o.widths) || o.widths.length !== 2) throw argTypeError(op, 'widths', 'two channel counts [c1, c2]', describeValue(o.widths));
  const c1 = checkInt(op, 'widths[0]', o.widths[0], 1);
  const c2 = checkInt(op, 'widths[1]', o.widths[1], 1);
  const numClasses = checkInt(op, 'numClasses', o.numClasses, 2);
  const segClasses = checkInt(op, 'segClasses', o.segClasses, 0);
  if (segClasses === 1) throw argRangeError(op, 'segClasses', '0 (no segmentation head) or at least 2', '1');
  if (!Array.isArray(o.classTasks)) throw argTypeError(op, 'classTasks', 'an array of task names', describeValue(o.classTasks));
  const classTasks = o.classTasks.map((t, i) => checkTaskName(op, `classTasks[${i}]`, t));
  const segTask = checkTaskName(op, 'segTask', o.segTask);
  const names = segClasses > 0 ? [...classTasks, segTask] : classTasks;
  if (names.length === 0) throw argRangeError(op, 'classTasks', 'at least one task (or segClasses > 0)', 'no task');
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate) throw argRangeError(op, 'classTasks', 'distinct task names', `'${duplicate}' twice`);

  const shared = new Sequential(
    new Conv2d(inChannels, c1, 3, { padding: 1 }), new ReLU(), new MaxPool2d(2),
    new Conv2d(c1, c2, 3, { padding: 1 }), new ReLU(), new MaxPool2d(2),
  );
  const features = c2 * (size / 4) * (size / 4);
  const heads: Record<string, Module> = {};
  for (const task of classTasks) heads[task] = new Sequential(new Flatten(), new Linear(features, numClasses));
  if (segClasses > 0) {
    heads[segTask] = new Sequential(
      new ConvTranspose2d(c2, c1, 2, { stride: 2 }), new ReLU(),
      new ConvTranspose2d(c1, segClasses, 2, { stride: 2 }),
    );
  }
  return new MultiTaskModel({ shared, heads });
}
