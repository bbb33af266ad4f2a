import CKernels
@preconcurrency import COpenBLAS
import Foundation

/// The one place that calls OpenBLAS: row-major single-precision GEMM.
public enum BLAS {
  /// Threads OpenBLAS may use: one. The runtime splits work over cores itself (images of a
  /// batch, or column panels of one GEMM), so OpenBLAS's own busy-waiting threads never compete
  /// with ours for the same cores.
  public static let threads: Int = {
    openblas_set_num_threads(1)
    return 1
  }()

  /// The library `cblas_sgemm` resolved to in this process (should be OpenBLAS, not gslcblas).
  public static var library: String {
    _ = threads
    return ck_library_of("cblas_sgemm").map { String(cString: $0) } ?? "unresolved"
  }

  /// The CPU core type OpenBLAS chose its kernels for (`openblas_get_corename`): a CPU newer than
  /// the library falls back to a generic core such as "Prescott".
  public static var coreName: String {
    openblas_get_corename().map { String(cString: $0) } ?? "unknown"
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

  /// `sgemm` split over the machine's cores in column panels of C (or row panels when C is
  /// narrow); a single call for small products.
  public static func sgemmParallel(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                                   alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                                   b: UnsafePointer<Float>, ldb: Int,
                                   beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    let parts = Parallel.cores
    if parts == 1 || m * n * k < 1 << 20 || (n < 32 * parts && m < 8 * parts) {
      sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
        beta: beta, c: c, ldc: ldc)
      return
    }
    if n >= 32 * parts {
      // Column panels, each a multiple of 16 wide.
      let panel = ((n + parts - 1) / parts + 15) / 16 * 16
      Parallel.forEach((n + panel - 1) / panel, costPerItem: 1 << 20) { p in
        let j0 = p * panel, width = Swift.min(panel, n - j0)
        sgemm(transA: transA, transB: transB, m: m, n: width, k: k, alpha: alpha, a: a, lda: lda,
          b: transB ? b + j0 * ldb : b + j0, ldb: ldb, beta: beta, c: c + j0, ldc: ldc)
      }
    } else {
      let panel = (m + parts - 1) / parts
      Parallel.forEach((m + panel - 1) / panel, costPerItem: 1 << 20) { p in
        let i0 = p * panel, height = Swift.min(panel, m - i0)
        sgemm(transA: transA, transB: transB, m: height, n: n, k: k, alpha: alpha, a: transA ? a + i0 : a + i0 * lda,
          lda: lda, b: b, ldb: ldb, beta: beta, c: c + i0 * ldc, ldc: ldc)
      }
    }
  }
}
