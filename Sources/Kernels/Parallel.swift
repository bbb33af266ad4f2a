import Dispatch
import Foundation

/// Splits independent work items over the machine's cores.
public enum Parallel {
  public static let cores = ProcessInfo.processInfo.activeProcessorCount

  /// Calls `body(i)` for i in 0..<count, in parallel when `count · costPerItem` is large enough
  /// to pay for waking a thread (about 500k multiply-adds, measured on both models at batch 1);
  /// serially otherwise.
  @inline(__always)
  public static func forEach(_ count: Int, costPerItem: Int, threads: Int? = nil, _ body: (Int) -> Void) {
    forEachRange(count, costPerItem: costPerItem, threads: threads) { range in for i in range { body(i) } }
  }

  /// Like `forEach`, but hands each task a contiguous range of indices, so per-task state
  /// (scratch buffers) is set up once per range rather than once per index.
  ///
  /// - Parameter threads: at most this many threads (nil: all cores); 1 runs serially.
  @inline(__always)
  public static func forEachRange(_ count: Int, costPerItem: Int, threads: Int? = nil,
                                  _ body: (Range<Int>) -> Void) {
    let width = Swift.min(threads ?? cores, cores)
    if count <= 1 || width <= 1 || count * costPerItem < 500_000 {
      if count > 0 { body(0..<count) }
      return
    }
    // Full width: four chunks per core balance uneven items; a narrower request gets exactly
    // one chunk per thread, so no more than `width` run at once.
    let chunks = width == cores ? Swift.min(count, cores * 4) : Swift.min(count, width)
    withoutActuallyEscaping(body) { escapable in
      // Callers hand in closures over disjoint slices of raw buffers; each index runs once.
      nonisolated(unsafe) let work = escapable
      DispatchQueue.concurrentPerform(iterations: chunks) { c in
        work((c * count / chunks)..<((c + 1) * count / chunks))
      }
    }
  }
}
