import Foundation
import TensorCore

/// Streams over activation batches with bounded memory (a 2048-bin histogram plus min/max) and
/// chooses a range by one of the `RangeMethod`s. The histogram's arithmetic is in Double: finite
/// float32 values from −3.4e38 to 3.4e38 and denormals down to 1e-45 keep a finite, positive bin
/// width (in Float the span overflows or the width underflows to 0).
public struct RangeObserver: Sendable {
  public static let bins = 2048
  public private(set) var lo: Float = .infinity
  public private(set) var hi: Float = -.infinity
  /// Histogram over [histLo, histHi].
  public private(set) var counts = [Double](repeating: 0, count: RangeObserver.bins)
  private var histLo = 0.0, histHi = 0.0
  public private(set) var seen = 0

  public init() {}

  /// Adds a batch of values (NaN and ±∞ are skipped).
  public mutating func observe(_ values: UnsafeBufferPointer<Float>) {
    var bLo = Float.infinity, bHi = -Float.infinity
    for v in values where v.isFinite {
      bLo = min(bLo, v)
      bHi = max(bHi, v)
    }
    guard bLo <= bHi else { return }
    lo = min(lo, bLo)
    hi = max(hi, bHi)
    if seen == 0 {
      histLo = Double(lo)
      histHi = hi > lo ? Double(hi) : Double(lo) + Swift.max(1e-6, abs(Double(lo)) * 1e-6)
    } else if Double(lo) < histLo || Double(hi) > histHi {
      rebin(to: Double(lo), Double(hi))
    }
    let width = (histHi - histLo) / Double(Self.bins)
    for v in values where v.isFinite { counts[bin(of: Double(v), from: histLo, width: width)] += 1 }
    seen += values.count
  }

  public mutating func observe(_ values: [Float]) { values.withUnsafeBufferPointer { observe($0) } }

  /// The bin of `x` in a histogram starting at `start` with bins of `width` (> 0), clamped.
  private func bin(of x: Double, from start: Double, width: Double) -> Int {
    let t = (x - start) / width
    guard t.isFinite else { return t > 0 ? Self.bins - 1 : 0 }
    return Swift.min(Self.bins - 1, Swift.max(0, Int(Swift.min(t, Double(Self.bins)))))
  }

  /// Spreads the old bins over a wider range: each old bin's count goes to the new bin holding its centre.
  private mutating func rebin(to newLo: Double, _ newHi: Double) {
    let n = Self.bins
    // Grow by at least 2× so repeated small extensions do not blur the histogram each time.
    let span = max(newHi - newLo, 2 * (histHi - histLo))
    let lo2 = newLo < histLo ? min(newLo, histHi - span) : histLo
    let hi2 = lo2 + span
    var fresh = [Double](repeating: 0, count: n)
    let oldWidth = (histHi - histLo) / Double(n), newWidth = span / Double(n)
    for b in 0..<n where counts[b] > 0 {
      fresh[bin(of: histLo + (Double(b) + 0.5) * oldWidth, from: lo2, width: newWidth)] += counts[b]
    }
    counts = fresh
    histLo = lo2
    histHi = max(hi2, newHi)
  }

  /// The range the method chooses (always containing 0).
  public func range(_ method: RangeMethod, scheme: ActivationScheme, percentile: Double = 99.99) -> (lo: Float, hi: Float) {
    guard seen > 0 else { return (0, 0) }
    let full = (min(lo, 0), max(hi, 0))
    switch method {
    case .minmax, .easyquant, .pact: return full  // the latter two start here and refine on the layer
    case .dynamic: return full  // the calibration set's extremes (the runtime takes each batch's own)
    case .percentile: return percentileRange(percentile)
    case .mse: return bestClip(full, scheme: scheme) { clipped, step in Self.mse(self, clipped, step) }
    case .kl: return klRange(full, scheme: scheme)
    }
  }

  private func binCentre(_ b: Int) -> Double { histLo + (Double(b) + 0.5) * (histHi - histLo) / Double(Self.bins) }

  private func percentileRange(_ p: Double) -> (Float, Float) {
    let total = counts.reduce(0, +)
    let tail = total * (100 - p) / 100
    var acc = 0.0, lowBin = 0
    for b in 0..<Self.bins {
      acc += counts[b]
      if acc > tail { lowBin = b; break }
    }
    acc = 0
    var highBin = Self.bins - 1
    for b in stride(from: Self.bins - 1, through: 0, by: -1) {
      acc += counts[b]
      if acc > tail { highBin = b; break }
    }
    let width = (histHi - histLo) / Double(Self.bins)
    let l = lo >= 0 ? lo : Float(histLo + Double(lowBin) * width)
    let h = hi <= 0 ? hi : Float(histLo + Double(highBin + 1) * width)
    return (min(l, 0), max(h, 0))
  }

