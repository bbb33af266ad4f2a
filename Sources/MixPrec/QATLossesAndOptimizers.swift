import Foundation
import Gradients
import Sensitivity
import TensorCore

/// The losses and optimizers of `QuantizationAwareTraining`.
extension QuantizationAwareTraining {
  public enum Loss: String, Sendable, CaseIterable {
    case distillation = "distill", task, both
  }

  /// Labels of the training samples as the losses read them: class ids (cross-entropy) or
  /// symbol sequences (CTC, blank 0).
  enum Labels: Sendable {
    case classes([Int])
    case sequences([[Int]])

    /// Texts become CTC symbol ids of the PaddleOCR dictionary (`character` metadata, one symbol
    /// per line; ids from 1, the space last); characters outside it are dropped. Metrics scored
    /// against FP32 give no labels to train on (nil: the distillation loss is that comparison).
    init?(_ task: TaskLabels) {
      switch task {
      case .fp32:
        return nil
      case .classes(let ids):
        self = .classes(ids)
      case .texts(let texts, let dictionary):
        let symbols = dictionary.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) + [" "]
        var ids: [String: Int] = [:]
        for (i, s) in symbols.enumerated() where ids[s] == nil { ids[s] = i + 1 }
        self = .sequences(texts.map { $0.compactMap { ids[String($0)] } })
      }
    }

    /// The loss and its gradient for the logits of samples `rows`.
    func loss(logits z: Tensor, rows: Range<Int>) -> (loss: Double, gradient: [Float]) {
      let c = z.shape.last ?? 1
      switch self {
      case .classes(let ids):
        return TaskLoss.crossEntropy(logits: z.floats, rowLength: c, labels: Array(ids[rows]))
      case .sequences(let seqs):
        let t = z.shape.count >= 2 ? z.shape[z.shape.count - 2] : 1
        return TaskLoss.ctc(logits: z.floats, steps: t, classes: c, labels: Array(seqs[rows]))
      }
    }

    var count: Int {
      switch self {
      case .classes(let ids): return ids.count
      case .sequences(let seqs): return seqs.count
      }
    }
  }

  /// SGD momentum buffers: v = μ·v + g.
  struct Momentum {
    var v: [Float]
    init(_ n: Int) { v = [Float](repeating: 0, count: n) }
    mutating func accumulate(_ g: [Float]) { for i in 0..<v.count { v[i] = 0.9 * v[i] + g[i] } }
    var largest: Float { v.reduce(0) { max($0, abs($1)) } }
    func apply(_ x: inout [Float], rate: Float) { for i in 0..<x.count { x[i] -= rate * v[i] } }
  }

  /// Adam moments of one parameter group; `update` returns the step to subtract (before the rate).
  struct Adam {
    var m: [Float], v: [Float]
    var t: Float = 0
    init(_ n: Int) { m = [Float](repeating: 0, count: n); v = m }
    mutating func update(_ g: [Float]) -> [Float] {
      t += 1
      let c1 = 1 - pow(0.9, t), c2 = 1 - pow(0.999, t)
      return g.indices.map { i in
        m[i] = 0.9 * m[i] + 0.1 * g[i]
        v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i]
        return (m[i] / c1) / ((v[i] / c2).squareRoot() + 1e-12)
      }
    }
  }
}
