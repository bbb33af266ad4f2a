import Execution
import Foundation
import GraphIR
import TensorCore

/// Task metrics scored against the model's own FP32 outputs on the same samples, for outputs no
/// label describes (named by a folder's `meta.json`, key `metric`).
public enum ReferenceMetric: String, Sendable, Equatable, CaseIterable {
  /// Mean cosine of each output row to its FP32 row (and, in the detail line, the Spearman
  /// correlation of the samples' pairwise similarities with FP32's).
  case embedding
  /// Mean over samples of the IoU of the map thresholded at `threshold` with FP32's map.
  case maskIoU = "mask-iou"
}

/// The labels of an input folder, read once: class ids (`labels.npy`), texts (`labels.txt`,
/// scored through the model's CTC dictionary, metadata key `character`), or, for a folder whose
/// `meta.json` names `embedding` or `mask-iou`, the model's own FP32 outputs.
public enum TaskLabels: Sendable, Equatable {
  case classes([Int])
  case texts([String], dictionary: String)
  case fp32(ReferenceMetric, threshold: Float)

  /// The metrics a folder's `meta.json` may name.
  public static let metricNames = ["top1", "ctc"] + ReferenceMetric.allCases.map(\.rawValue)

  /// The folder's labels, nil when it has none (or texts for a model without a CTC dictionary).
  /// - Throws: when the folder holds a different number of labels than samples, or its
  ///   `meta.json` names a metric there is none of.
  public static func of(_ folder: InputFolder, graph: Graph) throws -> TaskLabels? {
    let meta = try folder.meta()
    if let name = meta?.metric {
      guard metricNames.contains(name) else {
        throw GraphError("'\(folder.url.appendingPathComponent("meta.json").path)' names metric '\(name)'; use one of \(metricNames.joined(separator: ", "))")
      }
      if let m = ReferenceMetric(rawValue: name) {
        let threshold = meta?.threshold ?? 0.3
        guard threshold.isFinite else { throw GraphError("'\(folder.url.appendingPathComponent("meta.json").path)' has a threshold that is not a number") }
        return .fp32(m, threshold: Float(threshold))
      }
    }
    let labels: TaskLabels
    let file: String
    if let ids = try folder.integerLabels() {
      labels = .classes(ids)
      file = "labels.npy"
    } else if let texts = try folder.textLabels(), let dictionary = graph.metadata["character"] {
      labels = .texts(texts, dictionary: dictionary)
      file = "labels.txt"
    } else {
      return nil
    }
    let samples = folder.sampleCount
    guard labels.count == samples else {
      throw GraphError("'\(folder.url.appendingPathComponent(file).path)' holds \(labels.count) labels for \(samples) samples; write one label per sample")
    }
    return labels
  }

  /// Labels held (0 for FP32-referenced metrics: any number of samples).
  public var count: Int {
    switch self {
    case .classes(let ids): return ids.count
    case .texts(let texts, _): return texts.count
    case .fp32: return 0
    }
  }

  /// The labels of samples `range`.
  public func rows(_ range: Range<Int>) -> TaskLabels {
    switch self {
    case .classes(let ids): return .classes(Array(ids[range]))
    case .texts(let texts, let dictionary): return .texts(Array(texts[range]), dictionary: dictionary)
    case .fp32: return self
    }
  }
}

/// The task metric of a model output against labels: `top1` for class ids, `ctc_exact_match`
/// (and CER) for texts, or against the FP32 output of the same samples: `embedding_cosine`,
/// `mask_iou`. It reads the output its folder's `meta.json` names (`output`), else the first
/// compared output. The one place analyze, quantize, tune, run and the benchmarks turn labels
/// into a figure.
public struct TaskMetric: Sendable {
  public let labels: TaskLabels
  /// The output scored (nil: the first compared output).
  public let output: String?

  public init(labels: TaskLabels, output: String? = nil) {
    self.labels = labels
    self.output = output
  }

  /// The folder's metric, nil without labels (or a `meta.json` naming a metric).
  public init?(folder: InputFolder, graph: Graph) throws {
    guard let labels = try TaskLabels.of(folder, graph: graph) else { return nil }
    self.labels = labels
    output = try folder.meta()?.output
    if let output, !graph.outputs.contains(where: { $0.name == output }) {
      throw GraphError("'\(folder.url.appendingPathComponent("meta.json").path)' names output '\(output)', which the model does not have (its outputs: \(graph.outputs.map(\.name).joined(separator: ", ")))")
    }
  }

  public var name: String {
    switch labels {
    case .classes: return "top1"
    case .texts: return "ctc_exact_match"
    case .fp32(.embedding, _): return "embedding_cosine"
    case .fp32(.maskIoU, _): return "mask_iou"
    }
  }

  /// Whether the score compares with FP32's output (no labels): FP32 itself scores 1.
  public var needsReference: Bool { if case .fp32 = labels { return true } else { return false } }

  /// The name of the output scored, among `compared` (the compared outputs, in order).
  public func outputName(compared: [String]) -> String? { output ?? compared.first }

  /// The metric of `output`, whose rows are the labels' samples `range` (all of them when nil);
  /// `reference` is the FP32 output of the same samples (read by FP32-referenced metrics only).
  public func score(_ output: Tensor, reference: Tensor, samples range: Range<Int>? = nil) -> Double {
    let labels = range.map { self.labels.rows($0) } ?? self.labels
    switch labels {
    case .classes(let ids):
      return TaskMetrics.top1(output, labels: ids)
    case .texts(let texts, let dictionary):
      return TaskMetrics.textAccuracy(predicted: TaskMetrics.ctcDecode(output, dictionary: dictionary), references: texts).exactMatch
    case .fp32(.embedding, _):
      return TaskMetrics.meanCosine(output, reference)
    case .fp32(.maskIoU, let threshold):
      return TaskMetrics.meanMaskIoU(output, reference, threshold: threshold)
    }
  }

  /// One line for people: "top1: 0.9883 on 256 samples", exact-match and CER for texts, mean
  /// cosine and pairwise-similarity Spearman for embeddings, mean IoU for masks.
  public func detail(_ output: Tensor, reference: Tensor) -> String {
    switch labels {
    case .classes(let ids):
      return String(format: "top1: %.4f on %d samples", TaskMetrics.top1(output, labels: ids), ids.count)
    case .texts(let texts, let dictionary):
      let r = TaskMetrics.textAccuracy(predicted: TaskMetrics.ctcDecode(output, dictionary: dictionary), references: texts)
      return String(format: "ctc exact-match: %.4f, CER: %.4f on %d samples", r.exactMatch, r.cer, texts.count)
    case .fp32(.embedding, _):
      return String(format: "embedding: mean cosine to fp32 %.4f, pairwise-similarity Spearman %.4f on %d samples",
        TaskMetrics.meanCosine(output, reference), TaskMetrics.pairwiseSimilaritySpearman(output, reference), output.shape.first ?? 0)
    case .fp32(.maskIoU, let threshold):
      return String(format: "mask IoU vs fp32 (map > %.2f): %.4f on %d samples",
        threshold, TaskMetrics.meanMaskIoU(output, reference, threshold: threshold), output.shape.first ?? 0)
    }
  }
}
