import ArgumentParser
import Execution
import Foundation
import GraphIR
import HTMLReport
import Kernels
import MixPrec
import Sensitivity
import TensorCore

struct ReportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report", abstract: "Render an analysis.json (from analyze or tune) as one self-contained HTML page.")

  @Argument(help: "The analysis (analysis.json, or the NAME.analysis.json tune writes).") var analysis: String
  @Option(help: "Where to write the page (Reports/NAME.html).") var out: String

  func run() throws {
    try requireOutputFolder(out, option: "--out")
    let a = try AnalysisResult.read(from: URL(fileURLWithPath: analysis))
    try writeReport(a, to: out)
    print("report -> \(out)")
  }
}

/// Writes the page atomically.
func writeReport(_ a: AnalysisResult, to path: String) throws {
  try AtomicFile.write(Data(ReportPage.render(a).utf8), to: URL(fileURLWithPath: path))
}

/// The model facts the report's summary shows.
func modelSummary(_ graph: Graph) -> AnalysisResult.ModelSummary {
  let layers = graph.layers
  return AnalysisResult.ModelSummary(
    opHistogram: Dictionary(grouping: graph.nodes, by: \.opType).mapValues(\.count), layers: layers.count,
    parameters: layers.reduce(0) { $0 + $1.parameterCount },
    fp32WeightBytes: layers.reduce(0) { $0 + 4 * $1.weightShape.reduce(1, *) },
    machine: LatencyTable.machine, isa: KernelISA.selected.description,
    weightShapes: Dictionary(layers.map { ($0.name, $0.weightShape) }, uniquingKeysWith: { a, _ in a }))
}
