import TensorCore

/// A quantizable layer: a node with a constant weight (Conv, ConvTranspose, Gemm, MatMul).
public struct Layer: Sendable {
  public var nodeIndex: Int
  public var name: String
  public var opType: String
  public var weightName: String
  public var weightShape: [Int]
  /// Number of weight and bias parameters.
  public var parameterCount: Int
}

extension Graph {
  public static let layerOps: Set<String> = ["Conv", "ConvTranspose", "Gemm", "MatMul"]

  /// The quantizable layers in execution order. MatMul/Gemm may hold the constant on either side.
  public var layers: [Layer] {
    nodes.enumerated().compactMap { i, n in
      guard Graph.layerOps.contains(n.opType) else { return nil }
      let weightIndex = n.input(1).flatMap { initializers[$0] } != nil ? 1
        : (n.opType == "MatMul" || n.opType == "Gemm") && n.input(0).flatMap({ initializers[$0] }) != nil ? 0 : nil
      guard let wi = weightIndex, let wName = n.input(wi), let w = initializers[wName] else { return nil }
      let bias = n.input(2).flatMap { initializers[$0] }?.count ?? 0
      return Layer(nodeIndex: i, name: n.name.isEmpty ? n.outputs[0] : n.name, opType: n.opType,
        weightName: wName, weightShape: w.shape, parameterCount: w.count + bias)
    }
  }
}
