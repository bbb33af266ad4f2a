import Crypto
import Execution
import Foundation
import GraphIR
import ONNXFormat
import Quantizers
import TensorCore

/// A model read from an ONNX file: its canonical graph in a session, its file name and the
/// SHA-256 of the file (what plans and analyses record of it).
public struct LoadedModel {
  public let url: URL
  /// The graph as the file holds it, before preparation (folding, fusion).
  public let fileGraph: Graph
  /// The prepared graph in a session that runs it.
  public let session: Session
  public let sha256: String
  /// Inputs whose declared batch of 1 the session leaves dynamic, because nothing in the graph
  /// depends on it (`GraphPreparation.relaxingFixedBatch`): folders of many samples then run.
  public let relaxedBatchInputs: [String]

  /// Reads and prepares `url`; one clear error when it is missing or not a model.
  public init(_ url: URL) throws {
    guard FileManager.default.fileExists(atPath: url.path) else { throw MixPrecError.modelNotFound(url.path) }
    try FileChecks.requireFile(url, what: "model file")
    self.url = url
    sha256 = try Self.sha256Hex(ofFile: url)
    fileGraph = try ONNXImporter.load(url)
    let prepared = try Session(graph: fileGraph)
    let relaxed = GraphPreparation.relaxingFixedBatch(prepared.graph)
    relaxedBatchInputs = relaxed.relaxed
    session = relaxed.relaxed.isEmpty ? prepared : try Session(graph: relaxed.graph)
  }

  public var name: String { url.lastPathComponent }
  public var graph: Graph { session.graph }

  /// SHA-256 of a file as lowercase hex.
  public static func sha256Hex(ofFile url: URL) throws -> String {
    guard let data = FileManager.default.contents(atPath: url.path) else { throw MixPrecError.unreadable(url.path) }
    return SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
  }

  /// Reads a plan, checks it belongs to this model, and returns it with its AdaRound/QAT codes
  /// (from the `.codes.npz` it names, beside it).
  public func readPlan(_ url: URL) throws -> (plan: PrecisionPlan, codes: [String: [Int8]]) {
    let plan = try PrecisionPlan.read(from: url)
    guard plan.modelSHA256 == sha256 else {
      throw MixPrecError.planForAnotherModel(plan: url.path, planModel: plan.model, planSHA256: plan.modelSHA256,
        model: self.url.path, modelSHA256: sha256)
    }
    var codes: [String: [Int8]] = [:]
    if let file = plan.codesFile {
      let arrays = try NPZ.read(url.deletingLastPathComponent().appendingPathComponent(file))
      codes = arrays.mapValues { $0.ints.map { Int8(truncatingIfNeeded: $0) } }
    }
    return (plan, codes)
  }

  /// The session that runs a plan of this model: equalized first when the plan was made on the
  /// equalized model, its layers on the quantized kernels with the plan's codes.
  public func session(running plan: PrecisionPlan, codes: [String: [Int8]]) throws -> Session {
    var base = session
    if let pairs = plan.equalizedPairs {
      let equalized = Equalization.apply(session.graph, only: pairs).graph
      base = try Session(graph: BiasAbsorption.apply(equalized, plan.absorbedBiases ?? []))
    }
    return try base.with(quantized: PlanBuilder.layerQuantizations(plan, session: base, codes: codes))
  }
}
