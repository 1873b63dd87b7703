// When a bank's models must equal their lone twins bit for bit: the rule bank_test.cpp and
// fuzz/fuzz_api.cpp both hold banks to.
#ifndef STREAMIX_TESTS_BANK_ARITHMETIC_H
#define STREAMIX_TESTS_BANK_ARITHMETIC_H

#include <cstring>

#include "streamix/streamix.h"

// Where a bank's arithmetic is a lone model's (but for log p's logarithm): models in states
// the lanes do not step (K > 16, mini-batches, averaging) run the lone learner itself on
// every backend, and the lanes repeat the Highway backend's per-sample arithmetic exactly for
// K <= 2 (for more components the lone model sums its exponentials across lanes in the
// target's order; on xsimd a lone model of K <= 4 runs SSE4.2 vectors without FMA; the scalar
// backend sums the features in one chain). Vector division is IEEE division on every target
// (lib/kernels/exact_division.h), so 32-bit ARM is no exception.
inline bool same_arithmetic(const smx_config& c) {
  const bool lone_path = c.components > 16 || c.batch_size > 1 || c.average_from > 0;
  return lone_path || (std::strcmp(smx_backend(), "highway") == 0 && c.components <= 2);
}

#endif  // STREAMIX_TESTS_BANK_ARITHMETIC_H
