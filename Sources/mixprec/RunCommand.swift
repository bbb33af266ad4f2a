import ArgumentParser
import Execution
import Foundation
import GraphIR
import TensorCore

struct RunCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Run a model in FP32 on a folder of inputs; write one <output name>.npy per model output.")

  @Argument(help: "The ONNX model.") var model: String
  @Option(help: "Folder with one <input name>.npy per model input (or one .npz).") var input: String
  @Option(help: "Folder to write the outputs into (created if missing).") var output: String

  func run() throws {
    let (_, session) = try openModel(model)
    let folder = try InputFolder(URL(fileURLWithPath: input), for: session.graph)
    for (name, t) in folder.tensors.sorted(by: { $0.key < $1.key }) where t.nanCount > 0 {
      warn("warning: input '\(name)' holds \(t.nanCount) NaN values; outputs that depend on them will be NaN")
    }
    let outputs = try session.run(folder.tensors)
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
  }
}
