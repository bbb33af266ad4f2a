import Execution
import Findings
import Foundation
import GraphIR
import Quantizers
import Sensitivity
import TensorCore

/// The sweep that measures where it matters (`tune --sweep screened`): Ω screens every
/// (layer, candidate) pair, a seed spread over Ω's ranks is measured, and then, round after
/// round, the pairs `Screening.uncertain` names, until none is left (or `maxRounds`). Unmeasured
/// pairs keep the fitted prediction, marked `predicted` in the analysis.
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

  /// - Parameter hessian: the Hessian figures of every layer to sweep (their Ω scores).
  func run(session: Session, calibrator: Calibrator, feeds: [String: Tensor], layers names: [String],
           hessian: [String: AnalysisResult.Hessian], task: ((Tensor, Range<Int>) -> Double)?,
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
    var entries = todo.map { _ in [AnalysisResult.Entry?](repeating: nil, count: options.count) }
    var outputs: [ComparedOutput] = [], reference: Tensor? = nil
    var perRound: [Int] = []
    var fits = Screening.Fits()
    var next = rules.seed(count: budget.seedPerCandidate ?? max(4, (todo.count + 5) / 6))
    while !next.isEmpty && perRound.count < maxRounds {
      var pairs: [String: Set<Precision>] = [:]
      for p in next { pairs[todo[p.layer].element.name, default: []].insert(options[p.option]) }
      progress(.note("screened sweep, round \(perRound.count + 1): measuring \(next.count) of \(todo.count * sweep.candidates.count) pairs"))
      let swept = try sweep.run(session: session, calibrator: calibrator, feeds: feeds, layers: Array(pairs.keys), pairs: pairs, task: task) { done, total, line in
        progress(.step(phase: "sweep", done: done, total: total, unit: "layers×batches", detail: line))
      }
      if reference == nil {
        outputs = swept.outputs
        reference = swept.reference
      }
      let row = Dictionary(uniqueKeysWithValues: todo.enumerated().map { ($0.element.element.name, $0.offset) })
      for l in swept.layers {
        for (key, e) in l.sensitivity { if let p = Precision(rawValue: key), let o = options.firstIndex(of: p) { entries[row[l.name]!][o] = e } }
      }
      perRound.append(next.count)
      let measured = entries.map { $0.map { $0?.damage } }
      fits = rules.fits(measured: measured)
      next = rules.uncertain(measured: measured, fits: fits)
    }
    let measured = entries.map { $0.map { $0?.damage } }
    let bands = rules.bands(measured: measured, fits: fits)
    let layers = todo.enumerated().map { i, item -> AnalysisResult.Layer in
      var entry = AnalysisResult.Layer(index: item.offset, name: item.element.name, op: item.element.opType, params: item.element.parameterCount)
      for (o, p) in options.enumerated() where o > 0 {
        if let e = entries[i][o] {
          entry.sensitivity[p.rawValue] = e
        } else if let b = bands[i][o] {
          entry.sensitivity[p.rawValue] = .prediction(sqrt(b.lowerBound * b.upperBound))
        }
      }
      return entry
    }
    let record = AnalysisResult.Screening(measuredPerRound: perRound, totalPairs: todo.count * sweep.candidates.count,
      resource: budget.resource.rawValue, budget: budget.limit,
      fits: Dictionary(uniqueKeysWithValues: fits.direct.map { (options[$0.key].rawValue, $0.value) }))
    return Result(layers: layers, outputs: outputs, reference: reference ?? Tensor.zeros([0]), record: record)
  }
}
