import Findings
import Foundation
#if canImport(FoundationXML)
  import FoundationXML
#endif
import HTMLReport
import Sensitivity  // the fixture's correlations (GSL); the page itself needs only Findings
import TensorCore
import XCTest

/// The report page: a snapshot of a fixed small analysis, well-formedness, and headless Chromium
/// rendering it without console errors (with the table sorting by a column).
final class ReportPageTests: XCTestCase {
  static let snapshots = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots")

  /// Four layers, every section filled.
  static func analysis() -> AnalysisResult {
    func entry(_ kl: Double) -> AnalysisResult.Entry { AnalysisResult.Entry(damage: kl, sqnr: 30, cosine: 0.99, agreement: 1) }
    let names = ["conv0", "conv1", "dw2", "fc3"]
    var layers: [AnalysisResult.Layer] = []
    for (i, n) in names.enumerated() {
      let base = pow(10.0, -Double(6 - i))
      // INT4 damage out of model order, so sorting by it moves rows: 4e-4, 1e-5, 3e-3, 5e-4.
      let int4 = base * [400, 1, 30, 0.5][i]
      var l = AnalysisResult.Layer(index: i, name: n, op: i == 3 ? "Gemm" : "Conv", params: 100 * (i + 1),
        sensitivity: ["fp16": entry(base * 1e-3), "int8": entry(base), "int4": entry(int4)])
      l.hessian = AnalysisResult.Hessian(trace: Double(i + 1) * 0.5, ci95: 0.1 * Double(i + 1), samples: 16, topEigenvalue: 0.2 * Double(i + 1),
        score: ["fp16": base * 1e-4, "int8": base * 0.1, "int4": base * 5], gramTrace: 1, gramScore: ["int4": base])
      layers.append(l)
    }
    var a = AnalysisResult(model: "tiny.onnx", modelSHA256: "abc123", candidates: ["fp16", "int8", "int4"], samples: 8, layers: layers)
    a.outputs = [ComparedOutput(name: "y", kind: .logits, detected: true), ComparedOutput(name: "emb", kind: .embedding, detected: false)]
    a.hessianSamples = 8
    a.correlate()
    a.summary = AnalysisResult.ModelSummary(opHistogram: ["Conv": 3, "Gemm": 1, "Relu": 2], layers: 4, parameters: 1000, fp32WeightBytes: 4000,
      machine: "test CPU, 2 cores, avx2", isa: "avx2", weightShapes: ["conv0": [8, 3, 3, 3], "conv1": [8, 8, 1, 1], "dw2": [8, 1, 3, 3], "fc3": [10, 72]])
    a.rangeComparison = ["fc3": ["minmax": ["int8": 2e-3, "int4": 0.1], "mse": ["int8": 1e-3, "int4": 0.05]]]
    typealias P = TuningSummary.Point
    let chosen = P(label: "chosen", weightBytes: 700, predictedLatencyMs: 0.5, measuredLatencyMs: 0.52, predictedDamage: 0.01, measuredDamage: 0.008, metric: 0.97)
    a.tuning = TuningSummary(
      budget: "compression 6x", objective: "measured", commandLine: "mixprec tune tiny.onnx --compression 6x", machine: "test CPU", batch: 1,
      chosen: ["conv0": "int8", "conv1": "fp16", "dw2": "int4", "fc3": "int4"], chosenPoint: chosen,
      fp32: P(label: "fp32", weightBytes: 4000, predictedLatencyMs: 1, measuredLatencyMs: 1.1, predictedDamage: 0, measuredDamage: 0, metric: 0.98),
      baselines: [P(label: "uniform int8", weightBytes: 1100, predictedLatencyMs: 0.6, measuredLatencyMs: 0.6, predictedDamage: 0.002, measuredDamage: 0.003, metric: 0.98),
                  P(label: "uniform int4", weightBytes: 600, predictedLatencyMs: 0.55, measuredLatencyMs: 0.5, predictedDamage: 0.3, measuredDamage: 0.2, metric: 0.9)],
      front: [P(label: "front 0", weightBytes: 600, predictedLatencyMs: 0.55, predictedDamage: 0.3), P(label: "front 1", weightBytes: 900, predictedLatencyMs: 0.6, predictedDamage: 0.005),
              P(label: "front 2", weightBytes: 2000, predictedLatencyMs: 0.8, predictedDamage: 1e-5)],
      measured: [P(label: "front 1", weightBytes: 900, predictedLatencyMs: 0.6, predictedDamage: 0.005, measuredDamage: 0.004, metric: 0.975)],
      latencyMs: Dictionary(uniqueKeysWithValues: names.map { ($0, ["fp32": 0.2, "fp16": 0.25, "int8": 0.12, "int4": 0.11]) }),
      weightBytes: Dictionary(uniqueKeysWithValues: names.map { ($0, ["fp32": 1000, "fp16": 500, "int8": 280, "int4": 150]) }), metricName: "top1")
    a.tuning?.planJSON = "{\n  \"budget\" : \"compression 6x\"\n}"
    a.tuning?.budgetBytes = 666
    a.tuning?.qat = TuningSummary.QATSummary(epochs: 2, loss: "both", trainingSamples: 64, seconds: 3.5, epochLoss: [0.4, 0.2],
      before: P(label: "chosen, no QAT", weightBytes: 700, predictedLatencyMs: 0.5, predictedDamage: 0.01, measuredDamage: 0.012, metric: 0.95))
    return a
  }

