/// The values of a tensor, grouped by the arithmetic the reference runtime uses for them.
public enum TensorStorage: Sendable {
  case float([Float])
  case int([Int64])
  case bool([Bool])
}

/// A dense, row-major tensor with a logical element type.
///
/// Value semantics: copies share storage until one is mutated (Swift arrays are copy-on-write).
public struct Tensor: Sendable {
  public var dtype: DType
  public var shape: [Int]
  public var storage: TensorStorage

  /// Number of elements (1 for a scalar, 0 when any dimension is 0).
  @inlinable public var count: Int { shape.reduce(1, *) }
  @inlinable public var rank: Int { shape.count }

  public init(dtype: DType, shape: [Int], storage: TensorStorage) {
    self.dtype = dtype
    self.shape = shape
    self.storage = storage
  }

  /// A floating tensor; `dtype` must be a floating type. Float16 values are rounded to half.
  public init(shape: [Int], floats: [Float], dtype: DType = .float32) {
    precondition(shape.reduce(1, *) == floats.count, "shape \(shape) does not hold \(floats.count) values")
    precondition(dtype.isFloatingPoint)
    let values = dtype == .float16 ? floats.map { Float(Float16($0)) } : floats
    self.init(dtype: dtype, shape: shape, storage: .float(values))
  }

  /// An integer tensor; values are wrapped into `dtype`'s range.
  public init(shape: [Int], ints: [Int64], dtype: DType = .int64) {
    precondition(shape.reduce(1, *) == ints.count, "shape \(shape) does not hold \(ints.count) values")
    precondition(dtype.isInteger)
    let values = dtype == .int64 || dtype == .uint64 ? ints : ints.map { dtype.wrap($0) }
    self.init(dtype: dtype, shape: shape, storage: .int(values))
  }

  public init(shape: [Int], bools: [Bool]) {
    precondition(shape.reduce(1, *) == bools.count, "shape \(shape) does not hold \(bools.count) values")
    self.init(dtype: .bool, shape: shape, storage: .bool(bools))
  }

  /// A float32 tensor of zeros.
  public static func zeros(_ shape: [Int], dtype: DType = .float32) -> Tensor {
    let n = shape.reduce(1, *)
    if dtype.isFloatingPoint { return Tensor(dtype: dtype, shape: shape, storage: .float(.init(repeating: 0, count: n))) }
    if dtype == .bool { return Tensor(dtype: .bool, shape: shape, storage: .bool(.init(repeating: false, count: n))) }
    return Tensor(dtype: dtype, shape: shape, storage: .int(.init(repeating: 0, count: n)))
  }

  /// The float values; traps when the tensor is not floating (use `asFloats()` to convert).
  @inlinable public var floats: [Float] {
    if case .float(let v) = storage { return v }
    preconditionFailure("tensor of \(dtype) read as float")
  }

  /// The integer values; traps when the tensor is not an integer tensor.
  @inlinable public var ints: [Int64] {
    if case .int(let v) = storage { return v }
    preconditionFailure("tensor of \(dtype) read as integer")
  }

  @inlinable public var bools: [Bool] {
    if case .bool(let v) = storage { return v }
    preconditionFailure("tensor of \(dtype) read as bool")
  }

  /// Values converted to Float whatever the storage.
  public func asFloats() -> [Float] {
    switch storage {
    case .float(let v): return v
    case .int(let v): return v.map { Float($0) }
    case .bool(let v): return v.map { $0 ? 1 : 0 }
    }
  }

  /// Values converted to Int64 (floats truncate toward zero, as ONNX Cast does).
  public func asInts() -> [Int64] {
    switch storage {
    case .int(let v): return v
    case .float(let v): return v.map { $0.isFinite ? (Int64(exactly: $0.rounded(.towardZero)) ?? ($0 < 0 ? .min : .max)) : 0 }
    case .bool(let v): return v.map { $0 ? 1 : 0 }
    }
  }

  /// The same values under a new shape with the same element count.
  public func reshaped(_ newShape: [Int]) -> Tensor {
    precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
    var t = self
    t.shape = newShape
    return t
  }
}

extension Tensor: CustomStringConvertible {
  public var description: String { "Tensor<\(dtype)>\(shape)" }
}
