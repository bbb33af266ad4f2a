import Kernels
import Synchronization
import XCTest

/// The worker pool behind `Parallel`: every index runs exactly once, at any width, nested calls
/// included, over many back-to-back jobs (the pool's workers spin between them).
final class ParallelTests: XCTestCase {
  func testEveryIndexRunsExactlyOnce() {
    for count in [0, 1, 2, 7, 64, 1001] {
      for threads in [nil, 1, 2, 3] as [Int?] {
        for _ in 0..<50 {
          var counts = [Int](repeating: 0, count: count)
          counts.withUnsafeMutableBufferPointer { hits in
            let base = hits.baseAddress
            Parallel.forEachRange(count, costPerItem: 1_000_000, threads: threads) { range in
              for i in range { base![i] += 1 }
            }
          }
          XCTAssertEqual(counts, [Int](repeating: 1, count: count), "count \(count) threads \(String(describing: threads))")
        }
      }
    }
  }

  func testNestedCallsRunSeriallyAndComplete() {
    let total = Atomic<Int>(0)
    Parallel.forEach(8, costPerItem: 1_000_000) { _ in
      Parallel.forEach(8, costPerItem: 1_000_000) { _ in total.add(1, ordering: .relaxed) }
    }
    XCTAssertEqual(total.load(ordering: .relaxed), 64)
  }
}
