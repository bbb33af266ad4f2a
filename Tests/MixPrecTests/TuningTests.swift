import Allocation
import Execution
import Findings
import Foundation
import GraphIR
import MixPrec
import ONNXFormat
import Quantizers
import Sensitivity
import TensorCore
import XCTest

/// The tune pipeline called as a library, on the tiny QAT model (Conv → Relu → Conv → HardSwish
/// → Gemm → Softmax) written to an ONNX file: budgets are met, infeasible ones are typed errors,
/// and the max-drop search finds the smallest passing point with a fake evaluator.
final class TuningTests: XCTestCase {
  var work: URL!

  override func setUpWithError() throws {
    work = FileManager.default.temporaryDirectory.appendingPathComponent("mixprec-tuning-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: work) }

  func model() throws -> LoadedModel {
    let url = work.appendingPathComponent("tiny.onnx")
    try ONNXExporter.write(QATTests.model(), opset: 13, to: url)
    return try LoadedModel(url)
  }

  func data() -> TuningData {
    TuningData(calibration: ["x": QATTests.random([24, 3, 6, 6], seed: 11, scale: 2)],
      evaluation: ["x": QATTests.random([8, 3, 6, 6], seed: 12, scale: 2)], metric: nil)
  }

  func options() -> Tuning.Options {
    var o = Tuning.Options()
    o.samples = 16
    o.runs = 2
    o.adaRound = false
    o.latencyCache = work.appendingPathComponent("latency")
    return o
  }

  /// The analyzed layers' FP32 weight bytes.
  func fp32Bytes(_ m: LoadedModel) -> Int { m.graph.layers.reduce(0) { $0 + $1.fp32WeightBytes } }

  func testCompressionBudgetIsMetAndTheChoiceIsMeasured() throws {
    let m = try model()
    var budget = Budget()
    budget.compression = 3
    let outcome = try Tuning.run(model: m, data: data(), budget: budget, options: options())
    let chosen = outcome.summary.chosenPoint
    XCTAssertLessThanOrEqual(Double(chosen.weightBytes) * 3, Double(fp32Bytes(m)), "the plan does not fit 3x: \(chosen)")
    XCTAssertEqual(PlanBuilder.weightBytes(outcome.plan, graph: m.graph), chosen.weightBytes, "the plan's size is the solver's")
    XCTAssertEqual(outcome.table.map(\.label), ["fp32", "uniform fp16", "uniform int8", "uniform int4", "chosen"])
    XCTAssertTrue(try XCTUnwrap(chosen.measuredDamage).isFinite)
    XCTAssertNotNil(chosen.measuredLatencyMs)
    XCTAssertEqual(outcome.assignment.count, 3)
    XCTAssertEqual(outcome.report.tuning?.budgetBytes.map { Double($0) * 3 <= Double(fp32Bytes(m)) }, true)
  }

  /// The screened sweep (the default under a compression budget) records what it measured and
  /// marks the pairs measured on a sub-sample; `--sweep full` measures every pair on every
  /// sample and records no screening.
  func testScreenedAndFullSweepsRecordWhatTheyMeasured() throws {
    let m = try model()
    var budget = Budget()
    budget.compression = 3
    let screened = try Tuning.run(model: m, data: data(), budget: budget, options: options()).report
    let record = try XCTUnwrap(screened.screening)
    let pairs = screened.layers.count * screened.candidates.count
    XCTAssertEqual(record.totalPairs, pairs)
    let probed = screened.layers.reduce(0) { $0 + $1.sensitivity.values.filter { $0.samples != nil }.count }
    XCTAssertEqual(screened.layers.reduce(0) { $0 + $1.sensitivity.count }, pairs, "every pair has figures")
    XCTAssertEqual(record.measuredPairs + probed, pairs, "every pair is measured in full or on the probe")
    XCTAssertEqual(record.probedPairs, probed)
    if probed > 0 { XCTAssertLessThan(record.probeSamples, data().calibration.values.first?.shape.first ?? 0) }
    XCTAssertEqual(record.resource, "bytes")
    XCTAssertNotNil(screened.layers.first?.hessian, "Ω screens")
    var o = options()
    o.sweep = .full
    let full = try Tuning.run(model: m, data: data(), budget: budget, options: o).report
    XCTAssertNil(full.screening)
    XCTAssertFalse(full.layers.contains { $0.sensitivity.values.contains { $0.samples != nil } })
    XCTAssertEqual(full.layers.map { $0.sensitivity.count }, full.layers.map { _ in full.candidates.count })
    // Measured pairs are the same numbers either way.
    for (a, b) in zip(screened.layers, full.layers) {
      for (p, e) in a.sensitivity where e.samples == nil { XCTAssertEqual(e.damage, b.sensitivity[p]?.damage ?? .nan, accuracy: 1e-9 * max(1, e.damage)) }
    }
  }

  func testLatencyBudgetBoundsThePrediction() throws {
    let m = try model()
    var budget = Budget()
    budget.latencySeconds = 10
    let outcome = try Tuning.run(model: m, data: data(), budget: budget, options: options())
    XCTAssertLessThanOrEqual(try XCTUnwrap(outcome.summary.chosenPoint.predictedLatencyMs), 10_000)
    budget.latencySeconds = 1e-9
    XCTAssertThrowsError(try Tuning.run(model: m, data: data(), budget: budget, options: options())) { e in
      guard case TuningError.latencyUnreachable(let fastest, let batch)? = e as? TuningError else { return XCTFail("\(e)") }
      XCTAssertGreaterThan(fastest, 0)
      XCTAssertEqual(batch, 1)
    }
  }

  func testUnreachableSizeBudgetIsATypedErrorWithTheSmallestSize() throws {
    let m = try model()
    var budget = Budget()
    budget.sizeBytes = 10
    let g = m.graph
    let smallest = g.layers.reduce(0) { $0 + PlanBuilder.layerWeightBytes($1, precision: .int4, group: nil, graph: g) }
    XCTAssertThrowsError(try Tuning.run(model: m, data: data(), budget: budget, options: options())) { e in
      XCTAssertEqual(e as? TuningError, .sizeUnreachable(smallestBytes: smallest, compression: Double(fp32Bytes(m)) / Double(smallest)))
    }
    XCTAssertThrowsError(try Tuning.run(model: m, data: data(), budget: Budget(), options: options())) { e in
      XCTAssertEqual(e as? TuningError, .noBudget)
    }
  }

  func testHessianAndBlendObjectivesRunAndNeedCurvature() throws {
    let m = try model()
    var budget = Budget()
    budget.compression = 4
    for objective in [Tuner.Objective.hessian, .blend] {
      var o = options()
      o.objective = objective
      let outcome = try Tuning.run(model: m, data: data(), budget: budget, options: o)
      XCTAssertTrue(outcome.report.layers.allSatisfy { $0.hessian != nil }, "\(objective): the analysis estimated the curvature")
      XCTAssertLessThanOrEqual(Double(outcome.summary.chosenPoint.weightBytes) * 4, Double(fp32Bytes(m)))
      XCTAssertEqual(outcome.summary.objective, objective.rawValue)
    }
    // A given analysis without Hessian figures cannot drive a Hessian objective.
    var a = Analysis.Options()
    a.samples = 8
    a.rangeComparison = false
    let plain = try Analysis.run(model: m, calibration: data().calibration, options: a).result
    var o = options()
    o.objective = .hessian
    XCTAssertThrowsError(try Tuning.run(model: m, data: data(), budget: budget, analysis: plain, options: o)) { e in
      XCTAssertEqual(e as? TuningError, .objectiveNeedsHessian(objective: "hessian"))
    }
  }

  /// `weightGranularity: .tensor`: the sweep, the analysis record and the chosen plan all have
  /// one weight scale per integer layer; an analysis measured per channel is refused.
  func testPerTensorTuningKeepsOneScalePerLayer() throws {
    let m = try model()
    var budget = Budget()
    budget.compression = 3
    var o = options()
    o.weightGranularity = .tensor
    let outcome = try Tuning.run(model: m, data: data(), budget: budget, options: o)
    XCTAssertEqual(outcome.report.weightGranularity, "tensor")
    let integer = outcome.plan.layers.filter { $0.precision == .int8 || $0.precision == .int4 }
    XCTAssertFalse(integer.isEmpty)
    XCTAssertTrue(integer.allSatisfy { $0.weightGranularity == .tensor })
    for case .integer(_, _, let scales, _, _, _, _) in try PlanBuilder.layerQuantizations(outcome.plan, session: m.session).values {
      XCTAssertEqual(Set(scales).count, 1)
    }
    var a = Analysis.Options()
    a.samples = 8
    a.rangeComparison = false
    let perChannel = try Analysis.run(model: m, calibration: data().calibration, options: a).result
    XCTAssertThrowsError(try Tuning.run(model: m, data: data(), budget: budget, analysis: perChannel, options: o)) { e in
      XCTAssertTrue("\(e)".contains("--weight-granularity"), "\(e)")
    }
  }

  func testAnAnalysisOfPartOfTheModelIsRefused() throws {
    let m = try model()
    var a = Analysis.Options()
    a.samples = 8
    a.shard = (1, 2)
    let half = try Analysis.run(model: m, calibration: data().calibration, options: a).result
    var budget = Budget()
    budget.compression = 2
    XCTAssertThrowsError(try Tuning.run(model: m, data: data(), budget: budget, analysis: half, options: options())) { e in
      guard case TuningError.analysisMissesLayers(let count, _)? = e as? TuningError else { return XCTFail("\(e)") }
      XCTAssertEqual(count, 1, "3 layers dealt over 2 shards: shard 1 has 2")
    }
  }

  /// A fake evaluator whose metric is 1 − c · Σ damage(layer, precision) over a fixed table: the
  /// metric falls exactly as the predicted damage rises, so the front is monotone in it.
  struct FakeEvaluator: PlanEvaluating {
    var damage: [String: [Precision: Double]]
    var c: Double
    var referenceMetric: Double? { 1 }
    func evaluate(_ plan: PrecisionPlan, codes: [String: [Int8]]) throws -> PlanEvaluation {
      let d = plan.layers.reduce(0.0) { $0 + (damage[$1.name]?[$1.precision] ?? 0) }
      return PlanEvaluation(damage: d, metric: 1 - c * d)
    }
  }

  /// An analysis with the same table as the fake's damages (KL), so prediction and measurement agree.
  func analysis(_ m: LoadedModel, _ table: [String: [Precision: Double]]) -> AnalysisResult {
    let layers = m.graph.layers.enumerated().map { i, l in
      AnalysisResult.Layer(index: i, name: l.name, op: l.opType, params: l.parameterCount,
        sensitivity: Dictionary(uniqueKeysWithValues: table[l.name]!.map { ($0.key.rawValue, AnalysisResult.Entry(damage: $0.value, sqnr: 0, cosine: 1, agreement: 1)) }))
    }
    return AnalysisResult(model: m.name, modelSHA256: m.sha256, candidates: ["fp16", "int8", "int4"], samples: 8, layers: layers)
  }

  func testMaxDropPicksTheSmallestPassingFrontPoint() throws {
    let m = try model()
    let table: [String: [Precision: Double]] = [
      "c1": [.fp16: 1e-5, .int8: 2e-3, .int4: 3e-2], "c2": [.fp16: 1e-5, .int8: 1e-3, .int4: 8e-3],
      "fc": [.fp16: 1e-5, .int8: 4e-3, .int4: 6e-2],
    ]
    let fake = FakeEvaluator(damage: table, c: 1)
    var budget = Budget()
    budget.maxDrop = 0.012
    let outcome = try Tuning.run(model: m, data: data(), budget: budget, analysis: analysis(m, table), options: options(), evaluator: fake)
    let chosen = try fake.evaluate(outcome.plan, codes: [:])
    XCTAssertLessThanOrEqual(1 - chosen.metric!, 0.012 + 1e-12, "the chosen plan fails the drop: \(outcome.assignment)")
    // Independently: the front at 16 budgets from the same damages and sizes, smallest passing point.
    let g = m.graph
    let options = [Precision.fp32, .fp16, .int8, .int4]
    let problem = AssignmentProblem(layers: g.layers.map { l in
      options.map { p in AssignmentProblem.Option(label: p.rawValue, damage: table[l.name]?[p] ?? 0,
        size: Double(PlanBuilder.layerWeightBytes(l, precision: p, group: nil, graph: g))) }
    })
    let front = try ParetoFront.sizeVersusDamage(problem, points: 16).sorted { $0.size < $1.size }
    let expected = try XCTUnwrap(front.first { $0.damage <= 0.012 + 1e-12 })
    XCTAssertEqual(Double(outcome.summary.chosenPoint.weightBytes), expected.size, "front: \(front.map { ($0.size, $0.damage) })")
    XCTAssertTrue(outcome.summary.measured.contains { $0.label.hasPrefix("front") }, "the search measured front points")
  }

  /// A model whose first output is int64 (an ArgMax beside the probabilities): the damage is
  /// measured on the float output, the integer one is carried.
  func testAnIntegerFirstOutputIsCarriedNotCompared() throws {
    var g = QATTests.model()
    g.nodes.append(Node(name: "am", opType: "ArgMax", inputs: ["p"], outputs: ["ids"], attributes: ["axis": .int(-1), "keepdims": .int(0)]))
    g.outputs = [ValueInfo(name: "ids", dtype: .int64, shape: [nil])] + g.outputs
    let url = work.appendingPathComponent("ids.onnx")
    try ONNXExporter.write(g, opset: 13, to: url)
    let m = try LoadedModel(url)
    XCTAssertEqual(m.graph.comparedOutput?.name, "p")
    var budget = Budget()
    budget.compression = 3
    let outcome = try Tuning.run(model: m, data: data(), budget: budget, options: options())
    XCTAssertTrue(outcome.report.layers.allSatisfy { $0.sensitivity["int4"].map { $0.damage.isFinite && $0.damage > 0 } == true })
    XCTAssertTrue(try XCTUnwrap(outcome.summary.chosenPoint.measuredDamage).isFinite)
  }

  /// The Hessian traces come with every tune unless turned off; the report then correlates Ω
  /// with the measured damage.
  func testTuneEstimatesTheHessianUnlessTold() throws {
    let m = try model()
    var budget = Budget()
    budget.compression = 3
    let with = try Tuning.run(model: m, data: data(), budget: budget, options: options())
    XCTAssertTrue(with.report.layers.allSatisfy { $0.hessian.map { $0.trace.isFinite && $0.samples > 0 && $0.topEigenvalue == nil } == true })
    XCTAssertTrue(with.report.correlations?.contains { $0.proxy == "hessian_score" } == true)
    XCTAssertEqual(with.report.hessianSamples, 8)
    XCTAssertTrue(with.summary.phases?.contains { $0.name == "hessian traces" } == true)
    XCTAssertEqual(with.summary.phases?.last?.name, "total")
    var o = options()
    o.hessian = false
    let without = try Tuning.run(model: m, data: data(), budget: budget, options: o)
    XCTAssertTrue(without.report.layers.allSatisfy { $0.hessian == nil })
    XCTAssertEqual(without.assignment, with.assignment, "the measured objective does not use the traces")
  }

  /// A model with an op that has no gradient yet still tunes: the default Hessian is skipped
  /// with the reason in the report, while the hessian objective is refused.
  func testAnOpWithoutAGradientSkipsTheDefaultHessian() throws {
    var g = QATTests.model()
    // Round has no gradient (nor a useful one).
    g.nodes.insert(Node(name: "rd", opType: "Round", inputs: ["ar"], outputs: ["arr"]), at: 2)
    g.nodes[3].inputs[0] = "arr"
    let url = work.appendingPathComponent("round.onnx")
    try ONNXExporter.write(g, opset: 13, to: url)
    let m = try LoadedModel(url)
    var budget = Budget()
    budget.compression = 3
    let outcome = try Tuning.run(model: m, data: data(), budget: budget, options: options())
    XCTAssertTrue(outcome.report.layers.allSatisfy { $0.hessian == nil })
    XCTAssertTrue(try XCTUnwrap(outcome.report.hessianSkipped).contains("Round"))
    var o = options()
    o.objective = .hessian
    XCTAssertThrowsError(try Tuning.run(model: m, data: data(), budget: budget, options: o))
  }

  func testMaxDropNeedsLabels() throws {
    let m = try model()
    var budget = Budget()
    budget.maxDrop = 0.01
    XCTAssertThrowsError(try Tuning.run(model: m, data: data(), budget: budget, options: options())) { e in
      XCTAssertEqual(e as? TuningError, .maxDropNeedsLabels)
    }
  }

  /// The search alone on a hand-made problem: bisection over a monotone front is exact.
  func testMaxDropSearchMatchesTheFrontScannedInOrder() throws {
    var g = SeededGenerator(seed: 3)
    let layers = (0..<12).map { _ -> [AssignmentProblem.Option] in
      let n = Double(Int.random(in: 50...500, using: &g)), d = Double.random(in: 1e-4...1e-2, using: &g)
      return [.init(label: "fp32", damage: 0, size: 4 * n), .init(label: "int8", damage: d / 10, size: n), .init(label: "int4", damage: d, size: n / 2)]
    }
    let problem = AssignmentProblem(layers: layers)
    let front = try ParetoFront.sizeVersusDamage(problem, points: 16).sorted { $0.size < $1.size }
    for drop in [0.0, 0.005, 0.02, 0.05, 1] {
      var p = problem
      let search = MaxDropSearch(drop: drop, reference: 1)
      let r = try search.run(&p) { label, s in
        TuningSummary.Point(label: label, weightBytes: Int(s.size), predictedDamage: s.damage, measuredDamage: s.damage, metric: 1 - s.damage)
      }
      let expected = front.first { $0.damage <= drop } ?? front.last!
      XCTAssertEqual(r.solution.size, expected.size, "drop \(drop)")
      XCTAssertLessThanOrEqual(r.measured.count, 8, "bisection over 16 points plus no promotions")
    }
  }
}

/// The README's library example, on the tiny model: tune to a size budget, write plan and report.
final class LibraryUsageTests: XCTestCase {
  func testTuneToASizeBudgetAndWriteTheReport() throws {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("mixprec-library-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    try ONNXExporter.write(QATTests.model(), opset: 13, to: work.appendingPathComponent("tiny.onnx"))
    let calib = work.appendingPathComponent("calib")
    try FileManager.default.createDirectory(at: calib, withIntermediateDirectories: true)
    try NPY.write(QATTests.random([16, 3, 6, 6], seed: 21, scale: 2), to: calib.appendingPathComponent("x.npy"))

    // As in the README:
    let model = try LoadedModel(work.appendingPathComponent("tiny.onnx"))
    let data = try TuningData(calibration: InputFolder(calib, for: model.graph), evaluation: nil, training: nil, graph: model.graph)
    var budget = Budget()
    budget.sizeBytes = try Budget.parseSize("2KB")
    var options = Tuning.Options()
    options.runs = 2
    options.latencyCache = work.appendingPathComponent("latency")
    let outcome = try Tuning.run(model: model, data: data, budget: budget, options: options)
    try outcome.write(to: .init(plan: work.appendingPathComponent("plan.json"), report: work.appendingPathComponent("tiny.html")))

    XCTAssertLessThanOrEqual(outcome.summary.chosenPoint.weightBytes, 2048)
    let plan = try PrecisionPlan.read(from: work.appendingPathComponent("plan.json"))
    XCTAssertEqual(plan.modelSHA256, model.sha256)
    let page = try String(contentsOf: work.appendingPathComponent("tiny.html"), encoding: .utf8)
    XCTAssertTrue(page.contains("<svg"), "the report has its charts")
    let data2 = try AnalysisResult.read(from: work.appendingPathComponent("tiny.analysis.json"))
    XCTAssertEqual(data2.tuning?.planJSON.map { $0.contains(model.sha256) }, true, "the report embeds the plan as written")
  }

  /// The report's measured front points: interior ones only, never a choice already measured
  /// (chosen plan, baselines), at most three, spread along the front.
  func testFrontPointsSkipTheEndsAndWhatIsAlreadyMeasured() {
    let front = (0..<12).map { [$0, $0 % 3] }
    let picked = Tuning.frontPointsToMeasure(front, known: [front[5]])
    XCTAssertEqual(picked.count, 3)
    XCTAssertFalse(picked.contains(0) || picked.contains(11) || picked.contains(5), "\(picked)")
    XCTAssertEqual(picked, picked.sorted())
    XCTAssertGreaterThan(picked.last! - picked.first!, 4, "spread along the front: \(picked)")
    XCTAssertEqual(Tuning.frontPointsToMeasure(Array(front.prefix(4)), known: [front[1]]), [2])
    XCTAssertEqual(Tuning.frontPointsToMeasure(Array(front.prefix(2)), known: []), [])
  }
}
