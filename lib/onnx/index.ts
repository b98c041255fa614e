// hn.onnx: export a traced model as an ONNX file that onnxruntime runs with the same outputs.
export { exportModel, exportToBytes, MIN_OPSET, MAX_OPSET } from './export';
export type { ExportOptions, ExportResult } from './export';
export { converters, withoutOnnxForm } from './converters';
export type { Converter, ConvertContext } from './converters';
export { decodeModel } from './proto';
