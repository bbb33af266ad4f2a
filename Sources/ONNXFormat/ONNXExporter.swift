import Foundation
import GraphIR
import SwiftProtobuf
import TensorCore

/// Writes `Graph`s as ONNX models, upgrading the default-domain opset when asked.
public enum ONNXExporter {
  /// The model proto of `graph` at `opset` (≥ the graph's). `raw` adds initializers that the IR
  /// cannot hold (int4). Ops whose attributes became inputs on the way are rewritten.
  /// - Parameter ranks: ranks of values (from shape inference), needed to raise Softmax-like ops
  ///   across opset 13.
  public static func model(_ graph: Graph, opset: Int, raw: [Onnx_TensorProto] = [], ranks: [String: Int] = [:]) throws -> Onnx_ModelProto {
    let g = try upgraded(graph, to: opset, ranks: ranks)
    var proto = Onnx_GraphProto()
    proto.name = g.name.isEmpty ? "mixprec" : g.name
    proto.node = try g.nodes.map(nodeProto)
    proto.initializer = g.initializers.sorted { $0.key < $1.key }.map { tensorProto(name: $0.key, $0.value) } + raw
    proto.input = g.inputs.map(valueInfoProto)
    proto.output = g.outputs.map(valueInfoProto)
    var m = Onnx_ModelProto()
    m.irVersion = opset >= 21 ? 10 : 8
    m.producerName = "mixprec"
    var set = Onnx_OperatorSetIdProto()
    set.domain = ""
    set.version = Int64(opset)
    m.opsetImport = [set]
    m.graph = proto
    m.metadataProps = g.metadata.sorted { $0.key < $1.key }.map {
      var e = Onnx_StringStringEntryProto()
      e.key = $0.key
      e.value = $0.value
      return e
    }
    return m
  }

  /// Serializes the model and writes it atomically.
  public static func write(_ graph: Graph, opset: Int, raw: [Onnx_TensorProto] = [], ranks: [String: Int] = [:], to url: URL) throws {
    let data: Data = try model(graph, opset: opset, raw: raw, ranks: ranks).serializedBytes()
    try AtomicFile.write(data, to: url)
  }

  // MARK: opset upgrade

  /// Ops whose `axes` attribute became an input: Squeeze/Unsqueeze/ReduceSum at 13, the other
  /// reductions at 18. Split's `split` became an input at 13.
  static let axesInputSince: [String: Int] = [
    "Squeeze": 13, "Unsqueeze": 13, "ReduceSum": 13, "ReduceMean": 18, "ReduceMax": 18, "ReduceMin": 18,
    "ReduceProd": 18, "ReduceL1": 18, "ReduceL2": 18, "ReduceLogSum": 18, "ReduceLogSumExp": 18, "ReduceSumSquare": 18,
  ]

  static func upgraded(_ graph: Graph, to opset: Int, ranks: [String: Int]) throws -> Graph {
    guard opset >= graph.opset else { throw ONNXError("cannot write opset \(opset) below the model's \(graph.opset)") }
    guard graph.opset >= 11 || opset == graph.opset else {
      throw ONNXError("raising a model from opset \(graph.opset) is supported from opset 11 on; convert it first (onnx.version_converter)")
    }
    var g = graph
    g.opset = opset
    for i in g.nodes.indices {
      var n = g.nodes[i]
      if let since = axesInputSince[n.opType], graph.opset < since, opset >= since, let axes = n.ints("axes") {
        let name = "\(n.name)_axes"
        g.initializers[name] = Tensor(dtype: .int64, shape: [axes.count], storage: .int(axes.map(Int64.init)))
        n.attributes["axes"] = nil
        n.inputs = [n.inputs.first ?? ""] + [name] + Array(n.inputs.dropFirst())
      }
      if n.opType == "Split", graph.opset < 13, opset >= 13, let split = n.ints("split") {
        let name = "\(n.name)_split"
        g.initializers[name] = Tensor(dtype: .int64, shape: [split.count], storage: .int(split.map(Int64.init)))
        n.attributes["split"] = nil
        n.inputs = [n.inputs.first ?? "", name]
      }
      if (n.opType == "Softmax" || n.opType == "LogSoftmax" || n.opType == "Hardmax"), graph.opset < 13, opset >= 13 {
        // Before 13 these flattened the input at `axis`; the same only when axis is the last one.
        let axis = n.int("axis", default: 1)
        guard axis == -1 || n.input(0).flatMap({ ranks[$0] }) == axis + 1 else {
          throw ONNXError("cannot raise \(n.opType) '\(n.name)' (axis \(axis), not the last) from opset \(graph.opset) to \(opset)")
        }
        n.attributes["axis"] = .int(-1)
      }
      g.nodes[i] = n
    }
    return g
  }

