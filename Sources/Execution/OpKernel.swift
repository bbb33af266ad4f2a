import GraphIR
import TensorCore

/// Runs one node on its input values. `inputs[i]` is nil when optional input `i` is omitted.
/// `opset` is the model's default-domain opset (several ops changed inputs vs attributes).
public typealias OpKernel = @Sendable (_ node: Node, _ inputs: [Tensor?], _ opset: Int) throws -> [Tensor]

/// An error raised while running an op; the message names the node and op.
func opError(_ node: Node, _ message: String) -> GraphError {
  GraphError("node '\(node.name)' (\(node.opType)): \(message)")
}

extension Array where Element == Tensor? {
  /// Required input `i`, or an error naming the node.
  func required(_ i: Int, _ node: Node) throws -> Tensor {
    guard i < count, let t = self[i] else { throw opError(node, "missing required input \(i)") }
    return t
  }

  /// Optional input `i` when present.
  func optional(_ i: Int) -> Tensor? { i < count ? self[i] : nil }
}

extension Tensor {
  /// Float values of a floating tensor, or an error naming the node.
  func floatValues(_ node: Node) throws -> [Float] {
    if case .float(let v) = storage { return v }
    throw opError(node, "expects a floating tensor, got \(dtype)")
  }
}
