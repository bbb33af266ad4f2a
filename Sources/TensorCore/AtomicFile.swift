import Foundation

/// Writes files so that a reader never sees half of one: a temporary file beside the target,
/// then a rename into place.
public enum AtomicFile {
  public static func write(_ data: Data, to url: URL) throws {
    let dir = url.deletingLastPathComponent()
    let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
    do {
      try data.write(to: tmp)
      // rename(2) replaces the target atomically.
      guard rename(tmp.path, url.path) == 0 else {
        throw TensorIOError(String(cString: strerror(errno)))
      }
    } catch {
      try? FileManager.default.removeItem(at: tmp)
      let reason = (error as? TensorIOError)?.description ?? error.localizedDescription
      throw TensorIOError("cannot write '\(url.path)': \(reason)")
    }
  }
}
