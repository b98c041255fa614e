// hn.data: the data sets (MNIST, MultiMNIST) and the DataLoader.
export { IdxFormatError, parseIdx, readIdx } from './idx';
export type { IdxArray } from './idx';
export { MNIST_MEAN, MNIST_STD, MNIST_SIZES, mnist, mnistFiles, normalizeMnist } from './mnist';
export type { Mnist, MnistOptions, MnistSplit } from './mnist';
export { SEG_THRESHOLD, multiMnist, nearestSourceIndex } from './multi_mnist';
export type { MultiMnist, MultiMnistOptions } from './multi_mnist';
export { multiMnistAsync } from './off_thread';
export { checkArrayDataset } from './dataset';
export type { ArrayDataset, ShapedArray } from './dataset';
export { DataLoader } from './dataloader';
export type { Batch, DataLoaderOptions } from './dataloader';
export { Xoshiro128, shuffleInPlace } from './prng';
