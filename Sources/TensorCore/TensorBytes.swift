import Foundation

/// Little-endian raw element bytes ⇄ tensors, shared by `.npy` and ONNX `raw_data`.
public enum TensorBytes {
  /// Decodes `count(shape)` elements of `dtype` from `raw` (little-endian).
  public static func decode(_ raw: UnsafeRawBufferPointer, dtype: DType, shape: [Int]) throws -> Tensor {
    guard let n = ShapeMath.checkedCount(shape), case let (bytes, false) = n.multipliedReportingOverflow(by: dtype.byteSize) else {
      throw TensorIOError("shape \(shape) holds too many \(dtype) values to decode")
    }
    guard raw.count >= bytes else {
      throw TensorIOError("\(n) \(dtype) values need \(n * dtype.byteSize) bytes, found \(raw.count)")
    }
    func load<T>(_: T.Type) -> [T] {
      (0..<n).map { raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self) }
    }
    switch dtype {
    case .float32: return Tensor(dtype: dtype, shape: shape, storage: .float(load(Float.self)))
    case .float16: return Tensor(dtype: dtype, shape: shape, storage: .float(load(UInt16.self).map { Float(Float16(bitPattern: $0)) }))
    case .float64: return Tensor(dtype: dtype, shape: shape, storage: .float(load(Double.self).map { Float($0) }))
    case .int64: return Tensor(dtype: dtype, shape: shape, storage: .int(load(Int64.self)))
    case .int32: return Tensor(dtype: dtype, shape: shape, storage: .int(load(Int32.self).map { Int64($0) }))
    case .int16: return Tensor(dtype: dtype, shape: shape, storage: .int(load(Int16.self).map { Int64($0) }))
    case .int8: return Tensor(dtype: dtype, shape: shape, storage: .int(load(Int8.self).map { Int64($0) }))
    case .uint64: return Tensor(dtype: dtype, shape: shape, storage: .int(load(UInt64.self).map { Int64(bitPattern: $0) }))
    case .uint32: return Tensor(dtype: dtype, shape: shape, storage: .int(load(UInt32.self).map { Int64($0) }))
    case .uint16: return Tensor(dtype: dtype, shape: shape, storage: .int(load(UInt16.self).map { Int64($0) }))
    case .uint8: return Tensor(dtype: dtype, shape: shape, storage: .int(load(UInt8.self).map { Int64($0) }))
    case .bool: return Tensor(dtype: dtype, shape: shape, storage: .bool(load(UInt8.self).map { $0 != 0 }))
    }
  }

  /// Encodes the tensor's elements as little-endian bytes of its dtype.
  public static func encode(_ t: Tensor) -> Data {
    func bytes<T>(_ values: [T]) -> Data { values.withUnsafeBytes { Data($0) } }
    switch t.dtype {
    case .float32: return bytes(t.asFloats())
    case .float16: return bytes(t.asFloats().map { Float16($0).bitPattern })
    case .float64: return bytes(t.asFloats().map { Double($0) })
    case .int64: return bytes(t.asInts())
    case .int32: return bytes(t.asInts().map { Int32(truncatingIfNeeded: $0) })
    case .int16: return bytes(t.asInts().map { Int16(truncatingIfNeeded: $0) })
    case .int8: return bytes(t.asInts().map { Int8(truncatingIfNeeded: $0) })
    case .uint64: return bytes(t.asInts().map { UInt64(bitPattern: $0) })
    case .uint32: return bytes(t.asInts().map { UInt32(truncatingIfNeeded: $0) })
    case .uint16: return bytes(t.asInts().map { UInt16(truncatingIfNeeded: $0) })
    case .uint8: return bytes(t.asInts().map { UInt8(truncatingIfNeeded: $0) })
    case .bool: return bytes(t.asInts().map { UInt8($0 != 0 ? 1 : 0) })
    }
  }
}
