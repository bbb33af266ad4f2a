import Foundation
import GraphIR
import TensorCore

/// One layer as the QDQ export writes it.
public struct QDQLayer: Sendable {
  public enum Weights: Sendable {
    /// Codes w[n][k] (rows = output channels) with scales[n][groups], as the runtime uses them.
    case integer(bits: Int, values: [Int8], scales: [Float], group: Int?)
    /// The layer's own weights rounded to float16.
    case half
    /// No constant weight: the right input of a MatMul between two activations, quantized per
    /// tensor (symmetric) like the left one.
    case activation(ActivationParameters)
  }

  public var weights: Weights
  /// The uint8 quantization of the layer's input (integer layers).
  public var input: ActivationParameters?
  /// Added to the layer's bias (bias correction).
  public var biasShift: [Float]?
  /// The input's parameters come from each run's values: DynamicQuantizeLinear → DequantizeLinear.
  public var dynamicInput: Bool

  public init(weights: Weights, input: ActivationParameters?, biasShift: [Float]? = nil, dynamicInput: Bool = false) {
    self.weights = weights
    self.input = input
    self.biasShift = biasShift
    self.dynamicInput = dynamicInput
  }
}

/// QDQ export: QuantizeLinear/DequantizeLinear around integer layers (per-channel or blocked
/// weights through DequantizeLinear; int4 at opset 21), float16 weights with Casts for FP16 layers,
/// embedding tables through a per-row (or blocked) DequantizeLinear only.
/// ONNX Runtime then computes what the mixed runtime computes, in float arithmetic.
public enum QDQExport {
  /// The rewritten graph, the int4 initializers the IR cannot hold, and the opset it needs.
  public static func rewrite(_ graph: Graph, layers: [String: QDQLayer]) throws -> (graph: Graph, raw: [Onnx_TensorProto], opset: Int) {
    var g = graph
    var raw: [Onnx_TensorProto] = []
    var opset = max(graph.opset, 13)  // per-channel DequantizeLinear (axis)
    if g.nodes.contains(where: { $0.opType == "HardSwish" }) { opset = max(opset, 14) }
    var newNodes: [Node] = []
    for var node in g.nodes {
      var after: [Node] = []
      guard let layer = layers[node.name] else {
        newNodes.append(node)
        continue
      }
      let p = node.name
      if node.opType == "Gather" {
        // An embedding table is weight-only: its codes dequantized (or its float16 copy cast)
        // feed the Gather; the indices are left as they are.
        guard let wName = node.input(0), let w = g.initializers[wName] else {
          throw ONNXError("table '\(p)' has no constant table to export")
        }
        switch layer.weights {
        case .half:
          let w16 = "\(p)_w_fp16", wOut = "\(p)_w_from_fp16"
          g.initializers[w16] = Tensor(dtype: .float16, shape: w.shape, storage: .float(w.asFloats().map { Float(Float16($0)) }))
          newNodes.append(cast("\(p)_w_cast", w16, wOut, to: .float32))
          node.inputs[0] = wOut
        case .integer(let bits, let values, let scales, let group):
          if bits == 4 || group != nil { opset = max(opset, 21) }
          node.inputs[0] = try weightNodes(node, w, bits: bits, values: values, scales: scales, group: group,
            into: &g, nodes: &newNodes, raw: &raw)
        case .activation:
          throw ONNXError("table '\(p)' has a constant table, not an activation, to quantize")
        }
        newNodes.append(node)
        continue
      }
      if case .activation(let right) = layer.weights {
        // Both inputs of an activation product go through Q → DQ (uint8, per tensor).
        guard let left = layer.input, let x = node.input(0), let y = node.input(1) else {
          throw ONNXError("activation product '\(p)' has no left input quantization")
        }
        node.inputs[0] = quantizeDequantize(x, left, prefix: "\(p)_x", into: &g, nodes: &newNodes)
        node.inputs[1] = quantizeDequantize(y, right, prefix: "\(p)_y", into: &g, nodes: &newNodes)
        newNodes.append(node)
        continue
      }
      guard let wName = node.input(1), let w = g.initializers[wName], let x = node.input(0) else {
        throw ONNXError("layer '\(node.name)' has no constant weight to export")
      }
      switch layer.weights {
      case .activation:
        throw ONNXError("layer '\(p)' has a constant weight, not a second activation")
      case .half:
        let w16 = "\(p)_w_fp16", wOut = "\(p)_w_from_fp16", x16 = "\(p)_x_fp16", xOut = "\(p)_x_from_fp16"
        g.initializers[w16] = Tensor(dtype: .float16, shape: w.shape, storage: .float(w.asFloats().map { Float(Float16($0)) }))
        newNodes.append(cast("\(p)_w_cast", w16, wOut, to: .float32))
        newNodes.append(cast("\(p)_x_cast16", x, x16, to: .float16))
        newNodes.append(cast("\(p)_x_cast32", x16, xOut, to: .float32))
        node.inputs[0] = xOut
        node.inputs[1] = wOut
      case .integer(let bits, let values, let scales, let group):
        if bits == 4 { opset = max(opset, 21) }
        if group != nil { opset = max(opset, 21) }  // blocked DequantizeLinear
        if layer.dynamicInput {
          // The range of each run's values: DynamicQuantizeLinear gives codes, scale and zero point.
          let q = "\(p)_x_q", s = "\(p)_x_scale", z = "\(p)_x_zero", dq = "\(p)_x_dq"
          newNodes.append(Node(name: "\(p)_x_quantize", opType: "DynamicQuantizeLinear", inputs: [x], outputs: [q, s, z], attributes: [:]))
          newNodes.append(Node(name: "\(p)_x_dequantize", opType: "DequantizeLinear", inputs: [q, s, z], outputs: [dq], attributes: [:]))
          node.inputs[0] = dq
        } else {
          guard let input = layer.input else { throw ONNXError("integer layer '\(p)' has no input quantization") }
          node.inputs[0] = quantizeDequantize(x, input, prefix: "\(p)_x", into: &g, nodes: &newNodes)
        }
        if let shift = layer.biasShift {
          let old = node.input(2).flatMap { g.initializers[$0] }?.asFloats() ?? [Float](repeating: 0, count: shift.count)
          let name = "\(p)_bias_corrected"
          g.initializers[name] = Tensor(shape: [shift.count], floats: zip(old, shift).map { $0 + $1 })
          if node.opType == "MatMul" {
            // MatMul has no bias input: the corrected bias follows as an Add.
            let product = "\(p)_product"
            after.append(Node(name: "\(p)_bias_add", opType: "Add", inputs: [product, name], outputs: [node.outputs[0]], attributes: [:]))
            node.outputs[0] = product
          } else if node.inputs.count > 2 {
            node.inputs[2] = name
          } else {
            node.inputs.append(name)
          }
        }
        node.inputs[1] = try weightNodes(node, w, bits: bits, values: values, scales: scales, group: group,
          into: &g, nodes: &newNodes, raw: &raw)
      }
      newNodes.append(node)
      newNodes += after
    }
    g.nodes = newNodes
    // Drop FP32 weights no node reads any more.
    let read = Set(g.nodes.flatMap(\.inputs))
    for name in g.initializers.keys where !read.contains(name) { g.initializers[name] = nil }
    return (g, raw, opset)
  }