  func testSnapshot() throws {
    let html = ReportPage.render(Self.analysis())
    let file = Self.snapshots.appendingPathComponent("small.html")
    if ProcessInfo.processInfo.environment["MIXPREC_RECORD_SNAPSHOTS"] == "1" {
      try FileManager.default.createDirectory(at: Self.snapshots, withIntermediateDirectories: true)
      try html.write(to: file, atomically: true, encoding: .utf8)
    }
    let recorded = try String(contentsOf: file, encoding: .utf8)
    XCTAssertEqual(html, recorded, "the page changed; re-record with MIXPREC_RECORD_SNAPSHOTS=1 if that is intended")
  }

  /// The page is well-formed (X)HTML: every element closed, only XML's predefined entities.
  func testPageParsesWithoutErrors() throws {
    let html = ReportPage.render(Self.analysis())
    let parser = XMLParser(data: Data(html.utf8))
    let ok = parser.parse()
    XCTAssertTrue(ok, "line \(parser.lineNumber): \(parser.parserError.map { "\($0)" } ?? "")")
    for section in ["Model", "Chosen plan along the depth", "Layers", "Damage per layer and precision", "Hessian trace per layer", "Quantization-aware training",
                    "Proxy vs measured damage", "Size and latency vs damage", "Where the bytes and the time go", "Range methods", "Reproduce"] {
      XCTAssertTrue(html.contains(section), "section '\(section)' missing")
    }
    XCTAssertFalse(html.contains("http://") && html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http://"),
      "the page refers to the network")
    XCTAssertFalse(html.contains("src=\""), "the page loads an external file")
  }

  /// Headless Chromium loads the page with no console message (errors or otherwise), renders a
  /// non-trivial screenshot, and the table sorts; a page with a script error is caught.
  func testChromiumRendersWithoutConsoleErrors() throws {
    guard let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
      XCTFail("chromium is not installed (Debian package `chromium`; `make deps` installs it)")
      return
    }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mixprec-report-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    func run(_ args: [String]) throws -> (out: String, err: String) {
      let r = try ChildProcess.run(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        "--enable-logging=stderr", "--v=0", "--user-data-dir=\(dir.appendingPathComponent("profile").path)"] + args,
        timeLimit: 180)
      XCTAssertFalse(r.timedOut, "chromium ran past 180 s")
      return (r.stdout, r.stderr)
    }
    let page = dir.appendingPathComponent("report.html")
    try ReportPage.render(Self.analysis()).write(to: page, atomically: true, encoding: .utf8)
    let png = dir.appendingPathComponent("report.png")
    let shot = try run(["--window-size=1200,3000", "--screenshot=\(png.path)", page.absoluteString])
    let console = shot.err.split(separator: "\n").filter { $0.contains(":CONSOLE") }
    XCTAssertEqual(console, [], "console messages while rendering the report")
    let size = (try FileManager.default.attributesOfItem(atPath: png.path)[.size] as? Int) ?? 0
    XCTAssertGreaterThan(size, 20_000, "the screenshot is (nearly) empty")
    // Column 8 is KL int4 (#, layer, op, weight shape, params, precision, KL fp16, KL int8, KL int4).
    let dom = try run(["--dump-dom", page.absoluteString + "#sort=8"])
    XCTAssertEqual(dom.err.split(separator: "\n").filter { $0.contains(":CONSOLE") }, [])
    let sortable = dom.out.components(separatedBy: "class=\"sortable\"").dropFirst().first ?? ""
    let table = sortable.components(separatedBy: "<tbody>").dropFirst().first?.components(separatedBy: "</tbody>").first ?? ""
    let order = ["conv0", "conv1", "dw2", "fc3"].compactMap { n in table.range(of: ">\(n)<").map { (n, $0.lowerBound) } }.sorted { $0.1 < $1.1 }.map(\.0)
    XCTAssertEqual(order, ["conv1", "conv0", "fc3", "dw2"], "rows in ascending KL int4")
    // The check itself: a script error is seen.
    let bad = dir.appendingPathComponent("bad.html")
    try "<!DOCTYPE html><html><body><script>throw new Error('boom');</script></body></html>".write(to: bad, atomically: true, encoding: .utf8)
    let caught = try run(["--dump-dom", bad.absoluteString])
    XCTAssertTrue(caught.err.contains(":CONSOLE"), "a script error went unnoticed: the check is blind")
  }
}
