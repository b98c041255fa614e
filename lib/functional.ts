// hn.F: the functional ops (torch.nn.functional's names in camelCase).
export { relu, sigmoid, tanh } from './ops/elementwise';
export { linear } from './ops/linalg';
export { flatten, concat, reshape } from './ops/shape';
