import ArgumentParser
import Execution
import Foundation
import GraphIR
import Quantizers
import Sensitivity
import TensorCore

struct RunCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Run a model (FP32, or mixed under --plan) on a folder of inputs; write one <output name>.npy per model output.")

  @Argument(help: "The ONNX model.") var model: String
  @Option(help: "Folder with one <input name>.npy per model input (or one .npz).") var input: String
  @Option(help: "Folder to write the outputs into (created if missing).") var output: String
  @Option(help: "Samples per forward pass (bounds memory).") var batch: Int = 32
  @Option(help: "A plan.json from `mixprec quantize`: run its layers on the quantized kernels.") var plan: String?

  func run() throws {
    var (_, session) = try openModel(model)
    if let plan {
      session = try loadPlan(plan, model: model, session: session)
    }
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

  /// With labels in the input folder: top-1 for class ids, CTC exact-match and CER for text.
  func printTaskMetrics(_ folder: InputFolder, _ graph: Graph, _ outputs: [String: Tensor]) throws {
    if let m = try taskMetric(folder, graph, outputs) { print(m.detail) }
  }
}

/// Reads a plan, checks it belongs to `model`, and returns it with its AdaRound/QAT codes (from
/// the `.codes.npz` it names, beside it).
func readPlan(_ path: String, model: String) throws -> (plan: PrecisionPlan, codes: [String: [Int8]]) {
  let url = URL(fileURLWithPath: path)
  let plan = try PrecisionPlan.read(from: url)
  let digest = try sha256Hex(ofFile: model)
  guard plan.modelSHA256 == digest else {
    throw CLIError("plan '\(path)' was made for \(plan.model) (sha256 \(plan.modelSHA256.prefix(12))…), not for '\(model)' (sha256 \(digest.prefix(12))…)")
  }
  var codes: [String: [Int8]] = [:]
  if let file = plan.codesFile {
    let arrays = try NPZ.read(url.deletingLastPathComponent().appendingPathComponent(file))
    codes = arrays.mapValues { $0.ints.map { Int8(truncatingIfNeeded: $0) } }
  }
  return (plan, codes)
}

/// Reads a plan (`readPlan`) and returns the session that runs it (equalized when the plan was
/// made on the equalized model, with its codes).
func loadPlan(_ path: String, model: String, session: Session) throws -> Session {
  let (plan, codes) = try readPlan(path, model: model)
  var base = session
  if let pairs = plan.equalizedPairs {
    let equalized = Equalization.apply(session.graph, only: pairs).graph
    base = try Session(graph: BiasAbsorption.apply(equalized, plan.absorbedBiases ?? []))
  }
  return try base.with(quantized: try PlanBuilder.layerQuantizations(plan, session: base, codes: codes))
}
