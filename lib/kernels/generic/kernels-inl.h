// The SIMD kernels, written once. No include guard: like simdjson's generic/ code, this file
// is included inside each SIMD backend's namespace (once per Highway target, once for
// xsimd), after the backend has defined `template <uint32_t B> struct Simd`: its vector
// primitives for vectors of at most B lanes, B being a model's block (4, 8 or 16
// components, see kernels.h):
//
//   V, VI, M                  float vector, int32 vector of as many lanes, mask
//   lanes()                   lanes per vector (a divisor of B)
//   zero(), set(f), set_int(i)
//   load(p), store(v, p)      aligned whole vectors; loadu / storeu unaligned
//   add sub mul div min max, mul_add(a, b, c) = a b + c (fused where the target has FMA)
//   ge gt eq -> M, select(m, a, b), zero_unless(m, a), all_true(m)
//   exp(v), log(v)            the backend's vector math (Highway: hwy/contrib/math)
//   sum_of_lanes(v), max_of_lanes(v) -> float
//   bits(v) -> VI, from_bits(vi) -> V, int_add int_sub int_and int_or, shift_right_23(vi),
//   to_float(vi)
//
// The algorithms (namespace generic) are templates over S = Simd<B>; the functions at the end
// are the kernel table's entries, each picking S from the model's block.

#include "kernels/generic/elements-inl.h"

namespace generic {

// Kernels that run lanes across samples (batch scoring, the mini-batch's E-step) do so up to
// this many components, transposing this many features at a time (2 KiB of stack).
constexpr uint32_t kAcrossSamplesMaxComponents = kBlock / 2;
constexpr uint32_t kFeatureChunk = 32;

// Log joint densities of block `first` for N samples at once (xs[s], into out[s]): each
// feature's means and precisions are loaded once for all N, and two accumulators per sample
// (even and odd features) halve each FMA dependency chain. N = 1 is the per-sample E-step;
// batch scoring uses N = 4 and so gets the same bits.
template <class S, int N>
inline void LogJointSamples(const EStepParams& p, const float* const* xs, uint32_t first,
                            float* const* out) {
  using V = typename S::V;
  const size_t lanes = S::lanes();
  const size_t stride = p.shape.stride;
  const uint32_t features = p.shape.features;
  for (size_t j = 0; j < S::kWidth; j += lanes) {
    // Row pointers advance by the stride (no f * stride products in the loop).
    const float* mean = p.mean + first + j;
    const float* half_precision = p.half_precision + first + j;
    V even[N], odd[N];
    for (int s = 0; s < N; ++s) even[s] = odd[s] = S::zero();
    uint32_t f = 0;
    for (; f + 2 <= features; f += 2, mean += 2 * stride, half_precision += 2 * stride) {
      const V m0 = S::load(mean), h0 = S::load(half_precision);
      const V m1 = S::load(mean + stride), h1 = S::load(half_precision + stride);
      for (int s = 0; s < N; ++s) {
        const V d0 = S::sub(S::set(xs[s][f]), m0);
        const V d1 = S::sub(S::set(xs[s][f + 1]), m1);
        even[s] = S::mul_add(S::mul(h0, d0), d0, even[s]);
        odd[s] = S::mul_add(S::mul(h1, d1), d1, odd[s]);
      }
    }
    if (f < features) {
      const V m0 = S::load(mean), h0 = S::load(half_precision);
      for (int s = 0; s < N; ++s) {
        const V d0 = S::sub(S::set(xs[s][f]), m0);
        even[s] = S::mul_add(S::mul(h0, d0), d0, even[s]);
      }
    }
    const V constant = S::add(S::load(p.log_weight + first + j), S::load(p.log_norm + first + j));
    for (int s = 0; s < N; ++s) S::store(S::sub(constant, S::add(even[s], odd[s])), out[s] + j);
  }
}

// n is a multiple of the block (every caller adds whole blocks).
template <class S>
inline void LseAdd(LogSumExp& acc, const float* l, uint32_t n) {
  using V = typename S::V;
  const size_t lanes = S::lanes();
  V top = S::set(-kInf);
  for (size_t i = 0; i < n; i += lanes) top = S::max(top, S::load(l + i));
  const float block_max = S::max_of_lanes(top);
  const float new_max = block_max > acc.max ? block_max : acc.max;
  if (new_max == -kInf) return;  // everything so far is -inf: keep sum = 0, avoid inf - inf
  const V shift = S::set(new_max);
  V sum = S::zero();
  for (size_t i = 0; i < n; i += lanes) sum = S::add(sum, ExpCut<S>(S::sub(S::load(l + i), shift), kExpFloor));
  acc.sum = lse_rescaled_sum(acc, new_max) + S::sum_of_lanes(sum);
  acc.max = new_max;
}

// exp(l - shift) * inv, 0 below 2^-64: one vector of responsibilities.
template <class S>
inline typename S::V ResponsibilityOf(typename S::V l, typename S::V shift, typename S::V inv) {
  const typename S::V v = S::mul(ExpCut<S>(S::sub(l, shift), kMinLogResponsibility), inv);
  return S::zero_unless(S::ge(v, S::set(0x1.0p-64f)), v);
}

// r = exp(l - max) / sum over the caller's n floats (any alignment, in place allowed): whole
// vectors through unaligned loads, the tail through a padded block, so that every r_k has
// the same arithmetic.
template <class S>
inline void Responsibilities(const float* l, uint32_t n, const LogSumExp& lse, float* r) {
  using V = typename S::V;
  if (lse.max == -kInf) {  // no component can take the sample
    for (uint32_t i = 0; i < n; ++i) r[i] = 0.0f;
    return;
  }
  const size_t lanes = S::lanes();
  const V shift = S::set(lse.max), inv = S::set(1.0f / lse.sum);  // sum in [1, n]
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) S::storeu(ResponsibilityOf<S>(S::loadu(l + i), shift, inv), r + i);
  if (i < n) {
    alignas(64) float tail[kBlock];
    for (size_t j = 0; j < lanes; ++j) tail[j] = i + j < n ? l[i + j] : -kInf;
    S::store(ResponsibilityOf<S>(S::load(tail), shift, inv), tail);
    for (size_t j = 0; i + j < n; ++j) r[i + j] = tail[j];
  }
}

