// The SIMD kernels, written once. No include guard: like simdjson's generic/ code, this file
// is included inside each SIMD backend's namespace (once per Highway target, once for
// xsimd), after the backend has defined `Simd`, its vector primitives:
//
//   V, VI, M                  float vector, int32 vector of as many lanes, mask
//   lanes()                   lanes per vector (a divisor of kBlock)
//   zero(), set(f), set_int(i)
//   load(p), store(v, p)      64-byte-aligned whole vectors; loadu / storeu unaligned
//   add sub mul div min max, mul_add(a, b, c) = a b + c (fused where the target has FMA)
//   ge gt eq -> M, select(m, a, b), zero_unless(m, a), all_true(m)
//   exp(v), log(v)            the backend's vector math (Highway: hwy/contrib/math)
//   sum_of_lanes(v), max_of_lanes(v) -> float
//   bits(v) -> VI, from_bits(vi) -> V, int_add int_sub int_and int_or, shift_right_23(vi),
//   to_float(vi)
//
// The layout and the contracts are kernels.h's; every function here has the signature of
// its KernelTable entry, so each backend's table points at these directly.

constexpr float kLog2Pi = 1.8378770664093453f;
// exp(-87) = 1.6e-38 is the smallest exp result kept: anything below would be denormal
// (FLT_MIN = 1.18e-38) and is flushed to 0 by construction, not by the FPU mode.
constexpr float kExpFloor = -87.0f;

using V = Simd::V;
using VI = Simd::VI;

// exp(x) for x <= 0 that never produces a denormal: lanes below max(cut, kExpFloor) give
// exactly 0. The input is clamped before exp, so no lane computes garbage.
inline V ExpCut(V x, float cut) {
  const V floor = Simd::set(cut > kExpFloor ? cut : kExpFloor);
  return Simd::zero_unless(Simd::ge(x, floor), Simd::exp(Simd::max(x, floor)));
}

// log w, or -inf where the weight is 0 (padding).
inline V LogWeight(V w) {
  return Simd::select(Simd::gt(w, Simd::zero()), Simd::log(w), Simd::set(-kInf));
}

// Log joint densities of block `first` for S samples at once (xs[s], into out[s]): each
// feature's means and precisions are loaded once for all S, and two accumulators per sample
// (even and odd features) halve each FMA dependency chain. S = 1 is the per-sample E-step;
// batch scoring uses S = 4 and so gets the same bits.
template <int S>
inline void LogJointSamples(const EStepParams& p, const float* const* xs, uint32_t first,
                            float* const* out) {
  const size_t lanes = Simd::lanes();
  const size_t stride = p.shape.stride;
  const uint32_t features = p.shape.features;
  for (size_t j = 0; j < kBlock; j += lanes) {
    // Row pointers advance by the stride (no f * stride products in the loop).
    const float* mean = p.mean + first + j;
    const float* half_precision = p.half_precision + first + j;
    V even[S], odd[S];
    for (int s = 0; s < S; ++s) even[s] = odd[s] = Simd::zero();
    uint32_t f = 0;
    for (; f + 2 <= features; f += 2, mean += 2 * stride, half_precision += 2 * stride) {
      const V m0 = Simd::load(mean), h0 = Simd::load(half_precision);
      const V m1 = Simd::load(mean + stride), h1 = Simd::load(half_precision + stride);
      for (int s = 0; s < S; ++s) {
        const V d0 = Simd::sub(Simd::set(xs[s][f]), m0);
        const V d1 = Simd::sub(Simd::set(xs[s][f + 1]), m1);
        even[s] = Simd::mul_add(Simd::mul(h0, d0), d0, even[s]);
        odd[s] = Simd::mul_add(Simd::mul(h1, d1), d1, odd[s]);
      }
    }
    if (f < features) {
      const V m0 = Simd::load(mean), h0 = Simd::load(half_precision);
      for (int s = 0; s < S; ++s) {
        const V d0 = Simd::sub(Simd::set(xs[s][f]), m0);
        even[s] = Simd::mul_add(Simd::mul(h0, d0), d0, even[s]);
      }
    }
    const V constant = Simd::add(Simd::load(p.log_weight + first + j), Simd::load(p.log_norm + first + j));
    for (int s = 0; s < S; ++s) Simd::store(Simd::sub(constant, Simd::add(even[s], odd[s])), out[s] + j);
  }
}

