import Foundation

/// Splits independent work items over the machine's cores.
public enum Parallel {
  public static let cores = ProcessInfo.processInfo.activeProcessorCount

  /// Calls `body(i)` for i in 0..<count, in parallel when `count · costPerItem` is large enough
  /// to pay for handing work to a (spinning) worker: about 50k multiply-adds, measured on both
  /// models at batch 1 and the kernel benchmark (500k and 150k were slower); serially otherwise.
  @inline(__always)
  public static func forEach(_ count: Int, costPerItem: Int, threads: Int? = nil, _ body: (Int) -> Void) {
    forEachRange(count, costPerItem: costPerItem, threads: threads) { range in for i in range { body(i) } }
  }

  /// Like `forEach`, but hands each task a contiguous range of indices, so per-task state
  /// (scratch buffers) is set up once per range rather than once per index.
  ///
  /// - Parameters:
  ///   - threads: at most this many threads (nil: all cores); 1 runs serially.
  ///   - chunksPerThread: ranges per thread at full width (more balance uneven items, fewer keep
  ///     each thread's memory stream long).
  @inline(__always)
  public static func forEachRange(_ count: Int, costPerItem: Int, threads: Int? = nil, chunksPerThread: Int = 4,
                                  _ body: (Range<Int>) -> Void) {
    let width = Swift.min(threads ?? cores, cores)
    if count <= 1 || width <= 1 || count * costPerItem < 50_000 {
      if count > 0 { body(0..<count) }
      return
    }
    // Full width: several chunks per core balance uneven items; a narrower request gets exactly
    // one chunk per thread.
    let chunks = width == cores ? Swift.min(count, cores * chunksPerThread) : Swift.min(count, width)
    WorkerPool.shared.run(chunks: chunks, threads: width) { c in
      body((c * count / chunks)..<((c + 1) * count / chunks))
    }
  }
}