  // MARK: protos

  static func nodeProto(_ n: Node) throws -> Onnx_NodeProto {
    var p = Onnx_NodeProto()
    p.name = n.name
    p.opType = n.opType
    p.domain = n.domain
    p.input = n.inputs
    p.output = n.outputs
    p.attribute = try n.attributes.sorted { $0.key < $1.key }.map { key, value in
      var a = Onnx_AttributeProto()
      a.name = key
      switch value {
      case .int(let v): a.type = .int; a.i = Int64(v)
      case .ints(let v): a.type = .ints; a.ints = v.map(Int64.init)
      case .float(let v): a.type = .float; a.f = v
      case .floats(let v): a.type = .floats; a.floats = v
      case .string(let v): a.type = .string; a.s = Data(v.utf8)
      case .strings(let v): a.type = .strings; a.strings = v.map { Data($0.utf8) }
      case .tensor(let t): a.type = .tensor; a.t = tensorProto(name: "", t)
      case .graph: throw ONNXError("node '\(n.name)' (\(n.opType)) holds a subgraph; writing subgraphs is not supported")
      }
      return a
    }
    return p
  }

  static func valueInfoProto(_ v: ValueInfo) -> Onnx_ValueInfoProto {
    var p = Onnx_ValueInfoProto()
    p.name = v.name
    var tt = Onnx_TypeProto.Tensor()
    tt.elemType = Int32(v.dtype.onnxCode)
    var shape = Onnx_TensorShapeProto()
    shape.dim = v.shape.enumerated().map { i, d in
      var dim = Onnx_TensorShapeProto.Dimension()
      if let d { dim.dimValue = Int64(d) } else { dim.dimParam = v.dimNames.indices.contains(i) ? (v.dimNames[i] ?? "d\(i)") : "d\(i)" }
      return dim
    }
    tt.shape = shape
    p.type.tensorType = tt
    return p
  }

  /// Little-endian raw data in the tensor's element type.
  public static func tensorProto(name: String, _ t: Tensor) -> Onnx_TensorProto {
    var p = Onnx_TensorProto()
    p.name = name
    p.dims = t.shape.map(Int64.init)
    p.dataType = Int32(t.dtype.onnxCode)
    var data = Data()
    data.reserveCapacity(t.count * t.dtype.byteSize)
    func append<T>(_ values: [T]) { values.withUnsafeBytes { data.append(contentsOf: $0) } }
    switch (t.dtype, t.storage) {
    case (.float32, .float(let v)): append(v)
    case (.float64, .float(let v)): append(v.map(Double.init))
    case (.float16, .float(let v)): append(v.map { Float16($0).bitPattern })
    case (.bool, .bool(let v)): append(v.map { UInt8($0 ? 1 : 0) })
    case (.int64, .int(let v)): append(v)
    case (.int32, .int(let v)): append(v.map { Int32(truncatingIfNeeded: $0) })
    case (.int16, .int(let v)): append(v.map { Int16(truncatingIfNeeded: $0) })
    case (.int8, .int(let v)): append(v.map { Int8(truncatingIfNeeded: $0) })
    case (.uint64, .int(let v)): append(v.map { UInt64(truncatingIfNeeded: $0) })
    case (.uint32, .int(let v)): append(v.map { UInt32(truncatingIfNeeded: $0) })
    case (.uint16, .int(let v)): append(v.map { UInt16(truncatingIfNeeded: $0) })
    case (.uint8, .int(let v)): append(v.map { UInt8(truncatingIfNeeded: $0) })
    default: append(t.asFloats())  // storage and dtype disagree: keep the values as float32
    }
    p.rawData = data
    return p
  }

  /// A signed int4 initializer (ONNX type 22, opset 21): two values per byte, the lower index in
  /// the low nibble.
  public static func int4Proto(name: String, shape: [Int], values: [Int8]) -> Onnx_TensorProto {
    var p = Onnx_TensorProto()
    p.name = name
    p.dims = shape.map(Int64.init)
    p.dataType = 22
    var bytes = [UInt8](repeating: 0, count: (values.count + 1) / 2)
    for (i, v) in values.enumerated() {
      let nibble = UInt8(bitPattern: v) & 0x0F
      bytes[i / 2] |= i % 2 == 0 ? nibble : nibble << 4
    }
    p.rawData = Data(bytes)
    return p
  }
}
