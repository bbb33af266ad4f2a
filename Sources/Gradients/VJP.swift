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
    for family in [ElementwiseVJPs.rules, LinearVJPs.rules, ConvVJPs.rules, NormalizationVJPs.rules, MovementVJPs.rules] {
      r.merge(family) { _, new in new }
    }
    return r
  }()
}

/// Sums a cotangent of a broadcast result back onto an operand of shape `shape`.
func unbroadcast(_ g: [Float], from out: [Int], to shape: [Int]) -> [Float] {
  if shape == out { return g }
  let idx = Broadcast.indices(shape, to: out)
  var r = [Float](repeating: 0, count: shape.reduce(1, *))
  for i in 0..<g.count { r[idx[i]] += g[i] }
  return r
}

/// Reads an operand of shape `shape` at every position of the broadcast result `out`.
func broadcasted(_ v: [Float], _ shape: [Int], to out: [Int]) -> [Float] {
  if shape == out { return v }
  return Broadcast.indices(shape, to: out).map { v[$0] }
}
