import Findings
import Foundation

/// Ω screening's decisions on numbers alone (no runtime): which (layer, option) pairs to
/// measure so that the budgeted choice is the one the measured damages would give.
///
/// Every pair has a HAWQ-V2 score Ω; a log-linear fit per candidate on the measured pairs
/// (log damage ≈ a + b·log Ω, residual spread σ) predicts the rest with a band d̂·e^{±zσ}. A
/// layer measured at another candidate q predicts its candidate p better when the layers
/// measured at both say so: log(d_p/d_q) ≈ a + b·log(Ω_p/Ω_q) (the trace cancels; only the
/// weight errors' ratio remains), used when its spread is the smaller. The
/// budget enters through its Lagrangian: with the multiplier λ at which the per-layer choices
/// argmin(damage + λ·resource) just fit the budget (the marginal trade-off), a layer is decided
/// when its choice's pessimistic cost stays below every other option's optimistic one, at λ/κ,
/// λ and λ·κ; otherwise the unmeasured pairs among the contenders are measured next.
public struct Screening: Sendable {
  public typealias Fit = AnalysisResult.Screening.Fit

  /// Resource use per layer (model order) and option (option 0 is FP32, damage 0).
  public var resource: [[Double]]
  public var budget: Double
  /// Ω per layer and option (index 0 unused); nil or not positive: no prediction, measure it.
  public var omega: [[Double?]]
  /// Half-width of the prediction band in residual spreads.
  public var z = 2.0
  /// The multiplier's band.
  public var kappa = 1.5

  public init(resource: [[Double]], budget: Double, omega: [[Double?]]) {
    self.resource = resource
    self.budget = budget
    self.omega = omega
  }

