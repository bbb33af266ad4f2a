import Execution
import Foundation
import GraphIR
import Quantizers
import TensorCore

/// One layer at a time: each candidate precision applied to that layer alone, the model run on
/// calibration samples, its first output compared with the FP32 output.
public struct SensitivitySweep {
  public var candidates: [Precision]
  /// Range method for the integer candidates (MSE: the best of the saturating methods on both
  /// prepared models, see issue 4's table).
  public var method: RangeMethod = .mse
  public var batch = 32

  public init(candidates: [Precision]) { self.candidates = candidates }

  /// The measured layers and the FP32 first output they were compared with.
  public struct Result {
    public var layers: [AnalysisResult.Layer]
    public var reference: Tensor
  }

  /// - Parameters:
  ///   - layers: the names to sweep (a shard), nil for all quantizable layers.
  ///   - task: the task metric of a first-output tensor, when labels exist.
  public func run(
    session: Session, calibrator: Calibrator, feeds: [String: Tensor], layers names: [String]? = nil,
    task: ((Tensor) -> Double)? = nil, progress: (String) -> Void = { _ in }
  ) throws -> Result {
    let g = session.graph
    let output = g.outputs[0].name
    let reference = try requireOutput(session.runInBatches(feeds, batch: batch)[output], output)
    let uniform = try Dictionary(uniqueKeysWithValues: candidates.map { p in
      (p, try PlanBuilder.uniform(session: session, calibrator: calibrator, precision: p, method: method, model: "", modelSHA256: ""))
    })
    var result: [AnalysisResult.Layer] = []
    for (index, layer) in g.layers.enumerated() where names?.contains(layer.name) ?? true {
      guard QuantizedLayer.supports(g.nodes[layer.nodeIndex], in: g) else { continue }
      var entry = AnalysisResult.Layer(index: index, name: layer.name, op: layer.opType, params: layer.parameterCount)
      for p in candidates {
        var plan = uniform[p]!
        for i in plan.layers.indices where plan.layers[i].name != layer.name { plan.layers[i].precision = .fp32 }
        let mixed = try session.with(quantized: PlanBuilder.layerQuantizations(plan, session: session))
        let y = try requireOutput(mixed.runInBatches(feeds, batch: batch)[output], output)
        entry.sensitivity[p.rawValue] = AnalysisResult.Entry(.of(y, reference: reference), task: task?(y))
      }
      progress("\(layer.name): " + candidates.map { p in
        String(format: "%@ KL %.3g", p.rawValue, entry.sensitivity[p.rawValue]!.kl)
      }.joined(separator: ", "))
      result.append(entry)
    }
    return Result(layers: result, reference: reference)
  }

  private func requireOutput(_ t: Tensor?, _ name: String) throws -> Tensor {
    guard let t else { throw PlanError("the model produced no '\(name)'") }
    return t
  }
}
