import Foundation
import MixPrec

/// Progress of a long step on stderr: a live bar (done/total, rate, ETA) redrawn in place on a
/// terminal, plain lines otherwise (logs, CI).
final class ProgressBar {
  let label: String
  let total: Int
  let unit: String
  let started = Date()
  let live = isatty(STDERR_FILENO) != 0
  private var open = false

  init(_ label: String, total: Int, unit: String) {
    self.label = label
    self.total = total
    self.unit = unit
  }

  func update(_ done: Int, _ detail: String = "") {
    let elapsed = Date().timeIntervalSince(started)
    let rate = elapsed > 0 ? Double(done) / elapsed : 0
    let eta = rate > 0 ? Double(total - done) / rate : 0
    let figures = String(format: "%d/%d %@  %.2f/s  ETA %@", done, total, unit, rate, Self.duration(eta))
    if live {
      let width = 24, filled = total > 0 ? width * done / total : width
      let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
      var line = "\r\(label) [\(bar)] \(figures)"
      if !detail.isEmpty { line += "  \(detail.prefix(60))" }
      FileHandle.standardError.write(Data((line + "\u{1B}[K" + (done >= total ? "\n" : "")).utf8))
      open = done < total
    } else {
      FileHandle.standardError.write(Data("\(label) \(figures)\(detail.isEmpty ? "" : "  " + detail)\n".utf8))
    }
  }

  /// Ends a live bar that stopped short of its total (a loop that converged early).
  func finish() {
    if live && open { FileHandle.standardError.write(Data("\n".utf8)) }
    open = false
  }

  static func duration(_ s: Double) -> String {
    s >= 90 ? String(format: "%dm%02ds", Int(s) / 60, Int(s) % 60) : String(format: "%.0fs", s)
  }
}

/// Shows a pipeline's `ProgressEvent`s: notes as lines, steps as one bar per phase (a new phase
/// closes the previous bar).
final class ProgressPrinter {
  private var phase: String?
  private var bar: ProgressBar?

  func handle(_ event: ProgressEvent) {
    switch event {
    case .note(let line):
      finish()
      FileHandle.standardError.write(Data((line + "\n").utf8))
    case .step(let name, let done, let total, let unit, let detail):
      if name != phase {
        finish()
        phase = name
        bar = ProgressBar(name, total: total, unit: unit)
      }
      bar?.update(done, detail)
    }
  }

  /// Closes the open bar (the pipeline finished).
  func finish() {
    bar?.finish()
    bar = nil
    phase = nil
  }
}
