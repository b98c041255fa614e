// hn.F: the functional ops (torch.nn.functional's names in camelCase).
export { relu, sigmoid, tanh } from './ops/elementwise';
export { linear } from './ops/linalg';
export { flatten, concat, reshape } from './ops/shape';
export { conv2d, convTranspose2d } from './ops/conv';
export { maxPool2d, avgPool2d } from './ops/pool';
export { softmax, logSoftmax } from './ops/softmax';
export {
  crossEntropy, nllLoss, mseLoss, l1Loss, smoothL1Loss, huberLoss, binaryCrossEntropyWithLogits,
} from './ops/loss';
export { batchNorm2d, batchNorm1d } from './ops/normalization';
export { dropout, dropout2d } from './ops/dropout';
