// The fuzz targets' assertion: a failed check names its file and line, then traps (libFuzzer
// reports the trap as a crash and saves the input).
#ifndef STREAMIX_TESTS_FUZZ_REQUIRE_H
#define STREAMIX_TESTS_FUZZ_REQUIRE_H

#include <cstdio>

#define require(condition)                                                            \
  do {                                                                                \
    if (!(condition)) {                                                               \
      std::fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #condition);           \
      __builtin_trap();                                                               \
    }                                                                                 \
  } while (0)

#endif  // STREAMIX_TESTS_FUZZ_REQUIRE_H