inline void LogJointBlock(const EStepParams& p, const float* x, uint32_t first, float* l) {
  const float* xs[1] = {x};
  float* out[1] = {l};
  LogJointSamples<1>(p, xs, first, out);
}

// n is a multiple of kBlock (every caller adds whole blocks).
inline void LseAdd(LogSumExp& acc, const float* l, uint32_t n) {
  const size_t lanes = Simd::lanes();
  V top = Simd::set(-kInf);
  for (size_t i = 0; i < n; i += lanes) top = Simd::max(top, Simd::load(l + i));
  const float block_max = Simd::max_of_lanes(top);
  const float new_max = block_max > acc.max ? block_max : acc.max;
  if (new_max == -kInf) return;  // everything so far is -inf: keep sum = 0, avoid inf - inf
  const V shift = Simd::set(new_max);
  V sum = Simd::zero();
  for (size_t i = 0; i < n; i += lanes) sum = Simd::add(sum, ExpCut(Simd::sub(Simd::load(l + i), shift), kExpFloor));
  acc.sum = lse_rescaled_sum(acc, new_max) + Simd::sum_of_lanes(sum);
  acc.max = new_max;
}

// exp(l - shift) * inv, 0 below 2^-64: one vector of responsibilities.
inline V ResponsibilityOf(V l, V shift, V inv) {
  const V v = Simd::mul(ExpCut(Simd::sub(l, shift), kMinLogResponsibility), inv);
  return Simd::zero_unless(Simd::ge(v, Simd::set(0x1.0p-64f)), v);
}

// r = exp(l - max) / sum over the caller's n floats (any alignment, in place allowed): whole
// vectors through unaligned loads, the tail through a padded block, so that every r_k has
// the same arithmetic.
inline void Responsibilities(const float* l, uint32_t n, const LogSumExp& lse, float* r) {
  if (lse.max == -kInf) {  // no component can take the sample
    for (uint32_t i = 0; i < n; ++i) r[i] = 0.0f;
    return;
  }
  const size_t lanes = Simd::lanes();
  const V shift = Simd::set(lse.max), inv = Simd::set(1.0f / lse.sum);  // sum in [1, n]
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) Simd::storeu(ResponsibilityOf(Simd::loadu(l + i), shift, inv), r + i);
  if (i < n) {
    alignas(64) float tail[kBlock];
    for (size_t j = 0; j < lanes; ++j) tail[j] = i + j < n ? l[i + j] : -kInf;
    Simd::store(ResponsibilityOf(Simd::load(tail), shift, inv), tail);
    for (size_t j = 0; i + j < n; ++j) r[i + j] = tail[j];
  }
}

// The weighted-Welford update of the lanes at `at` (see kernels.h): stores the statistics'
// new mean (a TwoSum of mean and residual + step, exact), residual and variance; returns the
// variance.
inline V UpdateElement(V e, V xf, const Stats& s, size_t at, V variance_floor, V ceiling) {
  const V mean = Simd::load(s.mean + at);
  const V residual = Simd::load(s.mean_residual + at);
  const V delta = Simd::sub(Simd::sub(xf, mean), residual);
  const V addend = Simd::mul_add(e, delta, residual);
  const V sum = Simd::add(mean, addend);
  const V addend_part = Simd::sub(sum, mean);
  Simd::store(Simd::add(Simd::sub(mean, Simd::sub(sum, addend_part)), Simd::sub(addend, addend_part)),
              s.mean_residual + at);
  Simd::store(sum, s.mean + at);
  // (e delta) delta may overflow to +inf, never NaN: min turns it into the ceiling.
  const V increment = Simd::min(Simd::mul(Simd::mul(e, delta), delta), ceiling);
  const V updated = Simd::mul(Simd::sub(Simd::set(1.0f), e), Simd::add(Simd::load(s.variance + at), increment));
  const V variance = Simd::min(Simd::max(updated, variance_floor), ceiling);
  Simd::store(variance, s.variance + at);
  return variance;
}

// The weight statistics at k: s0' = max((1 - gamma) s0 + gamma r, floor), stored; returns
// gamma r (the step's numerator).
inline V UpdateWeight(const Stats& s, const float* r, size_t k, V gamma, V keep, V weight_floor,
                      V* s0_out) {
  const V gr = Simd::mul(gamma, Simd::load(r + k));
  const V s0 = Simd::max(Simd::mul_add(keep, Simd::load(s.weight + k), gr), weight_floor);
  Simd::store(s0, s.weight + k);
  *s0_out = s0;
  return gr;
}

