// xsimd backend: the architecture is fixed at compile time (this file alone is compiled with
// -mavx2 -mfma on x86-64, NEON is baseline on ARM), and checked against the CPU at run time
// before the backend can be selected. Exp and log are xsimd's own. xsimd 8.1 has no
// horizontal max, so block maxima go through a small array. The algorithms are the Highway
// backend's (fused E-step, both batch-scoring layouts), so the two can be compared as
// implementations of the same arithmetic.
#include <xsimd/xsimd.hpp>

#include <cmath>
#include <cstdint>

#include "kernels/kernels.h"

namespace streamix::kernels {
namespace xsimd_backend {
namespace {

using Batch = xsimd::batch<float>;  // the compile-time default architecture
using Mask = Batch::batch_bool_type;
constexpr size_t kLanes = Batch::size;
static_assert(kBlock % kLanes == 0, "a block is a whole number of vectors");

constexpr float kLog2Pi = 1.8378770664093453f;
constexpr float kExpFloor = -87.0f;  // exp(-87) = 1.6e-38 > FLT_MIN: no denormal results

// exp(x) for x <= 0 without denormals: lanes below max(cut, kExpFloor) give exactly 0.
Batch exp_cut(const Batch& x, float cut) {
  const Batch floor(cut > kExpFloor ? cut : kExpFloor);
  return xsimd::select(x >= floor, xsimd::exp(xsimd::max(x, floor)), Batch(0.0f));
}

float max_of_lanes(const Batch& v) {
  alignas(64) float lanes[kLanes];
  v.store_aligned(lanes);
  float m = lanes[0];
  for (size_t i = 1; i < kLanes; ++i) m = lanes[i] > m ? lanes[i] : m;
  return m;
}

// Log joint densities of block `first` for S samples at once (xs[s] into out[s]): each
// feature's means and precisions are loaded once for all S, and two chains per sample (even
// and odd features) halve the FMA latency. S = 1 is the per-sample E-step; batch scoring
// uses S = 4 and so gets the same bits. (This and LseAdd are named as
// generic/log_density-inl.h calls them.)
template <int S>
void LogJointSamples(const EStepParams& p, const float* const* xs, uint32_t first,
                       float* const* out) {
  const size_t stride = p.shape.stride;
  const uint32_t features = p.shape.features;
  for (size_t j = 0; j < kBlock; j += kLanes) {
    const float* mean = p.mean + first + j;
    const float* half_precision = p.half_precision + first + j;
    Batch even[S], odd[S];
    for (int s = 0; s < S; ++s) even[s] = odd[s] = Batch(0.0f);
    uint32_t f = 0;
    for (; f + 2 <= features; f += 2, mean += 2 * stride, half_precision += 2 * stride) {
      const Batch m0 = Batch::load_aligned(mean), h0 = Batch::load_aligned(half_precision);
      const Batch m1 = Batch::load_aligned(mean + stride);
      const Batch h1 = Batch::load_aligned(half_precision + stride);
      for (int s = 0; s < S; ++s) {
        const Batch delta0 = Batch(xs[s][f]) - m0, delta1 = Batch(xs[s][f + 1]) - m1;
        even[s] = xsimd::fma(h0 * delta0, delta0, even[s]);
        odd[s] = xsimd::fma(h1 * delta1, delta1, odd[s]);
      }
    }
    if (f < features) {
      const Batch m0 = Batch::load_aligned(mean), h0 = Batch::load_aligned(half_precision);
      for (int s = 0; s < S; ++s) {
        const Batch delta0 = Batch(xs[s][f]) - m0;
        even[s] = xsimd::fma(h0 * delta0, delta0, even[s]);
      }
    }
    const Batch constant =
        Batch::load_aligned(p.log_weight + first + j) + Batch::load_aligned(p.log_norm + first + j);
    for (int s = 0; s < S; ++s) (constant - (even[s] + odd[s])).store_aligned(out[s] + j);
  }
}

void log_joint_block(const EStepParams& p, const float* x, uint32_t first, float* l) {
  const float* xs[1] = {x};
  float* out[1] = {l};
  LogJointSamples<1>(p, xs, first, out);
}

void LseAdd(LogSumExp& acc, const float* l, uint32_t n) {
  Batch top(-kInf);
  for (size_t i = 0; i < n; i += kLanes) top = xsimd::max(top, Batch::load_aligned(l + i));
  const float block_max = max_of_lanes(top);
  const float new_max = block_max > acc.max ? block_max : acc.max;
  if (new_max == -kInf) return;  // everything so far is -inf: keep sum = 0, avoid inf - inf
  const Batch shift(new_max);
  Batch sum(0.0f);
  for (size_t i = 0; i < n; i += kLanes) sum += exp_cut(Batch::load_aligned(l + i) - shift, kExpFloor);
  acc.sum = lse_rescaled_sum(acc, new_max) + xsimd::hadd(sum);
  acc.max = new_max;
}

void responsibilities(const float* l, uint32_t n, const LogSumExp& lse, float* r) {
  uint32_t i = 0;
  if (lse.max == -kInf) {  // no component can take the sample
    for (; i < n; ++i) r[i] = 0.0f;
    return;
  }
  const float inv = 1.0f / lse.sum;  // the sum is in [1, n]
  const Batch shift(lse.max), v_inv(inv), smallest(0x1.0p-64f);
  for (; i + kLanes <= n; i += kLanes) {  // unaligned: the caller's K floats may be anywhere
    const Batch v = exp_cut(Batch::load_unaligned(l + i) - shift, kMinLogResponsibility) * v_inv;
    xsimd::select(v >= smallest, v, Batch(0.0f)).store_unaligned(r + i);
  }
  for (; i < n; ++i) {
    const float gap = l[i] - lse.max;
    const float v = gap >= kMinLogResponsibility ? std::exp(gap) * inv : 0.0f;
    r[i] = v >= 0x1.0p-64f ? v : 0.0f;
  }
}

// The weighted-Welford update of the lanes at `at` (see kernels.h): stores the statistics'
// new mean (a TwoSum of mean and residual + step, exact), residual and variance; returns
// the variance.
Batch update_element(const Batch& e, const Batch& xf, const Stats& s, size_t at,
                     const Batch& variance_floor, const Batch& ceiling) {
  const Batch mean = Batch::load_aligned(s.mean + at);
  const Batch residual = Batch::load_aligned(s.mean_residual + at);
  const Batch delta = (xf - mean) - residual;
  const Batch addend = xsimd::fma(e, delta, residual);
  const Batch sum = mean + addend;
  const Batch addend_part = sum - mean;
  ((mean - (sum - addend_part)) + (addend - addend_part)).store_aligned(s.mean_residual + at);
  sum.store_aligned(s.mean + at);
  // (e delta) delta may overflow to +inf, never NaN: min turns it into the ceiling.
  const Batch increment = xsimd::min(e * delta * delta, ceiling);
  const Batch updated = (Batch(1.0f) - e) * (Batch::load_aligned(s.variance + at) + increment);
  const Batch variance = xsimd::min(xsimd::max(updated, variance_floor), ceiling);
  variance.store_aligned(s.variance + at);
  return variance;
}

void mstep_update(const Stats& s, const float* x, const float* r, float gamma,
                  float variance_floor, float weight_floor) {
  const size_t stride = s.shape.stride;
  const Batch v_gamma(gamma), v_keep(1.0f - gamma), v_weight_floor(weight_floor);
  const Batch v_variance_floor(variance_floor), v_ceiling(kMaxVariance), zero(0.0f);
  for (size_t first = 0; first < stride; first += kBlock) {
    alignas(64) float eta[kBlock];
    bool any = false;
    for (size_t j = 0; j < kBlock; j += kLanes) {
      const Batch gr = v_gamma * Batch::load_aligned(r + first + j);
      const Batch s0 =
          xsimd::max(xsimd::fma(v_keep, Batch::load_aligned(s.weight + first + j), gr), v_weight_floor);
      s0.store_aligned(s.weight + first + j);
      const Batch e = gr / s0;
      e.store_aligned(eta + j);
      any = any || xsimd::any(e != zero);
    }
    if (!any) continue;  // far components: their means and variances are unchanged
    for (uint32_t f = 0; f < s.shape.features; ++f) {
      const Batch xf(x[f]);
      for (size_t j = 0; j < kBlock; j += kLanes) {
        update_element(Batch::load_aligned(eta + j), xf, s, f * stride + first + j,
                       v_variance_floor, v_ceiling);
      }
    }
  }
}

// sum_d log(var_d) with one log per kLogGroup features (as in the Highway backend): the
// exponents of var = 2^e m add exactly as integers, the mantissas m in [1, 2) multiply (8 of
// them stay below 256), and the product takes one log. Then log_norm = -1/2 (D log 2 pi +
// sum log var), with ln 2 split so that n ln2_hi is exact.
class LogNormSum {
 public:
  explicit LogNormSum(uint32_t features) : features_(features) {}
  void add(const Batch& variance, uint32_t f) {
    const IntBatch bits = xsimd::bitwise_cast<IntBatch>(variance);
    exponents_ += bits >> 23;
    product_ *= xsimd::bitwise_cast<Batch>((bits & IntBatch(0x007FFFFF)) | IntBatch(0x3F800000));
    if ((f + 1) % kLogGroup == 0 || f + 1 == features_) {
      log_mantissas_ += xsimd::log(product_);
      product_ = Batch(1.0f);
    }
  }
  Batch log_norm() const {
    const Batch n = xsimd::to_float(exponents_ - IntBatch(static_cast<int32_t>(127 * features_)));
    const Batch log_variance_sum =
        log_mantissas_ + xsimd::fma(n, Batch(0.693145751953125f), n * Batch(1.428606765330187e-06f));
    return Batch(-0.5f) * (Batch(kLog2Pi * static_cast<float>(features_)) + log_variance_sum);
  }

