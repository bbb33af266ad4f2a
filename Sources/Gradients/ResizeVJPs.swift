import Execution
import GraphIR
import TensorCore

/// Gradient of Resize (nearest and linear, every coordinate mode the runtime runs): the forward
/// pass is one linear map per changed axis (output j reads i0[j]·(1 − w) + i1[j]·w), so the
/// gradient applies their adjoints in reverse order, scattering each output's gradient back
/// onto the inputs it read.
enum ResizeVJPs {
  static let rules: [String: VJP] = ["Resize": { c in try resize(c) }, "Upsample": { c in try resize(c) }]

  static func resize(_ c: VJPContext) throws -> [[Float]?] {
    let steps = try ResizeOps.plan(c.node, c.inputs, c.opset)
    // The shape before each step.
    var shapes = [c.shape(0)]
    for s in steps { var next = shapes.last!; next[s.axis] = s.outLength; shapes.append(next) }
    var g = c.grad
    for (k, s) in steps.enumerated().reversed() {
      let shape = shapes[k]
      let outer = shape[..<s.axis].reduce(1, *), inner = shape[(s.axis + 1)...].reduce(1, *)
      var d = [Float](repeating: 0, count: shape.reduce(1, *))
      for o in 0..<outer {
        let from = o * s.outLength * inner, to = o * s.inLength * inner
        for j in 0..<s.outLength {
          let w = s.w1[j], a = to + s.i0[j] * inner, b = to + s.i1[j] * inner, src = from + j * inner
          for e in 0..<inner {
            let v = g[src + e]
            if w == 0 {
              d[a + e] += v
            } else {
              d[a + e] += v * (1 - w)
              d[b + e] += v * w
            }
          }
        }
      }
      g = d
    }
    return [g] + [[Float]?](repeating: nil, count: max(c.inputs.count - 1, 0))
  }
}
