import ArgumentParser
import Crypto
import Execution
import Foundation
import GraphIR
import ONNXFormat
import Sensitivity
import TensorCore

/// A usage or input error with one line of explanation.
struct CLIError: Error, CustomStringConvertible {
  let description: String
  init(_ message: String) { description = message }
}

/// Writes a line to standard error.
func warn(_ message: String) {
  FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Loads and canonicalizes a model, turning every failure into one clear line.
func openModel(_ path: String) throws -> (Graph, Session) {
  let url = URL(fileURLWithPath: path)
  guard FileManager.default.fileExists(atPath: url.path) else {
    throw CLIError("model file '\(path)' not found")
  }
  let graph = try ONNXImporter.load(url)
  return (graph, try Session(graph: graph))
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
    shapes[name] = values.map { $0! }
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

/// SHA-256 of a file as lowercase hex (what plan.json records of the model).
func sha256Hex(ofFile path: String) throws -> String {
  guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read '\(path)'") }
  return SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
}

/// The task metric of the first model output against the folder's labels: top-1 for class ids,
/// CTC exact-match (and CER) for text with the model's `character` dictionary; nil without labels.
/// The folder's task metric as a function of a first-output tensor and the samples it covers
/// (labels `range` of the folder), with its name; nil without labels (or without the CTC
/// dictionary for text labels).
func taskMetricFunction(_ folder: InputFolder, graph: Graph) throws -> (name: String, score: (Tensor, Range<Int>) -> Double)? {
  if let labels = try folder.integerLabels() {
    return ("top1", { TaskMetrics.top1($0, labels: Array(labels[$1])) })
  }
  if let texts = try folder.textLabels(), let dictionary = graph.metadata["character"] {
    return ("ctc_exact_match", {
      TaskMetrics.textAccuracy(predicted: TaskMetrics.ctcDecode($0, dictionary: dictionary), references: Array(texts[$1])).exactMatch
    })
  }
  return nil
}

func taskMetric(_ folder: InputFolder, _ graph: Graph, _ outputs: [String: Tensor]) throws -> (name: String, value: Double, detail: String)? {
  guard let first = graph.outputs.first, let y = outputs[first.name] else { return nil }
  if let labels = try folder.integerLabels() {
    let v = TaskMetrics.top1(y, labels: labels)
    return ("top1", v, String(format: "top1: %.4f on %d samples", v, labels.count))
  }
  if let texts = try folder.textLabels(), let dictionary = graph.metadata["character"] {
    let r = TaskMetrics.textAccuracy(predicted: TaskMetrics.ctcDecode(y, dictionary: dictionary), references: texts)
    return ("ctc_exact_match", r.exactMatch, String(format: "ctc exact-match: %.4f, CER: %.4f on %d samples", r.exactMatch, r.cer, texts.count))
  }
  return nil
}

/// A progress line for long steps, on stderr so stdout stays the result.
func progress(_ message: String) {
  FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Fails before any work when an output file's folder is missing (so a long run never ends in
/// a write error, and no sibling output is left behind).
func requireOutputFolder(_ path: String, option: String) throws {
  let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
  var isDirectory: ObjCBool = false
  guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
    throw CLIError("\(option) '\(path)': folder '\(folder)' does not exist")
  }
}

/// The most resident memory this process has held so far, in MB.
func peakResidentMegabytes() -> Double {
  var usage = rusage()
  getrusage(RUSAGE_SELF.rawValue, &usage)
  return Double(usage.ru_maxrss) / 1024  // Linux reports kilobytes
}
