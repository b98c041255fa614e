// hn.train: the training loop (fit), evaluation with per-task metrics, resumable training state.
export { fit } from './fit';
export type { EpochInfo, FitOptions, FitResult, StepInfo } from './fit';
export { evaluate, selectionScore, PRIMARY_METRIC } from './evaluate';
export type { EvalTask, EvaluateOptions, TaskKind, TaskMetrics } from './evaluate';
export { trainingState, restoreTrainingState, TRAINING_STATE_FORMAT } from './state';
export type { EpochProgress, TrainingParts, TrainingState } from './state';