// The per-sample step of the lanes at `at` towards x_f (see kernels.h).
template <class S>
inline typename S::V UpdateElement(typename S::V e, typename S::V xf, const Stats& s, size_t at,
                                   typename S::V variance_floor, typename S::V ceiling) {
  using V = typename S::V;
  const V mean = S::load(s.mean + at);
  const V residual = S::load(s.mean_residual + at);
  const V delta = S::sub(S::sub(xf, mean), residual);
  return WelfordStep<S, false>(e, delta, S::zero(), mean, residual, s, at, variance_floor, ceiling);
}

// The weight statistics at k: s0' = max((1 - gamma) s0 + gamma r, floor), stored in
// s.weight and *s0_out; returns gamma r (the step's numerator).
template <class S>
inline typename S::V UpdateWeight(const Stats& s, const float* r, size_t k, typename S::V gamma,
                                  typename S::V keep, typename S::V weight_floor,
                                  typename S::V* s0_out) {
  const typename S::V gr = S::mul(gamma, S::load(r + k));
  const typename S::V s0 = S::max(S::mul_add(keep, S::load(s.weight + k), gr), weight_floor);
  S::store(s0, s.weight + k);
  *s0_out = s0;
  return gr;
}

template <class S>
inline void MstepUpdate(const Stats& s, const float* x, const float* r, float gamma,
                        float variance_floor, float weight_floor) {
  using V = typename S::V;
  const size_t lanes = S::lanes();
  const size_t stride = s.shape.stride;
  const V v_gamma = S::set(gamma), v_keep = S::set(1.0f - gamma);
  const V v_weight_floor = S::set(weight_floor);
  const V v_variance_floor = S::set(variance_floor), v_ceiling = S::set(kMaxVariance);
  for (size_t first = 0; first < stride; first += S::kWidth) {
    alignas(64) float eta[kBlock];
    bool any = false;
    for (size_t j = 0; j < S::kWidth; j += lanes) {
      V s0;
      const V gr = UpdateWeight<S>(s, r, first + j, v_gamma, v_keep, v_weight_floor, &s0);
      const V e = S::div(gr, s0);
      S::store(e, eta + j);
      any = any || !S::all_true(S::eq(e, S::zero()));
    }
    if (!any) continue;  // far components: their means and variances are unchanged
    for (uint32_t f = 0; f < s.shape.features; ++f) {
      const V xf = S::set(x[f]);
      for (size_t j = 0; j < S::kWidth; j += lanes) {
        UpdateElement<S>(S::load(eta + j), xf, s, f * stride + first + j, v_variance_floor, v_ceiling);
      }
    }
  }
}

