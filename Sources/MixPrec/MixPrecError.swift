import Foundation
import TensorCore

/// Why a pipeline cannot start or go on, with what the message needs. Callers decide on the
/// case, never on the text.
public enum MixPrecError: Error, CustomStringConvertible, Equatable, Sendable {
  case modelNotFound(String)
  case unreadable(String)
  /// A plan.json made for another model file.
  case planForAnotherModel(plan: String, planModel: String, planSHA256: String, model: String, modelSHA256: String)
  /// An analysis made for another model file (its model's name, the model's path).
  case analysisForAnotherModel(analysisModel: String, model: String)
  /// An input folder with fewer samples than the step needs.
  case tooFewSamples(folder: String, samples: Int, needed: Int)
  /// A loss or metric that needs labels the folder does not have.
  case missingLabels(folder: String, needer: String)
  /// Calibration data with NaN or ±∞ in a float input (ranges need finite data).
  case nonFiniteCalibration(input: String, count: Int, of: Int)
  /// An option value out of its range (`option`, what it must be).
  case invalidOption(option: String, rule: String)

  public var description: String {
    switch self {
    case .modelNotFound(let path): return "model file '\(path)' not found"
    case .unreadable(let path): return "cannot read '\(path)'"
    case .planForAnotherModel(let plan, let planModel, let planSHA, let model, let modelSHA):
      return "plan '\(plan)' was made for \(planModel) (sha256 \(planSHA.prefix(12))…), not for '\(model)' (sha256 \(modelSHA.prefix(12))…)"
    case .analysisForAnotherModel(let analysisModel, let model):
      return "the analysis was made for another model (\(analysisModel)), not for '\(model)'"
    case .tooFewSamples(let folder, let samples, let needed):
      return "input folder '\(folder)' has \(samples) samples; this step needs at least \(needed)"
    case .missingLabels(let folder, let needer):
      return "\(needer) needs labels.npy (classes) or labels.txt (texts, for a model with a CTC dictionary) in '\(folder)'"
    case .invalidOption(let option, let rule): return "\(option) \(rule)"
    case .nonFiniteCalibration(let input, let count, let total):
      return "calibration input '\(input)' holds \(count) non-finite values (NaN or ±∞) of \(total); calibration needs finite data"
    }
  }
}

extension MixPrecError {
  /// Throws `nonFiniteCalibration` for the first float input holding NaN or ±∞.
  static func requireFinite(_ feeds: [String: Tensor]) throws {
    for (name, t) in feeds.sorted(by: { $0.key < $1.key }) {
      guard case .float(let v) = t.storage else { continue }
      let bad = v.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
      if bad > 0 { throw MixPrecError.nonFiniteCalibration(input: name, count: bad, of: v.count) }
    }
  }
}
