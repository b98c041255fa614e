// hn.nn: modules (torch.nn's names and semantics, camelCase).
export { Module, Parameter } from './module';
export type { StateDict, TensorLike, LoadStateDictResult } from './module';
export { Sequential, ModuleList, ModuleDict } from './containers';
export { Linear, Identity } from './linear';
export type { LinearOptions } from './linear';
export { Conv2d, ConvTranspose2d } from './conv';
export type { Conv2dOptions, ConvTranspose2dOptions } from './conv';
export { MaxPool2d, AvgPool2d } from './pooling';
export type { MaxPool2dOptions, AvgPool2dOptions } from './pooling';
export { ReLU, Sigmoid, Tanh } from './activation';
export { Flatten } from './flatten';
export { BatchNorm2d } from './normalization';
export type { BatchNorm2dOptions } from './normalization';
export { Dropout, Dropout2d } from './dropout';
export * as init from './init';
export * as utils from './utils';
