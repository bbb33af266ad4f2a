import Execution
import Findings
import Foundation
import GraphIR
import Quantizers
import Sensitivity
import TensorCore

/// The sweep that measures where it matters (`tune --sweep screened`): Ω screens every
/// (layer, candidate) pair, a seed spread over Ω's ranks is measured, and then, round after
/// round, the pairs `Screening.uncertain` names, until none is left (or `maxRounds`). Then
/// sequential estimation: the pairs still unmeasured run on a sub-sample only (`probeSamples`
/// spread evenly over the calibration set, recorded with `samples`), and those whose choice
/// that sub-sample's band leaves uncertain are measured on every sample. The samples run in
/// `probeOrder` (the sub-sample first), so every full measurement also gives its sub-sample's
/// damage: how far a sub-sample strays is measured, not assumed.
struct ScreenedSweep {
  var sweep: SensitivitySweep
  var budget: Analysis.ScreeningBudget
  var maxRounds = 8

  struct Result {
    var layers: [AnalysisResult.Layer]
    var outputs: [ComparedOutput]
    var reference: Tensor
    var record: AnalysisResult.Screening
  }

  /// The sub-sample size for `total` calibration samples: a quarter, at least 8 (all when fewer).
  static func probeSamples(total: Int) -> Int { min(total, max(8, total / 4)) }

  /// The sub-sample's indices (evenly spaced: calibration folders are often sorted by class or
  /// difficulty, so the leading samples are no sample of the whole), then the others ascending.
  static func probeOrder(total: Int, probe: Int) -> [Int] {
    let picked = (0..<min(probe, total)).map { $0 * total / max(probe, 1) }
    let chosen = Set(picked)
    return picked + (0..<total).filter { !chosen.contains($0) }
  }

