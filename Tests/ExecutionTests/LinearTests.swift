import XCTest

@testable import Execution
@testable import GraphIR
@testable import TensorCore

final class LinearTests: XCTestCase {
  func naiveMatMul(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int) -> [Float] {
    (0..<(m * n)).map { idx in (0..<k).reduce(Float(0)) { $0 + a[idx / n * k + $1] * b[$1 * n + idx % n] } }
  }

  func testBatchedBroadcastMatMul() throws {
    let a = randomTensor([2, 1, 3, 5], seed: 1), b = randomTensor([4, 5, 2], seed: 2)
    let got = try runOp("MatMul", [a, b])[0]
    XCTAssertEqual(got.shape, [2, 4, 3, 2])
    var want: [Float] = []
    for i in 0..<2 { for j in 0..<4 {
      want += naiveMatMul(Array(a.floats[(i * 15)..<(i * 15 + 15)]), Array(b.floats[(j * 10)..<(j * 10 + 10)]), m: 3, k: 5, n: 2)
    } }
    assertClose(got.floats, want)
  }

  func testConstantWeightAndVectors() throws {
    let a = randomTensor([2, 3, 4], seed: 3), w = randomTensor([4, 6], seed: 4)
    let got = try runOp("MatMul", [a, w])[0]
    XCTAssertEqual(got.shape, [2, 3, 6])
    assertClose(got.floats, naiveMatMul(a.floats, w.floats, m: 6, k: 4, n: 6))
    let v = randomTensor([4], seed: 5)
    let mv = try runOp("MatMul", [w.reshaped([4, 6]), randomTensor([6], seed: 6)])[0]
    XCTAssertEqual(mv.shape, [4])
    let vm = try runOp("MatMul", [v, w])[0]
    XCTAssertEqual(vm.shape, [6])
    assertClose(vm.floats, naiveMatMul(v.floats, w.floats, m: 1, k: 4, n: 6))
    XCTAssertThrowsError(try runOp("MatMul", [randomTensor([2, 3], seed: 1), randomTensor([4, 2], seed: 2)]))
  }

  func testGemmTransposesAndBroadcastC() throws {
    let a = randomTensor([5, 3], seed: 7), b = randomTensor([4, 5], seed: 8), c = randomTensor([4], seed: 9)
    let got = try runOp("Gemm", [a, b, c], attributes: ["transA": .int(1), "transB": .int(1), "alpha": .float(0.5), "beta": .float(2)])[0]
    XCTAssertEqual(got.shape, [3, 4])
    var at = [Float](repeating: 0, count: 15), bt = [Float](repeating: 0, count: 20)
    for i in 0..<5 { for j in 0..<3 { at[j * 5 + i] = a.floats[i * 3 + j] } }
    for i in 0..<4 { for j in 0..<5 { bt[j * 4 + i] = b.floats[i * 5 + j] } }
    let prod = naiveMatMul(at, bt, m: 3, k: 5, n: 4)
    assertClose(got.floats, (0..<12).map { 0.5 * prod[$0] + 2 * c.floats[$0 % 4] })
  }
}
