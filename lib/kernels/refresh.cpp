// What is composed from the kernel operations, whatever the backend: the log-sum-exp's
// value, the weights' normalization and the full refresh of an iterate.
#include <cstring>

#include "kernels/float_math.h"
#include "kernels/kernels.h"

namespace streamix::kernels {

float lse_value(const LogSumExp& acc) {
  if (acc.max == -kInf) return -kInf;
  return acc.max + log_positive(acc.sum);
}

void normalize_weights(const Stats& s, const ParamArrays& out) {
  const float inv_total =
      inverse_weight_total(s.shape.components, [&s](uint32_t k) { return s.weight[k]; });
  for (uint32_t k = 0; k < s.shape.components; ++k) out.weight[k] = s.weight[k] * inv_total;
}

void refresh_from_stats(const Stats& s, const ParamArrays& out) {
  const Shape shape = s.shape;
  normalize_weights(s, out);
  if (out.mean != s.mean) {  // a held iterate: its own arrays (see kernels.h)
    const size_t matrix_bytes = sizeof(float) * shape.stride * shape.features;
    std::memcpy(out.mean, s.mean, matrix_bytes);
    std::memcpy(out.variance, s.variance, matrix_bytes);
  }
  derive_estep_terms(out);
}

}  // namespace streamix::kernels
