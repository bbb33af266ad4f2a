import ArgumentParser
import Execution
import Foundation
import GraphIR
import Sensitivity
import TensorCore

struct RunCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Run a model in FP32 on a folder of inputs; write one <output name>.npy per model output.")

  @Argument(help: "The ONNX model.") var model: String
  @Option(help: "Folder with one <input name>.npy per model input (or one .npz).") var input: String
  @Option(help: "Folder to write the outputs into (created if missing).") var output: String
  @Option(help: "Samples per forward pass (bounds memory).") var batch: Int = 32

  func run() throws {
    let (_, session) = try openModel(model)
    let folder = try InputFolder(URL(fileURLWithPath: input), for: session.graph)
    for (name, t) in folder.tensors.sorted(by: { $0.key < $1.key }) where t.nanCount > 0 {
      warn("warning: input '\(name)' holds \(t.nanCount) NaN values; outputs that depend on them will be NaN")
    }
    guard batch > 0 else { throw CLIError("--batch must be positive") }
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
    try printTaskMetrics(folder, session.graph, outputs)
  }

  /// With labels in the input folder: top-1 for class ids, CTC exact-match and CER for text
  /// (dictionary from the model's `character` metadata), on the first model output.
  func printTaskMetrics(_ folder: InputFolder, _ graph: Graph, _ outputs: [String: Tensor]) throws {
    guard let first = graph.outputs.first, let y = outputs[first.name] else { return }
    if let labels = try folder.integerLabels() {
      print(String(format: "top1: %.4f on %d samples", TaskMetrics.top1(y, labels: labels), labels.count))
    } else if let texts = try folder.textLabels(), let dictionary = graph.metadata["character"] {
      let r = TaskMetrics.textAccuracy(predicted: TaskMetrics.ctcDecode(y, dictionary: dictionary), references: texts)
      print(String(format: "ctc exact-match: %.4f, CER: %.4f on %d samples", r.exactMatch, r.cer, texts.count))
    }
  }
}