  /// - Parameter hessian: the Hessian figures of every layer to sweep (their Ω scores).
  func run(session: Session, calibrator: Calibrator, feeds: [String: Tensor], layers names: [String],
           hessian: [String: AnalysisResult.Hessian], task: ((Tensor, Tensor, Range<Int>) -> Double)?,
           progress: ProgressHandler) throws -> Result {
    let g = session.graph
    let todo = g.layers.enumerated().filter { names.contains($0.element.name) && QuantizedLayer.supports(g.nodes[$0.element.nodeIndex], in: g) }
    let options: [Precision] = [.fp32] + sweep.candidates
    let resource = todo.map { _, l in options.map { p -> Double in
      switch budget.resource {
      case .bytes: return Double(PlanBuilder.layerWeightBytes(l, precision: p, group: nil, graph: g))
      case .bits: return Double(l.weightCount * p.weightBits)
      }
    } }
    let omega = todo.map { _, l in options.map { p in p == .fp32 ? nil : hessian[l.name]?.score[p.rawValue] } }
    let rules = Screening(resource: resource, budget: budget.limit, omega: omega)
    let total = feeds.values.first?.shape.first ?? 0
    let probe = Self.probeSamples(total: total)
    let order = Self.probeOrder(total: total, probe: probe)
    var inverse = [Int](repeating: 0, count: total)
    for (j, i) in order.enumerated() { inverse[i] = j }
    let feeds = feeds.mapValues { $0.rows(at: order) }
    // The task scores samples by their calibration index: each reordered sample on its own.
    let task = task.map { score in { (y: Tensor, reference: Tensor, r: Range<Int>) -> Double in
      r.reduce(0) { s, j in
        let row = (j - r.lowerBound)..<(j - r.lowerBound + 1)
        return s + score(y.rows(row), reference.rows(row), order[j]..<(order[j] + 1))
      } / Double(max(r.count, 1))
    } }
    let row = Dictionary(uniqueKeysWithValues: todo.enumerated().map { ($0.element.element.name, $0.offset) })
    var entries = todo.map { _ in [AnalysisResult.Entry?](repeating: nil, count: options.count) }
    var probedEntries = entries
    var probePairs = [[(probe: Double, full: Double)]](repeating: [], count: options.count)
    var outputs: [ComparedOutput] = [], reference: Tensor? = nil
    var perRound: [Int] = []
    var fits = Screening.Fits()
    var spread: [Double] = []
    func pairs(_ set: Set<Screening.Pair>) -> [String: Set<Precision>] {
      var out: [String: Set<Precision>] = [:]
      for p in set { out[todo[p.layer].element.name, default: []].insert(options[p.option]) }
      return out
    }
    func measure(_ set: Set<Screening.Pair>, samples: Int, what: String) throws -> SensitivitySweep.Result {
      let asked = pairs(set)
      progress(.note("screened sweep, round \(perRound.count + 1): \(what) \(set.count) of \(todo.count * sweep.candidates.count) pairs"))
      let x = samples < total ? feeds.mapValues { $0.rows(0..<samples) } : feeds
      return try sweep.run(session: session, calibrator: calibrator, feeds: x, layers: Array(asked.keys), pairs: asked, task: task,
                           probe: samples == total && probe < total ? probe : nil) { done, all, line in
        progress(.step(phase: "sweep", done: done, total: all, unit: "layers×batches", detail: line))
      }
    }
    /// Every (layer row, option, entry) a sweep measured.
    func cells(_ swept: SensitivitySweep.Result) -> [(row: Int, option: Int, entry: AnalysisResult.Entry, probe: Double?)] {
      swept.layers.flatMap { l in l.sensitivity.compactMap { key, e in
        Precision(rawValue: key).flatMap { options.firstIndex(of: $0) }.map { (row[l.name]!, $0, e, swept.probe[l.name]?[key]) }
      } }
    }
    func record(_ swept: SensitivitySweep.Result) {
      if reference == nil {
        outputs = swept.outputs
        reference = swept.reference
      }
      for c in cells(swept) {
        entries[c.row][c.option] = c.entry
        if let d = c.probe { probePairs[c.option].append((d, c.entry.damage)) }
      }
    }
    var next = rules.seed(count: budget.seedPerCandidate ?? max(4, (todo.count + 5) / 6))
    while !next.isEmpty && perRound.count < maxRounds {
      record(try measure(next, samples: total, what: "measuring"))
      perRound.append(next.count)
      let measured = entries.map { $0.map { $0?.damage } }
      fits = rules.fits(measured: measured)
      next = rules.uncertain(measured: measured, fits: fits)
    }
    // Sequential estimation: what Ω left decided runs on the sub-sample; what that leaves
    // uncertain, on every sample.
    let rest = Set(todo.indices.flatMap { l in (1..<options.count).filter { entries[l][$0] == nil }.map { Screening.Pair(layer: l, option: $0) } })
    if !rest.isEmpty && probe < total {
      let swept = try measure(rest, samples: probe, what: "a \(probe)-sample probe of")
      for c in cells(swept) { probedEntries[c.row][c.option] = c.entry.subsampled(probe) }
      spread = probePairs.map(Screening.probeSpread)
      let doubtful = rules.uncertain(measured: entries.map { $0.map { $0?.damage } }, fits: fits,
                                     probed: probedEntries.map { $0.map { $0?.damage } }, probeSpread: spread)
      if !doubtful.isEmpty {
        record(try measure(doubtful, samples: total, what: "measuring"))
        perRound.append(doubtful.count)
      }
    } else if !rest.isEmpty {
      record(try measure(rest, samples: total, what: "measuring"))
      perRound.append(rest.count)
    }
    if reference == nil {
      // Nothing measured on every sample (no layer to sweep): the FP32 outputs still come from a run.
      let swept = try sweep.run(session: session, calibrator: calibrator, feeds: feeds, layers: [], task: task)
      outputs = swept.outputs
      reference = swept.reference
    }
    let layers = todo.enumerated().map { i, item -> AnalysisResult.Layer in
      var entry = AnalysisResult.Layer(index: item.offset, name: item.element.name, op: item.element.opType, params: item.element.parameterCount)
      for (o, p) in options.enumerated() where o > 0 {
        if let e = entries[i][o] ?? probedEntries[i][o] { entry.sensitivity[p.rawValue] = e }
      }
      return entry
    }
    let probedCount = todo.indices.reduce(0) { n, l in n + (1..<options.count).filter { entries[l][$0] == nil && probedEntries[l][$0] != nil }.count }
    let record = AnalysisResult.Screening(measuredPerRound: perRound, totalPairs: todo.count * sweep.candidates.count,
      resource: budget.resource.rawValue, budget: budget.limit,
      fits: Dictionary(uniqueKeysWithValues: fits.direct.map { (options[$0.key].rawValue, $0.value) }),
      probedPairs: probedCount, probeSamples: probedCount > 0 ? probe : 0, probeSpread: Dictionary(uniqueKeysWithValues: spread.enumerated().dropFirst().map { (options[$0.offset].rawValue, $0.element) }))
    return Result(layers: layers, outputs: outputs, reference: reference.map { $0.rows(at: inverse) } ?? Tensor.zeros([0]), record: record)
  }
}
