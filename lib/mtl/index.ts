// hn.mtl: multi-task models, the fused multi-loss, weighting strategies, metrics.
export { MultiTaskModel, trunkSplitOf } from './model';
export type { MultiTaskModelOptions, MultiTaskOutputs, TrunkSplit } from './model';
export { WeightedOptimizer } from './weighted_optimizer';
export type { WeightedOptimizerOptions, StepOptions, StepResult } from './weighted_optimizer';
export { fusedMultiTaskLoss, normalizeTasks } from './task_loss';
export type { TaskSpec, LossName, FusedLossResult } from './task_loss';
export { ConfusionMatrix, RegressionErrors, argmaxClasses, deltaM } from './metrics';
export type { MetricValue } from './metrics';
export * as weighting from './weighting';
