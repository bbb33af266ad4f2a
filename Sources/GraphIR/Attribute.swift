import TensorCore

/// An ONNX node attribute value.
public enum Attribute: Sendable {
  case int(Int)
  case ints([Int])
  case float(Float)
  case floats([Float])
  case string(String)
  case strings([String])
  case tensor(Tensor)
  /// Subgraph attributes (If/Loop/Scan bodies); kept by name only, not executed.
  case graph(String)
}
