// hydranet: multi-task deep learning for Node.js.
export {
  Tensor, tensor, zeros, ones, full, randn, rand, randint, fromTypedArray, isTensor, backward,
} from './tensor';
export type { DType, Device, TensorOptions } from './tensor';
export { noGrad, enableGrad, isGradEnabled } from './autograd';
export { detectAnomaly, isAnomalyEnabled, AnomalyError } from './anomaly';
export { manualSeed, Generator, getRngState, setRngState } from './random';
export { getNumThreads, setNumThreads, cpuFeatures, setForcePortable, cuda } from './runtime';
export * as F from './functional';
export { matmul } from './ops/linalg';
export { add, sub, mul, div, exp, log, sqrt, abs, neg, pow } from './ops/elementwise';
export { sum, mean } from './ops/reduce';
export { concat, reshape, flatten } from './ops/shape';
export * as onnx from './onnx';
export * as nn from './nn';
export * as optim from './optim';
export * as data from './data';
export { save, saveAsync, load, loadAsync, loadWithMetadata, loadWithMetadataAsync } from './io/checkpoint';
export type { CheckpointRecord, CheckpointValue, SaveOptions, LoadedCheckpoint } from './io/checkpoint';
export { encodeSafetensors, decodeSafetensors, SafetensorsError } from './io/safetensors';
export * as mtl from './mtl';
export * as models from './models';
export * as train from './train';
