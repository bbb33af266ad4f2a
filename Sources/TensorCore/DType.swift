/// Element types a tensor can carry.
///
/// The FP32 reference runtime keeps every floating type in `Float` storage and every integer type
/// in `Int64` storage; `dtype` records the logical type so that casts, comparisons and files
/// written back keep the model's meaning.
public enum DType: String, Sendable, Codable, CaseIterable {
  case float32, float16, float64
  case int64, int32, int16, int8
  case uint64, uint32, uint16, uint8
  case bool

  /// True for float16/32/64.
  public var isFloatingPoint: Bool { self == .float32 || self == .float16 || self == .float64 }

  /// True for signed and unsigned integers (not bool).
  public var isInteger: Bool { !isFloatingPoint && self != .bool }

  /// Bytes per element in a file or an ONNX tensor.
  public var byteSize: Int {
    switch self {
    case .float64, .int64, .uint64: return 8
    case .float32, .int32, .uint32: return 4
    case .float16, .int16, .uint16: return 2
    case .int8, .uint8, .bool: return 1
    }
  }

  /// Wraps an integer into this integer type's range (two's complement), as a C cast does.
  @inlinable
  public func wrap(_ v: Int64) -> Int64 {
    switch self {
    case .int32: return Int64(Int32(truncatingIfNeeded: v))
    case .int16: return Int64(Int16(truncatingIfNeeded: v))
    case .int8: return Int64(Int8(truncatingIfNeeded: v))
    case .uint32: return Int64(UInt32(truncatingIfNeeded: v))
    case .uint16: return Int64(UInt16(truncatingIfNeeded: v))
    case .uint8: return Int64(UInt8(truncatingIfNeeded: v))
    default: return v
    }
  }

  /// ONNX `TensorProto.DataType` code of this type.
  public var onnxCode: Int {
    switch self {
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

  /// The type with ONNX `TensorProto.DataType` code `code`, or nil for types mixprec does not
  /// hold (string, complex, bfloat16, float8, int4, …).
  public init?(onnxCode code: Int) {
    guard let t = DType.allCases.first(where: { $0.onnxCode == code }) else { return nil }
    self = t
  }
}
