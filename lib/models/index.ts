// hn.models: ready-made multi-task networks.
export { seedNet, SEED_NET_DEFAULTS } from './seed_net';
export type { SeedNetOptions } from './seed_net';
export { multiMnistLeNet } from './lenet';
export type { MultiMnistLeNetOptions } from './lenet';
export { SharedChannelDropout, UnscaledDropout } from './mask_dropout';
