// Portable C++17 reference backend: plain loops over the feature-major layout. It is the
// only backend on Cortex-M, so it keeps stack use bounded (one block of kBlock floats) and
// uses float arithmetic only.
#include "kernels/kernels.h"

#include <algorithm>
#include <cmath>

namespace streamix::kernels {
namespace scalar {
namespace {

constexpr float kLog2Pi = 1.8378770664093453f;

void log_joint_block(const EStepParams& p, const float* x, uint32_t first, float* l) {
  const uint32_t stride = p.shape.stride;
  for (uint32_t j = 0; j < kBlock; ++j) l[j] = 0.0f;
  for (uint32_t d = 0; d < p.shape.features; ++d) {
    const float xd = x[d];
    const float* mean = p.mean + size_t{d} * stride + first;
    const float* half_precision = p.half_precision + size_t{d} * stride + first;
    for (uint32_t j = 0; j < kBlock; ++j) {
      const float delta = xd - mean[j];
      l[j] += half_precision[j] * delta * delta;
    }
  }
  for (uint32_t j = 0; j < kBlock; ++j) {
    l[j] = (p.log_weight[first + j] + p.log_norm[first + j]) - l[j];
  }
}

void lse_add(LogSumExp& acc, const float* l, uint32_t n) {
  float block_max = -kInf;
  for (uint32_t i = 0; i < n; ++i) block_max = std::max(block_max, l[i]);
  const float new_max = std::max(acc.max, block_max);
  if (new_max == -kInf) return;  // everything so far is -inf: keep sum = 0, avoid inf - inf
  float sum = lse_rescaled_sum(acc, new_max);
  for (uint32_t i = 0; i < n; ++i) sum += std::exp(l[i] - new_max);
  acc.max = new_max;
  acc.sum = sum;
}

void responsibilities(const float* l, uint32_t n, const LogSumExp& lse, float* r) {
  if (lse.max == -kInf) {  // no component can take the sample
    for (uint32_t i = 0; i < n; ++i) r[i] = 0.0f;
    return;
  }
  const float inv = 1.0f / lse.sum;  // the sum is in [1, n]
  for (uint32_t i = 0; i < n; ++i) {
    const float gap = l[i] - lse.max;
    const float v = gap >= kMinLogResponsibility ? std::exp(gap) * inv : 0.0f;
    r[i] = v >= 0x1.0p-64f ? v : 0.0f;
  }
}

void mstep_update(const Stats& s, const float* x, const float* r, float gamma,
                  float variance_floor, float weight_floor) {
  const uint32_t stride = s.shape.stride;
  const float keep = 1.0f - gamma;
  for (uint32_t first = 0; first < stride; first += kBlock) {
    float eta[kBlock];
    bool any = false;
    for (uint32_t j = 0; j < kBlock; ++j) {
      const uint32_t k = first + j;
      const float gr = gamma * r[k];
      const float s0 = std::max(keep * s.weight[k] + gr, weight_floor);
      s.weight[k] = s0;
      eta[j] = gr / s0;
      any = any || eta[j] != 0.0f;
    }
    if (!any) continue;  // far components: their means and variances are unchanged
    for (uint32_t d = 0; d < s.shape.features; ++d) {
      const float xd = x[d];
      float* mean = s.mean + size_t{d} * stride + first;
      float* residual = s.mean_residual + size_t{d} * stride + first;
      float* variance = s.variance + size_t{d} * stride + first;
      for (uint32_t j = 0; j < kBlock; ++j) {
        const float delta = (xd - mean[j]) - residual[j];
        // TwoSum of mean and (residual + step): mean' is the rounded sum, residual' its error.
        const float addend = residual[j] + eta[j] * delta;
        const float sum = mean[j] + addend;
        const float addend_part = sum - mean[j];
        residual[j] = (mean[j] - (sum - addend_part)) + (addend - addend_part);
        mean[j] = sum;
        // (eta delta) delta may overflow to +inf, never NaN: min() turns it into the ceiling.
        const float increment = std::min(eta[j] * delta * delta, kMaxVariance);
        const float updated = (1.0f - eta[j]) * (variance[j] + increment);
        variance[j] = std::min(std::max(updated, variance_floor), kMaxVariance);
      }
    }
  }
}

void derive_estep_terms(const ParamArrays& p) {
  const uint32_t stride = p.shape.stride;
  for (uint32_t k = 0; k < stride; ++k) {
    p.log_weight[k] = p.weight[k] > 0.0f ? std::log(p.weight[k]) : -kInf;
    p.log_norm[k] = 0.0f;
  }
  for (uint32_t d = 0; d < p.shape.features; ++d) {
    const float* variance = p.variance + size_t{d} * stride;
    float* half_precision = p.half_precision + size_t{d} * stride;
    for (uint32_t k = 0; k < stride; ++k) {
      half_precision[k] = 0.5f / variance[k];
      p.log_norm[k] += std::log(variance[k]);
    }
  }
  const float log_2pi_total = kLog2Pi * static_cast<float>(p.shape.features);
  for (uint32_t k = 0; k < stride; ++k) p.log_norm[k] = -0.5f * (log_2pi_total + p.log_norm[k]);
}

void running_mean(float* avg, const float* value, size_t n, float inv_count) {
  for (size_t i = 0; i < n; ++i) avg[i] += (value[i] - avg[i]) * inv_count;
}

void score_batch(const EStepParams& p, const float* x, size_t n, float* out) {
  score_batch_per_sample(kScalarTable, p, x, n, out);
}

float estep(const EStepParams& p, const float* x, float* log_joint, float* resp) {
  return estep_composed(kScalarTable, p, x, log_joint, resp);
}

void mstep_refresh(const Stats& s, const float* x, const float* r, float gamma,
                   float variance_floor, float weight_floor, const ParamArrays& out) {
  mstep_refresh_composed(kScalarTable, s, x, r, gamma, variance_floor, weight_floor, out);
}

const char* target() { return "portable"; }

}  // namespace
}  // namespace scalar

const KernelTable kScalarTable = {"scalar",
                                  scalar::log_joint_block,
                                  scalar::lse_add,
                                  scalar::responsibilities,
                                  scalar::mstep_update,
                                  scalar::derive_estep_terms,
                                  scalar::mstep_refresh,
                                  scalar::running_mean,
                                  scalar::estep,
                                  scalar::score_batch,
                                  nullptr,
                                  nullptr,
                                  scalar::target,
                                  nullptr};

}  // namespace streamix::kernels
