import Execution
import GraphIR
import TensorCore

/// Gradients of the ops that only move values: the reshapes pass the cotangent through; the
/// others (Transpose, Slice, Concat, Split, Gather, Expand, Tile) run their own forward kernel on
/// integer tensors that hold each element's position (1-based, 0 = "from no operand"), which
/// gives, for every output element, the input element it came from; the cotangent is then
/// summed back along that map. No per-op adjoint to get wrong.
enum MovementVJPs {
  static let rules: [String: VJP] = {
    var r: [String: VJP] = [:]
    for op in ["Reshape", "Flatten", "Squeeze", "Unsqueeze"] {
      r[op] = { c in [c.grad] + [[Float]?](repeating: nil, count: max(c.inputs.count - 1, 0)) }
    }
    for op in ["Transpose", "Slice", "Split", "Gather", "Expand", "Tile"] {
      r[op] = { c in try routed(c, dataInputs: [0]) }
    }
    r["Concat"] = { c in try routed(c, dataInputs: Array(c.inputs.indices)) }
    // Every output element copies one input element or the constant (every mode): scatter back.
    r["Pad"] = { c in
      let sources = try MovementOps.padSources(c.node, c.inputs, c.opset).sources
      let g = c.grad
      var dx = [Float](repeating: 0, count: c.shape(0).reduce(1, *))
      for (i, s) in sources.enumerated() where s >= 0 { dx[s] += g[i] }
      return [dx] + [[Float]?](repeating: nil, count: max(c.inputs.count - 1, 0))
    }
    return r
  }()

  static func routed(_ c: VJPContext, dataInputs: [Int]) throws -> [[Float]?] {
    let kernel = try OpRegistry.kernel(for: c.node, opset: c.opset)
    var result = [[Float]?](repeating: nil, count: c.inputs.count)
    for k in dataInputs where c.need(k) {
      var args = c.inputs
      for d in dataInputs {
        guard let t = c.inputs[d] else { continue }
        let codes: [Int64] = d == k ? (1...max(t.count, 1)).prefix(t.count).map(Int64.init) : [Int64](repeating: 0, count: t.count)
        args[d] = Tensor(shape: t.shape, ints: codes)
      }
      let routes = try kernel(c.node, args, c.opset)
      var dx = [Float](repeating: 0, count: c.inputs[k]!.count)
      for (o, route) in routes.enumerated() {
        guard o < c.outputGrads.count, let g = c.outputGrads[o] else { continue }
        let src = route.ints
        for j in 0..<src.count where src[j] > 0 { dx[Int(src[j]) - 1] += g[j] }
      }
      result[k] = dx
    }
    return result
  }
}
