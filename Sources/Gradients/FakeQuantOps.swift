import Execution
import GraphIR
import TensorCore

/// Ops that exist only in training graphs (domain "mixprec"): activation fake quantization with
/// a learnable two-sided clip (PACT).
///
///     s = (hi − lo) / L,  z = clamp(round(−lo / s), 0, L),  y = (clamp(round(x / s) + z, 0, L) − z) · s
///
/// Straight-through gradients: dx = dy inside [lo, hi], 0 outside; dhi = Σ dy over x > hi;
/// dlo = Σ dy over x < lo. (The surrogate is clamp(x, lo, hi); the rounding passes dy through.)
public enum TrainingOps {
  public static let fakeQuant = "FakeQuantize"
  public static let domain = "mixprec"

  /// A fake-quantization node: inputs x, lo, hi (scalars), `levels` = 2^bits − 1.
  public static func fakeQuantNode(name: String, input: String, lo: String, hi: String, output: String, levels: Int = 255) -> Node {
    Node(name: name, opType: fakeQuant, domain: domain, inputs: [input, lo, hi], outputs: [output], attributes: ["levels": .int(levels)])
  }

  static func bounds(_ inputs: [Tensor?]) -> (Float, Float) {
    (inputs[1]?.floats.first ?? 0, inputs[2]?.floats.first ?? 0)
  }

  public static let kernels: [String: OpKernel] = [
    fakeQuant: { node, inputs, _ in
      guard let x = inputs.first ?? nil, case .float(let v) = x.storage else { throw GraphError("\(node.name): FakeQuantize needs a float input") }
      let (lo, hi) = bounds(inputs)
      let levels = Float(node.int("levels", default: 255))
      let s = max(hi - lo, 1e-12) / levels
      let z = min(max((-lo / s).rounded(), 0), levels)
      let y = v.map { (min(max(($0 / s).rounded() + z, 0), levels) - z) * s }
      return [Tensor(shape: x.shape, floats: y)]
    }
  ]

  static let rules: [String: VJP] = [
    fakeQuant: { c in
      let x = try c.floats(0)
      let (lo, hi) = bounds(c.inputs)
      let g = c.grad
      var dx = [Float](repeating: 0, count: x.count)
      var dlo: Float = 0, dhi: Float = 0
      for i in 0..<x.count {
        if x[i] < lo { dlo += g[i] } else if x[i] > hi { dhi += g[i] } else { dx[i] = g[i] }
      }
      return [c.need(0) ? dx : nil, c.need(1) ? [dlo] : nil, c.need(2) ? [dhi] : nil]
    }
  ]
}
