import Execution
import Foundation
import GraphIR
import Kernels
import TensorCore

/// Per-layer latency at each precision, measured on the kernels that run the mixed model, on
/// this machine, at one batch size: the model runs with every layer at one precision while each
/// node is timed; a layer's entry is its median over the runs. What the layers do not cover
/// (the other ops, the run's own overhead) is the FP32 run's median minus its layers.
///
///     predicted latency(plan) = median FP32 run + Σ_layers (t(layer, p) − t(layer, fp32))
///
/// Cached as JSON per model, batch, CPU and instruction set, and per runtime build: a rebuilt
/// program (new kernels) measures again instead of predicting from another runtime's times.
public struct LatencyTable: Codable, Equatable, Sendable {
  public static let currentVersion = 2
  public var version = Self.currentVersion
  /// The program that measured it (`runtimeBuild`); nil in tables written before it was recorded.
  public var runtime: String? = Self.runtimeBuild
  /// This program's build: its executable's size and modification time.
  public static let runtimeBuild: String = {
    guard let path = Bundle.main.executablePath, let a = try? FileManager.default.attributesOfItem(atPath: path),
      let size = a[.size] as? Int, let date = a[.modificationDate] as? Date
    else { return "unknown" }
    return "\(size)-\(Int(date.timeIntervalSince1970))"
  }()
  public var modelSHA256: String
  public var machine: String
  public var batch: Int
  /// Median end-to-end seconds of the FP32 model.
  public var fp32Seconds: Double
  /// Layer name → precision → median seconds.
  public var layers: [String: [String: Double]]

  public init(modelSHA256: String, machine: String, batch: Int, fp32Seconds: Double, layers: [String: [String: Double]]) {
    self.modelSHA256 = modelSHA256
    self.machine = machine
    self.batch = batch
    self.fp32Seconds = fp32Seconds
    self.layers = layers
  }

  /// The predicted end-to-end seconds of a per-layer assignment (missing layers: fp32).
  public func predict(_ precisions: [String: Precision]) -> Double {
    var t = fp32Seconds
    for (name, p) in precisions {
      guard let row = layers[name], let base = row["fp32"], let v = row[p.rawValue] else { continue }
      t += v - base
    }
    return t
  }

  /// CPU model, core count and the kernels' instruction set.
  public static var machine: String {
    let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
      .split(separator: "\n").first { $0.hasPrefix("model name") }?
      .split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
    return "\(cpu), \(Parallel.cores) cores, \(KernelISA.selected)"
  }

  /// Median seconds of `runs` calls of `body` after one warm-up.
  public static func median(runs: Int, _ body: () throws -> Void) rethrows -> Double {
    try body()
    let clock = ContinuousClock()
    var times: [Double] = []
    for _ in 0..<max(runs, 1) {
      let d = try clock.measure(body)
      times.append(d.seconds)
    }
    times.sort()
    return times[times.count / 2]
  }

  /// Measures the table. `sessions` gives the model with every supported layer at a precision.
  public static func measure(session: Session, uniform: [Precision: Session], feeds: [String: Tensor],
                             modelSHA256: String, runs: Int = 30) throws -> LatencyTable {
    let names = Set(session.graph.layers.map(\.name))
    var layers: [String: [String: Double]] = [:]
    let all: [(Precision, Session)] = [(.fp32, session)] + uniform.sorted { $0.key.rawValue < $1.key.rawValue }.map { ($0.key, $0.value) }
    // The FP32 run's median, before and after the profiled runs (the smaller: less interference).
    var fp32 = try median(runs: runs) { _ = try session.run(feeds) }
    for (p, s) in all {
      var samples: [String: [Double]] = [:]
      _ = try s.run(feeds)  // warm-up
      for _ in 0..<max(runs, 1) {
        _ = try s.run(feeds, profile: { node, ns in
          if names.contains(node.name) { samples[node.name, default: []].append(Double(ns) * 1e-9) }
        })
      }
      for (name, v) in samples {
        let sorted = v.sorted()
        layers[name, default: [:]][p.rawValue] = sorted[sorted.count / 2]
      }
      if p == .fp32 { fp32 = min(fp32, try median(runs: runs) { _ = try s.run(feeds) }) }
    }
    return LatencyTable(modelSHA256: modelSHA256, machine: machine, batch: feeds.values.first?.shape.first ?? 1,
      fp32Seconds: fp32, layers: layers)
  }

  /// `$XDG_CACHE_HOME/mixprec/latency` (else `~/.cache/mixprec/latency`).
  public static var cacheFolder: URL {
    let env = ProcessInfo.processInfo.environment
    let base = env["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
      ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
    return base.appendingPathComponent("mixprec/latency")
  }

  /// - Parameter variant: what else changes the kernels' work (e.g. "dynamic" input ranges, whose
  ///   per-call scan calibrated layers do not pay); empty for the default.
  public static func cacheFile(modelSHA256: String, batch: Int, variant: String = "", in folder: URL = cacheFolder) -> URL {
    var h: UInt64 = 1469598103934665603  // FNV-1a of the machine string
    for b in machine.utf8 { h = (h ^ UInt64(b)) &* 1099511628211 }
    let tag = variant.isEmpty ? "" : "-\(variant)"
    return folder.appendingPathComponent("\(modelSHA256.prefix(16))-b\(batch)\(tag)-\(String(h, radix: 16)).json")
  }

  /// The cached table when one matches this model, batch, precisions and machine, else a new
  /// measurement (then cached; a cache that cannot be written is skipped).
  public static func cached(session: Session, uniform: [Precision: Session], feeds: [String: Tensor],
                            modelSHA256: String, runs: Int = 30, variant: String = "", in folder: URL = cacheFolder) throws -> (table: LatencyTable, fromCache: Bool) {
    let batch = feeds.values.first?.shape.first ?? 1
    let file = cacheFile(modelSHA256: modelSHA256, batch: batch, variant: variant, in: folder)
    if let t = try? JSONFile.read(LatencyTable.self, from: file, what: "latency table"), t.version == currentVersion,
      t.runtime == runtimeBuild, t.machine == machine, t.modelSHA256 == modelSHA256, t.batch == batch,
      uniform.keys.allSatisfy({ p in t.layers.values.allSatisfy { $0[p.rawValue] != nil } }) {
      return (t, true)
    }
    let t = try measure(session: session, uniform: uniform, feeds: feeds, modelSHA256: modelSHA256, runs: runs)
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try? JSONFile.write(t, to: file)
    return (t, false)
  }
}
