import CKernels
import Synchronization

/// Keeps freed activation buffers inside the process instead of returning them to the kernel.
///
/// Every op allocates its output; with glibc's defaults each large buffer is mapped fresh and
/// every page faults on first touch, which cost more than the arithmetic of the element-wise
/// ops. A large top pad keeps the heap grown (measured with `mixprec bench model`).
public enum MemoryTuning {
  private static let done = Atomic<Bool>(false)

  public static func apply() {
    if !done.exchange(true, ordering: .acquiringAndReleasing) { ck_tune_allocator() }
  }
}
