import Foundation
import TensorCore

/// Why an output path is refused before any work.
public enum OutputError: Error, CustomStringConvertible, Equatable, Sendable {
  case folderMissing(option: String, path: String, folder: String)
  /// Something other than a regular file is already there (a folder, link, device, FIFO).
  case notAFile(option: String, path: String, kind: String)
  /// The output would replace one of the command's inputs.
  case isInput(option: String, path: String, input: String)
  /// Two outputs name the same file.
  case collide(option: String, other: String, path: String)

  public var description: String {
    switch self {
    case .folderMissing(let option, let path, let folder): return "\(option) '\(path)': folder '\(folder)' does not exist"
    case .notAFile(let option, let path, let kind): return "\(option) '\(path)' is \(kind); give the path of a file to write"
    case .isInput(let option, let path, let input):
      return "\(option) '\(path)' would overwrite the input '\(input)'; write the output somewhere else"
    case .collide(let option, let other, let path): return "\(option) and \(other) both name '\(path)'; give each output its own path"
    }
  }
}

/// Checks a command's output files against each other and against its inputs before any work:
/// every output's folder exists, nothing but a regular file is in the way, no output is an input
/// (the same path after resolving links, or the same file under another name), and no two
/// outputs are the same file. Inputs that are folders cover every file in them.
public enum OutputPaths {
  public static func check(_ outputs: [(option: String, url: URL)], inputs: [URL]) throws {
    var inputFiles: [URL] = []
    for i in inputs {
      if FileChecks.kind(i.resolvingSymlinksInPath().path) == .directory {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: i.path)) ?? []
        inputFiles += names.map { i.appendingPathComponent($0) }
      } else {
        inputFiles.append(i)
      }
    }
    let inputKeys = inputFiles.map { (url: $0, path: resolved($0), id: FileChecks.identity($0.path)) }
    var seen: [(option: String, path: String)] = []
    for (option, url) in outputs {
      let folder = url.deletingLastPathComponent()
      guard FileChecks.kind(folder.resolvingSymlinksInPath().path) == .directory else {
        throw OutputError.folderMissing(option: option, path: url.path, folder: folder.path)
      }
      let kind = FileChecks.kind(url.path)
      guard kind == .missing || kind == .regular else { throw OutputError.notAFile(option: option, path: url.path, kind: kind.name) }
      let path = resolved(url), id = FileChecks.identity(url.path)
      if let hit = inputKeys.first(where: { $0.path == path || (id != nil && $0.id.map { $0 == id! } == true) }) {
        throw OutputError.isInput(option: option, path: url.path, input: hit.url.path)
      }
      if let other = seen.first(where: { $0.path == path }) { throw OutputError.collide(option: other.option, other: option, path: url.path) }
      seen.append((option, path))
    }
  }

  /// The absolute path with the folder's links resolved (the file itself may not exist yet).
  static func resolved(_ url: URL) -> String {
    url.deletingLastPathComponent().resolvingSymlinksInPath().appendingPathComponent(url.lastPathComponent).standardizedFileURL.path
  }
}
