import Foundation
import ZIPFoundation

/// NumPy `.npz` archives (stored or deflated): one `.npy` per named array.
public enum NPZ {
  /// Reads every array in the archive, keyed by its name without `.npy`.
  public static func read(_ url: URL) throws -> [String: Tensor] {
    try FileChecks.requireFile(url, what: ".npz archive")
    let archive: Archive
    do { archive = try Archive(url: url, accessMode: .read) } catch {
      throw TensorIOError("'\(url.path)' is not a readable .npz archive (\(error))")
    }
    return try arrays(of: archive, name: url.path)
  }

  /// Decodes the bytes of an archive; `name` appears in messages. Through a temporary file, so
  /// the bytes take the same path as `read` (ZIPFoundation's in-memory archive traps on some
  /// malformed archives that its file reader refuses cleanly; found by fuzzing).
  public static func decode(_ data: Data, name: String) throws -> [String: Tensor] {
    let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("mixprec-npz-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).npz")
    defer { try? FileManager.default.removeItem(at: tmp) }
    do { try data.write(to: tmp) } catch { throw TensorIOError("cannot stage '\(name)': \(error.localizedDescription)") }
    let archive: Archive
    do { archive = try Archive(url: tmp, accessMode: .read) } catch {
      throw TensorIOError("'\(name)' is not a readable .npz archive (\(error))")
    }
    return try arrays(of: archive, name: name)
  }

  static func arrays(of archive: Archive, name: String) throws -> [String: Tensor] {
    var result: [String: Tensor] = [:]
    for entry in archive where entry.type == .file {
      var data = Data()
      do { _ = try archive.extract(entry, consumer: { data.append($0) }) } catch {
        throw TensorIOError("'\(name)': cannot extract '\(entry.path)' (\(error))")
      }
      let key = entry.path.hasSuffix(".npy") ? String(entry.path.dropLast(4)) : entry.path
      result[key] = try NPY.decode(data, name: "\(name):\(entry.path)")
    }
    return result
  }

  /// Writes named arrays as an uncompressed `.npz`, through a temporary file renamed into place.
  public static func write(_ arrays: [String: Tensor], to url: URL) throws {
    do {
      let archive = try Archive(data: Data(), accessMode: .create)
      for name in arrays.keys.sorted() {
        let data = NPY.encode(arrays[name]!)
        try archive.addEntry(with: name + ".npy", type: .file, uncompressedSize: Int64(data.count),
          provider: { pos, size in data.subdata(in: Int(pos)..<Int(pos) + size) })
      }
      guard let bytes = archive.data else { throw TensorIOError("cannot build archive") }
      try AtomicFile.write(bytes, to: url)
    } catch let e as TensorIOError {
      throw e
    } catch {
      throw TensorIOError("cannot write '\(url.path)': \(error)")
    }
  }
}