// N rows into a mini-batch's sums in the per-row layout (lanes across components): per
// component w = scale r, then first += w delta and second += w min(delta^2, ceiling), each
// block's statistics and sums loaded once for the N rows; blocks where no row has any w are
// skipped.
template <class S, int N>
inline void AccumulateRows(const Stats& s, const float* const* xs, const float* const* rs,
                           float scale, const BatchSums& sums) {
  using V = typename S::V;
  const size_t lanes = S::lanes();
  const size_t stride = s.shape.stride;
  const V v_scale = S::set(scale), ceiling = S::set(kMaxVariance);
  for (size_t first = 0; first < stride; first += S::kWidth) {
    alignas(64) float w[N][kBlock];
    bool any = false;
    for (size_t j = 0; j < S::kWidth; j += lanes) {
      V total = S::load(sums.weight + first + j);
      for (int r = 0; r < N; ++r) {
        const V wv = S::mul(v_scale, S::load(rs[r] + first + j));
        S::store(wv, w[r] + j);
        total = S::add(total, wv);
        any = any || !S::all_true(S::eq(wv, S::zero()));
      }
      S::store(total, sums.weight + first + j);
    }
    if (!any) continue;
    for (uint32_t f = 0; f < s.shape.features; ++f) {
      for (size_t j = 0; j < S::kWidth; j += lanes) {
        const size_t at = f * stride + first + j;
        const V mean = S::load(s.mean + at), residual = S::load(s.mean_residual + at);
        V first_sum = S::load(sums.first + at), second_sum = S::load(sums.second + at);
        for (int r = 0; r < N; ++r) {
          const V delta = S::sub(S::sub(S::set(xs[r][f]), mean), residual);
          const V wv = S::load(w[r] + j);
          first_sum = S::mul_add(wv, delta, first_sum);
          second_sum = S::mul_add(wv, S::min(S::mul(delta, delta), ceiling), second_sum);
        }
        S::store(first_sum, sums.first + at);
        S::store(second_sum, sums.second + at);
      }
    }
  }
}

// Four rows at a time, then one. (Lanes across rows, as the E-step runs for few components,
// was slower here for every shape measured, 2 x 4 to 8 x 8: a horizontal sum per component,
// feature and tile; bench/README.md.)
template <class S>
inline void BatchAccumulate(const Stats& s, const float* x, const float* resp, size_t n,
                            float scale, const BatchSums& sums) {
  const uint32_t features = s.shape.features, stride = s.shape.stride;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float* xs[4] = {x + i * features, x + (i + 1) * features, x + (i + 2) * features,
                          x + (i + 3) * features};
    const float* rs[4] = {resp + i * stride, resp + (i + 1) * stride, resp + (i + 2) * stride,
                          resp + (i + 3) * stride};
    AccumulateRows<S, 4>(s, xs, rs, scale, sums);
  }
  for (; i < n; ++i) {
    const float* xs[1] = {x + i * features};
    const float* rs[1] = {resp + i * stride};
    AccumulateRows<S, 1>(s, xs, rs, scale, sums);
  }
}

