import CKernels

/// An instruction set the C kernels are built for, lowest first.
public enum KernelISA: Int, CaseIterable, Sendable, Comparable, CustomStringConvertible {
  case scalar = 0
  case avx2 = 1
  case avxVNNI = 2
  case avx512VNNI = 3

  /// The set every kernel uses in this process: the best the CPU has, or the lower one named by
  /// the environment variable MIXPREC_ISA (scalar, avx2, avxvnni, avx512vnni). Chosen once.
  public static var selected: KernelISA { KernelISA(rawValue: Int(ck_selected_isa().rawValue))! }

  /// Every set this CPU can run, lowest first (always includes `.scalar`).
  public static var available: [KernelISA] { allCases.filter(\.isSupported) }

  public var isSupported: Bool { ck_cpu_supports(c) != 0 }

  /// The name MIXPREC_ISA and the benchmarks use.
  public var description: String { String(cString: ck_isa_name(c)) }

  public init?(name: String) {
    let i = ck_isa_from_name(name)
    guard i >= 0 else { return nil }
    self.init(rawValue: Int(i))
  }

  /// The C enum value.
  public var c: ck_isa { ck_isa(rawValue: UInt32(rawValue)) }

  public static func < (a: KernelISA, b: KernelISA) -> Bool { a.rawValue < b.rawValue }

  /// Runs `iterations` rounds of 12 independent VPDPBUSD on this set's widest vectors and returns
  /// the integer operations done (2 per multiply-add), 0 for a set without VNNI. Timed by the
  /// caller: the dot-product peak the GEMM is measured against.
  public func dotProductPeakOps(iterations: Int) -> Double { ck_vnni_peak_ops(c, iterations) }
}

/// A kernel call that cannot run as asked: the message names the argument and what it must be.
public struct KernelError: Error, CustomStringConvertible {
  public let description: String
  public init(_ description: String) { self.description = description }
}
