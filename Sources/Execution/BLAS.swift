import CKernels
@preconcurrency import COpenBLAS
import Foundation

/// The one place that calls OpenBLAS: row-major single-precision GEMM.
public enum BLAS {
  /// Threads OpenBLAS may use (set once, to the machine's cores).
  public static let threads: Int = {
    let n = ProcessInfo.processInfo.activeProcessorCount
    openblas_set_num_threads(Int32(n))
    return n
  }()

  /// The library `cblas_sgemm` resolved to in this process (should be OpenBLAS, not gslcblas).
  public static var library: String {
    _ = threads
    return ck_library_of("cblas_sgemm").map { String(cString: $0) } ?? "unresolved"
  }

  /// C = alpha · op(A) · op(B) + beta · C, all row-major.
  ///
  ///     op(A): m × k   op(B): k × n   C: m × n
  ///
  /// - Parameters:
  ///   - lda, ldb, ldc: row strides in elements of the stored (untransposed) matrices.
  @inline(__always)
  public static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                           alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                           b: UnsafePointer<Float>, ldb: Int,
                           beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    _ = threads
    if m == 0 || n == 0 { return }
    if k == 0 {
      for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
      return
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
      Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
  }
}