inline void MstepUpdate(const Stats& s, const float* x, const float* r, float gamma,
                        float variance_floor, float weight_floor) {
  const size_t lanes = Simd::lanes();
  const size_t stride = s.shape.stride;
  const V v_gamma = Simd::set(gamma), v_keep = Simd::set(1.0f - gamma);
  const V v_weight_floor = Simd::set(weight_floor);
  const V v_variance_floor = Simd::set(variance_floor), v_ceiling = Simd::set(kMaxVariance);
  for (size_t first = 0; first < stride; first += kBlock) {
    alignas(64) float eta[kBlock];
    bool any = false;
    for (size_t j = 0; j < kBlock; j += lanes) {
      V s0;
      const V gr = UpdateWeight(s, r, first + j, v_gamma, v_keep, v_weight_floor, &s0);
      const V e = Simd::div(gr, s0);
      Simd::store(e, eta + j);
      any = any || !Simd::all_true(Simd::eq(e, Simd::zero()));
    }
    if (!any) continue;  // far components: their means and variances are unchanged
    for (uint32_t f = 0; f < s.shape.features; ++f) {
      const V xf = Simd::set(x[f]);
      for (size_t j = 0; j < kBlock; j += lanes) {
        UpdateElement(Simd::load(eta + j), xf, s, f * stride + first + j, v_variance_floor, v_ceiling);
      }
    }
  }
}

// sum_d log(var_d) with one log per kLogGroup features instead of one per feature:
// var = 2^e m with m in [1, 2); the exponents add exactly as integers, the mantissas
// multiply (8 of them stay below 256, no overflow) and the product takes one log. Every
// variance is a normal float (>= the floor >= FLT_MIN), so the bit fields are well formed.
// log_norm = -1/2 (D log 2 pi + sum log var), with ln 2 split so that n ln2_hi is exact.
class LogNormSum {
 public:
  explicit LogNormSum(uint32_t features)
      : features_(features), exponents_(Simd::set_int(0)), product_(Simd::set(1.0f)),
        log_mantissas_(Simd::zero()) {}
  void add(V variance, uint32_t f) {
    const VI b = Simd::bits(variance);
    exponents_ = Simd::int_add(exponents_, Simd::shift_right_23(b));
    product_ = Simd::mul(product_, Simd::from_bits(Simd::int_or(Simd::int_and(b, 0x007FFFFF), 0x3F800000)));
    if ((f + 1) % kLogGroup == 0 || f + 1 == features_) {
      log_mantissas_ = Simd::add(log_mantissas_, Simd::log(product_));
      product_ = Simd::set(1.0f);
    }
  }
  V log_norm() const {
    const V n = Simd::to_float(Simd::int_sub(exponents_, Simd::set_int(static_cast<int32_t>(127 * features_))));
    const V log_variance_sum = Simd::add(
        log_mantissas_, Simd::mul_add(n, Simd::set(0.693145751953125f), Simd::mul(n, Simd::set(1.428606765330187e-06f))));
    return Simd::mul(Simd::set(-0.5f), Simd::add(Simd::set(kLog2Pi * static_cast<float>(features_)), log_variance_sum));
  }

 private:
  static constexpr uint32_t kLogGroup = 8;
  uint32_t features_;
  VI exponents_;
  V product_, log_mantissas_;
};

inline void DeriveEstepTerms(const ParamArrays& p) {
  const size_t lanes = Simd::lanes();
  const size_t stride = p.shape.stride;
  const uint32_t features = p.shape.features;
  const V half = Simd::set(0.5f);
  for (size_t k = 0; k < stride; k += lanes) {
    Simd::store(LogWeight(Simd::load(p.weight + k)), p.log_weight + k);
    LogNormSum sum(features);
    for (uint32_t f = 0; f < features; ++f) {
      const V variance = Simd::load(p.variance + f * stride + k);
      Simd::store(Simd::div(half, variance), p.half_precision + f * stride + k);
      sum.add(variance, f);
    }
    Simd::store(sum.log_norm(), p.log_norm + k);
  }
}

