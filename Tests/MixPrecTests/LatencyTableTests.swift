import MixPrec
import TensorCore
import XCTest

final class LatencyTableTests: XCTestCase {
  /// FP32 run + Σ (t(layer, p) − t(layer, fp32)): layers left out stay at their FP32 time.
  func testPredictionAddsEachLayersDifference() {
    let t = LatencyTable(modelSHA256: "x", machine: "m", batch: 1, fp32Seconds: 10,
      layers: ["a": ["fp32": 3, "int8": 1, "int4": 0.5], "b": ["fp32": 4, "int8": 2]])
    XCTAssertEqual(t.predict([:]), 10)
    XCTAssertEqual(t.predict(["a": .int8]), 8)
    XCTAssertEqual(t.predict(["a": .int4, "b": .int8]), 10 - 2.5 - 2)
    XCTAssertEqual(t.predict(["c": .int8]), 10, "an unknown layer changes nothing")
  }

  func testCacheFileNamesModelBatchAndMachine() {
    let a = LatencyTable.cacheFile(modelSHA256: String(repeating: "ab", count: 32), batch: 1)
    let b = LatencyTable.cacheFile(modelSHA256: String(repeating: "ab", count: 32), batch: 8)
    XCTAssertNotEqual(a, b)
    XCTAssertTrue(a.lastPathComponent.hasPrefix(String(repeating: "ab", count: 8) + "-b1-"))
    // Dynamic input ranges time other kernels' work: another file.
    let d = LatencyTable.cacheFile(modelSHA256: String(repeating: "ab", count: 32), batch: 1, variant: "dynamic")
    XCTAssertNotEqual(a, d)
    XCTAssertTrue(d.lastPathComponent.hasPrefix(String(repeating: "ab", count: 8) + "-b1-dynamic-"))
  }
}
