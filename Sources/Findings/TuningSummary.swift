/// What `tune` decided and measured, for the report: the chosen assignment, the Pareto front of
/// size (and latency) versus predicted damage, the measured points and the uniform baselines.
public struct TuningSummary: Codable, Equatable, Sendable {
  /// One plan: its size and latency, predicted damage and, when run, measured figures.
  public struct Point: Codable, Equatable, Sendable {
    public var label: String
    public var weightBytes: Int
    public var predictedLatencyMs: Double?
    public var measuredLatencyMs: Double?
    public var predictedDamage: Double?
    public var measuredDamage: Double?
    /// The task metric on the evaluation set.
    public var metric: Double?

    public init(label: String, weightBytes: Int, predictedLatencyMs: Double? = nil, measuredLatencyMs: Double? = nil,
                predictedDamage: Double? = nil, measuredDamage: Double? = nil, metric: Double? = nil) {
      self.label = label
      self.weightBytes = weightBytes
      self.predictedLatencyMs = predictedLatencyMs
      self.measuredLatencyMs = measuredLatencyMs
      self.predictedDamage = predictedDamage
      self.measuredDamage = measuredDamage
      self.metric = metric
    }
  }

  public var budget: String
  /// measured (one-layer KL), hessian (HAWQ-V2 score) or blend.
  public var objective: String
  public var commandLine: String
  public var machine: String?
  public var batch: Int
  /// Layer name → chosen precision.
  public var chosen: [String: String]
  public var chosenPoint: Point
  public var fp32: Point
  public var baselines: [Point]
  public var front: [Point]
  public var measured: [Point]
  /// Layer name → precision → median ms on this machine.
  public var latencyMs: [String: [String: Double]]?
  /// Layer name → precision → weight bytes (weights + scales).
  public var weightBytes: [String: [String: Int]]
  public var metricName: String?
  /// The plan as written (plan.json), to reproduce the result.
  public var planJSON: String?
  /// The size and latency limits the solver worked under (for the budget lines).
  public var budgetBytes: Int?
  public var budgetLatencyMs: Double?
  /// Quantization-aware training of the chosen plan, when it ran.
  public var qat: QATSummary?
  /// MatMuls between two activations the chosen plan runs at INT8 (`--quantize-activation-matmuls`),
  /// and the damage they cause alone (every layer FP32), measured on the evaluation samples.
  public var activationProducts: [String]?
  public var activationProductDamage: Double?
  /// Wall seconds per phase of the run, in order (calibration, sweep, Hessian, latency table,
  /// solve, AdaRound, evaluation, baselines, …), the total last.
  public var phases: [Phase]?

  public struct Phase: Codable, Equatable, Sendable {
    public var name: String
    public var seconds: Double
    public init(name: String, seconds: Double) {
      self.name = name
      self.seconds = seconds
    }
  }

  /// What QAT did: its settings, losses and the chosen plan's measured figures before it.
  public struct QATSummary: Codable, Equatable, Sendable {
    public var epochs: Int
    /// distill, task or both.
    public var loss: String
    public var trainingSamples: Int
    public var seconds: Double
    /// The mean training loss of each epoch.
    public var epochLoss: [Double]
    /// The chosen plan after the post-training refinements, before QAT.
    public var before: Point

    public init(epochs: Int, loss: String, trainingSamples: Int, seconds: Double, epochLoss: [Double], before: Point) {
      self.epochs = epochs
      self.loss = loss
      self.trainingSamples = trainingSamples
      self.seconds = seconds
      self.epochLoss = epochLoss
      self.before = before
    }
  }

  public init(budget: String, objective: String, commandLine: String, machine: String?, batch: Int, chosen: [String: String],
              chosenPoint: Point, fp32: Point, baselines: [Point], front: [Point], measured: [Point],
              latencyMs: [String: [String: Double]]?, weightBytes: [String: [String: Int]], metricName: String?) {
    self.budget = budget
    self.objective = objective
    self.commandLine = commandLine
    self.machine = machine
    self.batch = batch
    self.chosen = chosen
    self.chosenPoint = chosenPoint
    self.fp32 = fp32
    self.baselines = baselines
    self.front = front
    self.measured = measured
    self.latencyMs = latencyMs
    self.weightBytes = weightBytes
    self.metricName = metricName
  }
}
