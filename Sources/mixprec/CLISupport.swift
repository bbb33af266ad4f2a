import ArgumentParser
import Execution
import Foundation
import GraphIR
import MixPrec
import TensorCore

/// A usage or input error with one line of explanation.
struct CLIError: Error, CustomStringConvertible {
  let description: String
  init(_ message: String) { description = message }
}

/// Writes a line to standard error (progress and warnings; stdout stays the result).
func warn(_ message: String) {
  FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Loads and canonicalizes a model, turning every failure into one clear line.
func openModel(_ path: String) throws -> LoadedModel {
  try LoadedModel(URL(fileURLWithPath: path))
}

/// An input folder for `graph`'s inputs.
func inputFolder(_ path: String, for graph: Graph) throws -> InputFolder {
  try InputFolder(URL(fileURLWithPath: path), for: graph)
}

/// Parses `name=1x3x48x192` (or `1x3x48x192` for a single-input model) into input shapes.
func parseShapes(_ specs: [String], graph: Graph) throws -> [String: [Int]] {
  var shapes: [String: [Int]] = [:]
  for spec in specs {
    let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
    let name: String
    let dims: String
    if parts.count == 2 { name = parts[0]; dims = parts[1] } else {
      guard graph.inputs.count == 1 else { throw CLIError("--shape '\(spec)' must name the input: NAME=DxDxD") }
      name = graph.inputs[0].name; dims = parts[0]
    }
    guard graph.inputs.contains(where: { $0.name == name }) else {
      throw CLIError("--shape names '\(name)', which is not a model input (inputs: \(graph.inputs.map(\.name).joined(separator: ", ")))")
    }
    let values = dims.split(separator: "x").map { Int($0) }
    guard !values.isEmpty, values.allSatisfy({ $0 != nil && $0! >= 0 }) else {
      throw CLIError("--shape '\(spec)': dimensions must be non-negative integers like 1x3x48x192")
    }
    let dimsValue = values.map { $0! }
    // Refuse what cannot be allocated, before any work: float32 elements against the memory.
    let memory = ProcessInfo.processInfo.physicalMemory
    guard let count = ShapeMath.checkedCount(dimsValue), case let (bytes, false) = count.multipliedReportingOverflow(by: 4),
      UInt64(bytes) <= memory / 2
    else {
      throw CLIError("--shape '\(spec)' is too large: one such input needs more than half of this machine's \(formatBytes(Int(min(memory, UInt64(Int.max)))))")
    }
    shapes[name] = dimsValue
  }
  return shapes
}

/// Input shapes for a run: given ones, else the model's own when fully static (batch 1 for an
/// unnamed leading dim); throws naming the input when a dimension stays unknown.
func resolveShapes(_ given: [String: [Int]], graph: Graph, batch: Int? = nil) throws -> [String: [Int]] {
  var out: [String: [Int]] = [:]
  for input in graph.inputs {
    if var s = given[input.name] {
      if let batch, !s.isEmpty { s[0] = batch }
      out[input.name] = s
      continue
    }
    let dims = input.shape.enumerated().map { i, d in d ?? (i == 0 ? batch ?? 1 : nil) }
    guard dims.allSatisfy({ $0 != nil }) else {
      let declared = input.shape.map { $0.map(String.init) ?? "?" }.joined(separator: "x")
      throw CLIError("input '\(input.name)' has dynamic dimensions (\(declared)); give them with --shape \(input.name)=\(declared.replacingOccurrences(of: "?", with: "N"))")
    }
    var s = dims.map { $0! }
    if let batch, !s.isEmpty { s[0] = batch }
    out[input.name] = s
  }
  return out
}

/// Checks output paths before any work (`OutputPaths.check`): folders exist, no output is an
/// input or another output, nothing but a regular file is in the way. nil entries are skipped.
func checkOutputs(_ outputs: [(String, String?)], inputs: [String?]) throws {
  try OutputPaths.check(outputs.compactMap { o in o.1.map { (option: o.0, url: URL(fileURLWithPath: $0)) } },
    inputs: inputs.compactMap { $0.map(URL.init(fileURLWithPath:)) })
}

/// Parses a comma-separated list of positive integers (`--threads 1,2`, `--batches 1,8`).
func positiveIntegers(_ text: String, option: String, example: String) throws -> [Int] {
  let values = text.split(separator: ",").map { Int($0) }
  guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else {
    throw CLIError("\(option) takes positive integers like \(example)")
  }
  return values.map { $0! }
}

/// `--weight-granularity` of analyze and tune: per channel or per tensor (groups are a quantize option).
/// `--activation-ranges`: nil for calibrated ranges, `.dynamic` for run-time ones.
func candidateRanges(_ value: String) throws -> RangeMethod? {
  switch value {
  case "calibrated": return nil
  case "dynamic": return .dynamic
  default: throw CLIError("unknown --activation-ranges '\(value)'; use calibrated or dynamic")
  }
}

func candidateGranularity(_ value: String) throws -> WeightGranularity {
  guard let g = WeightGranularity(rawValue: value), g != .group else {
    throw CLIError("unknown --weight-granularity '\(value)'; analyze and tune take channel or tensor")
  }
  return g
}
