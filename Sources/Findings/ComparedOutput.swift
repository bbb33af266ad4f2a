import Foundation

/// What a model output is, which decides how its damage is measured.
public enum OutputKind: String, Codable, CaseIterable, Sendable {
  /// Rows (all axes but the last) that are distributions: mean KL(FP32 ‖ quantized) per row.
  case probs
  /// Unnormalised class scores: mean KL of the rows' softmaxes.
  case logits
  /// Independent values in [0, 1] (a sigmoid map): mean binary KL per element.
  case sigmoid
  /// Vectors compared by direction: mean 1 − cosine per row.
  case embedding
  /// Anything else: relative squared error Σ(y − ŷ)² / Σy² (SQNR = −10·log10 of it).
  case regression
}

/// One output the damage is measured on, with its kind and where the kind came from.
public struct ComparedOutput: Codable, Equatable, Sendable {
  public var name: String
  public var kind: OutputKind
  /// True when the kind was detected from the FP32 values and the graph, false when given
  /// (`--output-kind`).
  public var detected: Bool

  public init(name: String, kind: OutputKind, detected: Bool) {
    self.name = name
    self.kind = kind
    self.detected = detected
  }
}
