import Foundation
import GraphIR
import Kernels
import TensorCore

/// Resize (opset 10+) and Upsample (opset 7–9): nearest and linear modes, applied separably one
/// axis at a time, with the ONNX coordinate transformation modes.
public enum ResizeOps {
  static let kernels: [String: OpKernel] = [
    "Resize": { node, inputs, opset in [try resize(node, inputs, opset)] },
    "Upsample": { node, inputs, opset in [try resize(node, inputs, 10)] },
  ]

  static func resize(_ node: Node, _ inputs: [Tensor?], _ opset: Int) throws -> Tensor {
    let x = try inputs.required(0, node)
    var cur = try x.floatValues(node)
    var shape = x.shape
    for step in try plan(node, inputs, opset) {
      cur = resample(cur, shape: shape, step: step)
      shape[step.axis] = step.outLength
    }
    return Tensor(dtype: x.dtype, shape: shape, storage: .float(cur))
  }

  /// One axis of a Resize: output index j reads input i0[j]·(1 − w1[j]) + i1[j]·w1[j].
  public struct AxisStep: Sendable {
    public var axis: Int, inLength: Int, outLength: Int
    public var i0: [Int], i1: [Int], w1: [Float]
  }

  /// The axes a Resize changes, in the order it applies them (the gradient applies their
  /// adjoints in reverse).
  public static func plan(_ node: Node, _ inputs: [Tensor?], _ opset: Int) throws -> [AxisStep] {
    let x = try inputs.required(0, node)
    let r = x.rank
    let mode = node.string("mode") ?? "nearest"
    guard mode == "nearest" || mode == "linear" else {
      throw opError(node, "mode '\(mode)' is not supported (nearest, linear)")
    }
    if node.int("antialias", default: 0) != 0 { throw opError(node, "antialias=1 is not supported") }
    if let p = node.string("keep_aspect_ratio_policy"), p != "stretch" {
      throw opError(node, "keep_aspect_ratio_policy '\(p)' is not supported (stretch)")
    }
    let axes = try (node.ints("axes") ?? Array(0..<r)).map { a -> Int in
      guard let v = ShapeMath.axis(a, rank: r) else { throw opError(node, "axis \(a) out of range") }
      return v
    }
    // Scales and output sizes per axis.
    var scales = [Float](repeating: 1, count: r), sizes = x.shape
    let scalesInput = opset < 11 ? (inputs.optional(1) ?? node.floats("scales").map { Tensor(shape: [$0.count], floats: $0) })
      : inputs.optional(2)
    if let sz = opset < 11 ? nil : inputs.optional(3), sz.count > 0 {
      let v = sz.asInts()
      guard v.count == axes.count else { throw opError(node, "sizes has \(v.count) values for \(axes.count) axes") }
      for (i, a) in axes.enumerated() { sizes[a] = Int(v[i]); scales[a] = Float(sizes[a]) / Float(Swift.max(x.shape[a], 1)) }
    } else if let sc = scalesInput, sc.count > 0 {
      let v = sc.asFloats()
      guard v.count == axes.count else { throw opError(node, "scales has \(v.count) values for \(axes.count) axes") }
      for (i, a) in axes.enumerated() { scales[a] = v[i]; sizes[a] = Int((Float(x.shape[a]) * v[i]).rounded(.down)) }
    } else {
      throw opError(node, "needs scales or sizes")
    }
    let ctm = opset < 11 ? "asymmetric" : (node.string("coordinate_transformation_mode") ?? "half_pixel")
    let nearestMode = opset < 11 ? "floor" : (node.string("nearest_mode") ?? "round_prefer_floor")
    return try (0..<r).filter { sizes[$0] != x.shape[$0] || scales[$0] != 1 }.map { a in
      try taps(node, axis: a, inLength: x.shape[a], outLength: sizes[a], scale: scales[a], linear: mode == "linear", ctm: ctm,
        nearestMode: nearestMode)
    }
  }

  /// Source coordinate of output index `j` along one axis.
  static func sourceCoordinate(_ node: Node, _ j: Int, inLength: Int, outLength: Int, scale: Float, ctm: String) throws -> Float {
    let x = Float(j)
    switch ctm {
    case "half_pixel": return (x + 0.5) / scale - 0.5
    case "pytorch_half_pixel": return outLength > 1 ? (x + 0.5) / scale - 0.5 : 0
    case "align_corners": return outLength == 1 ? 0 : x * Float(inLength - 1) / Float(outLength - 1)
    case "asymmetric": return x / scale
    case "tf_half_pixel_for_nn": return (x + 0.5) / scale
    default: throw opError(node, "coordinate_transformation_mode '\(ctm)' is not supported")
    }
  }

  static func taps(_ node: Node, axis: Int, inLength: Int, outLength: Int, scale: Float,
                   linear: Bool, ctm: String, nearestMode: String) throws -> AxisStep {
    var i0 = [Int](repeating: 0, count: outLength), i1 = i0, w1 = [Float](repeating: 0, count: outLength)
    for j in 0..<outLength {
      let s = try sourceCoordinate(node, j, inLength: inLength, outLength: outLength, scale: scale, ctm: ctm)
      if linear {
        let c = Swift.min(Swift.max(s, 0), Float(inLength - 1))
        let f = Int(c.rounded(.down))
        i0[j] = f; i1[j] = Swift.min(f + 1, inLength - 1); w1[j] = c - Float(f)
      } else {
        let k: Int
        switch nearestMode {
        case "round_prefer_floor": k = s == s.rounded(.down) + 0.5 ? Int(s.rounded(.down)) : Int(s.rounded())
        case "round_prefer_ceil": k = Int(s.rounded())
        case "floor": k = Int(s.rounded(.down))
        case "ceil": k = Int(s.rounded(.up))
        default: throw opError(node, "nearest_mode '\(nearestMode)' is not supported")
        }
        i0[j] = Swift.min(Swift.max(k, 0), inLength - 1); i1[j] = i0[j]
      }
    }
    return AxisStep(axis: axis, inLength: inLength, outLength: outLength, i0: i0, i1: i1, w1: w1)
  }

  static func resample(_ v: [Float], shape: [Int], step: AxisStep) -> [Float] {
    let (axis, inLength, outLength, i0, i1, w1) = (step.axis, step.inLength, step.outLength, step.i0, step.i1, step.w1)
    let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
    var out = [Float](repeating: 0, count: outer * outLength * inner)
    v.withUnsafeBufferPointer { pv in
      out.withUnsafeMutableBufferPointer { po in
        let src = pv.baseAddress!, dst = po.baseAddress!
        Parallel.forEachRange(outer, costPerItem: outLength * inner) { range in
          for o in range {
            let from = src + o * inLength * inner, to = dst + o * outLength * inner
            if inner == 1 {
              // Along the last axis: a gather (nearest) or two taps per element (linear).
              for j in 0..<outLength {
                let w = w1[j]
                to[j] = w == 0 ? from[i0[j]] : from[i0[j]] * (1 - w) + from[i1[j]] * w
              }
              continue
            }
            for j in 0..<outLength {
              let a = from + i0[j] * inner, b = from + i1[j] * inner, d = to + j * inner
              let w = w1[j]
              if w == 0 {
                d.update(from: a, count: inner)
              } else {
                for k in 0..<inner { d[k] = a[k] * (1 - w) + b[k] * w }
              }
            }
          }
        }
      }
    }
    return out
  }
}
