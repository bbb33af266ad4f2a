import Findings
import Foundation
import GraphIR
import TensorCore

/// Which outputs the damage is measured on and as what: every floating-point output by
/// default (integer and boolean outputs are carried, never compared), or the named ones; kinds
/// are detected from the FP32 values unless given.
public struct OutputSelection: Sendable, Equatable {
  /// Outputs to compare (`--output`); empty for every floating-point output.
  public var names: [String] = []
  /// Kinds given per output (`--output-kind NAME=KIND`), over the detected ones.
  public var kinds: [String: OutputKind] = [:]

  public init(names: [String] = [], kinds: [String: OutputKind] = [:]) {
    self.names = names
    self.kinds = kinds
  }

  /// The selection that reproduces `outputs` exactly (names and kinds), e.g. an analysis's.
  public init(_ outputs: [ComparedOutput]) {
    names = outputs.map(\.name)
    kinds = Dictionary(uniqueKeysWithValues: outputs.map { ($0.name, $0.kind) })
  }

  /// The names to compare, checked against the graph: every one an output, floating-point, once.
  public func outputNames(in graph: Graph) throws -> [String] {
    let floats = graph.outputs.filter { $0.dtype.isFloatingPoint }.map(\.name)
    let chosen = names.isEmpty ? floats : names
    guard !chosen.isEmpty else { throw PlanError("the model has no floating-point output to compare") }
    let all = Set(graph.outputs.map(\.name))
    for n in chosen {
      guard all.contains(n) else {
        throw PlanError("--output '\(n)' is not an output of the model (its outputs: \(graph.outputs.map(\.name).joined(separator: ", ")))")
      }
      guard floats.contains(n) else { throw PlanError("--output '\(n)' is not floating-point; integer and boolean outputs are carried, not compared") }
    }
    guard Set(chosen).count == chosen.count else { throw PlanError("--output names an output twice") }
    for n in kinds.keys where !chosen.contains(n) {
      throw PlanError("--output-kind names '\(n)', which is not a compared output (\(chosen.joined(separator: ", ")))")
    }
    return chosen
  }

  /// The compared outputs with their kinds, detecting the ones not given from `reference`
  /// (the FP32 values of each output on calibration samples).
  public func resolve(graph: Graph, reference: [String: Tensor]) throws -> [ComparedOutput] {
    let producers = graph.producers()
    return try outputNames(in: graph).map { name in
      if let kind = kinds[name] { return ComparedOutput(name: name, kind: kind, detected: false) }
      guard let t = reference[name] else { throw PlanError("the model produced no '\(name)'") }
      let op = OutputKind.producingOp(of: name, in: graph, producers: producers)
      return ComparedOutput(name: name, kind: OutputKind.detect(t, producer: op), detected: true)
    }
  }
}

extension OutputKind {
  /// The kind `values` look like: rows that are distributions → probs; from a normalisation or
  /// a pooling (LayerNormalization, ReduceMean/Sum/L2, Div, LpNormalization) → embedding;
  /// values all in [0, 1] from anything else → sigmoid; from a linear layer (MatMul/Gemm, with
  /// its bias Add) → logits; anything else → regression.
  public static func detect(_ values: Tensor, producer: String?) -> OutputKind {
    let x = values.asFloats()
    let width = max(values.shape.last ?? 1, 1)
    guard !x.isEmpty, x.allSatisfy(\.isFinite) else { return .regression }
    if width > 1 && x.allSatisfy({ $0 >= 0 }) {
      let rowsSumToOne = stride(from: 0, to: x.count, by: width).allSatisfy { r in
        abs(x[r..<(r + width)].reduce(0.0) { $0 + Double($1) } - 1) < 1e-3
      }
      if rowsSumToOne { return .probs }
    }
    let pooling: Set<String> = ["LayerNormalization", "ReduceMean", "ReduceSum", "ReduceL2", "Div", "LpNormalization"]
    if let producer, pooling.contains(producer) { return .embedding }
    let linear = producer == "MatMul" || producer == "Gemm"
    if !linear && x.allSatisfy({ $0 >= 0 && $0 <= 1 }) { return .sigmoid }
    return linear && width > 1 ? .logits : .regression
  }

  /// The op that computes output `name`, looking through reshapes and a bias Add after a
  /// linear layer (nil for an output that is a graph input or constant).
  static func producingOp(of name: String, in graph: Graph, producers: [String: Int]) -> String? {
    let passThrough: Set<String> = ["Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Identity"]
    var value = name
    for _ in 0..<16 {
      guard let i = producers[value] else { return nil }
      let node = graph.nodes[i]
      if passThrough.contains(node.opType), let first = node.inputs.first {
        value = first
        continue
      }
      if node.opType == "Add" {
        let linear = node.inputs.compactMap { producers[$0] }.map { graph.nodes[$0].opType }.first { $0 == "MatMul" || $0 == "Gemm" }
        if let linear { return linear }
      }
      return node.opType
    }
    return nil
  }
}
