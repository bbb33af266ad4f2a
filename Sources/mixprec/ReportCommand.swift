import ArgumentParser
import Findings
import Foundation
import MixPrec

struct ReportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report", abstract: "Render an analysis.json (from analyze or tune) as one self-contained HTML page.")

  @Argument(help: "The analysis (analysis.json, or the NAME.analysis.json tune writes).") var analysis: String
  @Option(help: "Where to write the page (Reports/NAME.html).") var out: String

  func run() throws {
    try checkOutputs([("--out", out)], inputs: [analysis])
    let a = try AnalysisResult.read(from: URL(fileURLWithPath: analysis))
    try Artifacts.writeReport(a, to: URL(fileURLWithPath: out))
    print("report -> \(out)")
  }
}
