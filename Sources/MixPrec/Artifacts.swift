import Execution
import Findings
import Foundation
import HTMLReport
import Quantizers
import TensorCore

/// Writing what a pipeline produced, shared by quantize and tune: the AdaRound/QAT codes, the
/// QDQ model, the report with its data, and the plan last, so that a plan on disk means every
/// file it refers to was written. Each file is written to a temporary name and renamed.
public enum Artifacts {
  public struct Destinations: Sendable {
    public var plan: URL
    public var export: URL?
    /// Reports/NAME.html; its data goes to NAME.analysis.json beside it.
    public var report: URL?
    public init(plan: URL, export: URL? = nil, report: URL? = nil) {
      self.plan = plan
      self.export = export
      self.report = report
    }

    /// The codes file of the plan: `<plan without extension>.codes.npz`.
    public var codes: URL { plan.deletingPathExtension().appendingPathExtension("codes.npz") }
    public var reportData: URL? { report.map { $0.deletingPathExtension().appendingPathExtension("analysis.json") } }
  }

  /// The paths written, in order.
  public struct Written: Sendable {
    public var codes: URL?
    public var export: URL?
    public var report: URL?
    public var reportData: URL?
    public var plan: URL
  }

  /// - Parameters:
  ///   - session: the model the plan's layers apply to; `shapes`: input shapes the export
  ///     specializes value ranks at (batch 1).
  ///   - analysis: the report's data (with the tuning summary, whose `planJSON` is set here to
  ///     the plan as written).
  public static func write(plan given: PrecisionPlan, codes: [String: [Int8]], layers: [String: LayerQuantization],
                           session: Session, shapes: [String: [Int]], analysis: AnalysisResult? = nil,
                           to d: Destinations) throws -> Written {
    var plan = given
    var written = Written(plan: d.plan)
    if !codes.isEmpty {
      try NPZ.write(codes.mapValues { Tensor(dtype: .int8, shape: [$0.count], storage: .int($0.map(Int64.init))) }, to: d.codes)
      plan.codesFile = d.codes.lastPathComponent
      written.codes = d.codes
    }
    if let export = d.export {
      try PlanBuilder.exportQDQ(layers, session: session, shapes: shapes, to: export)
      written.export = export
    }
    if let report = d.report, let dataFile = d.reportData, var result = analysis {
      result.tuning?.planJSON = String(decoding: try JSONFile.encoded(plan), as: UTF8.self)
      try result.write(to: dataFile)
      try writeReport(result, to: report)
      written.report = report
      written.reportData = dataFile
    }
    try plan.write(to: d.plan)
    return written
  }

  /// Renders an analysis as one HTML page and writes it atomically.
  public static func writeReport(_ a: AnalysisResult, to url: URL) throws {
    try AtomicFile.write(Data(ReportPage.render(a).utf8), to: url)
  }
}
