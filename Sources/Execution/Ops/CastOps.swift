import GraphIR
import TensorCore

/// Cast and CastLike between the supported element types.
enum CastOps {
  static let kernels: [String: OpKernel] = [
    "Cast": { node, inputs, _ in
      guard let code = node.int("to"), let to = DType(onnxCode: code) else {
        throw opError(node, "unsupported target type \(node.int("to") ?? -1)")
      }
      return [cast(try inputs.required(0, node), to: to)]
    },
    "CastLike": { node, inputs, _ in [cast(try inputs.required(0, node), to: try inputs.required(1, node).dtype)] },
  ]

  /// Converts values: floats truncate toward zero into integers, non-zero becomes true,
  /// float16 rounds to half precision.
  public static func cast(_ x: Tensor, to: DType) -> Tensor {
    if to == x.dtype { return x }
    if to == .bool {
      switch x.storage {
      case .float(let v): return Tensor(shape: x.shape, bools: v.map { $0 != 0 })
      case .int(let v): return Tensor(shape: x.shape, bools: v.map { $0 != 0 })
      case .bool: return x
      }
    }
    if to.isFloatingPoint { return Tensor(shape: x.shape, floats: x.asFloats(), dtype: to) }
    return Tensor(shape: x.shape, ints: x.asInts(), dtype: to)
  }
}
