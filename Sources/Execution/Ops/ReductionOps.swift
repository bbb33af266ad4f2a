import Foundation
import GraphIR
import TensorCore

/// Reduce* over a set of axes (attribute before opset 18 — 13 for ReduceSum — input after),
/// and ArgMax/ArgMin.
enum ReductionOps {
  /// How a reduction starts, folds one value in, and finishes given the element count.
  struct Reducer: Sendable {
    var initial: Double
    var combine: @Sendable (Double, Double) -> Double
    var finish: @Sendable (Double, Int) -> Double
    /// `combine` is plain addition (Sum, Mean): the fast path adds without calling it.
    var adds = false
  }

  static let reducers: [String: Reducer] = [
    "ReduceSum": Reducer(initial: 0, combine: +, finish: { v, _ in v }, adds: true),
    "ReduceMean": Reducer(initial: 0, combine: +, finish: { v, n in v / Double(Swift.max(n, 1)) }, adds: true),
    "ReduceMax": Reducer(initial: -.infinity, combine: { Swift.max($0, $1) }, finish: { v, _ in v }),
    "ReduceMin": Reducer(initial: .infinity, combine: { Swift.min($0, $1) }, finish: { v, _ in v }),
    "ReduceProd": Reducer(initial: 1, combine: *, finish: { v, _ in v }),
    "ReduceL1": Reducer(initial: 0, combine: { $0 + Swift.abs($1) }, finish: { v, _ in v }),
    "ReduceL2": Reducer(initial: 0, combine: { $0 + $1 * $1 }, finish: { v, _ in v.squareRoot() }),
    "ReduceSumSquare": Reducer(initial: 0, combine: { $0 + $1 * $1 }, finish: { v, _ in v }),
    "ReduceLogSumExp": Reducer(initial: 0, combine: { $0 + Foundation.exp($1) }, finish: { v, _ in Foundation.log(v) }),
  ]

  static let kernels: [String: OpKernel] = {
    var k: [String: OpKernel] = [:]
    for (name, reducer) in reducers {
      k[name] = { node, inputs, opset in [try reduce(node, inputs, opset, reducer)] }
    }
    k["ArgMax"] = { node, inputs, _ in [try argExtreme(node, try inputs.required(0, node), max: true)] }
    k["ArgMin"] = { node, inputs, _ in [try argExtreme(node, try inputs.required(0, node), max: false)] }
    return k
  }()

  static func reduce(_ node: Node, _ inputs: [Tensor?], _ opset: Int, _ reducer: Reducer) throws -> Tensor {
    let x = try inputs.required(0, node)
    let axesFromInput = opset >= (node.opType == "ReduceSum" ? 13 : 18)
    let raw = axesFromInput ? inputs.optional(1)?.asInts().map { Int($0) } : node.ints("axes")
    let keep = node.int("keepdims", default: 1) != 0
    var axes = Set<Int>()
    if let raw, !raw.isEmpty {
      for a in raw {
        guard let v = ShapeMath.axis(a, rank: x.rank) else { throw opError(node, "axis \(a) out of range for \(x.shape)") }
        axes.insert(v)
      }
    } else if node.int("noop_with_empty_axes", default: 0) != 0 {
      return x
    } else {
      axes = Set(0..<x.rank)
    }
    let keptShape = (0..<x.rank).map { axes.contains($0) ? 1 : x.shape[$0] }
    let outCount = keptShape.reduce(1, *)
    var acc = [Double](repeating: reducer.initial, count: outCount)
    let values = x.asFloats()
    let sorted = axes.sorted()
    if let first = sorted.first, let last = sorted.last, last - first + 1 == sorted.count {
      // One run of axes: an (outer, length, inner) view, each sum folded in the input's order
      // (the general loop's order, so the same bits), without an index per element.
      let outer = x.shape[..<first].reduce(1, *), length = x.shape[first...last].reduce(1, *)
      let inner = x.shape[(last + 1)...].reduce(1, *)
      let plainSum = reducer.adds
      values.withUnsafeBufferPointer { v in
        acc.withUnsafeMutableBufferPointer { a in
          for o in 0..<outer {
            for k in 0..<length {
              let row = (o * length + k) * inner, out = o * inner
              if plainSum {
                for i in 0..<inner { a[out + i] += Double(v[row + i]) }
              } else {
                for i in 0..<inner { a[out + i] = reducer.combine(a[out + i], Double(v[row + i])) }
              }
            }
          }
        }
      }
    } else {
      let outStrides = ShapeMath.strides(keptShape)
      let mapStrides = (0..<x.rank).map { axes.contains($0) ? 0 : outStrides[$0] }
      let target = StridedIndex.indices(shape: x.shape, strides: mapStrides, offset: 0)
      for i in 0..<values.count { acc[target[i]] = reducer.combine(acc[target[i]], Double(values[i])) }
    }
    let reducedCount = x.count / Swift.max(outCount, 1)
    let finished = acc.map { reducer.finish($0, reducedCount) }
    let shape = keep ? keptShape : (0..<x.rank).filter { !axes.contains($0) }.map { x.shape[$0] }
    if x.dtype.isFloatingPoint { return Tensor(shape: shape, floats: finished.map { Float($0) }, dtype: x.dtype) }
    return Tensor(shape: shape, ints: finished.map { Int64($0) }, dtype: x.dtype)
  }

  static func argExtreme(_ node: Node, _ x: Tensor, max isMax: Bool) throws -> Tensor {
    guard let axis = ShapeMath.axis(node.int("axis", default: 0), rank: x.rank) else {
      throw opError(node, "axis out of range for \(x.shape)")
    }
    let keep = node.int("keepdims", default: 1) != 0, last = node.int("select_last_index", default: 0) != 0
    let len = x.shape[axis], outer = x.shape[..<axis].reduce(1, *), inner = x.shape[(axis + 1)...].reduce(1, *)
    guard len > 0 else { throw opError(node, "cannot take ArgMax/ArgMin over an empty axis") }
    let v = x.asFloats()
    var out = [Int64](repeating: 0, count: outer * inner)
    for o in 0..<outer {
      for i in 0..<inner {
        var best = v[o * len * inner + i], bestK = 0
        for k in 1..<Swift.max(len, 1) {
          let y = v[(o * len + k) * inner + i]
          let better = isMax ? (y > best || (last && y == best)) : (y < best || (last && y == best))
          if better { best = y; bestK = k }
        }
        out[o * inner + i] = Int64(bestK)
      }
    }
    var shape = x.shape
    if keep { shape[axis] = 1 } else { shape.remove(at: axis) }
    return Tensor(shape: shape, ints: out)
  }
}
