#include <stddef.h>
#include <stdint.h>

// Runs libFuzzer's driver on `callback` (LLVMFuzzerRunDriver, compiler-rt's fuzzer_no_main runtime), or returns -1
// when this program was not linked with libFuzzer (an ordinary `swift build`): the symbol is weak.
int bank_fuzz_run_driver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