 private:
  using IntBatch = xsimd::batch<int32_t>;
  static constexpr uint32_t kLogGroup = 8;
  uint32_t features_;
  // (Parentheses: xsimd's brace constructor takes one value per lane.)
  IntBatch exponents_ = IntBatch(0);
  Batch product_ = Batch(1.0f), log_mantissas_ = Batch(0.0f);
};

// log w, or -inf where the weight is 0 (padding).
void store_log_weights(const float* weight, float* log_weight, size_t stride) {
  for (size_t k = 0; k < stride; k += kLanes) {
    const Batch w = Batch::load_aligned(weight + k);
    xsimd::select(w > Batch(0.0f), xsimd::log(w), Batch(-kInf)).store_aligned(log_weight + k);
  }
}

void derive_estep_terms(const ParamArrays& p) {
  const size_t stride = p.shape.stride;
  const uint32_t features = p.shape.features;
  const Batch half(0.5f);
  store_log_weights(p.weight, p.log_weight, stride);
  for (size_t k = 0; k < stride; k += kLanes) {
    LogNormSum sum(features);
    for (uint32_t f = 0; f < features; ++f) {
      const Batch variance = Batch::load_aligned(p.variance + f * stride + k);
      (half / variance).store_aligned(p.half_precision + f * stride + k);
      sum.add(variance, f);
    }
    sum.log_norm().store_aligned(p.log_norm + k);
  }
}

// mstep_update and the refresh of the iterate in one sweep (as the Highway backend's
// MstepRefresh, see kernels.h for the contract): the weights first, then, per vector of
// components with any responsibility, the statistics' update (the iterate's means and
// variances) and the half precisions and normalizers while they are in registers. The arithmetic
// per element is mstep_update's and derive_estep_terms', so the results are identical.
void mstep_refresh(const Stats& s, const float* x, const float* r, float gamma,
                   float variance_floor, float weight_floor, const ParamArrays& out) {
  const size_t stride = s.shape.stride;
  const uint32_t features = s.shape.features;
  const Batch v_gamma(gamma), v_keep(1.0f - gamma), v_weight_floor(weight_floor);
  const Batch v_variance_floor(variance_floor), v_ceiling(kMaxVariance), zero(0.0f), half(0.5f);
  for (size_t k = 0; k < stride; k += kLanes) {
    const Batch gr = v_gamma * Batch::load_aligned(r + k);
    xsimd::max(xsimd::fma(v_keep, Batch::load_aligned(s.weight + k), gr), v_weight_floor)
        .store_aligned(s.weight + k);
  }
  normalize_weights(s, out);
  store_log_weights(out.weight, out.log_weight, stride);
  for (size_t k = 0; k < stride; k += kLanes) {
    const Batch e = v_gamma * Batch::load_aligned(r + k) / Batch::load_aligned(s.weight + k);
    if (xsimd::all(e == zero)) continue;  // unchanged: the iterate already holds it
    LogNormSum sum(features);
    for (uint32_t f = 0; f < features; ++f) {
      const size_t at = f * stride + k;
      const Batch variance = update_element(e, Batch(x[f]), s, at, v_variance_floor, v_ceiling);
      (half / variance).store_aligned(out.half_precision + at);
      sum.add(variance, f);
    }
    sum.log_norm().store_aligned(out.log_norm + k);
  }
}

void running_mean(float* avg, const float* value, size_t n, float inv_count) {
  const Batch inv(inv_count);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const Batch a = Batch::load_unaligned(avg + i);
    xsimd::fma(Batch::load_unaligned(value + i) - a, inv, a).store_unaligned(avg + i);
  }
  for (; i < n; ++i) avg[i] += (value[i] - avg[i]) * inv_count;
}

#include "kernels/generic/log_density-inl.h"

// Few components: lanes across samples (the Highway backend's layout, see ScoreBatch
// there): a tile of kLanes samples transposed feature by feature, one vector per component,
// and a lane-wise log-sum-exp (one exp per component and sample, one log per tile).
constexpr uint32_t kAcrossSamplesMaxComponents = kBlock / 2;
constexpr uint32_t kFeatureChunk = 32;

void score_tile_across_samples(const EStepParams& p, const float* x, float* out) {
  const uint32_t k_count = p.shape.components, features = p.shape.features;
  const size_t stride = p.shape.stride;
  alignas(64) float tile[kFeatureChunk * kLanes];
  Batch acc[kAcrossSamplesMaxComponents];
  for (uint32_t k = 0; k < k_count; ++k) acc[k] = Batch(0.0f);
  for (uint32_t f0 = 0; f0 < features; f0 += kFeatureChunk) {
    const uint32_t chunk = features - f0 < kFeatureChunk ? features - f0 : kFeatureChunk;
    for (size_t s = 0; s < kLanes; ++s) {
      const float* row = x + s * features + f0;
      for (uint32_t f = 0; f < chunk; ++f) tile[f * kLanes + s] = row[f];
    }
    // Each component's chain over the features; the k chains are independent, so they
    // overlap without the explicit four-at-a-time grouping of the Highway version.
    for (uint32_t f = 0; f < chunk; ++f) {
      const Batch t = Batch::load_aligned(tile + f * kLanes);
      const float* mean = p.mean + (f0 + f) * stride;
      const float* half_precision = p.half_precision + (f0 + f) * stride;
      for (uint32_t k = 0; k < k_count; ++k) {
        const Batch delta = t - Batch(mean[k]);
        acc[k] = xsimd::fma(Batch(half_precision[k]) * delta, delta, acc[k]);
      }
    }
  }
  Batch top(-kInf);
  for (uint32_t k = 0; k < k_count; ++k) {
    acc[k] = Batch(p.log_weight[k] + p.log_norm[k]) - acc[k];
    top = xsimd::max(top, acc[k]);
  }
  const Mask finite = top > Batch(-kInf);
  const Batch shift = xsimd::select(finite, top, Batch(0.0f));
  Batch sum(0.0f);
  for (uint32_t k = 0; k < k_count; ++k) sum += exp_cut(acc[k] - shift, kExpFloor);
  // Lanes whose every component is -inf give -inf (sum 0 there: the log is masked).
  const Batch log_p = shift + xsimd::log(xsimd::select(finite, sum, Batch(1.0f)));
  xsimd::select(finite, log_p, Batch(-kInf)).store_unaligned(out);
}

void score_batch(const EStepParams& p, const float* x, size_t n, float* out) {
  size_t i = 0;
  if (p.shape.components <= kAcrossSamplesMaxComponents) {
    for (; i + kLanes <= n; i += kLanes) {
      score_tile_across_samples(p, x + i * p.shape.features, out + i);
    }
  }
  ScorePerSampleLayout(p, x, i, n, out);
}

// The learner's E-step, fused as in the Highway backend: the log joint densities and their
// maximum, one exp per component (cut at 2^-64) for both the sum and r, then r = e / sum.
float estep(const EStepParams& p, const float* x, float* log_joint, float* resp) {
  const size_t stride = p.shape.stride;
  Batch top(-kInf);
  for (uint32_t first = 0; first < stride; first += kBlock) {
    xsimd_backend::log_joint_block(p, x, first, log_joint + first);
    for (size_t j = 0; j < kBlock; j += kLanes) {
      top = xsimd::max(top, Batch::load_aligned(log_joint + first + j));
    }
  }
  const float max = max_of_lanes(top);
  if (max == -kInf) {  // no component can take the sample
    for (size_t k = 0; k < stride; ++k) resp[k] = 0.0f;
    return -kInf;
  }
  const Batch shift(max);
  Batch sum(0.0f);
  for (size_t k = 0; k < stride; k += kLanes) {
    const Batch e = exp_cut(Batch::load_aligned(log_joint + k) - shift, kMinLogResponsibility);
    e.store_aligned(resp + k);
    sum += e;
  }
  const float total = xsimd::hadd(sum);
  const Batch inv(1.0f / total), smallest(0x1.0p-64f);
  for (size_t k = 0; k < stride; k += kLanes) {
    const Batch r = Batch::load_aligned(resp + k) * inv;  // >= 2^-64 / P: never denormal
    xsimd::select(r >= smallest, r, Batch(0.0f)).store_aligned(resp + k);
  }
  return max + std::log(total);
}


bool supported() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return true;  // ARM: NEON is part of the compile-time target
#endif
}

const char* target() { return Batch::arch_type::name(); }

}  // namespace
}  // namespace xsimd_backend

const KernelTable kXsimdTable = {"xsimd",
                                 xsimd_backend::log_joint_block,
                                 xsimd_backend::LseAdd,
                                 xsimd_backend::responsibilities,
                                 xsimd_backend::mstep_update,
                                 xsimd_backend::derive_estep_terms,
                                 xsimd_backend::mstep_refresh,
                                 xsimd_backend::running_mean,
                                 xsimd_backend::estep,
                                 xsimd_backend::score_batch,
                                 xsimd_backend::supported,
                                 nullptr,
                                 xsimd_backend::target,
                                 nullptr};

}  // namespace streamix::kernels
