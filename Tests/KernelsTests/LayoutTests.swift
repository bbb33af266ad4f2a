import CKernels
import XCTest

/// The C structs the Swift side fills in are checked twice: a _Static_assert in the header and here.
final class LayoutTests: XCTestCase {
  func testStructLayoutsMatchTheCHeaders() {
    XCTAssertEqual(MemoryLayout<ck_conv_geometry>.size, 12 * 4)
    XCTAssertEqual(MemoryLayout<ck_q_weights>.size, 48)
    XCTAssertEqual(MemoryLayout<ck_q_activations>.size, 24)
    XCTAssertEqual(MemoryLayout<ck_q_epilogue>.size, 56)
    XCTAssertEqual(MemoryLayout<ck_q_epilogue>.offset(of: \ck_q_epilogue.y), 32)
    XCTAssertEqual(MemoryLayout<ck_q_weights>.offset(of: \ck_q_weights.scales), 32)
  }

  func testPackedSizesFollowTheBlocks() {
    // 9 rows → 2 panels of 8; int4 packs two values per byte.
    XCTAssertEqual(ck_q_packed_bytes(8, 9, 16), 2 * 8 * 16)
    XCTAssertEqual(ck_q_packed_bytes(4, 9, 16), 2 * 8 * 16 / 2)
    XCTAssertEqual(ck_q_packed_activation_bytes(33, 8), 64 * 8)
  }
}
