/// `analyze --shard auto`: which shard this process is, from the scheduler that started it, so
/// one job script runs every shard of a job array (layers are dealt round-robin; `merge` joins).
public enum ShardScheduler {
  /// The environment variable that gives a Kubernetes Indexed Job's shard count (Kubernetes
  /// gives each pod its index, not the count), when `--shard-count` is not given.
  public static let countVariable = "MIXPREC_SHARD_COUNT"

  public enum Failure: Error, CustomStringConvertible {
    case noScheduler
    case badValue(String, String)
    case noCount
    case outOfRange(index: Int, count: Int)

    public var description: String {
      switch self {
      case .noScheduler:
        return "--shard auto needs a Slurm job array (SLURM_ARRAY_TASK_ID) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX); outside them give --shard k/n"
      case .badValue(let name, let value): return "--shard auto: \(name)='\(value)' is not a non-negative integer"
      case .noCount:
        return "--shard auto in a Kubernetes Indexed Job needs the shard count: --shard-count N or \(countVariable)=N (the Job's completions)"
      case .outOfRange(let index, let count): return "--shard auto: this task is shard \(index) but the array has \(count)"
      }
    }
  }

  /// Shard (1-based index, count) for `environment`. Slurm: index from SLURM_ARRAY_TASK_ID,
  /// SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_STEP, count from SLURM_ARRAY_TASK_COUNT (or
  /// `count`). Kubernetes: index from JOB_COMPLETION_INDEX (0-based), count from `count` or
  /// MIXPREC_SHARD_COUNT.
  public static func shard(environment: [String: String], count given: Int? = nil) throws -> (index: Int, count: Int) {
    func number(_ name: String) throws -> Int? {
      guard let text = environment[name] else { return nil }
      guard let v = Int(text.trimmingCharacters(in: .whitespaces)), v >= 0 else { throw Failure.badValue(name, text) }
      return v
    }
    let index: Int, count: Int
    if let id = try number("SLURM_ARRAY_TASK_ID") {
      let first = try number("SLURM_ARRAY_TASK_MIN") ?? 0, step = max(try number("SLURM_ARRAY_TASK_STEP") ?? 1, 1)
      index = (id - first) / step + 1
      guard let n = try given ?? number("SLURM_ARRAY_TASK_COUNT") else { throw Failure.noCount }
      count = n
    } else if let i = try number("JOB_COMPLETION_INDEX") {
      index = i + 1
      guard let n = try given ?? number(countVariable) else { throw Failure.noCount }
      count = n
    } else {
      throw Failure.noScheduler
    }
    guard count > 0, (1...count).contains(index) else { throw Failure.outOfRange(index: index, count: count) }
    return (index, count)
  }
}
