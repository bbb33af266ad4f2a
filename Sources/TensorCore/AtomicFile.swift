import Foundation

/// Writes files so that a reader never sees half of one: a temporary file beside the target,
/// then a rename into place.
public enum AtomicFile {
  public static func write(_ data: Data, to url: URL) throws {
    let dir = url.deletingLastPathComponent()
    let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
    do {
      try data.write(to: tmp)
      if FileManager.default.fileExists(atPath: url.path) {
        _ = try FileManager.default.replaceItemAt(url, withItemAt: tmp)
      } else {
        try FileManager.default.moveItem(at: tmp, to: url)
      }
    } catch {
      try? FileManager.default.removeItem(at: tmp)
      throw TensorIOError("cannot write '\(url.path)': \(error.localizedDescription)")
    }
  }
}