// mstep_update and the refresh of the iterate in one sweep over the arrays (see kernels.h).
// Pass 1 updates every weight statistic and the iterate's weights and log weights; pass 2,
// for each vector of components with any responsibility, updates the statistics (the
// iterate's means and variances) and writes the half precisions and normalizers while they
// are in registers. Per element the arithmetic is MstepUpdate's and DeriveEstepTerms', so
// the results are identical.
inline void MstepRefresh(const Stats& s, const float* x, const float* r, float gamma,
                         float variance_floor, float weight_floor, const ParamArrays& out) {
  const size_t lanes = Simd::lanes();
  if (s.shape.stride == kBlock && lanes == kBlock) {
    // One block that is one vector (AVX-512): the two short passes are as fast or slightly
    // faster there (bench/README.md). out shares the statistics' means and variances, so the
    // refresh is the weights and the derived terms, by this target's own functions.
    MstepUpdate(s, x, r, gamma, variance_floor, weight_floor);
    normalize_weights(s, out);
    DeriveEstepTerms(out);
    return;
  }
  const size_t stride = s.shape.stride;
  const uint32_t features = s.shape.features;
  const V v_gamma = Simd::set(gamma), v_keep = Simd::set(1.0f - gamma);
  const V v_weight_floor = Simd::set(weight_floor);
  const V v_variance_floor = Simd::set(variance_floor), v_ceiling = Simd::set(kMaxVariance);
  const V half = Simd::set(0.5f);
  for (size_t k = 0; k < stride; k += lanes) {  // pass 1: weights
    V s0;
    UpdateWeight(s, r, k, v_gamma, v_keep, v_weight_floor, &s0);
  }
  normalize_weights(s, out);
  for (size_t k = 0; k < stride; k += lanes) Simd::store(LogWeight(Simd::load(out.weight + k)), out.log_weight + k);
  for (size_t k = 0; k < stride; k += lanes) {  // pass 2: means, variances, derived terms
    const V e = Simd::div(Simd::mul(v_gamma, Simd::load(r + k)), Simd::load(s.weight + k));
    if (Simd::all_true(Simd::eq(e, Simd::zero()))) continue;  // unchanged: the iterate holds it
    LogNormSum sum(features);
    for (uint32_t f = 0; f < features; ++f) {
      const size_t at = f * stride + k;
      const V variance = UpdateElement(e, Simd::set(x[f]), s, at, v_variance_floor, v_ceiling);
      Simd::store(Simd::div(half, variance), out.half_precision + at);
      sum.add(variance, f);
    }
    Simd::store(sum.log_norm(), out.log_norm + k);
  }
}

inline void RunningMean(float* avg, const float* value, size_t n, float inv_count) {
  const size_t lanes = Simd::lanes();
  const V inv = Simd::set(inv_count);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const V a = Simd::loadu(avg + i);
    Simd::storeu(Simd::mul_add(Simd::sub(Simd::loadu(value + i), a), inv, a), avg + i);
  }
  for (; i < n; ++i) avg[i] += (value[i] - avg[i]) * inv_count;  // (callers pass whole blocks)
}

// The learner's E-step, fused: the log joint densities and their maximum, then one exp per
// component, e = exp(l - max), cut at 2^-64 (those terms sum to < P 2^-64 < 2^-54, which a
// sum >= 1 absorbs exactly in float), and r = e / sum e, zero below 2^-64 as everywhere.
inline float EStep(const EStepParams& p, const float* x, float* log_joint, float* resp) {
  const size_t lanes = Simd::lanes();
  const size_t stride = p.shape.stride;
  V top = Simd::set(-kInf);
  for (uint32_t first = 0; first < stride; first += kBlock) {
    LogJointBlock(p, x, first, log_joint + first);
    for (size_t j = 0; j < kBlock; j += lanes) top = Simd::max(top, Simd::load(log_joint + first + j));
  }
  const float max = Simd::max_of_lanes(top);
  if (max == -kInf) {  // no component can take the sample
    for (size_t k = 0; k < stride; ++k) resp[k] = 0.0f;
    return -kInf;
  }
  const V shift = Simd::set(max);
  V sum = Simd::zero();
  for (size_t k = 0; k < stride; k += lanes) {
    const V e = ExpCut(Simd::sub(Simd::load(log_joint + k), shift), kMinLogResponsibility);
    Simd::store(e, resp + k);
    sum = Simd::add(sum, e);
  }
  const float total = Simd::sum_of_lanes(sum);
  const V inv = Simd::set(1.0f / total), smallest = Simd::set(0x1.0p-64f);
  for (size_t k = 0; k < stride; k += lanes) {
    const V r = Simd::mul(Simd::load(resp + k), inv);  // >= 2^-64 / P: never denormal
    Simd::store(Simd::zero_unless(Simd::ge(r, smallest), r), resp + k);
  }
  return max + std::log(total);
}

