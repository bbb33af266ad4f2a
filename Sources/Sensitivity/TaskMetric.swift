import Execution
import Foundation
import GraphIR
import TensorCore

/// The labels of an input folder, read once: class ids (`labels.npy`) or texts (`labels.txt`,
/// scored through the model's CTC dictionary, metadata key `character`).
public enum TaskLabels: Sendable, Equatable {
  case classes([Int])
  case texts([String], dictionary: String)

  /// The folder's labels, nil when it has none (or texts for a model without a CTC dictionary).
  /// - Throws: when the folder holds a different number of labels than samples.
  public static func of(_ folder: InputFolder, graph: Graph) throws -> TaskLabels? {
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

  public var count: Int {
    switch self {
    case .classes(let ids): return ids.count
    case .texts(let texts, _): return texts.count
    }
  }

  /// The labels of samples `range`.
  public func rows(_ range: Range<Int>) -> TaskLabels {
    switch self {
    case .classes(let ids): return .classes(Array(ids[range]))
    case .texts(let texts, let dictionary): return .texts(Array(texts[range]), dictionary: dictionary)
    }
  }
}

/// The task metric of a model's first output against labels: `top1` for class ids,
/// `ctc_exact_match` (and CER) for texts. The one place analyze, quantize, tune, run and the
/// benchmarks turn labels into a figure.
public struct TaskMetric: Sendable {
  public let labels: TaskLabels

  public init(labels: TaskLabels) { self.labels = labels }

  /// The folder's metric, nil without labels.
  public init?(folder: InputFolder, graph: Graph) throws {
    guard let labels = try TaskLabels.of(folder, graph: graph) else { return nil }
    self.labels = labels
  }

  public var name: String {
    switch labels {
    case .classes: return "top1"
    case .texts: return "ctc_exact_match"
    }
  }

  /// The metric of `output` (the first model output), whose rows are the labels' samples `range`
  /// (all of them when nil).
  public func score(_ output: Tensor, samples range: Range<Int>? = nil) -> Double {
    let labels = range.map { self.labels.rows($0) } ?? self.labels
    switch labels {
    case .classes(let ids):
      return TaskMetrics.top1(output, labels: ids)
    case .texts(let texts, let dictionary):
      return TaskMetrics.textAccuracy(predicted: TaskMetrics.ctcDecode(output, dictionary: dictionary), references: texts).exactMatch
    }
  }

  /// One line for people: "top1: 0.9883 on 256 samples", or exact-match and CER for texts.
  public func detail(_ output: Tensor) -> String {
    switch labels {
    case .classes(let ids):
      return String(format: "top1: %.4f on %d samples", TaskMetrics.top1(output, labels: ids), ids.count)
    case .texts(let texts, let dictionary):
      let r = TaskMetrics.textAccuracy(predicted: TaskMetrics.ctcDecode(output, dictionary: dictionary), references: texts)
      return String(format: "ctc exact-match: %.4f, CER: %.4f on %d samples", r.exactMatch, r.cer, texts.count)
    }
  }
}
