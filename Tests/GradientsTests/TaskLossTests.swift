import Foundation
import Gradients
import TensorCore
import XCTest

/// The label losses: CTC equals the sum over every alignment (enumerated), both gradients equal
/// central finite differences of the loss.
final class TaskLossTests: XCTestCase {
  static func logits(_ count: Int, seed: UInt64) -> [Float] {
    var g = SeededGenerator(seed: seed)
    return (0..<count).map { _ in Float.random(in: -2...2, using: &g) }
  }

  /// p(label) by brute force: every path of `steps` symbols whose collapse (merge repeats, drop
  /// blanks) is the label.
  static func bruteForce(_ z: [Float], steps t: Int, classes c: Int, label: [Int]) -> Double {
    let p = DistillationLoss.softmax(z, rowLength: c).map(Double.init)
    var total = 0.0
    var path = [Int](repeating: 0, count: t)
    func collapse(_ path: [Int]) -> [Int] {
      var out: [Int] = [], previous = -1
      for k in path { if k != previous && k != 0 { out.append(k) }; previous = k }
      return out
    }
    func visit(_ f: Int, _ prob: Double) {
      if f == t { if collapse(path) == label { total += prob }; return }
      for k in 0..<c { path[f] = k; visit(f + 1, prob * p[f * c + k]) }
    }
    visit(0, 1)
    return total
  }

  func testCTCIsTheSumOverAlignments() {
    let t = 5, c = 3
    for (seed, label) in [(1, [1, 2]), (2, [1, 1]), (3, [2]), (4, []), (5, [1, 2, 1])] as [(UInt64, [Int])] {
      let z = Self.logits(t * c, seed: seed)
      let loss = TaskLoss.ctc(logits: z, steps: t, classes: c, labels: [label]).loss
      XCTAssertEqual(loss, -log(Self.bruteForce(z, steps: t, classes: c, label: label)), accuracy: 1e-5, "label \(label)")
    }
    // [1, 1] needs a blank between the repeats: 3 frames; in 2 it cannot be aligned.
    let z = Self.logits(2 * c, seed: 6)
    XCTAssertEqual(TaskLoss.ctc(logits: z, steps: 2, classes: c, labels: [[1, 1]]).loss, 0)
  }

  func check(_ f: ([Float]) -> (loss: Double, gradient: [Float]), _ z: [Float], file: StaticString = #filePath, line: UInt = #line) {
    let g = f(z).gradient
    for i in z.indices {
      var a = z, b = z
      a[i] += 1e-3
      b[i] -= 1e-3
      let fd = (f(a).loss - f(b).loss) / 2e-3
      XCTAssertEqual(Double(g[i]), fd, accuracy: 2e-3 * max(1, abs(fd)), "element \(i)", file: file, line: line)
    }
  }

  func testCTCGradient() {
    let t = 6, c = 4
    check({ TaskLoss.ctc(logits: $0, steps: t, classes: c, labels: [[1, 2, 2], [3]]) }, Self.logits(2 * t * c, seed: 7))
  }

  func testCrossEntropyGradient() {
    let z = Self.logits(3 * 5, seed: 8)
    check({ TaskLoss.crossEntropy(logits: $0, rowLength: 5, labels: [0, 4, 2]) }, z)
    let p = DistillationLoss.softmax(z, rowLength: 5)
    XCTAssertEqual(TaskLoss.crossEntropy(logits: z, rowLength: 5, labels: [0, 4, 2]).loss,
      -(log(Double(p[0])) + log(Double(p[9])) + log(Double(p[12]))) / 3, accuracy: 1e-5)
  }
}
