import Foundation
import Synchronization

/// Persistent worker threads that spin briefly between jobs.
///
/// libdispatch on Linux takes about 55 µs to wake a worker (measured: two 100 µs halves take
/// 156 µs through `concurrentPerform`), which is most of a batch-1 layer. These workers poll for
/// the next job for `spinNanoseconds` after each one, then sleep on a condition variable; the
/// calling thread takes chunks too, so a job never waits for a worker to wake.
final class WorkerPool: @unchecked Sendable {
  static let shared = WorkerPool(workers: Parallel.cores - 1)

  /// How long an idle worker polls before sleeping (a few layers' gap at batch 1).
  static let spinNanoseconds: UInt64 = 2_000_000

  private let generation = Atomic<Int>(0)
  private let nextChunk = Atomic<Int>(Int.max / 2)
  private let finished = Atomic<Int>(0)
  private let busy = Atomic<Bool>(false)
  /// Workers inside `take()`: the caller drops the job only when none is, so no worker can hold
  /// a reference to it when `withoutActuallyEscaping` checks (a straggler of a finished job was
  /// seen to trip that check under load).
  private let inside = Atomic<Int>(0)
  private let sleeping = NSCondition()
  // Published before `nextChunk` is reset (release) and read after a chunk is claimed (acquire).
  private nonisolated(unsafe) var job: ((Int) -> Void)? = nil
  private nonisolated(unsafe) var chunks = 0
  private nonisolated(unsafe) var width = 0
  let workers: Int

  init(workers: Int) {
    self.workers = max(workers, 0)
    for index in 0..<self.workers {
      let thread = Thread { [unowned self] in self.workerLoop(index) }
      thread.name = "mixprec-worker-\(index)"
      thread.start()
    }
  }

  /// Runs body(0..<chunks) on the caller plus up to `threads − 1` workers; returns when all are
  /// done. A call made while another job runs (nested parallelism) runs serially instead.
  func run(chunks count: Int, threads: Int, _ body: (Int) -> Void) {
    guard workers > 0, threads > 1, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
    else {
      for i in 0..<count { body(i) }
      return
    }
    withoutActuallyEscaping(body) { escapable in
      job = escapable
      chunks = count
      width = threads - 1
      finished.store(0, ordering: .relaxed)
      nextChunk.store(0, ordering: .releasing)
      generation.add(1, ordering: .releasing)
      sleeping.lock()
      sleeping.broadcast()
      sleeping.unlock()
      take()
      while finished.load(ordering: .acquiring) < count {}
      nextChunk.store(Int.max / 2, ordering: .sequentiallyConsistent)  // far from overflow for stragglers
      while inside.load(ordering: .sequentiallyConsistent) > 0 {}
      job = nil
    }
    busy.store(false, ordering: .releasing)
  }

  /// Claims and runs chunks until none are left. The job is touched only for a claimed chunk,
  /// and its reference is dropped (inside `runChunk`) before the chunk counts as finished, so
  /// the caller's `withoutActuallyEscaping` never sees it escape.
  private func take() {
    while true {
      let i = nextChunk.add(1, ordering: .sequentiallyConsistent).oldValue
      guard i < chunks else { return }
      runChunk(i)
      finished.add(1, ordering: .releasing)
    }
  }

  @inline(never)
  private func runChunk(_ i: Int) { job.unsafelyUnwrapped(i) }

  private func workerLoop(_ index: Int) {
    var seen = 0
    while true {
      let start = DispatchTime.now().uptimeNanoseconds
      var polls = 0
      while generation.load(ordering: .acquiring) == seen {
        polls += 1
        if polls & 1023 == 0 && DispatchTime.now().uptimeNanoseconds - start > Self.spinNanoseconds {
          sleeping.lock()
          while generation.load(ordering: .acquiring) == seen { sleeping.wait() }
          sleeping.unlock()
        }
      }
      seen = generation.load(ordering: .acquiring)
      if index < width {
        inside.add(1, ordering: .sequentiallyConsistent)
        take()
        inside.subtract(1, ordering: .sequentiallyConsistent)
      }
    }
  }
}
