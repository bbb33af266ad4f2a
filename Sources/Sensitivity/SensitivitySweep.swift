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
  ///   - progress: (layers done, layers to do, a line about the last one).
  public func run(
    session: Session, calibrator: Calibrator, feeds: [String: Tensor], layers names: [String]? = nil,
    task: ((Tensor) -> Double)? = nil, progress: (Int, Int, String) -> Void = { _, _, _ in }
  ) throws -> Result {
    let g = session.graph
    let output = g.outputs[0].name
    // The FP32 run of every batch, every value kept: each quantized run resumes at its layer.
    let total = feeds.values.first?.shape.first ?? 0
    let slices = stride(from: 0, to: total, by: max(batch, 1)).map { $0..<min($0 + batch, total) }
    let inputs = slices.map { r in feeds.mapValues { $0.rows(r) } }
    let recorded = try inputs.map { try session.recordingRun($0) }
    let reference = try concatenate(recorded.map { try requireOutput($0[output], output) })
    let uniform = try Dictionary(uniqueKeysWithValues: candidates.map { p in
      (p, try PlanBuilder.uniform(session: session, calibrator: calibrator, precision: p, method: method, model: "", modelSHA256: ""))
    })
    let todo = g.layers.enumerated().filter { names?.contains($0.element.name) ?? true }
      .filter { QuantizedLayer.supports(g.nodes[$0.element.nodeIndex], in: g) }
    var result: [AnalysisResult.Layer] = []
    for (index, layer) in todo {
      var entry = AnalysisResult.Layer(index: index, name: layer.name, op: layer.opType, params: layer.parameterCount)
      for p in candidates {
        var plan = uniform[p]!
        for i in plan.layers.indices where plan.layers[i].name != layer.name { plan.layers[i].precision = .fp32 }
        let mixed = try session.with(quantized: PlanBuilder.layerQuantizations(plan, session: session))
        let parts = try zip(inputs, recorded).map { x, known in
          try requireOutput(mixed.run(x, resumingAt: layer.name, from: known)[output], output)
        }
        let y = try concatenate(parts)
        entry.sensitivity[p.rawValue] = AnalysisResult.Entry(.of(y, reference: reference), task: task?(y))
      }
      result.append(entry)
      progress(result.count, todo.count, "\(layer.name): " + candidates.map { p in
        String(format: "%@ KL %.3g", p.rawValue, entry.sensitivity[p.rawValue]!.kl)
      }.joined(separator: ", "))
    }
    return Result(layers: result, reference: reference)
  }

  private func concatenate(_ parts: [Tensor]) throws -> Tensor {
    guard parts.count > 1 else { return parts.first ?? Tensor.zeros([0]) }
    var shape = parts[0].shape
    shape[0] = parts.reduce(0) { $0 + $1.shape[0] }
    return Tensor(shape: shape, floats: parts.flatMap(\.floats))
  }

  private func requireOutput(_ t: Tensor?, _ name: String) throws -> Tensor {
    guard let t else { throw PlanError("the model produced no '\(name)'") }
    return t
  }
}
