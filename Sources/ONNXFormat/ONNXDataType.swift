import TensorCore

/// Names for ONNX element-type codes in error messages (the code ⇄ `DType` table itself is
/// `DType.onnxCode` / `DType(onnxCode:)` in TensorCore).
enum ONNXDataType {
  static func dtype(_ code: Int32) -> DType? { DType(onnxCode: Int(code)) }

  static func name(_ code: Int32) -> String {
    let names: [Int32: String] = [8: "string", 14: "complex64", 15: "complex128", 16: "bfloat16",
      17: "float8e4m3fn", 18: "float8e4m3fnuz", 19: "float8e5m2", 20: "float8e5m2fnuz", 21: "uint4", 22: "int4"]
    return dtype(code)?.rawValue ?? names[code] ?? "type \(code)"
  }
}
