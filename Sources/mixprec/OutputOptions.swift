import ArgumentParser
import Execution
import Foundation
import Findings
import Sensitivity

/// Which outputs the damage is measured on, shared by `analyze`, `tune` and `quantize`.
struct OutputOptions: ParsableArguments {
  @Option(name: .customLong("output"), help: "An output to measure the damage on (repeatable; default the output the calibration folder's meta.json names, else every floating-point output).")
  var outputs: [String] = []
  @Option(name: .customLong("output-kind"), help: "NAME=KIND: how to compare that output, one of probs, logits, sigmoid, embedding, regression (default: detected from the FP32 values).")
  var outputKinds: [String] = []

  /// The options' selection; without `--output`, the output the calibration folder's
  /// `meta.json` names (and its `output_kind`, unless `--output-kind` gives one).
  func selection(folder: String? = nil) throws -> OutputSelection {
    var kinds: [String: OutputKind] = [:]
    for item in outputKinds {
      let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
      guard parts.count == 2, !parts[0].isEmpty, let kind = OutputKind(rawValue: parts[1]) else {
        throw CLIError("--output-kind takes NAME=KIND with KIND one of \(OutputKind.allCases.map(\.rawValue).joined(separator: ", ")), not '\(item)'")
      }
      guard kinds.updateValue(kind, forKey: parts[0]) == nil else { throw CLIError("--output-kind gives '\(parts[0])' twice") }
    }
    var names = outputs
    if names.isEmpty, let folder, let meta = try InputFolder.meta(at: URL(fileURLWithPath: folder)), let output = meta.output {
      names = [output]
      if let k = meta.outputKind, kinds[output] == nil {
        guard let kind = OutputKind(rawValue: k) else {
          throw CLIError("'\(folder)/meta.json' gives output_kind '\(k)'; use one of \(OutputKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        kinds[output] = kind
      }
    }
    return OutputSelection(names: names, kinds: kinds)
  }
}
