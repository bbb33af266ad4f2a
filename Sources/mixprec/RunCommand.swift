import ArgumentParser
import Execution
import Foundation
import MixPrec
import Sensitivity
import TensorCore

struct RunCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Run a model (FP32, or mixed under --plan) on a folder of inputs; write one <output name>.npy per model output.")

  @Argument(help: "The ONNX model.") var model: String
  @Option(help: "Folder with one <input name>.npy per model input (or one .npz).") var input: String
  @Option(help: "Folder to write the outputs into (created if missing).") var output: String
  @Option(parsing: .unconditional, help: "Samples per forward pass (bounds memory).") var batch: Int = 32
  @Option(help: "A plan.json from `mixprec quantize`: run its layers on the quantized kernels.") var plan: String?

  func run() throws {
    let model = try openModel(model)
    var session = model.session
    if let plan {
      let (p, codes) = try model.readPlan(URL(fileURLWithPath: plan))
      session = try model.session(running: p, codes: codes)
    }
    let folder = try inputFolder(input, for: session.graph)
    for (name, t) in folder.tensors.sorted(by: { $0.key < $1.key }) where t.nanCount > 0 {
      warn("warning: input '\(name)' holds \(t.nanCount) NaN values; outputs that depend on them will be NaN")
    }
    guard batch > 0 else { throw CLIError("--batch must be positive") }
    if FileChecks.kind(URL(fileURLWithPath: output).resolvingSymlinksInPath().path) == .directory {
      try checkOutputs(session.graph.outputs.map { ("--output", URL(fileURLWithPath: output).appendingPathComponent(InputFolder.fileName($0.name)).path) },
        inputs: [self.model, input, plan])
    }
    let metric = try TaskMetric(folder: folder, graph: session.graph)
    let outputs = try session.runInBatches(folder.tensors, batch: batch)
    let dir = URL(fileURLWithPath: output)
    do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
      throw CLIError("cannot create output folder '\(output)': \(error.localizedDescription)")
    }
    for o in session.graph.outputs {
      guard let t = outputs[o.name] else { continue }
      let file = dir.appendingPathComponent(InputFolder.fileName(o.name))
      try NPY.write(t, to: file)
      print("\(o.name) \(t.dtype) \(t.shape) -> \(file.path)")
    }
    if let metric, let name = metric.output ?? session.graph.comparedOutput?.name, let y = outputs[name] {
      // Metrics scored against FP32 (embedding, mask-iou) say something only for a plan.
      if !metric.needsReference {
        print(metric.detail(y, reference: y))
      } else if plan != nil, let fp32 = try model.session.runInBatches(folder.tensors, batch: batch)[name] {
        print(metric.detail(y, reference: fp32))
      }
    }
  }
}