  /// Expected squared error of quantizing the histogram to the 256-level grid on `clipped`:
  /// clipping error for the mass outside, step²/12 for the mass inside.
  static func mse(_ o: RangeObserver, _ clipped: (lo: Float, hi: Float), _ step: Float) -> Double {
    var e = 0.0
    let lo = Double(clipped.lo), hi = Double(clipped.hi), inside = Double(step) * Double(step) / 12
    for b in 0..<bins where o.counts[b] > 0 {
      let x = o.binCentre(b)
      if x < lo {
        e += o.counts[b] * (lo - x) * (lo - x)
      } else if x > hi {
        e += o.counts[b] * (x - hi) * (x - hi)
      } else {
        e += o.counts[b] * inside
      }
    }
    return e
  }

  /// Shrinks the full range by factors in (0, 1] (both ends together) and keeps the best by `cost`.
  private func bestClip(_ full: (Float, Float), scheme: ActivationScheme, cost: ((lo: Float, hi: Float), Float) -> Double) -> (Float, Float) {
    var best = full, bestCost = Double.infinity
    for i in 1...100 {
      let f = Float(i) / 100
      let c = (lo: full.0 * f, hi: full.1 * f)
      let p = ActivationParameters.covering(lo: c.lo, hi: c.hi, scheme: scheme)
      let value = cost(c, p.scale)
      if value < bestCost {
        bestCost = value
        best = (c.lo, c.hi)
      }
    }
    return best
  }

  /// TensorRT-style entropy calibration: the threshold whose clipped distribution, merged into
  /// the code levels, loses the least information (KL divergence), over the histogram of the
  /// larger side of zero.
  private func klRange(_ full: (Float, Float), scheme: ActivationScheme) -> (Float, Float) {
    let positive = full.1 >= -full.0
    // Fold the histogram onto |x| for the chosen side, with as many bins as the original
    // histogram spends on that side (more would leave every other bin empty).
    let side = positive ? full.1 : -full.0
    guard side > 0 else { return full }
    let sideD = Double(side)
    let n = min(Self.bins, max(256, Int(min(Double(Self.bins) * sideD / (histHi - histLo), Double(Self.bins)))))
    var h = [Double](repeating: 0, count: n)
    for b in 0..<Self.bins where counts[b] > 0 {
      let x = binCentre(b)
      let v = positive ? x : -x
      guard v >= 0 else { continue }
      h[min(n - 1, Int(min(v / sideD * Double(n), Double(n))))] += counts[b]
    }
    // Levels on this side: 255 for a one-sided asymmetric range, 128 for a symmetric one.
    let levels = scheme == .asymmetric && (full.0 == 0 || full.1 == 0) ? 255 : 128
    var bestI = n, bestKL = Double.infinity
    for i in stride(from: levels, through: n, by: 16) {
      var p = Array(h[0..<i])
      p[i - 1] += h[i...].reduce(0, +)  // clipped mass goes to the last bin
      // q: p merged into `levels` bins, spread back uniformly over the nonzero bins of each.
      var q = [Double](repeating: 0, count: i)
      let per = Double(i) / Double(levels)
      for l in 0..<levels {
        let start = Int(Double(l) * per), end = max(start + 1, Int(Double(l + 1) * per))
        let slice = start..<min(end, i)
        let mass = slice.reduce(0.0) { $0 + h[$1] }
        let nonzero = slice.filter { h[$0] > 0 }.count
        if nonzero > 0 { for j in slice where h[j] > 0 { q[j] = mass / Double(nonzero) } }
      }
      let ps = p.reduce(0, +), qs = q.reduce(0, +)
      guard ps > 0, qs > 0 else { continue }
      var kl = 0.0
      for j in 0..<i where p[j] > 0 {
        let pj = p[j] / ps, qj = q[j] / qs
        kl += qj > 0 ? pj * log(pj / qj) : pj * 20  // an empty q bin where p has mass: heavy penalty
      }
      if kl < bestKL {
        bestKL = kl
        bestI = i
      }
    }
    let threshold = Float(sideD * Double(bestI) / Double(n))
    if positive { return (max(full.0, -threshold), threshold) }
    return (-threshold, min(full.1, threshold))
  }
}