  /// Least squares of log damage on log Ω (slope kept in [0.2, 2]); with fewer than 3 pairs
  /// slope 1 and a wide spread. Damages below 1e-12 count as 1e-12.
  public static func fit(_ pairs: [(omega: Double, damage: Double)]) -> Fit {
    let xs = pairs.map { log($0.omega) }, ys = pairs.map { log(max($0.damage, 1e-12)) }
    let n = Double(xs.count)
    guard xs.count >= 3 else {
      let a = xs.isEmpty ? 0 : zip(xs, ys).map { $1 - $0 }.reduce(0, +) / n
      return Fit(intercept: a, slope: 1, spread: 1, pairs: xs.count)
    }
    let mx = xs.reduce(0, +) / n, my = ys.reduce(0, +) / n
    let sxx = xs.reduce(0) { $0 + ($1 - mx) * ($1 - mx) }
    let sxy = zip(xs, ys).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }
    let slope = min(max(sxx > 0 ? sxy / sxx : 1, 0.2), 2)
    let a = my - slope * mx
    let ss = zip(xs, ys).reduce(0) { $0 + pow($1.1 - (a + slope * $1.0), 2) }
    return Fit(intercept: a, slope: slope, spread: max(sqrt(ss / (n - 2)), 0.25), pairs: xs.count)
  }

  public static func predict(_ f: Fit, omega: Double) -> Double { exp(f.intercept + f.slope * log(omega)) }

  /// The seed: `count` layers spread evenly over the ranks of the last option's Ω (the highest
  /// and the lowest included), each at every option (so the ratio fits have pairs), and every
  /// pair without a usable Ω.
  public func seed(count: Int) -> Set<Pair> {
    var out = Set<Pair>()
    let options = resource.first?.count ?? 1
    guard options > 1 else { return out }
    for l in omega.indices { for o in 1..<options where !usable(omega[l][o]) { out.insert(Pair(layer: l, option: o)) } }
    let last = options - 1
    let ranked = omega.indices.filter { usable(omega[$0][last]) }.sorted { omega[$0][last]! > omega[$1][last]! }
    guard !ranked.isEmpty else { return out }
    let k = min(max(count, 2), ranked.count)
    for i in 0..<k {
      let l = ranked[k == 1 ? 0 : i * (ranked.count - 1) / (k - 1)]
      for o in 1..<options { out.insert(Pair(layer: l, option: o)) }
    }
    return out
  }

  public struct Pair: Hashable, Sendable {
    public var layer: Int, option: Int
    public init(layer: Int, option: Int) {
      self.layer = layer
      self.option = option
    }
  }

  func usable(_ w: Double?) -> Bool { w.map { $0 > 0 && $0.isFinite } ?? false }

  /// The fits of the measured pairs: per option its Ω fit, and per (p, q) the ratio fit.
  public struct Fits: Sendable {
    public var direct: [Int: Fit] = [:]
    /// [p][q]: log(d_p/d_q) on log(Ω_p/Ω_q) over the layers measured at both (3 or more).
    public var neighbor: [Int: [Int: Fit]] = [:]
  }

  public func fits(measured: [[Double?]]) -> Fits {
    var out = Fits()
    let options = resource.first?.count ?? 1
    for p in 1..<max(options, 1) {
      out.direct[p] = Self.fit(omega.indices.compactMap { l in
        guard usable(omega[l][p]), let d = measured[l][p] else { return nil }
        return (omega[l][p]!, d)
      })
      for q in 1..<options where q != p {
        let pairs = omega.indices.compactMap { l -> (omega: Double, damage: Double)? in
          guard usable(omega[l][p]), usable(omega[l][q]), let dp = measured[l][p], let dq = measured[l][q], dq > 0 else { return nil }
          return (omega[l][p]! / omega[l][q]!, dp / dq)
        }
        if pairs.count >= 3 { out.neighbor[p, default: [:]][q] = Self.fit(pairs) }
      }
    }
    return out
  }

  /// The damage band of every pair: measured ones exact, ones measured on a sub-sample only
  /// (`probed`, the sub-sample's log spread per option `probeSpread`) d·e^{±zσ}, predicted ones d̂·e^{±zσ}
  /// from the fit with the smallest spread, FP32 0; nil for a pair neither measured nor predictable.
  public func bands(measured: [[Double?]], fits: Fits, probed: [[Double?]] = [], probeSpread: [Double] = []) -> [[ClosedRange<Double>?]] {
    omega.indices.map { l in
      (0..<resource[l].count).map { o -> ClosedRange<Double>? in
        if o == 0 { return 0...0 }
        if let d = measured[l][o] { return d...d }
        if l < probed.count, let d = probed[l][o] {
          let w = exp(z * (o < probeSpread.count ? probeSpread[o] : 1))
          return (d / w)...(d * w)
        }
        guard usable(omega[l][o]) else { return nil }
        var best: (d: Double, spread: Double)? = fits.direct[o].map { (Self.predict($0, omega: omega[l][o]!), $0.spread) }
        for (q, f) in fits.neighbor[o] ?? [:] {
          guard let dq = measured[l][q], dq > 0, usable(omega[l][q]), f.spread < (best?.spread ?? .infinity) else { continue }
          best = (dq * Self.predict(f, omega: omega[l][o]! / omega[l][q]!), f.spread)
        }
        guard let best else { return nil }
        let w = exp(z * best.spread)
        return (best.d / w)...(best.d * w)
      }
    }
  }

  /// Per layer, the option minimizing damage + λ·resource (the smaller resource on ties).
  public static func choice(damage: [[Double]], resource: [[Double]], lambda: Double) -> [Int] {
    zip(damage, resource).map { d, r in
      d.indices.min { a, b in
        let ca = d[a] + lambda * r[a], cb = d[b] + lambda * r[b]
        return ca != cb ? ca < cb : r[a] < r[b]
      } ?? 0
    }
  }

  /// The smallest λ whose choices fit in `budget` (bisection on log λ; the largest tried when
  /// none fits, a tiny one when the budget does not bind).
  public static func multiplier(damage: [[Double]], resource: [[Double]], budget: Double) -> Double {
    func fits(_ t: Double) -> Bool {
      let c = choice(damage: damage, resource: resource, lambda: exp(t))
      return c.enumerated().reduce(0) { $0 + resource[$1.offset][$1.element] } <= budget
    }
    var lo = -80.0, hi = 80.0
    if fits(lo) { return exp(lo) }
    if !fits(hi) { return exp(hi) }
    for _ in 0..<100 {
      let mid = (lo + hi) / 2
      if fits(mid) { hi = mid } else { lo = mid }
    }
    return exp(hi)
  }

  /// The log spread of one option's sub-sample damages around the full ones: 1.4826 × the
  /// median of |log(probe/full)| over the pairs with both above 1e-12 (the standard deviation of
  /// normal noise, robust to the few near-zero damages whose ratio is noise alone), at least
  /// 0.05; 1 with fewer than 3 such pairs.
  public static func probeSpread(_ pairs: [(probe: Double, full: Double)]) -> Double {
    let logs = pairs.filter { $0.probe > 1e-12 && $0.full > 1e-12 }.map { abs(log($0.probe / $0.full)) }.sorted()
    guard logs.count >= 3 else { return 1 }
    let mid = logs.count / 2
    let median = logs.count % 2 == 1 ? logs[mid] : (logs[mid - 1] + logs[mid]) / 2
    return max(1.4826 * median, 0.05)
  }

  /// The unmeasured pairs whose measurement could change a layer's choice; empty when every
  /// layer is decided. Pairs with no band (no Ω, no fit) are always returned.
  public func uncertain(measured: [[Double?]], fits: Fits, probed: [[Double?]] = [], probeSpread: [Double] = []) -> Set<Pair> {
    let band = bands(measured: measured, fits: fits, probed: probed, probeSpread: probeSpread)
    var out = Set<Pair>()
    for (l, row) in band.enumerated() {
      for (o, b) in row.enumerated() where b == nil { out.insert(Pair(layer: l, option: o)) }
    }
    // Unknown pairs count as damage-free: their measurement is due anyway.
    let nominal = band.map { row in row.map { b in b.map { sqrt(max($0.lowerBound, 1e-300) * $0.upperBound) } ?? 0 } }
    let lambda = Self.multiplier(damage: nominal, resource: resource, budget: budget)
    for scale in [1 / kappa, 1, kappa] {
      let lam = lambda * scale
      let chosen = Self.choice(damage: nominal, resource: resource, lambda: lam)
      for (l, c) in chosen.enumerated() {
        guard let chosenBand = band[l][c] else { continue }
        let worst = chosenBand.upperBound + lam * resource[l][c]
        let contenders = band[l].indices.filter { o in
          o == c || band[l][o].map { $0.lowerBound + lam * resource[l][o] < worst } ?? false
        }
        guard contenders.count > 1 else { continue }
        for o in contenders where o > 0 && measured[l][o] == nil { out.insert(Pair(layer: l, option: o)) }
      }
    }
    return out
  }
}
