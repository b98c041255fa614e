// The ONNX protobuf messages hydranet writes, built on the `onnx-proto` package (ONNX 1.10's
// schema compiled with protobufjs): small constructors for tensors, attributes, value infos and
// nodes, plus encode/decode. No wire format is written by hand here.
import { onnx } from 'onnx-proto';

export { onnx };

export const DataType = onnx.TensorProto.DataType;
export type DataTypeCode = onnx.TensorProto.DataType;

/** Element types hydranet tensors and constants use. */
export type ElementType = 'float32' | 'int32' | 'int64';

export function dataTypeOf(type: ElementType): DataTypeCode {
  switch (type) {
    case 'float32': return DataType.FLOAT;
    case 'int32': return DataType.INT32;
    case 'int64': return DataType.INT64;
  }
}

/**
 * Raw little-endian bytes of the values (ONNX's raw_data is little-endian whatever the host).
 * int64 values must be safe integers.
 */
export function rawBytes(type: ElementType, values: ArrayLike<number>): Uint8Array {
  const width = type === 'int64' ? 8 : 4;
  const bytes = new Uint8Array(values.length * width);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (type === 'float32') view.setFloat32(i * 4, v, true);
    else if (type === 'int32') view.setInt32(i * 4, v, true);
    else view.setBigInt64(i * 8, BigInt(v), true);
  }
  return bytes;
}

/** An initializer or constant: dims [] is a scalar. */
export function makeTensor(name: string, type: ElementType, dims: readonly number[], values: ArrayLike<number>): onnx.ITensorProto {
  return { name, dataType: dataTypeOf(type), dims: [...dims], rawData: rawBytes(type, values) };
}

/** One dim of a value's declared shape: a size, or a symbolic name such as 'batch'. */
export type Dim = number | string;

export function makeValueInfo(name: string, type: ElementType, dims: readonly Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: dataTypeOf(type),
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

/** An attribute value with its ONNX type made explicit (a JS number alone cannot say INT or FLOAT). */
export type AttributeValue =
  | { int: number }
  | { float: number }
  | { ints: readonly number[] }
  | { floats: readonly number[] }
  | { string: string };

export const attr = {
  int: (v: number | boolean): AttributeValue => ({ int: Number(v) }),
  float: (v: number): AttributeValue => ({ float: v }),
  ints: (v: readonly number[]): AttributeValue => ({ ints: v }),
  floats: (v: readonly number[]): AttributeValue => ({ floats: v }),
  string: (v: string): AttributeValue => ({ string: v }),
};

const AttributeType = onnx.AttributeProto.AttributeType;

export function makeAttribute(name: string, value: AttributeValue): onnx.IAttributeProto {
  if ('int' in value) return { name, type: AttributeType.INT, i: value.int };
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
  if ('ints' in value) return { name, type: AttributeType.INTS, ints: [...value.ints] };
  if ('floats' in value) return { name, type: AttributeType.FLOATS, floats: [...value.floats] };
  return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value.string) };
}

export interface NodeSpec {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: Readonly<Record<string, AttributeValue>>;
  name?: string;
  docString?: string;
}

export function makeNode(spec: NodeSpec): onnx.INodeProto {
  return {
    opType: spec.opType,
    input: [...spec.inputs],
    output: [...spec.outputs],
    name: spec.name ?? '',
    docString: spec.docString ?? '',
    attribute: Object.entries(spec.attributes ?? {}).map(([k, v]) => makeAttribute(k, v)),
  };
}

export function encodeModel(model: onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

export function decodeModel(bytes: Uint8Array): onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}