// The stepwise update towards a mini-batch's statistics (see kernels.h).
template <class S>
inline void BatchUpdate(const Stats& s, const BatchSums& sums, float gamma, float variance_floor,
                        float weight_floor) {
  using V = typename S::V;
  const size_t lanes = S::lanes();
  const size_t stride = s.shape.stride;
  const V v_gamma = S::set(gamma), v_keep = S::set(1.0f - gamma);
  const V v_weight_floor = S::set(weight_floor);
  const V v_variance_floor = S::set(variance_floor), ceiling = S::set(kMaxVariance);
  for (size_t k = 0; k < stride; k += lanes) {
    // R <= 1 (each row's responsibilities sum to at most 1, the rows' scales to 1), but its
    // sum is rounded: above 1, the weight statistic could leave [floor, 1].
    const V total = S::min(S::load(sums.weight + k), S::set(1.0f));
    S::store(total, sums.weight + k);
    V s0;
    const V gr = UpdateWeight<S>(s, sums.weight, k, v_gamma, v_keep, v_weight_floor, &s0);
    const V e = S::div(gr, s0);
    S::store(S::zero(), sums.weight + k);
    const bool update = !S::all_true(S::eq(e, S::zero()));  // any responsibility in the mini-batch
    const V inv = S::zero_unless(S::gt(total, S::zero()), S::div(S::set(1.0f), total));
    for (uint32_t f = 0; f < s.shape.features; ++f) {
      const size_t at = f * stride + k;
      const V first = S::load(sums.first + at), second = S::load(sums.second + at);
      S::store(S::zero(), sums.first + at);
      S::store(S::zero(), sums.second + at);
      if (!update) continue;
      const V delta = S::mul(first, inv);
      const V within = S::max(S::sub(S::mul(second, inv), S::min(S::mul(delta, delta), ceiling)), S::zero());
      WelfordStep<S, true>(e, delta, within, S::load(s.mean + at), S::load(s.mean_residual + at), s,
                           at, v_variance_floor, ceiling);
    }
  }
}

template <class S>
inline void DeriveEstepTerms(const ParamArrays& p) {
  using V = typename S::V;
  const size_t lanes = S::lanes();
  const size_t stride = p.shape.stride;
  const uint32_t features = p.shape.features;
  const V half = S::set(0.5f);
  for (size_t k = 0; k < stride; k += lanes) {
    S::store(LogWeight<S>(S::load(p.weight + k)), p.log_weight + k);
    LogNormSum<S> sum(features);
    for (uint32_t f = 0; f < features; ++f) {
      const V variance = S::load(p.variance + f * stride + k);
      S::store(S::div(half, variance), p.half_precision + f * stride + k);
      sum.add(variance, f);
    }
    S::store(sum.log_norm(), p.log_norm + k);
  }
}

// mstep_update and the refresh of the iterate in one sweep over the arrays (see kernels.h).
// Pass 1 updates every weight statistic and the iterate's weights and log weights; pass 2,
// for each vector of components with any responsibility, updates the statistics (the
// iterate's means and variances) and writes the half precisions and normalizers while they
// are in registers. Per element the arithmetic is MstepUpdate's and DeriveEstepTerms', so
// the results are identical.
template <class S>
inline void MstepRefresh(const Stats& s, const float* x, const float* r, float gamma,
                         float variance_floor, float weight_floor, const ParamArrays& out) {
  using V = typename S::V;
  const size_t lanes = S::lanes();
  if (s.shape.stride == kBlock && lanes == kBlock) {
    // One block of 16 that is one vector (AVX-512): the two short passes are as fast or
    // slightly faster there (bench/README.md). out shares the statistics' means and
    // variances, so the refresh is the weights and the derived terms, by this target's own
    // functions.
    MstepUpdate<S>(s, x, r, gamma, variance_floor, weight_floor);
    normalize_weights(s, out);
    DeriveEstepTerms<S>(out);
    return;
  }
  const size_t stride = s.shape.stride;
  const uint32_t features = s.shape.features;
  const V v_gamma = S::set(gamma), v_keep = S::set(1.0f - gamma);
  const V v_weight_floor = S::set(weight_floor);
  const V v_variance_floor = S::set(variance_floor), v_ceiling = S::set(kMaxVariance);
  const V half = S::set(0.5f);
  for (size_t k = 0; k < stride; k += lanes) {  // pass 1: weights
    V s0;
    UpdateWeight<S>(s, r, k, v_gamma, v_keep, v_weight_floor, &s0);
  }
  normalize_weights(s, out);
  for (size_t k = 0; k < stride; k += lanes) S::store(LogWeight<S>(S::load(out.weight + k)), out.log_weight + k);
  for (size_t k = 0; k < stride; k += lanes) {  // pass 2: means, variances, derived terms
    const V e = S::div(S::mul(v_gamma, S::load(r + k)), S::load(s.weight + k));
    if (S::all_true(S::eq(e, S::zero()))) continue;  // unchanged: the iterate holds it
    LogNormSum<S> sum(features);
    for (uint32_t f = 0; f < features; ++f) {
      const size_t at = f * stride + k;
      const V variance = UpdateElement<S>(e, S::set(x[f]), s, at, v_variance_floor, v_ceiling);
      S::store(S::div(half, variance), out.half_precision + at);
      sum.add(variance, f);
    }
    S::store(sum.log_norm(), out.log_norm + k);
  }
}

