// The method with nothing else (method_floor.h).
#include "method_floor.h"

#include <cmath>

#include "kernels/float_math.h"

namespace {

using streamix::kernels::portable_exp_nonpositive;
using streamix::kernels::portable_log_positive;

// log w + log of the normalizer (2 pi)^(-D/2) prod(var)^(-1/2), one log for both.
void derive(method_floor* m, int k) {
  float variance_product = 1.0f;  // (D <= 16 here, variances near 1: no overflow)
  for (int j = 0; j < m->d; ++j) {
    const float v = m->variance[k * m->d + j];
    m->half_precision[k * m->d + j] = 0.5f / v;
    variance_product *= v;
  }
  m->log_constant[k] = portable_log_positive(m->weight[k] / std::sqrt(variance_product)) -
                       0.9189385f * static_cast<float>(m->d);
}

}  // namespace

extern "C" void method_floor_init(method_floor* m, int k, int d, float* storage, const float* w,
                                  const float* mean, const float* var) {
  m->k = k;
  m->d = d;
  m->t = 0;
  m->weight = storage;
  m->log_constant = storage + k;
  m->scratch = storage + 2 * k;
  m->mean = storage + 3 * k;
  m->variance = m->mean + k * d;
  m->half_precision = m->variance + k * d;
  for (int c = 0; c < k; ++c) {
    m->weight[c] = w[c];
    for (int j = 0; j < d; ++j) {
      m->mean[c * d + j] = mean[c * d + j];
      m->variance[c * d + j] = var[c * d + j];
    }
    derive(m, c);
  }
}

extern "C" float method_floor_observe(method_floor* m, const float* x) {
  const int k_count = m->k, d_count = m->d;
  float* l = m->scratch;
  float top = -INFINITY;
  for (int k = 0; k < k_count; ++k) {
    const float* mean = m->mean + k * d_count;
    const float* hp = m->half_precision + k * d_count;
    float q = 0.0f;
    for (int j = 0; j < d_count; ++j) {
      const float delta = x[j] - mean[j];
      q += hp[j] * delta * delta;
    }
    l[k] = m->log_constant[k] - q;
    top = l[k] > top ? l[k] : top;
  }
  float total = 0.0f;
  for (int k = 0; k < k_count; ++k) total += (l[k] = portable_exp_nonpositive(l[k] - top));
  const float inv = 1.0f / total;
  const float log_p = top + portable_log_positive(total);
  ++m->t;
  const float gamma =
      portable_exp_nonpositive(-0.6f * portable_log_positive(static_cast<float>(m->t) + 2.0f));
  for (int k = 0; k < k_count; ++k) {
    const float gr = gamma * l[k] * inv;
    const float s0 = (1.0f - gamma) * m->weight[k] + gr;
    m->weight[k] = s0;
    const float eta = gr / s0;
    float* mean = m->mean + k * d_count;
    float* variance = m->variance + k * d_count;
    for (int j = 0; j < d_count; ++j) {
      const float delta = x[j] - mean[j];
      mean[j] += eta * delta;
      variance[j] = (1.0f - eta) * (variance[j] + eta * delta * delta);
    }
    derive(m, k);
  }
  return log_p;
}
