@preconcurrency import CGSL
import Foundation

/// A GSL call that failed, with GSL's own reason.
public struct GSLError: Error, CustomStringConvertible, Sendable {
  public var function: String
  /// GSL's status code (`GSL_ENOMEM`, `GSL_EINVAL`, …).
  public var status: Int32
  public var description: String {
    "\(function) failed: \(String(cString: gsl_strerror(status))) (GSL status \(status))"
  }
}

/// The one place that calls GSL: its error handler is turned off once (GSL would otherwise abort
/// the process), every status is checked and thrown as `GSLError`, and the memory GSL allocates
/// is owned by a Swift value that frees it.
enum GSL {
  /// Turns GSL's abort-on-error handler off; every entry point below evaluates it first.
  private static let errorHandlerOff: Void = { _ = gsl_set_error_handler_off() }()

  static func check(_ status: Int32, _ function: String) throws {
    guard status == Int32(GSL_SUCCESS) else { throw GSLError(function: function, status: status) }
  }

  /// GSL's Mersenne Twister (`gsl_rng_mt19937`), seeded; freed with the value.
  final class RandomGenerator {
    private let rng: UnsafeMutablePointer<gsl_rng>

    init(seed: UInt64) throws {
      _ = GSL.errorHandlerOff
      guard let r = gsl_rng_alloc(gsl_rng_mt19937) else { throw GSLError(function: "gsl_rng_alloc", status: Int32(GSL_ENOMEM)) }
      rng = r
      gsl_rng_set(rng, UInt(truncatingIfNeeded: seed))
    }

    deinit { gsl_rng_free(rng) }

    /// A uniform integer in 0..<n (n ≥ 1).
    func uniform(below n: Int) -> Int { Int(gsl_rng_uniform_int(rng, UInt(max(n, 1)))) }
  }

  /// The sample mean (0 for no samples).
  static func mean(_ s: [Double]) -> Double {
    guard !s.isEmpty else { return 0 }
    return s.withUnsafeBufferPointer { gsl_stats_mean($0.baseAddress, 1, s.count) }
  }

  /// The sample standard deviation (n − 1 in the denominator; 0 below two samples).
  static func standardDeviation(_ s: [Double]) -> Double {
    guard s.count > 1 else { return 0 }
    return s.withUnsafeBufferPointer { gsl_stats_sd($0.baseAddress, 1, s.count) }
  }

  /// The `p` quantile of Student's t with `dof` degrees of freedom.
  static func studentTQuantile(_ p: Double, dof: Double) -> Double {
    _ = errorHandlerOff
    return gsl_cdf_tdist_Pinv(p, dof)
  }

  /// Spearman's rank correlation of the first min(a, b) pairs (NaN below 3 pairs).
  static func spearman(_ a: [Double], _ b: [Double]) -> Double {
    let n = min(a.count, b.count)
    guard n >= 3 else { return .nan }
    var work = [Double](repeating: 0, count: 2 * n)
    return a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in work.withUnsafeMutableBufferPointer { pw in
      gsl_stats_spearman(pa.baseAddress, 1, pb.baseAddress, 1, n, pw.baseAddress)
    } } }
  }

  /// Eigenvalues of a dense symmetric m × m matrix (row-major; overwritten), by `gsl_eigen_symm`.
  static func symmetricEigenvalues(_ a: inout [Double], _ m: Int) throws -> [Double] {
    _ = errorHandlerOff
    guard m > 0 else { return [] }
    guard a.count == m * m else { throw GSLError(function: "gsl_eigen_symm", status: Int32(GSL_EBADLEN)) }
    guard let work = gsl_eigen_symm_alloc(m) else { throw GSLError(function: "gsl_eigen_symm_alloc", status: Int32(GSL_ENOMEM)) }
    defer { gsl_eigen_symm_free(work) }
    var values = [Double](repeating: 0, count: m)
    let status = a.withUnsafeMutableBufferPointer { pa in values.withUnsafeMutableBufferPointer { pv in
      var matrix = gsl_matrix_view_array(pa.baseAddress, m, m)
      var eval = gsl_vector_view_array(pv.baseAddress, m)
      return gsl_eigen_symm(&matrix.matrix, &eval.vector, work)
    } }
    try check(status, "gsl_eigen_symm")
    return values
  }
}
