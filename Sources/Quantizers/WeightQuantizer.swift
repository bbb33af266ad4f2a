import TensorCore

/// Symmetric weight quantization, per output channel or per group of k:
///
///     s = max|w| / q_max over the row (or group),   q = clamp(round(w / s), −q_max, q_max)
///
/// with q_max = 127 (int8) or 7 (int4). Rows are output channels, row-major over the depth k.
public enum WeightQuantizer {
  public static func maxCode(bits: Int) -> Int { (1 << (bits - 1)) - 1 }

  /// - Parameters:
  ///   - rows: n × k weights.
  ///   - group: k per scale, or nil for one scale per row.
  /// - Returns: the integer codes (n × k) and scales (n × groups, row-major), groups = ceil(k / group).
  public static func quantize(_ rows: [Float], n: Int, k: Int, bits: Int, group: Int? = nil) -> (values: [Int8], scales: [Float]) {
    let g = group ?? k
    let groups = (k + g - 1) / g
    let qmax = Float(maxCode(bits: bits))
    var values = [Int8](repeating: 0, count: n * k)
    var scales = [Float](repeating: 1, count: n * groups)
    for r in 0..<n {
      for j in 0..<groups {
        let range = (j * g)..<min((j + 1) * g, k)
        var m: Float = 0
        for i in range { m = max(m, abs(rows[r * k + i])) }
        // An all-zero group keeps scale 1 (any positive scale codes it exactly); so does a group
        // whose scale would underflow (weights below ~1e-37 are zero at any useful precision).
        let s = (m / qmax).isNormal ? m / qmax : 1
        scales[r * groups + j] = s
        for i in range {
          values[r * k + i] = Int8(max(-qmax, min(qmax, (rows[r * k + i] / s).rounded(.toNearestOrEven))))
        }
      }
    }
    return (values, scales)
  }

  /// One scale for the whole tensor, s = max|w| / q_max over every row, repeated per row (the
  /// kernels read a scale per row): the codes and scales of per-tensor quantization.
  public static func quantizePerTensor(_ rows: [Float], n: Int, k: Int, bits: Int) -> (values: [Int8], scales: [Float]) {
    let m = rows.reduce(Float(0)) { max($0, abs($1)) }
    let qmax = Float(maxCode(bits: bits))
    let s = (m / qmax).isNormal ? m / qmax : 1
    let scales = [Float](repeating: s, count: n)
    return (quantize(rows, n: n, k: k, bits: bits, scales: scales), scales)
  }

  /// Codes for given per-row scales (one group): q = clamp(round(w / s), −q_max, q_max).
  public static func quantize(_ rows: [Float], n: Int, k: Int, bits: Int, scales: [Float]) -> [Int8] {
    let qmax = Float(maxCode(bits: bits))
    return (0..<(n * k)).map { i in Int8(max(-qmax, min(qmax, (rows[i] / scales[i / k]).rounded(.toNearestOrEven)))) }
  }

  /// The real values the codes stand for: w ≈ s · q.
  public static func dequantize(_ values: [Int8], scales: [Float], n: Int, k: Int, group: Int? = nil) -> [Float] {
    let g = group ?? k, groups = (k + g - 1) / g
    return (0..<(n * k)).map { i in scales[(i / k) * groups + (i % k) / g] * Float(values[i]) }
  }
}
