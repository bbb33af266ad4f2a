import ArgumentParser

@main
struct MixPrecCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mixprec",
    abstract: "Mixed-precision quantization of ONNX models: inspect, run and benchmark them.",
    subcommands: [InspectCommand.self, RunCommand.self, QuantizeCommand.self, AnalyzeCommand.self, MergeCommand.self, TuneCommand.self, ReportCommand.self, BenchCommand.self])
}