  /// Writes the QDQ model of `graph` with `layers` to `url` (atomically).
  public static func write(_ graph: Graph, layers: [String: QDQLayer], ranks: [String: Int], to url: URL) throws {
    let (g, raw, opset) = try rewrite(graph, layers: layers)
    try ONNXExporter.write(g, opset: opset, raw: raw, ranks: ranks, to: url)
  }

  /// Activation `x` through QuantizeLinear → DequantizeLinear with a per-tensor uint8 zero point;
  /// returns the dequantized value's name.
  static func quantizeDequantize(_ x: String, _ a: ActivationParameters, prefix p: String, into g: inout Graph, nodes: inout [Node]) -> String {
    let s = "\(p)_scale", z = "\(p)_zero", q = "\(p)_q", dq = "\(p)_dq"
    g.initializers[s] = Tensor(shape: [], floats: [a.scale])
    g.initializers[z] = Tensor(dtype: .uint8, shape: [], storage: .int([Int64(a.zero)]))
    nodes.append(Node(name: "\(p)_quantize", opType: "QuantizeLinear", inputs: [x, s, z], outputs: [q], attributes: [:]))
    nodes.append(Node(name: "\(p)_dequantize", opType: "DequantizeLinear", inputs: [q, s, z], outputs: [dq], attributes: [:]))
    return dq
  }

