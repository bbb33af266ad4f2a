import Kernels
import Foundation
import GraphIR
import TensorCore

/// Element-wise math on one input.
enum UnaryOps {
  static let kernels: [String: OpKernel] = [
    "Sqrt": float { $0.squareRoot() },
    "Exp": float { expf($0) },
    "Log": float { logf($0) },
    "Erf": { node, inputs, _ in [try map(node, try inputs.required(0, node), ErfFunction())] },
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
  static func map<F: UnaryFunction>(_ node: Node, _ x: Tensor, _ f: F) throws -> Tensor {
    let v = try x.floatValues(node)
    let n = v.count
    let chunk = 1 << 15
    let out = [Float](unsafeUninitializedCapacity: n) { buf, count in
      v.withUnsafeBufferPointer { p in
        let src = p.baseAddress, dst = buf.baseAddress
        Parallel.forEach((n + chunk - 1) / chunk, costPerItem: chunk) { c in
          guard let src, let dst else { return }
          for i in (c * chunk)..<min((c + 1) * chunk, n) { dst[i] = f(src[i]) }
        }
      }
      count = n
    }
    return Tensor(dtype: x.dtype, shape: x.shape, storage: .float(out))
  }

  /// A kernel applying `f` element-wise. `f` is a stored closure, so this suits transcendental
  /// ops whose own cost hides the call; cheap ops pass a literal closure to `map` instead.
  static func float(_ f: @escaping @Sendable (Float) -> Float) -> OpKernel {
    return { node, inputs, _ in [try map(node, try inputs.required(0, node), ClosureUnary(f: f))] }
  }

  /// Applies a closure element-wise (for ops outside the hot set).
  static func map(_ node: Node, _ x: Tensor, _ f: (Float) -> Float) throws -> Tensor {
    try withoutActuallyEscaping(f) { try map(node, x, ClosureUnary(f: $0)) }
  }

  static func signed(_ f: @escaping @Sendable (Float) -> Float, _ i: @escaping @Sendable (Int64) -> Int64) -> OpKernel {
    return { node, inputs, _ in
      let x = try inputs.required(0, node)
      if x.dtype.isFloatingPoint { return [try map(node, x, ClosureUnary(f: f))] }
      return [Tensor(shape: x.shape, ints: x.asInts().map(i), dtype: x.dtype)]
    }
  }
}
