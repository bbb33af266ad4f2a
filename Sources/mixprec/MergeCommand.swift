import ArgumentParser
import Findings
import Foundation
import MixPrec
import Sensitivity
import TensorCore

struct MergeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "merge", abstract: "Join the shards of `mixprec analyze --shard k/n` into one analysis.json.")

  @Argument(help: "The partial analyses.") var parts: [String]
  @Option(help: "Where to write the joined analysis.") var out: String

  func run() throws {
    guard !parts.isEmpty else { throw CLIError("give the partial analyses to merge") }
    try checkOutputs([("--out", out)], inputs: parts)
    let merged = try AnalysisResult.merge(parts.map { try AnalysisResult.read(from: URL(fileURLWithPath: $0)) })
    try merged.write(to: URL(fileURLWithPath: out))
    print("\(merged.layers.count) layers from \(parts.count) parts -> \(out)")
  }
}
