import Foundation
import GraphIR
import Kernels
import TensorCore

/// A layer's constant FP32 weights packed for `FloatGEMM` on first use and kept for every later
/// run of the session (a Conv's weight rows per group, a MatMul's or Gemm's B as column panels).
final class PackedFloatWeights: @unchecked Sendable {
  private let lock = NSLock()
  private var value: AnyObject?

  /// The packed form `make` builds, built once.
  func get<T: AnyObject>(_ make: () throws -> T) rethrows -> T {
    lock.lock()
    defer { lock.unlock() }
    if let v = value as? T { return v }
    let v = try make()
    value = v
    return v
  }

  /// Whether `node` reads a constant weight that can be packed once.
  static func applies(to node: Node, in graph: Graph) -> Bool {
    guard ["Conv", "MatMul", "Gemm"].contains(node.opType), let w = node.input(1), let t = graph.initializers[w] else {
      return false
    }
    return t.dtype == .float32 && (node.opType != "MatMul" || t.rank == 2)
  }
}

/// One group's weight rows of a convolution.
final class ConvWeightRows {
  let groups: [FloatRowPanels]
  init(_ groups: [FloatRowPanels]) { self.groups = groups }
}
