import GraphIR
import TensorCore

/// Ops that change only the shape: Reshape, Flatten, Squeeze, Unsqueeze, plus Shape, Size,
/// Identity and Dropout.
enum ShapeOps {
  static let kernels: [String: OpKernel] = [
    "Reshape": { node, inputs, _ in [try reshape(node, inputs)] },
    "Flatten": { node, inputs, _ in
      let x = try inputs.required(0, node)
      guard let axis = node.int("axis", default: 1) < 0 ? Optional(node.int("axis", default: 1) + x.rank)
        : Optional(node.int("axis", default: 1)), (0...x.rank).contains(axis)
      else { throw opError(node, "axis out of range for rank \(x.rank)") }
      return [x.reshaped([x.shape[..<axis].reduce(1, *), x.shape[axis...].reduce(1, *)])]
    },
    "Squeeze": { node, inputs, opset in
      let x = try inputs.required(0, node)
      let axes = try normalizedAxes(node, opset < 13 ? node.ints("axes") : inputs.optional(1)?.asInts().map { Int($0) }, rank: x.rank)
      if let axes {
        for a in axes where x.shape[a] != 1 { throw opError(node, "cannot squeeze axis \(a) of size \(x.shape[a])") }
        return [x.reshaped(x.shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element))]
      }
      return [x.reshaped(x.shape.filter { $0 != 1 })]
    },
    "Unsqueeze": { node, inputs, opset in
      let x = try inputs.required(0, node)
      guard let raw = opset < 13 ? node.ints("axes") : inputs.optional(1)?.asInts().map({ Int($0) }) else {
        throw opError(node, "needs axes")
      }
      let r = x.rank + raw.count
      guard let axes = try normalizedAxes(node, raw, rank: r), Set(axes).count == axes.count else {
        throw opError(node, "repeated axes \(raw)")
      }
      var shape: [Int] = []
      var it = x.shape.makeIterator()
      for i in 0..<r { shape.append(axes.contains(i) ? 1 : it.next()!) }
      return [x.reshaped(shape)]
    },
    "Shape": { node, inputs, _ in
      let x = try inputs.required(0, node)
      let r = x.rank
      func clampAxis(_ v: Int) -> Int { Swift.min(Swift.max(v < 0 ? v + r : v, 0), r) }
      let start = clampAxis(node.int("start", default: 0)), end = Swift.max(clampAxis(node.int("end") ?? r), start)
      return [Tensor(shape: [end - start], ints: x.shape[start..<end].map(Int64.init))]
    },
    "Size": { node, inputs, _ in [Tensor(shape: [], ints: [Int64(try inputs.required(0, node).count)])] },
    "Identity": { node, inputs, _ in [try inputs.required(0, node)] },
    "Dropout": { node, inputs, _ in
      let x = try inputs.required(0, node)
      return [x, Tensor(shape: x.shape, bools: [Bool](repeating: true, count: x.count))]
    },
  ]

  /// Axes normalized into 0..<rank, or nil when none were given.
  static func normalizedAxes(_ node: Node, _ axes: [Int]?, rank: Int) throws -> [Int]? {
    guard let axes else { return nil }
    return try axes.map { a in
      guard let v = ShapeMath.axis(a, rank: rank) else { throw opError(node, "axis \(a) out of range for rank \(rank)") }
      return v
    }
  }

  static func reshape(_ node: Node, _ inputs: [Tensor?]) throws -> Tensor {
    let x = try inputs.required(0, node)
    let spec = try inputs.required(1, node).asInts().map { Int($0) }
    let allowZero = node.int("allowzero", default: 0) != 0
    var shape = spec.enumerated().map { i, d in d == 0 && !allowZero && i < x.rank ? x.shape[i] : d }
    let known = shape.filter { $0 != -1 }.reduce(1, *)
    if let inferred = shape.firstIndex(of: -1) {
      guard shape.filter({ $0 == -1 }).count == 1, known > 0, x.count % known == 0 else {
        throw opError(node, "cannot reshape \(x.shape) to \(spec)")
      }
      shape[inferred] = x.count / known
    }
    guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == x.count else {
      throw opError(node, "cannot reshape \(x.shape) (\(x.count) values) to \(spec)")
    }
    return x.reshaped(shape)
  }
}
