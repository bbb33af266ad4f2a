import ArgumentParser
import Execution
import Foundation
import GraphIR
import MixPrec
import TensorCore

struct InspectCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "inspect",
    abstract: "List a model's layers (op, shapes, parameters, weight bytes) and its op histogram.")

  @Argument(help: "The ONNX model.") var model: String?
  @Flag(help: "List the ops the FP32 runtime supports and exit.") var ops = false
  @Option(name: .long, help: "Input shape NAME=1x3x48x192 to show activation shapes (repeatable).")
  var shape: [String] = []

  func run() throws {
    if ops {
      print(OpRegistry.supportedOps.joined(separator: "\n"))
      return
    }
    guard let model else { throw CLIError("give a MODEL to inspect, or --ops") }
    let loaded = try openModel(model)
    let original = loaded.fileGraph, session = loaded.session
    let g = session.graph
    // Activation shapes when the input shapes are known: given with --shape (errors surface), or
    // fully static in the model (otherwise the listing goes without them).
    let given = try parseShapes(shape, graph: g)
    let shapes = shape.isEmpty ? try? resolveShapes(given, graph: g) : try resolveShapes(given, graph: g)
    var activation: [String: [Int]] = [:]
    var shown = g
    if let shapes {
      (shown, activation) = try GraphPreparation.specialize(g, inputShapes: shapes)
    }
    print("model: \(URL(fileURLWithPath: model).lastPathComponent)  opset \(g.opset)  nodes \(original.nodes.count) in file, \(g.nodes.count) after preparation (constants, BatchNorm and Conv affines folded, HardSwish fused)")
    for i in g.inputs { print("input:  \(i.name)  \(i.dtype)  [\(i.shape.map { $0.map(String.init) ?? "?" }.joined(separator: ", "))]") }
    for o in g.outputs { print("output: \(o.name)  \(o.dtype)  [\(o.shape.map { $0.map(String.init) ?? "?" }.joined(separator: ", "))]") }
    for (k, v) in g.metadata.sorted(by: { $0.key < $1.key }) {
      print("metadata: \(k) (\(v.count) characters)")
    }
    let layers = shown.layers
    print("\nlayers: \(layers.count)")
    let header = ["#", "name", "op", "weight", "output", "params", "fp32 bytes"]
    var rows: [[String]] = []
    var totalParams = 0
    for (i, l) in layers.enumerated() {
      let out = activation[shown.nodes[l.nodeIndex].outputs[0]].map { "\($0)" } ?? "-"
      rows.append(["\(i)", l.name, l.opType + groupNote(shown.nodes[l.nodeIndex]), "\(l.weightShape)", out,
        "\(l.parameterCount)", "\(l.parameterCount * 4)"])
      totalParams += l.parameterCount
    }
    printTable(header, rows)
    print("total: \(totalParams) parameters, \(formatBytes(totalParams * 4)) FP32")
    let products = shown.activationProducts
    if !products.isEmpty {
      print("activation products (MatMuls of two activations, INT8 with --quantize-activation-matmuls): \(products.count)")
    }
    print("\nop histogram (prepared graph):")
    var hist: [String: Int] = [:]
    for n in shown.nodes { hist[n.opType, default: 0] += 1 }
    for (op, c) in hist.sorted(by: { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }) {
      print("  \(op.padding(toLength: 22, withPad: " ", startingAt: 0)) \(c)")
    }
  }

  func groupNote(_ n: Node) -> String {
    let g = n.int("group", default: 1)
    return g > 1 ? " (group \(g))" : ""
  }
}

func printTable(_ header: [String], _ rows: [[String]]) {
  let widths = header.indices.map { c in ([header[c]] + rows.map { $0[c] }).map(\.count).max() ?? 0 }
  func line(_ r: [String]) -> String {
    r.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
  }
  print(line(header))
  for r in rows { print(line(r)) }
}

