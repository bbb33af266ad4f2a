import Foundation
import GraphIR
import TensorCore

/// A folder of model inputs in the calibration format: one `<input name>.npy` per model input
/// (batch on axis 0) or one `.npz` holding them; optional `labels.npy` / `labels.txt`.
public struct InputFolder {
  public let url: URL
  /// One tensor per model input, batch on axis 0.
  public let tensors: [String: Tensor]

  /// File name used for a tensor called `name` ("/" and other path characters become "_").
  public static func fileName(_ name: String) -> String {
    String(name.map { "/\\:".contains($0) ? "_" : $0 }) + ".npy"
  }

  /// Loads the inputs `graph` needs from `url`.
  public init(_ url: URL, for graph: Graph) throws {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue else {
      throw GraphError("input folder '\(url.path)' does not exist or is not a folder")
    }
    self.url = url
    let files = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
    var archive: [String: Tensor] = [:]
    if let npz = files.filter({ $0.hasSuffix(".npz") }).sorted().first {
      archive = try NPZ.read(url.appendingPathComponent(npz))
    }
    var tensors: [String: Tensor] = [:]
    for input in graph.inputs {
      if let t = archive[input.name] ?? archive[String(InputFolder.fileName(input.name).dropLast(4))] {
        tensors[input.name] = t
        continue
      }
      let file = url.appendingPathComponent(InputFolder.fileName(input.name))
      guard FileManager.default.fileExists(atPath: file.path) else {
        throw GraphError("missing input file '\(file.path)' for model input '\(input.name)' (write one .npy per input, batch on axis 0)")
      }
      tensors[input.name] = try NPY.read(file)
    }
    try Self.check(tensors, against: graph, folder: url)
    self.tensors = tensors
  }

  /// Every input of the model's element type and declared rank and static dimensions, no
  /// dimension 0, and the same number of samples in each.
  static func check(_ tensors: [String: Tensor], against graph: Graph, folder: URL) throws {
    var samples: (String, Int)? = nil
    for input in graph.inputs {
      guard let t = tensors[input.name] else { continue }
      let file = "'\(folder.appendingPathComponent(InputFolder.fileName(input.name)).path)'"
      guard t.dtype == input.dtype else {
        throw GraphError("\(file) holds \(t.dtype) values; model input '\(input.name)' takes \(input.dtype) (write it with numpy's .astype)")
      }
      guard !t.shape.contains(0), !t.shape.isEmpty else {
        throw GraphError("\(file) has shape \(t.shape); every dimension of an input (batch on axis 0) must be at least 1")
      }
      do { try GraphPreparation.checkShape(t.shape, against: input) } catch let e as GraphError {
        throw GraphError("\(file): \(e.description)")
      }
      if let (name, n) = samples, n != t.shape[0] {
        throw GraphError("inputs '\(name)' and '\(input.name)' in '\(folder.path)' hold \(n) and \(t.shape[0]) samples; every input needs the same number on axis 0")
      }
      samples = samples ?? (input.name, t.shape[0])
    }
  }

  /// Samples in the folder: the first input's length along axis 0.
  public var sampleCount: Int { tensors.values.first?.shape.first ?? 0 }

  /// Integer labels from `labels.npy`, if present.
  public func integerLabels() throws -> [Int]? {
    let f = url.appendingPathComponent("labels.npy")
    guard FileManager.default.fileExists(atPath: f.path) else { return nil }
    return try NPY.read(f).asInts().map { Int($0) }
  }

  /// The folder's `meta.json`, if present: the metric it is scored by, the output that metric
  /// reads and that output's kind (other keys are notes for people and ignored).
  public func meta() throws -> FolderMeta? { try Self.meta(at: url) }

  /// The `meta.json` of the folder at `url`, without reading its tensors (nil when it has none).
  public static func meta(at url: URL) throws -> FolderMeta? {
    let f = url.appendingPathComponent("meta.json")
    guard FileManager.default.fileExists(atPath: f.path) else { return nil }
    do {
      return try JSONDecoder().decode(FolderMeta.self, from: Data(contentsOf: f))
    } catch {
      throw GraphError("'\(f.path)' is not a meta.json of an input folder (an object whose \"metric\", \"output\" and \"output_kind\" are strings, \"threshold\" a number): \(error)")
    }
  }

  /// Text labels from `labels.txt` (one per line), if present.
  public func textLabels() throws -> [String]? {
    let f = url.appendingPathComponent("labels.txt")
    guard FileManager.default.fileExists(atPath: f.path) else { return nil }
    let text = try String(contentsOf: f, encoding: .utf8)
    var lines = text.components(separatedBy: "\n")
    if lines.last == "" { lines.removeLast() }
    return lines
  }
}

extension Tensor {
  /// Rows `range` along axis 0.
  public func rows(_ range: Range<Int>) -> Tensor {
    let per = shape.dropFirst().reduce(1, *)
    var s = shape
    s[0] = range.count
    switch storage {
    case .float(let v): return Tensor(dtype: dtype, shape: s, storage: .float(Array(v[(range.lowerBound * per)..<(range.upperBound * per)])))
    case .int(let v): return Tensor(dtype: dtype, shape: s, storage: .int(Array(v[(range.lowerBound * per)..<(range.upperBound * per)])))
    case .bool(let v): return Tensor(dtype: dtype, shape: s, storage: .bool(Array(v[(range.lowerBound * per)..<(range.upperBound * per)])))
    }
  }

  /// The samples `indices` along axis 0, in that order (repeats allowed), of any element type.
  public func rows(at indices: [Int]) -> Tensor {
    let per = shape.dropFirst().reduce(1, *)
    var s = shape
    s[0] = indices.count
    func pick<T>(_ v: [T]) -> [T] { indices.flatMap { v[($0 * per)..<(($0 + 1) * per)] } }
    switch storage {
    case .float(let v): return Tensor(dtype: dtype, shape: s, storage: .float(pick(v)))
    case .int(let v): return Tensor(dtype: dtype, shape: s, storage: .int(pick(v)))
    case .bool(let v): return Tensor(dtype: dtype, shape: s, storage: .bool(pick(v)))
    }
  }

  /// Number of NaN values (0 for non-float tensors).
  public var nanCount: Int {
    if case .float(let v) = storage { return v.reduce(0) { $0 + ($1.isNaN ? 1 : 0) } }
    return 0
  }
}

/// What an input folder's `meta.json` says about how it is scored.
public struct FolderMeta: Decodable, Sendable, Equatable {
  /// `top1`, `ctc`, `embedding` or `mask-iou`.
  public var metric: String?
  /// The output the metric reads (and, unless `--output` says otherwise, the one compared).
  public var output: String?
  /// That output's kind (probs, logits, sigmoid, embedding, regression).
  public var outputKind: String?
  /// `mask-iou`: the map's threshold (default 0.3, PaddleOCR's DB binarization threshold).
  public var threshold: Double?

  enum CodingKeys: String, CodingKey {
    case metric, output, threshold
    case outputKind = "output_kind"
  }

  public init(metric: String? = nil, output: String? = nil, outputKind: String? = nil, threshold: Double? = nil) {
    self.metric = metric
    self.output = output
    self.outputKind = outputKind
    self.threshold = threshold
  }
}
