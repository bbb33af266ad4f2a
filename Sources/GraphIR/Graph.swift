import TensorCore

/// A graph input or output: name, element type and shape (nil dims are dynamic).
public struct ValueInfo: Sendable {
  public var name: String
  public var dtype: DType
  public var shape: [Int?]
  /// Symbolic names of dynamic dimensions, where the file gave one.
  public var dimNames: [String?]

  public init(name: String, dtype: DType, shape: [Int?], dimNames: [String?]? = nil) {
    self.name = name
    self.dtype = dtype
    self.shape = shape
    self.dimNames = dimNames ?? shape.map { _ in nil }
  }
}

/// An FP32 model: nodes in topological order, constant tensors by name, metadata.
public struct Graph: Sendable {
  public var name: String
  public var nodes: [Node]
  public var inputs: [ValueInfo]
  public var outputs: [ValueInfo]
  public var initializers: [String: Tensor]
  /// Model metadata (`metadata_props`), e.g. an OCR recognizer's `character` dictionary.
  public var metadata: [String: String]
  /// Default-domain opset version the model was exported with.
  public var opset: Int

  public init(name: String = "", nodes: [Node], inputs: [ValueInfo], outputs: [ValueInfo],
              initializers: [String: Tensor] = [:], metadata: [String: String] = [:], opset: Int = 17) {
    self.name = name
    self.nodes = nodes
    self.inputs = inputs
    self.outputs = outputs
    self.initializers = initializers
    self.metadata = metadata
    self.opset = opset
  }

  /// Which node produces each value.
  public func producers() -> [String: Int] {
    var p: [String: Int] = [:]
    for (i, n) in nodes.enumerated() { for o in n.outputs where !o.isEmpty { p[o] = i } }
    return p
  }

  /// How many node inputs and graph outputs read each value.
  public func useCounts() -> [String: Int] {
    var c: [String: Int] = [:]
    for n in nodes { for i in n.inputs where !i.isEmpty { c[i, default: 0] += 1 } }
    for o in outputs { c[o.name, default: 0] += 1 }
    return c
  }
}
