import CKernels

/// AdaRound's per-weight steps (C: `ck_adaround.c`, a scalar `_ref` twin and AVX2 / AVX-512
/// copies with the twin's bits, chosen for `isa`).
public enum AdaRoundKernels {
  /// d[i] = w[i] − s[i]·clamp(⌊W/s⌋[i] + h(v[i]), −qmax, qmax) for i in 0..<count.
  public static func softDelta(w: UnsafePointer<Float>, floorW: UnsafePointer<Float>, scales: UnsafePointer<Float>,
                               v: UnsafePointer<Float>, delta: UnsafeMutablePointer<Float>, count: Int, qmax: Float,
                               isa: KernelISA = .selected) {
    ck_adaround_delta_for(isa.c)!(w, floorW, scales, v, delta, count, qmax)
  }

  /// One Adam step on v from the reconstruction gradient ∂L/∂W̃ and the rounding regulariser
  /// λ Σ (1 − |2h − 1|^β); `firstMoment`, `secondMoment` are Adam's bias corrections.
  public static func adamStep(gradient: UnsafePointer<Float>, scales: UnsafePointer<Float>, v: UnsafeMutablePointer<Float>,
                              m: UnsafeMutablePointer<Float>, s2: UnsafeMutablePointer<Float>, count: Int, beta: Float, lambda: Float,
                              rate: Float, firstMoment: Float, secondMoment: Float, isa: KernelISA = .selected) {
    ck_adaround_adam_for(isa.c)!(gradient, scales, v, m, s2, count, beta, lambda, rate, firstMoment, secondMoment)
  }

  /// The polynomial exp and log the steps use.
  public static func exp(_ x: Float) -> Float { ck_adaround_exp(x) }
  public static func log(_ x: Float) -> Float { ck_adaround_log(x) }
}
