import TensorCore

/// ONNX `TensorProto.DataType` codes ⇄ `DType`.
enum ONNXDataType {
  static func dtype(_ code: Int32) -> DType? {
    switch code {
    case 1: return .float32
    case 2: return .uint8
    case 3: return .int8
    case 4: return .uint16
    case 5: return .int16
    case 6: return .int32
    case 7: return .int64
    case 9: return .bool
    case 10: return .float16
    case 11: return .float64
    case 12: return .uint32
    case 13: return .uint64
    default: return nil
    }
  }

  static func code(_ dtype: DType) -> Int32 {
    switch dtype {
    case .float32: return 1
    case .uint8: return 2
    case .int8: return 3
    case .uint16: return 4
    case .int16: return 5
    case .int32: return 6
    case .int64: return 7
    case .bool: return 9
    case .float16: return 10
    case .float64: return 11
    case .uint32: return 12
    case .uint64: return 13
    }
  }

  static func name(_ code: Int32) -> String {
    let names: [Int32: String] = [8: "string", 14: "complex64", 15: "complex128", 16: "bfloat16",
      17: "float8e4m3fn", 18: "float8e4m3fnuz", 19: "float8e5m2", 20: "float8e5m2fnuz", 21: "uint4", 22: "int4"]
    return dtype(code)?.rawValue ?? names[code] ?? "type \(code)"
  }
}
