@preconcurrency import CGSL
import Kernels
import Foundation
import XCTest

@testable import Execution

/// GSL pulls in its own reference CBLAS (libgslcblas); the FP32 reference GEMM must come from
/// OpenBLAS instead.
final class BLASLinkTests: XCTestCase {
  func testSgemmResolvesToOpenBLAS() throws {
    // Touch GSL so that its link (and with it libgslcblas) is really present.
    XCTAssertNotNil(gsl_rng_types_setup())
    let library = BLAS.library
    XCTAssertTrue(library.contains("openblas"), "cblas_sgemm resolves to \(library)")
    XCTAssertFalse(library.contains("gslcblas"), "cblas_sgemm resolves to \(library)")
    // And it computes: [1 2; 3 4] · [5; 6] = [17; 39].
    var c: [Float] = [0, 0]
    BLAS.sgemm(m: 2, n: 1, k: 2, a: [1, 2, 3, 4], lda: 2, b: [5, 6], ldb: 1, c: &c, ldc: 1)
    XCTAssertEqual(c, [17, 39])
  }
}