#include "kernels/generic/log_density-inl.h"

// Batch scoring. With few components the per-sample E-step wastes most of a 16-component
// block on padding, so lanes run across samples instead: a tile of `lanes` samples is
// transposed feature by feature, each component's log density accumulates in one vector,
// and the log-sum-exp over components runs lane-wise (one exp per component and sample).
constexpr uint32_t kAcrossSamplesMaxComponents = kBlock / 2;
constexpr uint32_t kFeatureChunk = 32;  // features transposed at a time (2 KiB of stack)

// One tile of lanes() samples starting at x (rows of D floats) into out.
inline void ScoreTileAcrossSamples(const EStepParams& p, const float* x, float* out) {
  const size_t lanes = Simd::lanes();
  const uint32_t k_count = p.shape.components, features = p.shape.features;
  const size_t stride = p.shape.stride;
  alignas(64) float tile[kFeatureChunk * kBlock];
  V acc[kAcrossSamplesMaxComponents];
  for (uint32_t k = 0; k < k_count; ++k) acc[k] = Simd::zero();
  for (uint32_t f0 = 0; f0 < features; f0 += kFeatureChunk) {
    const uint32_t chunk = features - f0 < kFeatureChunk ? features - f0 : kFeatureChunk;
    for (size_t s = 0; s < lanes; ++s) {
      const float* row = x + s * features + f0;
      for (uint32_t f = 0; f < chunk; ++f) tile[f * lanes + s] = row[f];
    }
    // Four components at a time: four independent FMA chains over the features (one chain
    // alone waits on the FMA latency at every feature).
    uint32_t k = 0;
    for (; k + 4 <= k_count; k += 4) {
      for (uint32_t f = 0; f < chunk; ++f) {
        const size_t at = (f0 + f) * stride + k;
        const V t = Simd::load(tile + f * lanes);
        for (uint32_t c = 0; c < 4; ++c) {
          const V delta = Simd::sub(t, Simd::set(p.mean[at + c]));
          acc[k + c] = Simd::mul_add(Simd::mul(Simd::set(p.half_precision[at + c]), delta), delta, acc[k + c]);
        }
      }
    }
    for (; k < k_count; ++k) {
      for (uint32_t f = 0; f < chunk; ++f) {
        const size_t at = (f0 + f) * stride + k;
        const V delta = Simd::sub(Simd::load(tile + f * lanes), Simd::set(p.mean[at]));
        acc[k] = Simd::mul_add(Simd::mul(Simd::set(p.half_precision[at]), delta), delta, acc[k]);
      }
    }
  }
  // Lane-wise max-shifted log-sum-exp over the components.
  V top = Simd::set(-kInf);
  for (uint32_t k = 0; k < k_count; ++k) {
    acc[k] = Simd::sub(Simd::set(p.log_weight[k] + p.log_norm[k]), acc[k]);
    top = Simd::max(top, acc[k]);
  }
  const auto finite = Simd::gt(top, Simd::set(-kInf));
  const V shift = Simd::zero_unless(finite, top);
  V sum = Simd::zero();
  for (uint32_t k = 0; k < k_count; ++k) sum = Simd::add(sum, ExpCut(Simd::sub(acc[k], shift), kExpFloor));
  // Lanes whose every component is -inf give -inf (sum 0 there: the log is masked).
  const V log_p = Simd::add(shift, Simd::log(Simd::select(finite, sum, Simd::set(1.0f))));
  Simd::storeu(Simd::select(finite, log_p, Simd::set(-kInf)), out);
}

inline void ScoreBatch(const EStepParams& p, const float* x, size_t n, float* out) {
  const size_t lanes = Simd::lanes();
  size_t i = 0;
  if (p.shape.components <= kAcrossSamplesMaxComponents && lanes >= 4) {
    for (; i + lanes <= n; i += lanes) ScoreTileAcrossSamples(p, x + i * p.shape.features, out + i);
  }
  // More components (and the tail): lanes across components as in the per-sample E-step.
  ScorePerSampleLayout(p, x, i, n, out);
}