  static func cast(_ name: String, _ x: String, _ y: String, to: DType) -> Node {
    Node(name: name, opType: "Cast", inputs: [x], outputs: [y], attributes: ["to": .int(to.onnxCode)])
  }

  /// DequantizeLinear of the layer's codes in its weight's own layout; returns the float weight's name.
  static func weightNodes(
    _ node: Node, _ w: Tensor, bits: Int, values: [Int8], scales: [Float], group: Int?,
    into g: inout Graph, nodes: inout [Node], raw: inout [Onnx_TensorProto]
  ) throws -> String {
    let p = node.name
    let layout = WeightLayout(node, weight: w.shape)
    let n = layout.rows, k = layout.depth
    let groups = group.map { (k + $0 - 1) / $0 } ?? 1
    // Codes and scales in the stored layout: rows-major ([N][K]) for Conv and Gemm transB,
    // [K][N] for MatMul/Gemm, where the output channel is axis 1.
    let rowsMajor = layout.rowsFirst
    var codes = values, codeShape = w.shape
    var scaleValues = scales, scaleShape: [Int], axis: Int
    if rowsMajor {
      axis = group == nil ? 0 : 1
      if group != nil { codeShape = [n, k] }
      scaleShape = group == nil ? [n] : [n, groups]
    } else {
      codes = [Int8](repeating: 0, count: values.count)
      for r in 0..<n { for kk in 0..<k { codes[kk * n + r] = values[r * k + kk] } }
      axis = group == nil ? 1 : 0
      scaleShape = group == nil ? [n] : [groups, n]
      if group != nil {
        scaleValues = [Float](repeating: 0, count: scales.count)
        for r in 0..<n { for j in 0..<groups { scaleValues[j * n + r] = scales[r * groups + j] } }
      }
    }
    let qName = "\(p)_w_q", sName = "\(p)_w_scale", out = "\(p)_w_dq"
    if bits == 4 {
      raw.append(ONNXExporter.int4Proto(name: qName, shape: codeShape, values: codes))
    } else {
      g.initializers[qName] = Tensor(dtype: .int8, shape: codeShape, storage: .int(codes.map(Int64.init)))
    }
    // One scale for every row (per-tensor weights): a scalar scale, as per-tensor hardware reads it.
    let perTensor = group == nil && n > 0 && scaleValues.allSatisfy { $0 == scaleValues[0] }
    if perTensor { scaleValues = [scaleValues[0]]; scaleShape = [] }
    g.initializers[sName] = Tensor(shape: scaleShape, floats: scaleValues)
    var attributes: [String: Attribute] = perTensor ? [:] : ["axis": .int(axis)]
    if let group { attributes["block_size"] = .int(group) }
    let dqOut = codeShape == w.shape ? out : "\(p)_w_dq_flat"
    nodes.append(Node(name: "\(p)_w_dequantize", opType: "DequantizeLinear", inputs: [qName, sName], outputs: [dqOut], attributes: attributes))
    if dqOut != out {
      let shapeName = "\(p)_w_shape"
      g.initializers[shapeName] = Tensor(dtype: .int64, shape: [w.rank], storage: .int(w.shape.map(Int64.init)))
      nodes.append(Node(name: "\(p)_w_reshape", opType: "Reshape", inputs: [dqOut, shapeName], outputs: [out], attributes: [:]))
    }
    return out
  }
}
