import Foundation
import GraphIR
import SwiftProtobuf
import TensorCore

/// Reads ONNX files into `Graph`s.
public enum ONNXImporter {
  /// Default-domain opsets this importer understands.
  public static let supportedOpsets = 7...23

  /// Reads the model at `url`; external-data files are looked up next to it.
  public static func load(_ url: URL) throws -> Graph {
    do { try FileChecks.requireFile(url, what: "model file") } catch let e as TensorIOError { throw ONNXError(e.description) }
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
      throw ONNXError("cannot read model '\(url.path)': \(error.localizedDescription)")
    }
    return try load(data: data, name: url.lastPathComponent, baseDirectory: url.deletingLastPathComponent())
  }

  /// Parses model bytes; `name` is used in messages.
  public static func load(data: Data, name: String, baseDirectory: URL? = nil) throws -> Graph {
    let model: Onnx_ModelProto
    do { model = try Onnx_ModelProto(serializedBytes: data) } catch {
      throw ONNXError("'\(name)' is not a valid ONNX model (protobuf decoding failed: \(error)); is the file truncated?")
    }
    guard model.hasGraph, !model.graph.node.isEmpty || !model.graph.output.isEmpty else {
      throw ONNXError("'\(name)' holds no ONNX graph; is it an ONNX model file?")
    }
    let opset = model.opsetImport.first { $0.domain.isEmpty || $0.domain == "ai.onnx" }.map { Int($0.version) } ?? 1
    guard supportedOpsets.contains(opset) else {
      throw ONNXError("'\(name)' uses opset \(opset); mixprec reads opsets \(supportedOpsets.lowerBound)–\(supportedOpsets.upperBound) (convert it with onnx.version_converter)")
    }
    let g = model.graph
    var initializers: [String: Tensor] = [:]
    for t in g.initializer { initializers[t.name] = try t.decoded(baseDirectory: baseDirectory) }
    let nodes = try g.node.enumerated().map { i, n in try node(n, index: i, base: baseDirectory) }
    let inputs = try g.input.filter { initializers[$0.name] == nil }.map(valueInfo)
    let outputs = try g.output.map(valueInfo)
    var metadata: [String: String] = [:]
    for p in model.metadataProps { metadata[p.key] = p.value }
    return Graph(name: g.name, nodes: nodes, inputs: inputs, outputs: outputs, initializers: initializers,
      metadata: metadata, opset: opset)
  }

  static func valueInfo(_ v: Onnx_ValueInfoProto) throws -> ValueInfo {
    let tt = v.type.tensorType
    guard let dtype = ONNXDataType.dtype(tt.elemType) else {
      throw ONNXError("graph value '\(v.name)' has unsupported element type \(ONNXDataType.name(tt.elemType))")
    }
    let dims = tt.shape.dim
    return ValueInfo(name: v.name, dtype: dtype,
      shape: dims.map { d in
        if case .dimValue(let v)? = d.value, v > 0 { return Int(v) }
        return nil
      },
      dimNames: dims.map { d in
        if case .dimParam(let p)? = d.value { return p }
        return nil
      })
  }

  static func node(_ n: Onnx_NodeProto, index: Int, base: URL?) throws -> Node {
    var attributes: [String: Attribute] = [:]
    for a in n.attribute {
      switch a.type {
      case .int: attributes[a.name] = .int(Int(a.i))
      case .ints: attributes[a.name] = .ints(a.ints.map { Int($0) })
      case .float: attributes[a.name] = .float(a.f)
      case .floats: attributes[a.name] = .floats(a.floats)
      case .string: attributes[a.name] = .string(String(decoding: a.s, as: UTF8.self))
      case .strings: attributes[a.name] = .strings(a.strings.map { String(decoding: $0, as: UTF8.self) })
      case .tensor:
        do { attributes[a.name] = .tensor(try a.t.decoded(baseDirectory: base)) } catch {
          throw ONNXError("node '\(n.name)' (\(n.opType)) attribute '\(a.name)': \(error)")
        }
      case .graph: attributes[a.name] = .graph(a.g.name)
      default: continue  // sparse tensors, type protos, lists of graphs: not used by supported ops
      }
    }
    let name = n.name.isEmpty ? "\(n.opType)_\(index)" : n.name
    return Node(name: name, opType: n.opType, domain: n.domain, inputs: n.input, outputs: n.output,
      attributes: attributes)
  }
}
