// Accumulates an ONNX graph: unique value names, nodes in topological order, initializers and
// small constants (shared when equal, so e.g. every `x * 2` reuses one scalar).
import { AttributeValue, Dim, ElementType, makeNode, makeTensor, makeValueInfo, onnx } from './proto';

export class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  readonly inputs: onnx.IValueInfoProto[] = [];
  readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly used = new Set<string>();
  private readonly constants = new Map<string, string>();
  private readonly opCounts = new Map<string, number>();

  /** Claims `name` exactly; false when it is taken. */
  tryClaim(name: string): boolean {
    if (name === '' || this.used.has(name)) return false;
    this.used.add(name);
    return true;
  }

  /** `base` itself when free, else `base_1`, `base_2`, ... */
  uniqueName(base: string): string {
    if (this.tryClaim(base)) return base;
    for (let k = 1; ; k++) if (this.tryClaim(`${base}_${k}`)) return `${base}_${k}`;
  }

  addInput(name: string, type: ElementType, dims: readonly Dim[]): void {
    this.inputs.push(makeValueInfo(name, type, dims));
  }

  addOutput(name: string, type: ElementType, dims: readonly Dim[]): void {
    this.outputs.push(makeValueInfo(name, type, dims));
  }

  /** Adds an initializer under a name already claimed by the caller. */
  addInitializer(name: string, type: ElementType, dims: readonly number[], values: ArrayLike<number>): string {
    this.initializers.push(makeTensor(name, type, dims, values));
    return name;
  }

  /** A constant initializer (deduplicated by value): scalars for Add/Mul, shapes for Reshape, axes. */
  constant(type: ElementType, dims: readonly number[], values: readonly number[], hint = 'const'): string {
    // Keyed by the exact bit pattern: -0 and 0 (or two NaNs) must not be confused or split.
    const key = `${type}|${dims.join(',')}|${values.map((v) => (Object.is(v, -0) ? '-0' : String(v))).join(',')}`;
    const existing = this.constants.get(key);
    if (existing) return existing;
    const name = this.uniqueName(`/constants/${hint}`);
    this.addInitializer(name, type, dims, values);
    this.constants.set(key, name);
    return name;
  }

  /** Scalar float32 constant (shape [], broadcasts against anything). */
  scalar(value: number): string {
    return this.constant('float32', [], [value], 'scalar');
  }

  /** 1-D int64 constant (shapes and axes). */
  int64s(values: readonly number[], hint = 'ints'): string {
    return this.constant('int64', [values.length], values, hint);
  }

  /**
   * Appends a node; returns its output names. `scope` (a module path) prefixes the node's name,
   * the way exporters show where in the model a node came from.
   */
  addNode(opType: string, inputs: readonly string[], outputs: readonly string[],
    attributes: Readonly<Record<string, AttributeValue>> = {}, scope = '', docString = ''): readonly string[] {
    const count = this.opCounts.get(opType) ?? 0;
    this.opCounts.set(opType, count + 1);
    const name = `${scope ? `/${scope}` : ''}/${opType}_${count}`;
    this.nodes.push(makeNode({ opType, inputs, outputs, attributes, name, docString }));
    return outputs;
  }

  /** A fresh intermediate value name. */
  temp(hint: string): string {
    return this.uniqueName(`/${hint}_out`);
  }

  toGraph(name: string): onnx.IGraphProto {
    return {
      name,
      node: this.nodes,
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs,
    };
  }
}