template <class S>
inline void RunningMean(float* avg, const float* value, size_t n, float inv_count) {
  using V = typename S::V;
  const size_t lanes = S::lanes();
  const V inv = S::set(inv_count);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const V a = S::loadu(avg + i);
    S::storeu(S::mul_add(S::sub(S::loadu(value + i), a), inv, a), avg + i);
  }
  for (; i < n; ++i) avg[i] += (value[i] - avg[i]) * inv_count;  // (callers pass whole blocks)
}

// The second half of the learner's E-step, from the P log joint densities: their maximum,
// then one exp per component, e = exp(l - max), cut at 2^-64 (those terms sum to
// < P 2^-64 < 2^-54, which a sum >= 1 absorbs exactly in float), and r = e / sum e, zero
// below 2^-64 as everywhere. resp may be log_joint itself: each value is read before its
// responsibility is written in its place.
template <class S>
__attribute__((always_inline)) inline float EStepFromLogJoint(uint32_t stride, const float* log_joint,
                                                              float* resp) {
  using V = typename S::V;
  const size_t lanes = S::lanes();
  V top = S::set(-kInf);
  for (size_t k = 0; k < stride; k += lanes) top = S::max(top, S::load(log_joint + k));
  const float max = S::max_of_lanes(top);
  if (max == -kInf) {  // no component can take the sample
    for (size_t k = 0; k < stride; ++k) resp[k] = 0.0f;
    return -kInf;
  }
  const V shift = S::set(max);
  V sum = S::zero();
  for (size_t k = 0; k < stride; k += lanes) {
    const V e = ExpCut<S>(S::sub(S::load(log_joint + k), shift), kMinLogResponsibility);
    S::store(e, resp + k);
    sum = S::add(sum, e);
  }
  const float total = S::sum_of_lanes(sum);
  const V inv = S::set(1.0f / total), smallest = S::set(0x1.0p-64f);
  for (size_t k = 0; k < stride; k += lanes) {
    const V r = S::mul(S::load(resp + k), inv);  // >= 2^-64 / P: never denormal
    S::store(S::zero_unless(S::ge(r, smallest), r), resp + k);
  }
  return max + std::log(total);
}

// The learner's E-step, fused: the log joint densities, then EStepFromLogJoint.
template <class S>
inline float EStep(const EStepParams& p, const float* x, float* log_joint, float* resp) {
  const float* xs[1] = {x};
  for (uint32_t first = 0; first < p.shape.stride; first += S::kWidth) {
    float* out[1] = {log_joint + first};
    LogJointSamples<S, 1>(p, xs, first, out);
  }
  return EStepFromLogJoint<S>(p.shape.stride, log_joint, resp);
}

// log p(x) for N samples: the log joint densities of kScoreChunk components at a time go to
// stack scratch, then each chunk takes one two-pass log-sum-exp (LseAdd), chunks combined by
// the streaming rule. N = 1 is smx_score; N = 4 the batch path for many components, with the
// same bits. For K <= 64 there is one chunk: one maximum, one exponential per component, one
// logarithm.
constexpr uint32_t kScoreChunk = 4 * kBlock;

template <class S, int N>
inline void LogDensitySamples(const EStepParams& p, const float* const* xs, float* log_p) {
  const uint32_t stride = p.shape.stride;
  alignas(64) float l[N][kScoreChunk];
  float* out[N];
  LogSumExp lse[N];
  for (uint32_t first = 0; first < stride; first += kScoreChunk) {
    const uint32_t n = stride - first < kScoreChunk ? stride - first : kScoreChunk;
    for (uint32_t b = 0; b < n; b += S::kWidth) {
      for (int s = 0; s < N; ++s) out[s] = l[s] + b;
      LogJointSamples<S, N>(p, xs, first + b, out);
    }
    for (int s = 0; s < N; ++s) LseAdd<S>(lse[s], l[s], n);
  }
  for (int s = 0; s < N; ++s) log_p[s] = lse_value(lse[s]);
}

