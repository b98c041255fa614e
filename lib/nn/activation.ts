// Activation modules: thin wrappers over the functional ops (no parameters).
import type { Tensor } from '../tensor';
import { relu, sigmoid, tanh } from '../functional';
import { Module } from './module';

export class ReLU extends Module {
  override forward(input: Tensor): Tensor {
    return relu(input);
  }
}

export class Sigmoid extends Module {
  override forward(input: Tensor): Tensor {
    return sigmoid(input);
  }
}

export class Tanh extends Module {
  override forward(input: Tensor): Tensor {
    return tanh(input);
  }
}
