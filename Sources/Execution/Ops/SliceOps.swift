import GraphIR
import TensorCore

/// Slice: starts/ends/axes/steps as inputs (opset ≥ 10) or attributes (before), with ONNX's
/// clamping of out-of-range and negative positions.
enum SliceOps {
  static let kernels: [String: OpKernel] = [
    "Slice": { node, inputs, opset in [try slice(node, inputs, opset)] }
  ]

  static func slice(_ node: Node, _ inputs: [Tensor?], _ opset: Int) throws -> Tensor {
    let x = try inputs.required(0, node)
    let r = x.rank
    let starts: [Int], ends: [Int], rawAxes: [Int]?, steps: [Int]?
    if opset < 10 {
      guard let s = node.ints("starts"), let e = node.ints("ends") else { throw opError(node, "needs starts and ends") }
      starts = s; ends = e; rawAxes = node.ints("axes"); steps = nil
    } else {
      starts = try inputs.required(1, node).asInts().map { Int($0) }
      ends = try inputs.required(2, node).asInts().map { Int($0) }
      rawAxes = inputs.optional(3)?.asInts().map { Int($0) }
      steps = inputs.optional(4)?.asInts().map { Int($0) }
    }
    let axes = rawAxes ?? Array(0..<starts.count)
    guard starts.count == ends.count, axes.count == starts.count, (steps?.count ?? starts.count) == starts.count else {
      throw opError(node, "starts \(starts), ends \(ends), axes \(axes) and steps \(steps ?? []) differ in length")
    }
    var begin = [Int](repeating: 0, count: r), step = [Int](repeating: 1, count: r), shape = x.shape
    for (i, rawAxis) in axes.enumerated() {
      guard let a = ShapeMath.axis(rawAxis, rank: r) else { throw opError(node, "axis \(rawAxis) out of range for rank \(r)") }
      let dim = x.shape[a], st = steps?[i] ?? 1
      guard st != 0 else { throw opError(node, "step 0 on axis \(a)") }
      var s = starts[i] < 0 ? starts[i] &+ dim : starts[i]
      var e = ends[i] < 0 ? ends[i] &+ dim : ends[i]
      if st > 0 {
        s = Swift.min(Swift.max(s, 0), dim); e = Swift.min(Swift.max(e, 0), dim)
        shape[a] = e > s ? (e - s + st - 1) / st : 0
      } else {
        s = Swift.min(Swift.max(s, 0), dim - 1); e = Swift.min(Swift.max(e, -1), dim - 1)
        shape[a] = s > e ? (s - e - st - 1) / (-st) : 0
      }
      begin[a] = s; step[a] = st
    }
    let strides = ShapeMath.strides(x.shape)
    if shape.contains(0) { return Tensor.zeros(shape, dtype: x.dtype) }
    let offset = (0..<r).map { begin[$0] * strides[$0] }.reduce(0, +)
    let idx = StridedIndex.indices(shape: shape, strides: (0..<r).map { strides[$0] * step[$0] }, offset: offset)
    return x.gathered(idx, shape: shape)
  }
}