// Batch scoring in the per-sample layout: four samples at a time, then one at a time (every
// result equals the one-sample call's bit for bit).
template <class S>
inline void ScorePerSampleLayout(const EStepParams& p, const float* x, size_t begin, size_t n,
                                 float* out) {
  const uint32_t features = p.shape.features;
  size_t i = begin;
  for (; i + 4 <= n; i += 4) {
    const float* xs[4] = {x + i * features, x + (i + 1) * features, x + (i + 2) * features,
                          x + (i + 3) * features};
    LogDensitySamples<S, 4>(p, xs, out + i);
  }
  for (; i < n; ++i) {
    const float* xs[1] = {x + i * features};
    LogDensitySamples<S, 1>(p, xs, out + i);
  }
}

// Lanes across samples, for few components: a tile of lanes() rows is transposed feature by
// feature (rows from `count` on read as zeros), and each component's log joint density
// accumulates in one vector: acc[k] = log w_k + log_norm_k - sum_d h (x_d - mean)^2, lane-wise.
// S here is the widest Simd (the layout's block plays no part).
template <class S>
inline void LogJointTileAcrossSamples(const EStepParams& p, const float* x, size_t count,
                                      typename S::V* acc) {
  using V = typename S::V;
  const size_t lanes = S::lanes();
  const uint32_t k_count = p.shape.components, features = p.shape.features;
  const size_t stride = p.shape.stride;
  alignas(64) float tile[kFeatureChunk * kBlock];
  for (uint32_t k = 0; k < k_count; ++k) acc[k] = S::zero();
  for (uint32_t f0 = 0; f0 < features; f0 += kFeatureChunk) {
    const uint32_t chunk = features - f0 < kFeatureChunk ? features - f0 : kFeatureChunk;
    for (size_t s = 0; s < lanes; ++s) {
      if (s >= count) {
        for (uint32_t f = 0; f < chunk; ++f) tile[f * lanes + s] = 0.0f;
        continue;
      }
      const float* row = x + s * features + f0;
      for (uint32_t f = 0; f < chunk; ++f) tile[f * lanes + s] = row[f];
    }
    // Four components at a time: four independent FMA chains over the features (one chain
    // alone waits on the FMA latency at every feature).
    uint32_t k = 0;
    for (; k + 4 <= k_count; k += 4) {
      for (uint32_t f = 0; f < chunk; ++f) {
        const size_t at = (f0 + f) * stride + k;
        const V t = S::load(tile + f * lanes);
        for (uint32_t c = 0; c < 4; ++c) {
          const V delta = S::sub(t, S::set(p.mean[at + c]));
          acc[k + c] = S::mul_add(S::mul(S::set(p.half_precision[at + c]), delta), delta, acc[k + c]);
        }
      }
    }
    for (; k < k_count; ++k) {
      for (uint32_t f = 0; f < chunk; ++f) {
        const size_t at = (f0 + f) * stride + k;
        const V delta = S::sub(S::load(tile + f * lanes), S::set(p.mean[at]));
        acc[k] = S::mul_add(S::mul(S::set(p.half_precision[at]), delta), delta, acc[k]);
      }
    }
  }
  for (uint32_t k = 0; k < k_count; ++k) acc[k] = S::sub(S::set(p.log_weight[k] + p.log_norm[k]), acc[k]);
}

// Batch scoring, a whole tile: the lane-wise max-shifted log-sum-exp over the components
// (one exp per component and sample).
template <class S>
inline void ScoreTileAcrossSamples(const EStepParams& p, const float* x, float* out) {
  using V = typename S::V;
  V acc[kAcrossSamplesMaxComponents];
  LogJointTileAcrossSamples<S>(p, x, S::lanes(), acc);
  V top = S::set(-kInf);
  for (uint32_t k = 0; k < p.shape.components; ++k) top = S::max(top, acc[k]);
  const auto finite = S::gt(top, S::set(-kInf));
  const V shift = S::zero_unless(finite, top);
  V sum = S::zero();
  for (uint32_t k = 0; k < p.shape.components; ++k) sum = S::add(sum, ExpCut<S>(S::sub(acc[k], shift), kExpFloor));
  // Lanes whose every component is -inf give -inf (sum 0 there: the log is masked).
  const V log_p = S::add(shift, S::log(S::select(finite, sum, S::set(1.0f))));
  S::storeu(S::select(finite, log_p, S::set(-kInf)), out);
}

