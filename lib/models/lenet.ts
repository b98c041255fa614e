// Sener & Koltun's MultiMNIST LeNet (NeurIPS 2018; W2 in WORKLOADS.md), hard parameter sharing:
//
//   trunk: Conv2d(1 -> 10, k5) + MaxPool2d(2) + ReLU      [N, 10, 12, 12]
//          Conv2d(10 -> 20, k5) [+ channel dropout] + MaxPool2d(2) + ReLU   [N, 20, 4, 4]
//          Flatten + Linear(320 -> 50) + ReLU              [N, 50]
//   head (one per digit): Linear(50 -> 50) + ReLU [+ dropout] + Linear(50 -> 10)
//
// With {dropout: true} it keeps the authors' dropouts (p = 0.5, training only, no rescaling): one
// channel mask after the second convolution shared by the whole batch, and an element mask in
// each head after its first ReLU. Their table was made with them; the speed benchmark leaves them out.
// The heads return logits (the authors' log_softmax is folded into the cross-entropy loss).
import { argTypeError, describeValue } from '../errors';
import { MultiTaskModel } from '../mtl/model';
import { Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential } from '../nn';
import { SharedChannelDropout, UnscaledDropout } from './mask_dropout';

export interface MultiMnistLeNetOptions {
  /** Keep the paper's dropouts (default false). */
  dropout?: boolean;
  /** The digit tasks, one head each (default ['left', 'right']). */
  tasks?: readonly string[];
}

/**
 * @example
 *   const model = hn.models.multiMnistLeNet({ dropout: true });
 *   const { left, right } = model.forward(x);   // x [N, 1, 28, 28] -> logits [N, 10] each
 */
export function multiMnistLeNet(options: MultiMnistLeNetOptions = {}): MultiTaskModel {
  const op = 'models.multiMnistLeNet';
  if (options === null || typeof options !== 'object') throw argTypeError(op, 'options', 'an object', describeValue(options));
  const dropout = options.dropout ?? false;
  if (typeof dropout !== 'boolean') throw argTypeError(op, 'dropout', 'a boolean', describeValue(dropout));
  const tasks = options.tasks ?? ['left', 'right'];
  if (!Array.isArray(tasks) || tasks.length === 0 || !tasks.every((t) => typeof t === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(t))) {
    throw argTypeError(op, 'tasks', 'a non-empty array of task names', describeValue(tasks));
  }
  // Named children, so the state-dict keys are the authors' (conv1, conv2, fc; fc1, fc2 per head)
  // and do not depend on whether the dropouts are there.
  const trunk: Record<string, Module> = {
    conv1: new Conv2d(1, 10, 5), pool1: new MaxPool2d(2), relu1: new ReLU(),
    conv2: new Conv2d(10, 20, 5),
  };
  if (dropout) trunk.conv2Drop = new SharedChannelDropout(0.5);
  Object.assign(trunk, { pool2: new MaxPool2d(2), relu2: new ReLU(), flatten: new Flatten(), fc: new Linear(320, 50), relu3: new ReLU() });
  const shared = new Sequential(trunk);
  const heads: Record<string, Module> = {};
  for (const task of tasks) {
    const layers: Record<string, Module> = { fc1: new Linear(50, 50), relu: new ReLU() };
    if (dropout) layers.drop = new UnscaledDropout(0.5);
    layers.fc2 = new Linear(50, 10);
    heads[task] = new Sequential(layers);
  }
  return new MultiTaskModel({ shared, heads });
}
