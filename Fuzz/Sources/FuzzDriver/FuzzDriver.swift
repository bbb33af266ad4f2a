import CFuzz
import Foundation

/// The target of this process, set once by `runFuzzer` before the driver starts.
nonisolated(unsafe) private var target: ((Data) -> Void)?

/// Runs libFuzzer's driver on `body` and exits with its status. SwiftPM renames an executable's
/// `main` and points `main` at it, so each target's main.swift starts the driver through this.
public func runFuzzer(_ body: @escaping (Data) -> Void) -> Never {
  target = body
  var argc = CommandLine.argc
  var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
  exit(LLVMFuzzerRunDriver(&argc, &argv) { bytes, size in fuzzerTestOneInput(bytes, size) })
}

/// One input: also the symbol libFuzzer's own (unused) `main` refers to.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  target?(size == 0 || bytes == nil ? Data() : Data(bytes: bytes!, count: size))
  return 0
}