// The learner's E-step for a tile of up to lanes() rows: one exponential per component and
// lane, e = exp(l - max) cut at 2^-64, log p = max + log(sum e) and r = e / sum e (0 below
// 2^-64, and everywhere in a lane whose every component is -inf), written as rows of P
// responsibilities (their first K; the padding is the caller's).
template <class S>
inline void EStepTileAcrossSamples(const EStepParams& p, const float* x, size_t count,
                                   float* log_p, float* resp) {
  using V = typename S::V;
  const size_t lanes = S::lanes();
  const uint32_t k_count = p.shape.components;
  const size_t stride = p.shape.stride;
  V acc[kAcrossSamplesMaxComponents];
  LogJointTileAcrossSamples<S>(p, x, count, acc);
  V top = S::set(-kInf);
  for (uint32_t k = 0; k < k_count; ++k) top = S::max(top, acc[k]);
  const auto finite = S::gt(top, S::set(-kInf));
  const V shift = S::zero_unless(finite, top);
  V sum = S::zero();
  for (uint32_t k = 0; k < k_count; ++k) {
    acc[k] = S::zero_unless(finite, ExpCut<S>(S::sub(acc[k], shift), kMinLogResponsibility));
    sum = S::add(sum, acc[k]);
  }
  const V safe_sum = S::select(finite, sum, S::set(1.0f));
  const V inv = S::div(S::set(1.0f), safe_sum), smallest = S::set(0x1.0p-64f);
  alignas(64) float lp[kBlock], r[kAcrossSamplesMaxComponents * kBlock];
  S::store(S::select(finite, S::add(shift, S::log(safe_sum)), S::set(-kInf)), lp);
  for (uint32_t k = 0; k < k_count; ++k) {
    const V v = S::mul(acc[k], inv);
    S::store(S::zero_unless(S::ge(v, smallest), v), r + k * lanes);
  }
  for (size_t s = 0; s < count; ++s) {
    log_p[s] = lp[s];
    float* row = resp + s * stride;
    for (uint32_t k = 0; k < k_count; ++k) row[k] = r[k * lanes + s];
  }
}

template <class Wide, class S>
inline void BatchEStep(const EStepParams& p, const float* x, size_t n, float* log_p, float* resp) {
  const size_t lanes = Wide::lanes();
  const uint32_t features = p.shape.features, stride = p.shape.stride;
  if (p.shape.components <= kAcrossSamplesMaxComponents && lanes >= 4) {
    for (size_t i = 0; i < n; i += lanes) {
      const size_t count = n - i < lanes ? n - i : lanes;
      EStepTileAcrossSamples<Wide>(p, x + i * features, count, log_p + i, resp + i * stride);
    }
    return;
  }
  // Lanes across components: four rows' log joint densities at a time (the same bits as
  // one at a time), each row's responsibilities written over its own.
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float* xs[4] = {x + i * features, x + (i + 1) * features, x + (i + 2) * features,
                          x + (i + 3) * features};
    for (uint32_t first = 0; first < stride; first += S::kWidth) {
      float* out[4] = {resp + i * stride + first, resp + (i + 1) * stride + first,
                       resp + (i + 2) * stride + first, resp + (i + 3) * stride + first};
      LogJointSamples<S, 4>(p, xs, first, out);
    }
    for (size_t j = i; j < i + 4; ++j) log_p[j] = EStepFromLogJoint<S>(stride, resp + j * stride, resp + j * stride);
  }
  for (; i < n; ++i) log_p[i] = EStep<S>(p, x + i * features, resp + i * stride, resp + i * stride);
}

template <class Wide, class S>
inline void ScoreBatch(const EStepParams& p, const float* x, size_t n, float* out) {
  const size_t lanes = Wide::lanes();
  size_t i = 0;
  if (p.shape.components <= kAcrossSamplesMaxComponents && lanes >= 4) {
    for (; i + lanes <= n; i += lanes) ScoreTileAcrossSamples<Wide>(p, x + i * p.shape.features, out + i);
  }
  // More components (and the tail): lanes across components as in the per-sample E-step.
  ScorePerSampleLayout<S>(p, x, i, n, out);
}

}  // namespace generic

