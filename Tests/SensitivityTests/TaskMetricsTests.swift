import XCTest

@testable import Sensitivity
@testable import TensorCore

final class TaskMetricsTests: XCTestCase {
  func testTop1() {
    let scores = Tensor(shape: [3, 2], floats: [0.9, 0.1, 0.2, 0.8, 0.6, 0.4])
    XCTAssertEqual(TaskMetrics.top1(scores, labels: [0, 1, 1]), 2.0 / 3.0, accuracy: 1e-12)
    XCTAssertTrue(TaskMetrics.top1(scores, labels: [0]).isNaN)
  }

  /// Repeats merge, blanks separate repeats, and the last class is the space.
  func testCTCDecode() {
    // classes: 0 blank, 1 "a", 2 "b", 3 " ".
    func onehot(_ ids: [Int]) -> [Float] { ids.flatMap { id in (0..<4).map { $0 == id ? Float(1) : 0 } } }
    let out = Tensor(shape: [2, 6, 4], floats: onehot([1, 1, 0, 1, 2, 2]) + onehot([0, 2, 3, 3, 1, 0]))
    XCTAssertEqual(TaskMetrics.ctcDecode(out, dictionary: "a\nb"), ["aab", "b a"])
  }

  func testEditDistanceAndCER() {
    XCTAssertEqual(TaskMetrics.editDistance(Array("kitten"), Array("sitting")), 3)
    XCTAssertEqual(TaskMetrics.editDistance(Array(""), Array("abc")), 3)
    XCTAssertEqual(TaskMetrics.editDistance(Array("abc"), Array("")), 3)
    let r = TaskMetrics.textAccuracy(predicted: ["abc", "abd"], references: ["abc", "abc"])
    XCTAssertEqual(r.exactMatch, 0.5)
    XCTAssertEqual(r.cer, 1.0 / 6.0, accuracy: 1e-12)
    // Spaces do not count (PaddleOCR's ignore_space): margins read as spaces are not errors.
    let spaced = TaskMetrics.textAccuracy(predicted: [" ab c ", "abd"], references: ["ab c", "ab c"])
    XCTAssertEqual(spaced.exactMatch, 0.5)
    XCTAssertEqual(spaced.cer, 1.0 / 6.0, accuracy: 1e-12)
  }
}
