import Execution
import Foundation
import GraphIR
import Quantizers
import Sensitivity
import TensorCore
import XCTest

/// Task metrics scored against the model's own FP32 outputs: `embedding` (mean cosine, pairwise
/// similarity Spearman) and `mask-iou`, chosen by a folder's meta.json with the output they read.
final class ReferenceMetricTests: XCTestCase {
  func testCosineSpearmanAndIoUOnKnownValues() {
    let e = Tensor(shape: [2, 2], floats: [1, 0, 0, 1]), f = Tensor(shape: [2, 2], floats: [2, 0, 1, 1])
    XCTAssertEqual(TaskMetrics.meanCosine(f, e), (1 + 1 / 2.0.squareRoot()) / 2, accuracy: 1e-12)
    XCTAssertEqual(TaskMetrics.meanCosine(e, e), 1, accuracy: 1e-12)
    // Scaling a sample changes no similarity; swapping two samples' order in similarity does.
    let a = Tensor(shape: [4, 2], floats: [1, 0, 0.9, 0.1, 0, 1, 0.5, 0.5])
    let scaled = Tensor(shape: [4, 2], floats: a.floats.enumerated().map { $0.element * Float(1 + $0.offset / 2) })
    XCTAssertEqual(TaskMetrics.pairwiseSimilaritySpearman(scaled, a), 1, accuracy: 1e-12)
    let moved = Tensor(shape: [4, 2], floats: [0, 1, 0.9, 0.1, 1, 0, 0.5, 0.5])
    XCTAssertLessThan(TaskMetrics.pairwiseSimilaritySpearman(moved, a), 0.9)
    // Two maps of 4 pixels: sample 0 shares 1 of 3 set pixels, sample 1 has none on either side (counts 1).
    let p = Tensor(shape: [2, 1, 2, 2], floats: [0.9, 0.8, 0.1, 0.0, 0.1, 0.2, 0.0, 0.29])
    let q = Tensor(shape: [2, 1, 2, 2], floats: [0.9, 0.1, 0.7, 0.0, 0.0, 0.0, 0.3, 0.0])
    XCTAssertEqual(TaskMetrics.meanMaskIoU(p, q, threshold: 0.3), (1.0 / 3 + 1) / 2, accuracy: 1e-12)
    XCTAssertEqual(TaskMetrics.meanMaskIoU(p, p, threshold: 0.3), 1, accuracy: 1e-12)
    XCTAssertEqual(TaskMetrics.meanMaskIoU(p, q, threshold: 0.95), 1, accuracy: 1e-12)  // both empty everywhere
  }

  func folder(_ meta: String) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mixprec-meta-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    var g = SeededGenerator(seed: 1)
    try NPY.write(Tensor(shape: [6, 3, 6, 6], floats: (0..<(6 * 108)).map { _ in Float.random(in: -1...1, using: &g) }),
      to: dir.appendingPathComponent("x.npy"))
    try Data(meta.utf8).write(to: dir.appendingPathComponent("meta.json"))
    return dir
  }

  func testMetaJSONNamesTheMetricAndTheOutput() throws {
    let graph = OutputKindTests.threeOutputModel()
    let embedding = try XCTUnwrap(TaskMetric(folder: InputFolder(folder(#"{"metric": "embedding", "output": "pooled", "note": 1}"#), for: graph), graph: graph))
    XCTAssertEqual(embedding.labels, .fp32(.embedding, threshold: 0.3))
    XCTAssertEqual(embedding.output, "pooled")
    XCTAssertEqual(embedding.name, "embedding_cosine")
    XCTAssertTrue(embedding.needsReference)
    let mask = try XCTUnwrap(TaskMetric(folder: InputFolder(folder(#"{"metric": "mask-iou", "threshold": 0.5}"#), for: graph), graph: graph))
    XCTAssertEqual(mask.labels, .fp32(.maskIoU, threshold: 0.5))
    XCTAssertNil(mask.output)
    XCTAssertEqual(mask.outputName(compared: ["map", "pooled"]), "map")
    for (meta, message) in [(#"{"metric": "bleu"}"#, "names metric 'bleu'"), (#"{"metric": "embedding", "output": "nope"}"#, "names output 'nope'"),
                            (#"{"metric": 3}"#, "is not a meta.json")] {
      XCTAssertThrowsError(try TaskMetric(folder: InputFolder(folder(meta), for: graph), graph: graph)) {
        XCTAssertTrue("\($0)".contains(message), "\($0)")
      }
    }
  }

  /// The sweep scores the metric's own output against its FP32 values: INT4 on the layer that
  /// feeds the embedding lowers its cosine below FP16's, and the reference scores 1.
  func testTheSweepScoresAnFP32ReferencedMetricOnItsOutput() throws {
    let session = try Session(graph: OutputKindTests.threeOutputModel())
    var g = SeededGenerator(seed: 3)
    let x = ["x": Tensor(shape: [16, 3, 6, 6], floats: (0..<(16 * 108)).map { _ in Float.random(in: -1...1, using: &g) })]
    var calibrator = Calibrator(session: session)
    try calibrator.observe(x)
    let metric = TaskMetric(labels: .fp32(.embedding, threshold: 0.3), output: "pooled")
    var sweep = SensitivitySweep(candidates: [.fp16, .int4])
    sweep.taskOutput = metric.output
    let swept = try sweep.run(session: session, calibrator: calibrator, feeds: x) { metric.score($0, reference: $1, samples: $2) }
    XCTAssertEqual(swept.reference.shape, [16, 8])  // the pooled embedding, not the first compared output
    XCTAssertEqual(metric.score(swept.reference, reference: swept.reference), 1, accuracy: 1e-12)
    let conv1 = try XCTUnwrap(swept.layers.first { $0.name == "conv1" })
    let fp16 = try XCTUnwrap(conv1.sensitivity["fp16"]?.task), int4 = try XCTUnwrap(conv1.sensitivity["int4"]?.task)
    XCTAssertLessThan(int4, fp16)
    XCTAssertLessThanOrEqual(fp16, 1 + 1e-9)
    // The head feeds only the map: the embedding's cosine is untouched by it.
    XCTAssertEqual(try XCTUnwrap(swept.layers.first { $0.name == "head" }?.sensitivity["int4"]?.task), 1, accuracy: 1e-9)
  }
}
