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

  /// Number of weights (the constant the layer quantizes; biases stay FP32 in every plan).
  public var weightCount: Int { weightShape.reduce(1, *) }
  /// FP32 bytes of the weights alone: what every size, compression and budget figure compares with.
  public var fp32WeightBytes: Int { 4 * weightCount }
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

/// How a layer's constant weight maps onto the rows (output channels) × depth of its GEMM.
public struct WeightLayout: Equatable, Sendable {
  /// Output channels and the depth each one reduces over.
  public var rows: Int, depth: Int
  /// Stored output channel first ([N][K…]: Conv, Gemm with transB); otherwise [K][N] (MatMul, Gemm).
  public var rowsFirst: Bool

  /// The layout of `node`'s weight of shape `weight` (Conv, MatMul or Gemm with the weight as input 1).
  public init(_ node: Node, weight: [Int]) {
    rowsFirst = node.opType == "Conv" || (node.opType == "Gemm" && node.int("transB", default: 0) != 0)
    rows = rowsFirst ? weight[0] : (weight.count > 1 ? weight[1] : 1)
    depth = weight.reduce(1, *) / max(rows, 1)
  }

  /// The weight values reordered as rows × depth (row-major).
  public func rowsMajor(_ values: [Float]) -> [Float] {
    if rowsFirst { return values }
    var out = [Float](repeating: 0, count: values.count)
    for k in 0..<depth { for n in 0..<rows { out[n * depth + k] = values[k * rows + n] } }
    return out
  }
}

extension Graph {
  /// The output quantization damage is measured on: the first floating-point output (integer
  /// and boolean outputs, such as token ids or masks, are carried, never compared).
  public var comparedOutput: ValueInfo? { outputs.first { $0.dtype.isFloatingPoint } }
}
