import CFuzz
import Foundation

// libFuzzer's driver calls the target with each input (see Fuzz.swift). SwiftPM renames this
// file's `main` and points `main` at it, so the driver is started here.
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { bytes, size in fuzzerTestOneInput(bytes, size) })

/// Also the symbol libFuzzer's own (unused) `main` refers to.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzerTestOneInput(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  fuzzOne(size == 0 || bytes == nil ? Data() : Data(bytes: bytes!, count: size))
  return 0
}
