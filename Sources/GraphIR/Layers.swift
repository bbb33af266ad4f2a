import TensorCore

/// A quantizable layer: a node with a constant weight (Conv, ConvTranspose, Gemm, MatMul), or an
/// embedding table: a Gather along axis 0 of a constant 2-D float table (one row per token).
public struct Layer: Sendable {
  public var nodeIndex: Int
  public var name: String
  public var opType: String
  /// The node input that holds the weight (0 for tables and MatMuls with the constant on the left).
  public var weightInput: Int
  public var weightName: String
  public var weightShape: [Int]
  /// Number of weight and bias parameters.
  public var parameterCount: Int

  /// Number of weights (the constant the layer quantizes; biases stay FP32 in every plan).
  public var weightCount: Int { weightShape.reduce(1, *) }
  /// FP32 bytes of the weights alone: what every size, compression and budget figure compares with.
  public var fp32WeightBytes: Int { 4 * weightCount }
  /// Weight-only: the layer's input is indices, so only its table is quantized (no input range).
  public var isTable: Bool { opType == "Gather" }
}

extension Graph {
  public static let layerOps: Set<String> = ["Conv", "ConvTranspose", "Gemm", "MatMul", "Gather"]

  /// The quantizable layers in execution order. MatMul/Gemm may hold the constant on either side.
  public var layers: [Layer] {
    nodes.enumerated().compactMap { i, n in
      guard Graph.layerOps.contains(n.opType) else { return nil }
      if n.opType == "Gather" {
        guard let table = embeddingTable(n), let wName = n.input(0) else { return nil }
        return Layer(nodeIndex: i, name: n.name.isEmpty ? n.outputs[0] : n.name, opType: n.opType,
          weightInput: 0, weightName: wName, weightShape: table.shape, parameterCount: table.count)
      }
      let weightIndex = n.input(1).flatMap { initializers[$0] } != nil ? 1
        : (n.opType == "MatMul" || n.opType == "Gemm") && n.input(0).flatMap({ initializers[$0] }) != nil ? 0 : nil
      guard let wi = weightIndex, let wName = n.input(wi), let w = initializers[wName] else { return nil }
      let bias = n.input(2).flatMap { initializers[$0] }?.count ?? 0
      return Layer(nodeIndex: i, name: n.name.isEmpty ? n.outputs[0] : n.name, opType: n.opType,
        weightInput: wi, weightName: wName, weightShape: w.shape, parameterCount: w.count + bias)
    }
  }

  /// The table of an embedding lookup: `node` is a Gather along axis 0 of a constant 2-D float32
  /// initializer whose indices depend on an input's values (token ids). Indices computed from
  /// constants or input shapes only (positions 0..<S) are folded when the graph is specialized,
  /// so that lookup never runs and is no layer.
  public func embeddingTable(_ node: Node) -> Tensor? {
    guard node.opType == "Gather", let t = node.input(0).flatMap({ initializers[$0] }), t.dtype == .float32,
      t.rank == 2, t.shape[0] > 1, t.shape[1] > 0,
      node.int("axis", default: 0) == 0 || node.int("axis", default: 0) == -2,
      let idx = node.input(1), valuesDependOnInputs.contains(idx)
    else { return nil }
    return t
  }

  /// Values computed from some graph input's values (not only from constants and input shapes:
  /// Shape and Size read shapes alone).
  public var valuesDependOnInputs: Set<String> {
    var dependent = Set(inputs.map(\.name))
    for n in nodes where n.opType != "Shape" && n.opType != "Size" && n.inputs.contains(where: dependent.contains) {
      for o in n.outputs where !o.isEmpty { dependent.insert(o) }
    }
    return dependent
  }

  /// The input that holds `node`'s constant weight when it is a layer the runtime can quantize:
  /// 0 for an embedding table, 1 for Conv/MatMul/Gemm.
  public func weightInput(of node: Node) -> Int { node.opType == "Gather" ? 0 : 1 }
}

/// How a layer's constant weight maps onto the rows (output channels) × depth of its GEMM.
public struct WeightLayout: Equatable, Sendable {
  /// Output channels and the depth each one reduces over (a table: its rows and their length).
  public var rows: Int, depth: Int
  /// Stored output channel first ([N][K…]: Conv, Gemm with transB, a table's rows); otherwise
  /// [K][N] (MatMul, Gemm).
  public var rowsFirst: Bool

  /// The layout of `node`'s weight of shape `weight` (Conv, MatMul or Gemm with the weight as
  /// input 1, a Gather's table).
  public init(_ node: Node, weight: [Int]) {
    rowsFirst = node.opType == "Conv" || node.opType == "Gather" || (node.opType == "Gemm" && node.int("transB", default: 0) != 0)
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

/// A MatMul between two activations (attention's Q·Kᵀ and P·V): no constant weight, so not a
/// layer; with `--quantize-activation-matmuls` both inputs are quantized per tensor (the left
/// asymmetric uint8, the right symmetric int8) and the product runs on the integer kernels.
public struct ActivationProduct: Sendable, Equatable {
  public var nodeIndex: Int
  public var name: String
  /// The two value names it multiplies (left · right).
  public var left: String, right: String
}

extension Graph {
  /// The MatMuls whose inputs are both computed values (neither an initializer), in execution order.
  public var activationProducts: [ActivationProduct] {
    nodes.enumerated().compactMap { i, n in
      guard n.opType == "MatMul", let a = n.input(0), let b = n.input(1), !a.isEmpty, !b.isEmpty,
        initializers[a] == nil, initializers[b] == nil
      else { return nil }
      return ActivationProduct(nodeIndex: i, name: n.name.isEmpty ? n.outputs[0] : n.name, left: a, right: b)
    }
  }
}
