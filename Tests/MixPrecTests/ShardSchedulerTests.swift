import XCTest

@testable import MixPrec

/// `--shard auto`'s reading of the scheduler's environment.
final class ShardSchedulerTests: XCTestCase {
  func testSlurmArrayIndexCountsFromTheArraysFirstTaskAndStep() throws {
    let s = try ShardScheduler.shard(environment: ["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4"])
    XCTAssertEqual(s.index, 4)
    XCTAssertEqual(s.count, 4)
    let offset = try ShardScheduler.shard(environment: ["SLURM_ARRAY_TASK_ID": "12", "SLURM_ARRAY_TASK_MIN": "10",
      "SLURM_ARRAY_TASK_STEP": "2", "SLURM_ARRAY_TASK_COUNT": "3"])
    XCTAssertEqual(offset.index, 2)  // tasks 10, 12, 14
  }

  func testKubernetesIndexNeedsTheCount() throws {
    XCTAssertThrowsError(try ShardScheduler.shard(environment: ["JOB_COMPLETION_INDEX": "0"]))
    XCTAssertEqual(try ShardScheduler.shard(environment: ["JOB_COMPLETION_INDEX": "0", "MIXPREC_SHARD_COUNT": "8"]).index, 1)
    XCTAssertEqual(try ShardScheduler.shard(environment: ["JOB_COMPLETION_INDEX": "7"], count: 8).index, 8)
  }

  func testOutsideASchedulerOrOutOfRangeIsAnError() {
    XCTAssertThrowsError(try ShardScheduler.shard(environment: [:])) { e in
      XCTAssertTrue("\(e)".contains("SLURM_ARRAY_TASK_ID"), "\(e)")
    }
    XCTAssertThrowsError(try ShardScheduler.shard(environment: ["JOB_COMPLETION_INDEX": "8"], count: 8))
    XCTAssertThrowsError(try ShardScheduler.shard(environment: ["SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "2"]))
  }
}
