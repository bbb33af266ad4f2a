import Execution
import Foundation
import GraphIR
import Sensitivity
import TensorCore

/// The samples `Tuning.run` works on: calibration (ranges, the sweep, AdaRound, bias correction),
/// held-out evaluation with its labels, and the fine-tuning set.
public struct TuningData {
  public var calibration: [String: Tensor]
  public var evaluation: [String: Tensor]
  /// The task metric of the evaluation samples (nil without labels).
  public var metric: TaskMetric?
  /// QAT's samples and labels (the calibration samples unless another folder is given).
  public var training: [String: Tensor]
  public var trainingLabels: TaskLabels?
  /// Input shapes at batch 1, for the export.
  public var exportShapes: [String: [Int]]

  public init(calibration: [String: Tensor], evaluation: [String: Tensor], metric: TaskMetric?,
              training: [String: Tensor]? = nil, trainingLabels: TaskLabels? = nil) {
    self.calibration = calibration
    self.evaluation = evaluation
    self.metric = metric
    self.training = training ?? calibration
    self.trainingLabels = trainingLabels
    exportShapes = calibration.mapValues { [1] + $0.shape.dropFirst() }
  }

  /// Evaluation on `evaluation` when given, else on the calibration folder's last quarter (held
  /// out of everything else); fine-tuning on `training` when given, else on the calibration samples.
  public init(calibration folder: InputFolder, evaluation: InputFolder?, training: InputFolder?, graph: Graph) throws {
    let total = folder.sampleCount
    let held = evaluation == nil ? max(1, total / 4) : 0
    guard total - held > 0 else {
      throw MixPrecError.tooFewSamples(folder: folder.url.path, samples: total, needed: evaluation == nil ? 2 : 1)
    }
    let kept = 0..<(total - held)
    let calibration = folder.tensors.mapValues { $0.rows(kept) }
    let evalFeeds = evaluation?.tensors ?? folder.tensors.mapValues { $0.rows((total - held)..<total) }
    // One read of the folder's labels and meta.json; held-out rows when evaluating on its tail.
    let metric = try TaskMetric(folder: evaluation ?? folder, graph: graph).map {
      TaskMetric(labels: evaluation == nil ? $0.labels.rows((total - held)..<total) : $0.labels, output: $0.output)
    }
    let trainingLabels = try training.map { try TaskLabels.of($0, graph: graph) } ?? TaskLabels.of(folder, graph: graph)?.rows(kept)
    self.init(calibration: calibration, evaluation: evalFeeds, metric: metric, training: training?.tensors,
      trainingLabels: trainingLabels)
  }

  public var calibrationCount: Int { calibration.values.first?.shape.first ?? 0 }
}
