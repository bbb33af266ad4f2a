/// What a long pipeline step reports while it runs; the caller decides how to show it (the CLI
/// draws bars on a terminal and plain lines otherwise; a library user may ignore it).
public enum ProgressEvent: Sendable, Equatable {
  /// One line about what happens next or what just finished.
  case note(String)
  /// `done` of `total` `unit`s of `phase` (sweep, hutchinson, lanczos, adaround, qat), with a
  /// detail about the last one.
  case step(phase: String, done: Int, total: Int, unit: String, detail: String)
}

public typealias ProgressHandler = (ProgressEvent) -> Void
