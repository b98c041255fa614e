// hn.optim: optimizers with fused native updates, and learning-rate schedulers.
export { Optimizer } from './optimizer';
export type { OptimizerStateDict, ParamGroup, ParamGroupInput, ParamState, ParamsInput } from './optimizer';
export { SGD } from './sgd';
export type { SGDOptions } from './sgd';
export { Adam } from './adam';
export type { AdamOptions } from './adam';
export { AdamW } from './adamw';
export type { AdamWOptions } from './adamw';
export { LRScheduler, StepLR, CosineAnnealingLR, OneCycleLR } from './lr_scheduler';
export type { StepLROptions, CosineAnnealingLROptions, OneCycleLROptions, SchedulerStateDict } from './lr_scheduler';
