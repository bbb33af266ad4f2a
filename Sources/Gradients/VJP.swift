import Execution
import GraphIR
import TensorCore

/// What a vector-Jacobian product sees of one node: its input and output values from the
/// forward pass, the cotangents of its outputs (nil: no cotangent reached that output) and
/// which inputs need a cotangent.
public struct VJPContext {
  public var node: Node
  public var inputs: [Tensor?]
  public var outputs: [Tensor]
  public var outputGrads: [[Float]?]
  public var needs: [Bool]
  public var opset: Int

  public init(node: Node, inputs: [Tensor?], outputs: [Tensor], outputGrads: [[Float]?], needs: [Bool], opset: Int) {
    self.node = node
    self.inputs = inputs
    self.outputs = outputs
    self.outputGrads = outputGrads
    self.needs = needs
    self.opset = opset
  }

  /// Input `i`'s values (float), or an error naming the node.
  func floats(_ i: Int) throws -> [Float] {
    guard i < inputs.count, let t = inputs[i], case .float(let v) = t.storage else {
      throw GraphError("node '\(node.name)' (\(node.opType)): gradient needs floating input \(i)")
    }
    return v
  }

  func shape(_ i: Int) -> [Int] { inputs[i]?.shape ?? [] }

  /// The cotangent of output 0, zeros when none arrived.
  var grad: [Float] {
    outputGrads.first.flatMap { $0 } ?? [Float](repeating: 0, count: outputs.first?.count ?? 0)
  }

  func need(_ i: Int) -> Bool { i < needs.count && needs[i] }

  func unsupported(_ why: String) -> GraphError {
    GraphError("node '\(node.name)' (\(node.opType)): no gradient \(why)")
  }
}

/// Cotangents of a node's inputs (nil where none is needed), one per input.
public typealias VJP = @Sendable (VJPContext) throws -> [[Float]?]

/// The vector-Jacobian products, by ONNX op type.
public enum VJPRegistry {
  public static let rules: [String: VJP] = {
    var r: [String: VJP] = [:]
    for family in [ElementwiseVJPs.rules, LinearVJPs.rules, ConvVJPs.rules, ConvTransposeVJPs.rules, ResizeVJPs.rules, NormalizationVJPs.rules, MovementVJPs.rules, TrainingOps.rules] {
      r.merge(family) { _, new in new }
    }
    return r
  }()
}

/// When an operand of `shape`, broadcast to `out`, is constant over the trailing `inner` elements
/// of every run (a scalar, a per-channel [N, C, 1, 1] or [C, 1, 1] operand of an NCHW tensor, …):
/// (inner, operand count). Operand element for result position i is then (i / inner) % count.
func trailingBroadcast(_ shape: [Int], to out: [Int]) -> (inner: Int, count: Int)? {
  let padded = [Int](repeating: 1, count: out.count - shape.count) + shape
  guard let lastKept = padded.lastIndex(where: { $0 != 1 }) else { return (out.reduce(1, *), 1) }
  // Leading dims may be broadcast only as a whole prefix of 1s; dims up to lastKept must match.
  let firstKept = padded.firstIndex(where: { $0 != 1 })!
  for d in firstKept...lastKept where padded[d] != out[d] { return nil }
  return (out[(lastKept + 1)...].reduce(1, *), padded.reduce(1, *))
}

/// Sums a cotangent of a broadcast result back onto an operand of shape `shape`.
func unbroadcast(_ g: [Float], from out: [Int], to shape: [Int]) -> [Float] {
  if shape == out { return g }
  if let (inner, count) = trailingBroadcast(shape, to: out) {
    var r = [Float](repeating: 0, count: count)
    for run in 0..<(g.count / max(inner, 1)) {
      var s: Float = 0
      for j in 0..<inner { s += g[run * inner + j] }
      r[run % count] += s
    }
    return r
  }
  let idx = Broadcast.indices(shape, to: out)
  var r = [Float](repeating: 0, count: shape.reduce(1, *))
  for i in 0..<g.count { r[idx[i]] += g[i] }
  return r
}

/// Reads an operand of shape `shape` at every position of the broadcast result `out`.
func broadcasted(_ v: [Float], _ shape: [Int], to out: [Int]) -> [Float] {
  if shape == out { return v }
  if let (inner, count) = trailingBroadcast(shape, to: out) {
    let n = out.reduce(1, *)
    var r = [Float](repeating: 0, count: n)
    for run in 0..<(n / max(inner, 1)) { let x = v[run % count]; for j in 0..<inner { r[run * inner + j] = x } }
    return r
  }
  return Broadcast.indices(shape, to: out).map { v[$0] }
}
