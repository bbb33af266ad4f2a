import Foundation
import GraphIR
import TensorCore

/// Element-wise math on one input.
enum UnaryOps {
  static let kernels: [String: OpKernel] = [
    "Sqrt": float { $0.squareRoot() },
    "Exp": float { expf($0) },
    "Log": float { logf($0) },
    "Erf": float { erff($0) },
    "Tanh": float { tanhf($0) },
    "Sin": float { sinf($0) },
    "Cos": float { cosf($0) },
    "Reciprocal": float { 1 / $0 },
    "Floor": float { $0.rounded(.down) },
    "Ceil": float { $0.rounded(.up) },
    "Round": float { $0.rounded(.toNearestOrEven) },
    "Neg": signed({ -$0 }, { 0 &- $0 }),
    "Abs": signed({ Swift.abs($0) }, { $0 < 0 ? 0 &- $0 : $0 }),
    "Sign": signed({ $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }, { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }),
    "Not": { node, inputs, _ in
      let x = try inputs.required(0, node)
      guard x.dtype == .bool else { throw opError(node, "expects bool input, got \(x.dtype)") }
      return [Tensor(shape: x.shape, bools: x.bools.map { !$0 })]
    },
    "IsNaN": { node, inputs, _ in
      let x = try inputs.required(0, node)
      return [Tensor(shape: x.shape, bools: try x.floatValues(node).map { $0.isNaN })]
    },
    "IsInf": { node, inputs, _ in
      let x = try inputs.required(0, node)
      let pos = node.int("detect_positive", default: 1) == 1, neg = node.int("detect_negative", default: 1) == 1
      return [Tensor(shape: x.shape, bools: try x.floatValues(node).map { $0.isInfinite && ($0 > 0 ? pos : neg) })]
    },
  ]

  /// Applies `f` to every element of a floating tensor, keeping its dtype.
  @inline(__always)
  static func map(_ node: Node, _ x: Tensor, _ f: (Float) -> Float) throws -> Tensor {
    let v = try x.floatValues(node)
    let n = v.count
    let out = [Float](unsafeUninitializedCapacity: n) { buf, count in
      v.withUnsafeBufferPointer { p in for i in 0..<n { buf[i] = f(p[i]) } }
      count = n
    }
    return Tensor(dtype: x.dtype, shape: x.shape, storage: .float(out))
  }

  /// A kernel applying `f` element-wise. `f` is a stored closure, so this suits transcendental
  /// ops whose own cost hides the call; cheap ops pass a literal closure to `map` instead.
  static func float(_ f: @escaping @Sendable (Float) -> Float) -> OpKernel {
    return { node, inputs, _ in [try map(node, try inputs.required(0, node), f)] }
  }

  static func signed(_ f: @escaping @Sendable (Float) -> Float, _ i: @escaping @Sendable (Int64) -> Int64) -> OpKernel {
    return { node, inputs, _ in
      let x = try inputs.required(0, node)
      if x.dtype.isFloatingPoint { return [try map(node, x, f)] }
      return [Tensor(shape: x.shape, ints: x.asInts().map(i), dtype: x.dtype)]
    }
  }
}
