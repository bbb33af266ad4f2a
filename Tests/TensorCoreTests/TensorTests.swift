import XCTest

@testable import TensorCore

final class TensorTests: XCTestCase {
  func testCountsAndReshape() {
    let t = Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
    XCTAssertEqual(t.count, 6)
    XCTAssertEqual(Tensor(shape: [], floats: [5]).count, 1)
    XCTAssertEqual(Tensor.zeros([4, 0]).count, 0)
    XCTAssertEqual(t.reshaped([3, 2]).shape, [3, 2])
  }

  /// Casting float → integer truncates toward zero, as ONNX Cast does; integers wrap into range.
  func testIntegerConversions() {
    XCTAssertEqual(Tensor(shape: [4], floats: [1.9, -1.9, 0.5, -0.5]).asInts(), [1, -1, 0, 0])
    XCTAssertEqual(Tensor(shape: [3], ints: [127, 128, -129], dtype: .int8).ints, [127, -128, 127])
    XCTAssertEqual(Tensor(shape: [2], ints: [256, -1], dtype: .uint8).ints, [0, 255])
  }

  func testBroadcastShapes() {
    XCTAssertEqual(ShapeMath.broadcast([2, 1, 4], [3, 1]), [2, 3, 4])
    XCTAssertEqual(ShapeMath.broadcast([], [5]), [5])
    XCTAssertEqual(ShapeMath.broadcast([0, 3], [3]), [0, 3])
    XCTAssertNil(ShapeMath.broadcast([2, 3], [4]))
    XCTAssertEqual(ShapeMath.strides([2, 3, 4]), [12, 4, 1])
  }

  func testFloat16StorageRounds() {
    let t = Tensor(shape: [2], floats: [1.0001, 65504], dtype: .float16)
    XCTAssertEqual(t.floats, [1.0, 65504])
  }
}

final class DTypeTests: XCTestCase {
  /// Every dtype maps to its ONNX code and back; unknown codes (string = 8, bfloat16 = 16) are nil.
  func testONNXCodesRoundTrip() {
    for t in DType.allCases { XCTAssertEqual(DType(onnxCode: t.onnxCode), t) }
    XCTAssertEqual(DType.float32.onnxCode, 1)
    XCTAssertEqual(DType.int64.onnxCode, 7)
    XCTAssertNil(DType(onnxCode: 8))
    XCTAssertNil(DType(onnxCode: 16))
  }
}
