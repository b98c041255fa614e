// The data sets the CLI trains on, with the tasks each one offers (kind, classes, the loss their
// targets allow). Adding a data set here makes it available to `hydranet train --dataset`.
import type { ArrayDataset } from '../data/dataset';
import { mnist } from '../data/mnist';
import { multiMnist } from '../data/multi_mnist';
import type { LossName } from '../mtl/task_loss';
import type { TaskKind } from '../train/evaluate';

export interface TaskInfo {
  kind: TaskKind;
  classes: number;
  /** The losses its targets fit (class indices: crossEntropy only). */
  losses: readonly LossName[];
}

export interface DatasetInfo {
  description: string;
  inChannels: number;
  imageSize: number;
  tasks: Readonly<Record<string, TaskInfo>>;
  /** Pixel values back in 0..1 from the normalised network input (for samples.json). */
  denormalize(v: number): number;
  load(split: 'train' | 'test', options: { seed: number; limit?: number }): ArrayDataset;
}

const classification = (classes: number): TaskInfo => ({ kind: 'classification', classes, losses: ['crossEntropy'] });
const MNIST_MEAN = 0.1307;
const MNIST_STD = 0.3081;
const clamp01 = (v: number) => Math.min(1, Math.max(0, v));

export const DATASETS: Readonly<Record<string, DatasetInfo>> = {
  multimnist: {
    description: 'MultiMNIST (Sener & Koltun 2018): two overlaid digits; left/right digit classes and a 3-class mask',
    inChannels: 1,
    imageSize: 28,
    tasks: {
      left: classification(10),
      right: classification(10),
      seg: { kind: 'segmentation', classes: 3, losses: ['crossEntropy'] },
    },
    denormalize: (v) => clamp01(v * MNIST_STD + MNIST_MEAN),
    load: (split, { seed, limit }) => multiMnist({ split, seed, limit }),
  },
  mnist: {
    description: 'MNIST digits (one classification task)',
    inChannels: 1,
    imageSize: 28,
    tasks: { label: classification(10) },
    denormalize: (v) => clamp01(v * MNIST_STD + MNIST_MEAN),
    load: (split, { limit }) => mnist({ split, limit }).toDataset(),
  },
};

export const DATASET_NAMES = Object.keys(DATASETS);
