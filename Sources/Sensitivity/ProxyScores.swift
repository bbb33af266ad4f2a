import Findings
import Foundation
import GraphIR
import Quantizers
import TensorCore

/// The cheap predictors of a layer's quantization damage, and how far to trust them.
public enum ProxyScores {
  /// ‖Q(W) − W‖² of a layer's weights at `precision` (symmetric per output channel, or per group
  /// of `group` inputs; FP16 by rounding to half).
  public static func quantizationError(_ w: Tensor, node: Node, precision: Precision, group: Int? = nil,
                                       granularity: WeightGranularity? = nil) -> Double {
    let v = w.floats
    switch precision {
    case .fp32:
      return 0
    case .fp16:
      return v.reduce(0.0) { let d = Double(Float(Float16($1)) - $1); return $0 + d * d }
    case .int8, .int4:
      let layout = WeightLayout(node, weight: w.shape)
      let rows = layout.rowsMajor(v)
      let bits = precision == .int8 ? 8 : 4
      let (codes, scales) = granularity == .tensor
        ? WeightQuantizer.quantizePerTensor(rows, n: layout.rows, k: layout.depth, bits: bits)
        : WeightQuantizer.quantize(rows, n: layout.rows, k: layout.depth, bits: bits, group: group)
      let back = WeightQuantizer.dequantize(codes, scales: scales, n: layout.rows, k: layout.depth, group: group)
      var s = 0.0
      for i in 0..<rows.count { let d = Double(back[i] - rows[i]); s += d * d }
      return s
    }
  }

  /// Tr of the Hessian of the layer's output reconstruction error ‖ΔW·X‖²/columns per weight:
  /// every output row sees its group's Gram matrix, so Tr = Σ_rows Tr(G_group(row)) and per weight
  /// it is the mean of Tr(G_g)/k over the groups.
  public static func gramTrace(_ c: GramCollector) -> Double {
    guard c.columns > 0 else { return 0 }
    var t = 0.0
    for g in c.grams { for i in 0..<c.k { t += Double(g[i * c.k + i]) } }
    return t / Double(c.columns) / Double(c.grams.count * c.k)
  }

  /// Spearman's rank correlation (GSL), NaN for fewer than 3 pairs.
  public static func spearman(_ a: [Double], _ b: [Double]) -> Double {
    GSL.spearman(a, b)
  }
}

extension AnalysisResult {
  /// Recomputes `correlations`: for every candidate precision, each proxy against the measured KL
  /// over the layers that have both.
  public mutating func correlate() {
    var out: [Correlation] = []
    for p in candidates {
      let proxies: [(String, (Layer) -> Double?)] = [
        ("hessian_score", { $0.hessian?.score[p] }),
        ("hessian_trace", { $0.hessian?.trace }),
        ("top_eigenvalue", { $0.hessian?.topEigenvalue }),
        ("gram_score", { $0.hessian?.gramScore?[p] }),
      ]
      for (name, value) in proxies {
        let pairs = layers.compactMap { l -> (Double, Double)? in
          guard let x = value(l), let e = l.sensitivity[p], x.isFinite, e.damage.isFinite else { return nil }
          let y = e.damage
          return (x, y)
        }
        guard pairs.count >= 3 else { continue }
        out.append(Correlation(proxy: name, precision: p, measure: "damage",
          spearman: ProxyScores.spearman(pairs.map(\.0), pairs.map(\.1)), layers: pairs.count))
      }
    }
    correlations = out.isEmpty ? nil : out
  }
}
