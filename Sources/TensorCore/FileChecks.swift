import Foundation

/// What a path is on disk, for checks before reading or writing.
public enum FileKind: Equatable, Sendable {
  case missing, regular, directory, symlink, other
  public var name: String {
    switch self {
    case .missing: return "missing"
    case .regular: return "a file"
    case .directory: return "a folder"
    case .symlink: return "a symbolic link"
    case .other: return "a device, FIFO or socket"
    }
  }
}

public enum FileChecks {
  /// The kind of `path` itself (a symbolic link is reported as one, not followed).
  public static func kind(_ path: String) -> FileKind {
    var st = stat()
    guard lstat(path, &st) == 0 else { return .missing }
    switch st.st_mode & S_IFMT {
    case S_IFREG: return .regular
    case S_IFDIR: return .directory
    case S_IFLNK: return .symlink
    default: return .other
    }
  }

  /// Throws unless `url` names a readable regular file (links followed): the message says what
  /// is there instead.
  public static func requireFile(_ url: URL, what: String) throws {
    var st = stat()
    guard stat(url.path, &st) == 0 else { throw TensorIOError("\(what) '\(url.path)' not found") }
    switch st.st_mode & S_IFMT {
    case S_IFREG: return
    case S_IFDIR: throw TensorIOError("\(what) '\(url.path)' is a folder; give the file")
    default: throw TensorIOError("\(what) '\(url.path)' is not a regular file")
    }
  }

  /// (device, inode) of an existing path (links followed), to recognize one file under two names.
  public static func identity(_ path: String) -> (UInt64, UInt64)? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return (UInt64(st.st_dev), UInt64(st.st_ino))
  }
}
