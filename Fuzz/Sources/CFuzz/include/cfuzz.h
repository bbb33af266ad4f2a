#ifndef CFUZZ_H
#define CFUZZ_H
#include <stddef.h>
#include <stdint.h>
/// libFuzzer's driver (linked by -sanitize=fuzzer): parses the fuzzing flags and calls `callback`
/// with each input. SwiftPM renames an executable's `main`, so the targets call it themselves.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
#endif
