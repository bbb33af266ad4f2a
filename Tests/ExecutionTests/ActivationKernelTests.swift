import CKernels
import Kernels
import XCTest

@testable import Execution

/// The C activation kernel: every instruction set gives the scalar twin's bits, and the twin
/// gives the bits of the runtime's Swift formulas (the unfused nodes' arithmetic).
final class ActivationKernelTests: XCTestCase {
  /// Values around every activation's kinks and cut-offs, signed zeros, infinities, NaN, and
  /// random ones; a length off every vector width and the 1024-float block.
  static let inputs: [Float] = {
    var v: [Float] = [0, -0, 3, -3, 6, -6, 2.999_999_8, -3.000_000_2, 1e-30, -1e-30, 4, -4, 4.5, -4.5, 1e30, -1e30,
      .infinity, -.infinity, .nan, .leastNonzeroMagnitude, -.greatestFiniteMagnitude]
    var state: UInt64 = 7
    while v.count < 2_333 {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      v.append(Float(Int64(bitPattern: state >> 11) % 2_000_001) / 125_000)  // [-8, 8]
    }
    return v
  }()

  static let epilogues: [Epilogue] = [
    .hardSwish, .clamp(lo: 0, hi: .infinity), .clamp(lo: 0, hi: 6), .hardSigmoid(alpha: 0.2, beta: 0.5),
    .leakyRelu(alpha: 0.1), .gelu(divisor: 1.414_213_5, half: 0.5), .then(.hardSwish, .mul(0.75)),
    .then(.then(.clamp(lo: -1, hi: 1), .add(0.5)), .mul(-2)), .identity,
  ]

  func bits(_ epilogue: Epilogue, bias: Float, isa: KernelISA?) -> [UInt32] {
    var x = Self.inputs
    x.withUnsafeMutableBufferPointer { p in
      if let isa {
        let start = bias == 0 ? ActivationProgram() : ActivationProgram().appending(.add(bias))!
        FloatKernels.activate(p.baseAddress!, count: p.count, epilogue.program(after: start)!, isa: isa)
      } else {
        epilogue.applyInSwift(p.baseAddress!, count: p.count, bias: bias)
      }
    }
    return x.map(\.bitPattern)
  }

  func testScalarTwinEqualsTheSwiftFormulas() {
    for e in Self.epilogues {
      for bias: Float in [0, 0.37] {
        let swift = bits(e, bias: bias, isa: nil), twin = bits(e, bias: bias, isa: .scalar)
        let i = swift.indices.first { j in
          Float(bitPattern: swift[j]).isNaN ? !Float(bitPattern: twin[j]).isNaN : swift[j] != twin[j]
        }
        XCTAssertNil(i, "\(e) bias \(bias): at input \(i.map { Self.inputs[$0] } ?? 0)")
      }
    }
  }

  func testVectorCopiesEqualTheScalarTwin() throws {
    let isas = KernelISA.available.filter { $0 != .scalar }
    guard !isas.isEmpty else { throw XCTSkip("this CPU has no vector instruction set") }
    for isa in isas {
      for e in Self.epilogues {
        let twin = bits(e, bias: 0.37, isa: .scalar), vector = bits(e, bias: 0.37, isa: isa)
        XCTAssertEqual(twin, vector, "\(e) on \(isa)")
      }
    }
  }

  func testAProgramHoldsAtMostItsStepsAndApplyFallsBackBeyond() {
    var p = ActivationProgram()
    for _ in 0..<ActivationProgram.maxSteps { p = p.appending(.mul(2))! }
    XCTAssertNil(p.appending(.mul(2)))
    var deep = Epilogue.hardSwish
    for _ in 0..<ActivationProgram.maxSteps { deep = deep.followed(by: .mul(2)) }
    XCTAssertNil(deep.program(after: ActivationProgram()))
    var x: [Float] = [1, -1, 4]
    x.withUnsafeMutableBufferPointer { deep.apply($0.baseAddress!, count: 3, bias: 0) }
    XCTAssertEqual(x, [Float(2) / 3 * 64, -Float(2) / 6 * 64, 4 * 64])
  }

  func testBinaryRowsEqualSwiftArithmeticOnEveryISA() {
    let a = Self.inputs, b = Array(Self.inputs.reversed())
    let swift: [FloatKernels.BinaryOp: (Float, Float) -> Float] = [.add: { $0 + $1 }, .sub: { $0 - $1 }, .mul: { $0 * $1 },
      .div: { $0 / $1 }]
    for isa in KernelISA.available {
      for (op, f) in swift {
        for (aStep, bStep) in [(1, 1), (1, 0), (0, 1), (0, 0)] {
          for n in [1, 15, 17, a.count] {
            var y = [Float](repeating: .nan, count: n)
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in y.withUnsafeMutableBufferPointer {
              FloatKernels.binaryRow(op, $0.baseAddress!, pa.baseAddress!, aStep: aStep, pb.baseAddress!, bStep: bStep,
                count: n, isa: isa)
            } } }
            let want = (0..<n).map { f(a[$0 * aStep], b[$0 * bStep]).bitPattern }
            XCTAssertEqual(y.map(\.bitPattern).enumerated().filter { !Float(bitPattern: $0.element).isNaN }.map(\.element),
              want.enumerated().filter { !Float(bitPattern: $0.element).isNaN }.map(\.element), "\(op) \(aStep)/\(bStep) n \(n) on \(isa)")
            XCTAssertEqual(y.map(\.isNaN), want.map { Float(bitPattern: $0).isNaN })
          }
        }
      }
    }
    // In place: y is a.
    var x = a
    x.withUnsafeMutableBufferPointer { p in
      b.withUnsafeBufferPointer { FloatKernels.binaryRow(.mul, p.baseAddress!, p.baseAddress!, aStep: 1, $0.baseAddress!, bStep: 1, count: p.count) }
    }
    XCTAssertEqual(x.map(\.isNaN), zip(a, b).map { ($0 * $1).isNaN })
    XCTAssertEqual(x.filter { !$0.isNaN }, zip(a, b).map { $0 * $1 }.filter { !$0.isNaN })
  }
}
