// The library's per-sample step with K and D fixed at compile time (specialized_floor.h).
#include "specialized_floor.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/float_math.h"
#include "streamix/streamix.h"

namespace {

using streamix::kernels::kLn2Hi;
using streamix::kernels::kLn2Lo;
using streamix::kernels::portable_exp_nonpositive;
using streamix::kernels::portable_log_positive;

constexpr float kInf = INFINITY;
constexpr float kWeightFloor = 0.005f, kVarianceFloor = 1e-6f, kMaxVariance = 0x1.0p125f;

template <int K, int D>
struct Model {
  float stats_weight[K], log_weight[K], log_norm[K];
  float mean[K][D], residual[K][D], variance[K][D], half_precision[K][D];
  uint32_t t;
};

inline float max_of(float a, float b) { return a > b ? a : b; }
inline float min_of(float a, float b) { return a < b ? a : b; }

// Half precisions and normalizer of component k (one log for D <= 8).
template <int K, int D>
void derive(Model<K, D>& m, int k) {
  int32_t exponents = 0;
  float product = 1.0f;
  for (int d = 0; d < D; ++d) {
    const float v = m.variance[k][d];
    m.half_precision[k][d] = 0.5f / v;
    int32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    exponents += bits >> 23;
    const int32_t mantissa_bits = (bits & 0x007FFFFF) | 0x3F800000;
    float mantissa;
    std::memcpy(&mantissa, &mantissa_bits, sizeof mantissa);
    product *= mantissa;
  }
  const float n = static_cast<float>(exponents - 127 * D);
  m.log_norm[k] = -0.5f * (1.8378770664093453f * D + portable_log_positive(product) + (n * kLn2Hi + n * kLn2Lo));
}

template <int K, int D>
float observe(Model<K, D>& m, const float* x) {
  for (int d = 0; d < D; ++d) {
    if (!(std::fabs(x[d]) <= SMX_MAX_ABS_FEATURE)) return NAN;
  }
  float e[K], top = -kInf;
  for (int k = 0; k < K; ++k) {
    float q = 0.0f;
    for (int d = 0; d < D; ++d) {
      const float delta = x[d] - m.mean[k][d];
      q += m.half_precision[k][d] * delta * delta;
    }
    e[k] = (m.log_weight[k] + m.log_norm[k]) - q;
    top = max_of(top, e[k]);
  }
  if (top == -kInf) return -kInf;
  float total = 0.0f;
  for (int k = 0; k < K; ++k) {
    const float gap = e[k] - top;
    e[k] = gap >= -44.361419555836499f ? portable_exp_nonpositive(gap) : 0.0f;
    total += e[k];
  }
  const float inv = 1.0f / total;
  const float log_p = top + portable_log_positive(total);
  bool dead = false;
  for (int k = 0; k < K; ++k) dead |= m.stats_weight[k] <= kWeightFloor;
  if (dead) return log_p;  // (the library would re-seed here; the counted runs never do)
  ++m.t;
  const float gamma = portable_exp_nonpositive(-0.6f * portable_log_positive(static_cast<float>(m.t) + 2.0f));
  float eta[K], weight_total = 0.0f;
  for (int k = 0; k < K; ++k) {
    float r = e[k] * inv;
    r = r >= 0x1.0p-64f ? r : 0.0f;
    const float gr = gamma * r;
    const float s0 = max_of((1.0f - gamma) * m.stats_weight[k] + gr, kWeightFloor);
    m.stats_weight[k] = s0;
    eta[k] = gr / s0;
    weight_total += s0;
  }
  const float inv_weight_total = 1.0f / weight_total;
  for (int k = 0; k < K; ++k) {
    m.log_weight[k] = portable_log_positive(m.stats_weight[k] * inv_weight_total);
    const float step = eta[k];
    if (step == 0.0f) continue;
    for (int d = 0; d < D; ++d) {
      float& mean = m.mean[k][d];
      float& residual = m.residual[k][d];
      const float delta = (x[d] - mean) - residual;
      const float addend = residual + step * delta;
      const float sum = mean + addend;
      const float addend_part = sum - mean;
      residual = (mean - (sum - addend_part)) + (addend - addend_part);
      mean = sum;
      const float increment = min_of(step * delta * delta, kMaxVariance);
      const float v = (1.0f - step) * (m.variance[k][d] + increment);
      m.variance[k][d] = min_of(max_of(v, kVarianceFloor), kMaxVariance);
    }
    derive(m, k);
  }
  return log_p;
}

template <int K, int D>
void start(Model<K, D>& m, const float* w, const float* mean, const float* var) {
  m.t = 0;
  for (int k = 0; k < K; ++k) {
    m.stats_weight[k] = w[k];
    m.log_weight[k] = portable_log_positive(w[k]);
    for (int d = 0; d < D; ++d) {
      m.mean[k][d] = mean[k * D + d];
      m.residual[k][d] = 0.0f;
      m.variance[k][d] = var[k * D + d];
    }
    derive(m, k);
  }
}

Model<2, 4> g_2x4;
Model<3, 3> g_3x3;
Model<8, 8> g_8x8;
int g_shape = 0;  // K of the model started last

}  // namespace

extern "C" int specialized_floor_init(int k, int d, const float* w, const float* mean, const float* var) {
  if (k == 2 && d == 4) start(g_2x4, w, mean, var);
  else if (k == 3 && d == 3) start(g_3x3, w, mean, var);
  else if (k == 8 && d == 8) start(g_8x8, w, mean, var);
  else return 0;
  g_shape = k;
  return 1;
}

extern "C" float specialized_floor_observe(const float* x) {
  switch (g_shape) {
    case 2: return observe(g_2x4, x);
    case 3: return observe(g_3x3, x);
    case 8: return observe(g_8x8, x);
    default: return NAN;
  }
}
