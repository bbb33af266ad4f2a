import CKernels

/// The log terms of the output comparisons in double precision, on the C kernels
/// (`ck_divergence.c`: one polynomial log, a scalar `_ref` twin and AVX2 / AVX-512 copies with its
/// bits), instead of a libm call per element.
public enum Divergence {
  /// Σ_{x_i > 0} x_i · log(x_i / max(y_i, floor)).
  public static func probsTerms(_ x: UnsafeBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>, floor: Double,
                                isa: KernelISA = .selected) -> Double {
    precondition(x.count == y.count, "the two rows differ in length")
    guard let px = x.baseAddress, let py = y.baseAddress else { return 0 }
    return ck_kl_probs_for(isa.c)!(px, py, x.count, floor)
  }

  /// Σ_i p·log(p/q) + (1 − p)·log((1 − p)/(1 − q)), p and q the values clamped to [eps, 1 − eps].
  public static func bernoulliTerms(_ x: UnsafeBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>, eps: Double,
                                    isa: KernelISA = .selected) -> Double {
    precondition(x.count == y.count, "the two rows differ in length")
    guard let px = x.baseAddress, let py = y.baseAddress else { return 0 }
    return ck_kl_bernoulli_for(isa.c)!(px, py, x.count, eps)
  }

  /// One row's sums: Σx², Σy², Σxy, Σ(x−y)², Σmax(x,0), Σmax(y,0).
  public struct RowSums: Equatable, Sendable {
    public var xx = 0.0, yy = 0.0, xy = 0.0, squaredError = 0.0, positiveX = 0.0, positiveY = 0.0
  }

  public static func rowSums(_ x: UnsafeBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>, isa: KernelISA = .selected) -> RowSums {
    precondition(x.count == y.count, "the two rows differ in length")
    guard let px = x.baseAddress, let py = y.baseAddress else { return RowSums() }
    return withUnsafeTemporaryAllocation(of: Double.self, capacity: 6) { out in
      ck_row_sums_for(isa.c)!(px, py, x.count, out.baseAddress!)
      return RowSums(xx: out[0], yy: out[1], xy: out[2], squaredError: out[3], positiveX: out[4], positiveY: out[5])
    }
  }

  /// The kernels' log (for tests).
  public static func log(_ v: Double) -> Double { ck_divergence_log(v) }
}