// The kernel table's entries: each runs its algorithm with vectors of at most the model's
// block (4, 8 or 16 lanes). lse_add and responsibilities see no shape: their n is whole
// blocks, or any count through unaligned loads.
#define STREAMIX_BY_BLOCK(block, algorithm, ...)                                   \
  ((block) == 16  ? generic::algorithm<Simd<16>>(__VA_ARGS__)                      \
   : (block) == 8 ? generic::algorithm<Simd<8>>(__VA_ARGS__)                       \
                  : generic::algorithm<Simd<4>>(__VA_ARGS__))

inline void LogJointBlock(const EStepParams& p, const float* x, uint32_t first, float* l) {
  const float* xs[1] = {x};
  float* out[1] = {l};
  if (p.shape.block() == 4) return generic::LogJointSamples<Simd<4>, 1>(p, xs, first, out);
  if (p.shape.block() == 8) return generic::LogJointSamples<Simd<8>, 1>(p, xs, first, out);
  generic::LogJointSamples<Simd<16>, 1>(p, xs, first, out);
}
inline void LseAdd(LogSumExp& acc, const float* l, uint32_t n) {
  STREAMIX_BY_BLOCK(n % 16 == 0 ? 16 : n % 8 == 0 ? 8 : 4, LseAdd, acc, l, n);
}
inline void Responsibilities(const float* l, uint32_t n, const LogSumExp& lse, float* r) {
  generic::Responsibilities<Simd<16>>(l, n, lse, r);
}
inline void MstepUpdate(const Stats& s, const float* x, const float* r, float gamma,
                        float variance_floor, float weight_floor) {
  STREAMIX_BY_BLOCK(s.shape.block(), MstepUpdate, s, x, r, gamma, variance_floor, weight_floor);
}
inline void DeriveEstepTerms(const ParamArrays& p) {
  STREAMIX_BY_BLOCK(p.shape.block(), DeriveEstepTerms, p);
}
inline void MstepRefresh(const Stats& s, const float* x, const float* r, float gamma,
                         float variance_floor, float weight_floor, const ParamArrays& out) {
  STREAMIX_BY_BLOCK(s.shape.block(), MstepRefresh, s, x, r, gamma, variance_floor, weight_floor, out);
}
inline void RunningMean(float* avg, const float* value, size_t n, float inv_count) {
  generic::RunningMean<Simd<16>>(avg, value, n, inv_count);
}
inline float EStep(const EStepParams& p, const float* x, float* log_joint, float* resp) {
  return STREAMIX_BY_BLOCK(p.shape.block(), EStep, p, x, log_joint, resp);
}
inline void ScoreBatch(const EStepParams& p, const float* x, size_t n, float* out) {
  if (p.shape.block() == 4) return generic::ScoreBatch<Simd<16>, Simd<4>>(p, x, n, out);
  if (p.shape.block() == 8) return generic::ScoreBatch<Simd<16>, Simd<8>>(p, x, n, out);
  generic::ScoreBatch<Simd<16>, Simd<16>>(p, x, n, out);
}

inline void BatchEStep(const EStepParams& p, const float* x, size_t n, float* log_p, float* resp) {
  if (p.shape.block() == 4) return generic::BatchEStep<Simd<16>, Simd<4>>(p, x, n, log_p, resp);
  if (p.shape.block() == 8) return generic::BatchEStep<Simd<16>, Simd<8>>(p, x, n, log_p, resp);
  generic::BatchEStep<Simd<16>, Simd<16>>(p, x, n, log_p, resp);
}
inline void BatchAccumulate(const Stats& s, const float* x, const float* resp, size_t n,
                            float scale, const BatchSums& sums) {
  STREAMIX_BY_BLOCK(s.shape.block(), BatchAccumulate, s, x, resp, n, scale, sums);
}
inline void BatchUpdate(const Stats& s, const BatchSums& sums, float gamma, float variance_floor,
                        float weight_floor) {
  STREAMIX_BY_BLOCK(s.shape.block(), BatchUpdate, s, sums, gamma, variance_floor, weight_floor);
}

#undef STREAMIX_BY_BLOCK
