// Google Highway backend. This file is compiled once per target by foreach_target.h
// (SSSE3, SSE4, AVX2, AVX3, AVX3_DL and HWY_SCALAR on x86-64, dispatched at run time to the
// best the CPU has). On ARM it is built with HWY_COMPILE_ONLY_STATIC: one target, the
// compiler's baseline (NEON), header-only. Vectors are CappedTag<float, kBlock>: a block of 16
// components is 1 AVX-512 vector, 2 AVX2 or 4 SSE/NEON vectors, and never more than 16 lanes
// (SVE may be wider). Exp and Log come from hwy/contrib/math (Exp 1 ULP, Log 4 ULP).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/highway/kernels.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/kernels.h"

HWY_BEFORE_NAMESPACE();
namespace streamix::kernels::highway {
namespace HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;
using Block = hn::CappedTag<float, kBlock>;
using One = hn::CappedTag<float, 1>;

constexpr float kLog2Pi = 1.8378770664093453f;
// exp(-87) = 1.6e-38 is the smallest exp result kept: anything below would be denormal
// (FLT_MIN = 1.18e-38) and is flushed to 0 by construction, not by the FPU mode.
constexpr float kExpFloor = -87.0f;

// exp(x) for x <= 0 that never produces a denormal: lanes below kExpFloor (or below `cut`,
// if higher) give exactly 0. The input is clamped before Exp, so no lane computes garbage.
template <class DF, class V>
HWY_INLINE V ExpCut(DF d, V x, float cut) {
  const V floor = hn::Set(d, cut > kExpFloor ? cut : kExpFloor);
  return hn::IfThenElseZero(hn::Ge(x, floor), hn::Exp(d, hn::Max(x, floor)));
}

// Log joint densities of block `first` for S samples at once (xs[s], into out[s]): each
// feature's means and precisions are loaded once for all S, and two accumulators per sample
// (even and odd features) halve each FMA dependency chain. S = 1 is the per-sample E-step;
// batch scoring uses S = 4 and so gets the same bits.
template <int S>
HWY_INLINE void LogJointSamples(const EStepParams& p, const float* const* xs, uint32_t first,
                                float* const* out) {
  const Block d;
  const size_t lanes = hn::Lanes(d);
  const size_t stride = p.shape.stride;
  const uint32_t features = p.shape.features;
  for (size_t j = 0; j < kBlock; j += lanes) {
    // Row pointers advance by the stride (no f * stride products in the loop).
    const float* mean = p.mean + first + j;
    const float* half_precision = p.half_precision + first + j;
    decltype(hn::Zero(d)) even[S], odd[S];
    for (int s = 0; s < S; ++s) even[s] = odd[s] = hn::Zero(d);
    uint32_t f = 0;
    for (; f + 2 <= features; f += 2, mean += 2 * stride, half_precision += 2 * stride) {
      const auto m0 = hn::Load(d, mean), h0 = hn::Load(d, half_precision);
      const auto m1 = hn::Load(d, mean + stride), h1 = hn::Load(d, half_precision + stride);
      for (int s = 0; s < S; ++s) {
        const auto d0 = hn::Sub(hn::Set(d, xs[s][f]), m0);
        const auto d1 = hn::Sub(hn::Set(d, xs[s][f + 1]), m1);
        even[s] = hn::MulAdd(hn::Mul(h0, d0), d0, even[s]);
        odd[s] = hn::MulAdd(hn::Mul(h1, d1), d1, odd[s]);
      }
    }
    if (f < features) {
      const auto m0 = hn::Load(d, mean), h0 = hn::Load(d, half_precision);
      for (int s = 0; s < S; ++s) {
        const auto d0 = hn::Sub(hn::Set(d, xs[s][f]), m0);
        even[s] = hn::MulAdd(hn::Mul(h0, d0), d0, even[s]);
      }
    }
    const auto constant =
        hn::Add(hn::Load(d, p.log_weight + first + j), hn::Load(d, p.log_norm + first + j));
    for (int s = 0; s < S; ++s) hn::Store(hn::Sub(constant, hn::Add(even[s], odd[s])), d, out[s] + j);
  }
}

void LogJointBlock(const EStepParams& p, const float* HWY_RESTRICT x, uint32_t first,
                   float* HWY_RESTRICT l) {
  const float* xs[1] = {x};
  float* out[1] = {l};
  LogJointSamples<1>(p, xs, first, out);
}

// n is a multiple of kBlock (every caller adds whole blocks).
void LseAdd(LogSumExp& acc, const float* HWY_RESTRICT l, uint32_t n) {
  const Block d;
  const size_t lanes = hn::Lanes(d);
  auto top = hn::Set(d, -kInf);
  for (size_t i = 0; i < n; i += lanes) top = hn::Max(top, hn::Load(d, l + i));
  const float block_max = hn::GetLane(hn::MaxOfLanes(d, top));
  const float new_max = block_max > acc.max ? block_max : acc.max;
  if (new_max == -kInf) return;  // everything so far is -inf: keep sum = 0, avoid inf - inf
  const auto shift = hn::Set(d, new_max);
  auto sum = hn::Zero(d);
  for (size_t i = 0; i < n; i += lanes) {
    sum = hn::Add(sum, ExpCut(d, hn::Sub(hn::Load(d, l + i), shift), kExpFloor));
  }
  acc.sum = lse_rescaled_sum(acc, new_max) + hn::GetLane(hn::SumOfLanes(d, sum));
  acc.max = new_max;
}

// Full vectors of d from `begin` while they fit; returns where it stopped. Unaligned loads:
// the caller's K floats need not be aligned. In place (l == r) is fine.
template <class DF>
HWY_INLINE size_t ResponsibilityChunks(DF d, const float* l, size_t begin, size_t n,
                                       const LogSumExp& lse, float* r) {
  const size_t lanes = hn::Lanes(d);
  const auto shift = hn::Set(d, lse.max), inv = hn::Set(d, 1.0f / lse.sum);  // sum in [1, n]
  const auto smallest = hn::Set(d, 0x1.0p-64f);
  size_t i = begin;
  for (; i + lanes <= n; i += lanes) {
    const auto gap = hn::Sub(hn::LoadU(d, l + i), shift);
    const auto v = hn::Mul(ExpCut(d, gap, kMinLogResponsibility), inv);
    hn::StoreU(hn::IfThenElseZero(hn::Ge(v, smallest), v), d, r + i);
  }
  return i;
}

void Responsibilities(const float* l, uint32_t n, const LogSumExp& lse, float* r) {
  if (lse.max == -kInf) {  // no component can take the sample
    for (uint32_t i = 0; i < n; ++i) r[i] = 0.0f;
    return;
  }
  const size_t done = ResponsibilityChunks(Block(), l, 0, n, lse, r);
  ResponsibilityChunks(One(), l, done, n, lse, r);
}

// The weighted-Welford update of the lanes at `at` (see kernels.h): stores the statistics'
// new mean (a TwoSum of mean and residual + step, exact), residual and variance; returns the
// variance.
template <class V>
HWY_INLINE V UpdateElement(Block d, V e, V xf, const Stats& s, size_t at, V variance_floor,
                           V ceiling) {
  const auto mean = hn::Load(d, s.mean + at);
  const auto residual = hn::Load(d, s.mean_residual + at);
  const auto delta = hn::Sub(hn::Sub(xf, mean), residual);
  const auto addend = hn::MulAdd(e, delta, residual);
  const auto sum = hn::Add(mean, addend);
  const auto addend_part = hn::Sub(sum, mean);
  hn::Store(hn::Add(hn::Sub(mean, hn::Sub(sum, addend_part)), hn::Sub(addend, addend_part)), d,
            s.mean_residual + at);
  hn::Store(sum, d, s.mean + at);
  // (e delta) delta may overflow to +inf, never NaN: Min turns it into the ceiling.
  const auto increment = hn::Min(hn::Mul(hn::Mul(e, delta), delta), ceiling);
  const auto updated =
      hn::Mul(hn::Sub(hn::Set(d, 1.0f), e), hn::Add(hn::Load(d, s.variance + at), increment));
  const auto variance = hn::Min(hn::Max(updated, variance_floor), ceiling);
  hn::Store(variance, d, s.variance + at);
  return variance;
}

void MstepUpdate(const Stats& s, const float* HWY_RESTRICT x, const float* HWY_RESTRICT r,
                 float gamma, float variance_floor, float weight_floor) {
  const Block d;
  const size_t lanes = hn::Lanes(d);
  const size_t stride = s.shape.stride;
  const auto v_gamma = hn::Set(d, gamma), v_keep = hn::Set(d, 1.0f - gamma);
  const auto v_weight_floor = hn::Set(d, weight_floor);
  const auto v_variance_floor = hn::Set(d, variance_floor), v_ceiling = hn::Set(d, kMaxVariance);
  const auto zero = hn::Zero(d);
  for (size_t first = 0; first < stride; first += kBlock) {
    alignas(64) float eta[kBlock];
    bool any = false;
    for (size_t j = 0; j < kBlock; j += lanes) {
      const auto gr = hn::Mul(v_gamma, hn::Load(d, r + first + j));
      const auto s0 = hn::Max(hn::MulAdd(v_keep, hn::Load(d, s.weight + first + j), gr),
                              v_weight_floor);
      hn::Store(s0, d, s.weight + first + j);
      const auto e = hn::Div(gr, s0);
      hn::Store(e, d, eta + j);
      any = any || !hn::AllTrue(d, hn::Eq(e, zero));
    }
    if (!any) continue;  // far components: their means and variances are unchanged
    for (uint32_t f = 0; f < s.shape.features; ++f) {
      const auto xf = hn::Set(d, x[f]);
      for (size_t j = 0; j < kBlock; j += lanes) {
        UpdateElement(d, hn::Load(d, eta + j), xf, s, f * stride + first + j, v_variance_floor,
                      v_ceiling);
      }
    }
  }
}

// sum_d log(var_d) with one Log per kLogGroup features instead of one per feature:
// var = 2^e m with m in [1, 2); the exponents add exactly as integers, the mantissas
// multiply (8 of them stay below 256, no overflow) and the product takes one Log. Every
// variance is a normal float (>= the floor >= FLT_MIN), so the bit fields are well formed.
constexpr uint32_t kLogGroup = 8;

// Adds log(variance) of feature f (of D) to the running sum: the exponent to `exponents`,
// the mantissa into `product`, which goes through one Log every kLogGroup features.
template <class V, class VI>
HWY_INLINE void AddLogVariance(Block d, V variance, uint32_t f, uint32_t features, VI& exponents,
                               V& product, V& log_mantissas) {
  const hn::RebindToSigned<Block> di;
  const auto bits = hn::BitCast(di, variance);
  exponents = hn::Add(exponents, hn::ShiftRight<23>(bits));
  product = hn::Mul(product, hn::BitCast(d, hn::Or(hn::And(bits, hn::Set(di, 0x007FFFFF)),
                                                   hn::Set(di, 0x3F800000))));
  if ((f + 1) % kLogGroup == 0 || f + 1 == features) {
    log_mantissas = hn::Add(log_mantissas, hn::Log(d, product));
    product = hn::Set(d, 1.0f);
  }
}

// log_norm = -1/2 (D log 2 pi + sum log var), with sum log var = sum log m + (sum e - 127 D)
// ln 2 and ln 2 split so that n ln2_hi is exact.
template <class V, class VI>
HWY_INLINE V LogNorm(Block d, VI exponents, V log_mantissas, uint32_t features) {
  const hn::RebindToSigned<Block> di;
  const auto n =
      hn::ConvertTo(d, hn::Sub(exponents, hn::Set(di, static_cast<int32_t>(127 * features))));
  const auto log_variance_sum =
      hn::Add(log_mantissas, hn::MulAdd(n, hn::Set(d, 0.693145751953125f),
                                        hn::Mul(n, hn::Set(d, 1.428606765330187e-06f))));
  return hn::Mul(hn::Set(d, -0.5f),
                 hn::Add(hn::Set(d, kLog2Pi * static_cast<float>(features)), log_variance_sum));
}

void DeriveEstepTerms(const ParamArrays& p) {
  const Block d;
  const hn::RebindToSigned<Block> di;
  const size_t lanes = hn::Lanes(d);
  const size_t stride = p.shape.stride;
  const uint32_t features = p.shape.features;
  const auto half = hn::Set(d, 0.5f);
  for (size_t k = 0; k < stride; k += lanes) {
    const auto w = hn::Load(d, p.weight + k);
    // Log(0) is masked: weight 0 (padding) is log-weight -inf.
    hn::Store(hn::IfThenElse(hn::Gt(w, hn::Zero(d)), hn::Log(d, w), hn::Set(d, -kInf)), d,
              p.log_weight + k);
    auto log_mantissas = hn::Zero(d), product = hn::Set(d, 1.0f);
    auto exponents = hn::Zero(di);
    for (uint32_t f = 0; f < features; ++f) {
      const auto variance = hn::Load(d, p.variance + f * stride + k);
      hn::Store(hn::Div(half, variance), d, p.half_precision + f * stride + k);
      AddLogVariance(d, variance, f, features, exponents, product, log_mantissas);
    }
    hn::Store(LogNorm(d, exponents, log_mantissas, features), d, p.log_norm + k);
  }
}

// mstep_update and the refresh of the iterate in one sweep over the arrays (see kernels.h).
// Pass 1 updates every weight statistic and the iterate's weights and log weights; pass 2,
// for each block with any responsibility, updates the statistics (the iterate's means and
// variances) and writes the half precisions and normalizers while they are in registers. Per
// element the arithmetic is MstepUpdate's and DeriveEstepTerms', so results are identical.
void MstepRefresh(const Stats& s, const float* HWY_RESTRICT x, const float* HWY_RESTRICT r,
                  float gamma, float variance_floor, float weight_floor, const ParamArrays& out) {
  const Block d;
  if (s.shape.stride == kBlock && hn::Lanes(d) == kBlock) {
    // One block that is one vector (AVX-512): the two short passes (update, derive) are as
    // fast or slightly faster there (observe, two A/B pairs: K = 4, D = 16 127/127 ns against
    // 129/128; K = D = 16 138/135 against 137/140; K = 16, D = 64 306/317 against 318/321).
    // With narrower vectors the sweep wins (AVX2, K = D = 16: 184-187 against 145-166 ns;
    // 31 % fewer instructions, callgrind).
    MstepUpdate(s, x, r, gamma, variance_floor, weight_floor);
    refresh_from_stats(kHighwayTable, s, out);
    return;
  }
  const hn::RebindToSigned<Block> di;
  const size_t lanes = hn::Lanes(d);
  const size_t stride = s.shape.stride;
  const uint32_t features = s.shape.features;
  const auto v_gamma = hn::Set(d, gamma), v_keep = hn::Set(d, 1.0f - gamma);
  const auto v_weight_floor = hn::Set(d, weight_floor);
  const auto v_variance_floor = hn::Set(d, variance_floor), v_ceiling = hn::Set(d, kMaxVariance);
  const auto one = hn::Set(d, 1.0f), zero = hn::Zero(d), half = hn::Set(d, 0.5f);

  for (size_t k = 0; k < stride; k += lanes) {  // pass 1: weights
    const auto gr = hn::Mul(v_gamma, hn::Load(d, r + k));
    hn::Store(hn::Max(hn::MulAdd(v_keep, hn::Load(d, s.weight + k), gr), v_weight_floor), d,
              s.weight + k);
  }
  normalize_weights(s, out);
  for (size_t k = 0; k < stride; k += lanes) {
    const auto w = hn::Load(d, out.weight + k);
    hn::Store(hn::IfThenElse(hn::Gt(w, zero), hn::Log(d, w), hn::Set(d, -kInf)), d,
              out.log_weight + k);
  }

  for (size_t k = 0; k < stride; k += lanes) {  // pass 2: means, variances, derived terms
    const auto e = hn::Div(hn::Mul(v_gamma, hn::Load(d, r + k)), hn::Load(d, s.weight + k));
    if (hn::AllTrue(d, hn::Eq(e, zero))) continue;  // unchanged: the iterate already holds it
    auto log_mantissas = zero, product = one;
    auto exponents = hn::Zero(di);
    for (uint32_t f = 0; f < features; ++f) {
      const size_t at = f * stride + k;
      const auto variance =
          UpdateElement(d, e, hn::Set(d, x[f]), s, at, v_variance_floor, v_ceiling);
      hn::Store(hn::Div(half, variance), d, out.half_precision + at);
      AddLogVariance(d, variance, f, features, exponents, product, log_mantissas);
    }
    hn::Store(LogNorm(d, exponents, log_mantissas, features), d, out.log_norm + k);
  }
}

template <class DF>
HWY_INLINE size_t RunningMeanChunks(DF d, float* HWY_RESTRICT avg, const float* HWY_RESTRICT value,
                                    size_t begin, size_t n, float inv_count) {
  const size_t lanes = hn::Lanes(d);
  const auto inv = hn::Set(d, inv_count);
  size_t i = begin;
  for (; i + lanes <= n; i += lanes) {
    const auto a = hn::LoadU(d, avg + i);
    hn::StoreU(hn::MulAdd(hn::Sub(hn::LoadU(d, value + i), a), inv, a), d, avg + i);
  }
  return i;
}

void RunningMean(float* HWY_RESTRICT avg, const float* HWY_RESTRICT value, size_t n,
                 float inv_count) {
  const size_t done = RunningMeanChunks(Block(), avg, value, 0, n, inv_count);
  RunningMeanChunks(One(), avg, value, done, n, inv_count);
}

#include "kernels/generic/log_density-inl.h"

// The learner's E-step, fused: the log joint densities and their maximum, then one Exp per
// component, e = exp(l - max), cut at 2^-64 (those terms sum to < P 2^-64 < 2^-54, which a
// sum >= 1 absorbs exactly in float), and r = e / sum e, zero below 2^-64 as everywhere.
float EStep(const EStepParams& p, const float* HWY_RESTRICT x, float* HWY_RESTRICT log_joint,
            float* HWY_RESTRICT resp) {
  const Block d;
  const size_t lanes = hn::Lanes(d);
  const size_t stride = p.shape.stride;
  auto top = hn::Set(d, -kInf);
  for (uint32_t first = 0; first < stride; first += kBlock) {
    LogJointBlock(p, x, first, log_joint + first);
    for (size_t j = 0; j < kBlock; j += lanes) top = hn::Max(top, hn::Load(d, log_joint + first + j));
  }
  const float max = hn::GetLane(hn::MaxOfLanes(d, top));
  if (max == -kInf) {  // no component can take the sample
    for (size_t k = 0; k < stride; ++k) resp[k] = 0.0f;
    return -kInf;
  }
  const auto shift = hn::Set(d, max);
  auto sum = hn::Zero(d);
  for (size_t k = 0; k < stride; k += lanes) {
    const auto e = ExpCut(d, hn::Sub(hn::Load(d, log_joint + k), shift), kMinLogResponsibility);
    hn::Store(e, d, resp + k);
    sum = hn::Add(sum, e);
  }
  const float total = hn::GetLane(hn::SumOfLanes(d, sum));
  const auto inv = hn::Set(d, 1.0f / total), smallest = hn::Set(d, 0x1.0p-64f);
  for (size_t k = 0; k < stride; k += lanes) {
    const auto r = hn::Mul(hn::Load(d, resp + k), inv);  // >= 2^-64 / P: never denormal
    hn::Store(hn::IfThenElseZero(hn::Ge(r, smallest), r), d, resp + k);
  }
  return max + std::log(total);
}

// Batch scoring. With few components the per-sample E-step wastes most of a 16-component
// block on padding, so lanes run across samples instead: a tile of `lanes` samples is
// transposed feature by feature, each component's log density accumulates in one vector,
// and the log-sum-exp over components runs lane-wise (one Exp per component and sample).
constexpr uint32_t kAcrossSamplesMaxComponents = kBlock / 2;
constexpr uint32_t kFeatureChunk = 32;  // features transposed at a time (2 KiB of stack)

void ScoreBatch(const EStepParams& p, const float* HWY_RESTRICT x, size_t n,
                float* HWY_RESTRICT out) {
  const Block d;
  const size_t lanes = hn::Lanes(d);
  const uint32_t k_count = p.shape.components, features = p.shape.features;
  const size_t stride = p.shape.stride;
  size_t i = 0;
  if (k_count <= kAcrossSamplesMaxComponents && lanes >= 4) {
    alignas(64) float tile[kFeatureChunk * kBlock];
    alignas(64) float acc[kAcrossSamplesMaxComponents * kBlock];
    for (; i + lanes <= n; i += lanes) {
      for (uint32_t k = 0; k < k_count; ++k) hn::Store(hn::Zero(d), d, acc + k * lanes);
      for (uint32_t f0 = 0; f0 < features; f0 += kFeatureChunk) {
        const uint32_t chunk = features - f0 < kFeatureChunk ? features - f0 : kFeatureChunk;
        for (size_t s = 0; s < lanes; ++s) {
          const float* row = x + (i + s) * features + f0;
          for (uint32_t f = 0; f < chunk; ++f) tile[f * lanes + s] = row[f];
        }
        // Four components at a time: four independent FMA chains over the features (one
        // chain alone waits on the FMA latency at every feature).
        uint32_t k = 0;
        for (; k + 4 <= k_count; k += 4) {
          auto a0 = hn::Load(d, acc + k * lanes), a1 = hn::Load(d, acc + (k + 1) * lanes);
          auto a2 = hn::Load(d, acc + (k + 2) * lanes), a3 = hn::Load(d, acc + (k + 3) * lanes);
          for (uint32_t f = 0; f < chunk; ++f) {
            const size_t at = (f0 + f) * stride + k;
            const auto t = hn::Load(d, tile + f * lanes);
            const auto d0 = hn::Sub(t, hn::Set(d, p.mean[at]));
            const auto d1 = hn::Sub(t, hn::Set(d, p.mean[at + 1]));
            const auto d2 = hn::Sub(t, hn::Set(d, p.mean[at + 2]));
            const auto d3 = hn::Sub(t, hn::Set(d, p.mean[at + 3]));
            a0 = hn::MulAdd(hn::Mul(hn::Set(d, p.half_precision[at]), d0), d0, a0);
            a1 = hn::MulAdd(hn::Mul(hn::Set(d, p.half_precision[at + 1]), d1), d1, a1);
            a2 = hn::MulAdd(hn::Mul(hn::Set(d, p.half_precision[at + 2]), d2), d2, a2);
            a3 = hn::MulAdd(hn::Mul(hn::Set(d, p.half_precision[at + 3]), d3), d3, a3);
          }
          hn::Store(a0, d, acc + k * lanes);
          hn::Store(a1, d, acc + (k + 1) * lanes);
          hn::Store(a2, d, acc + (k + 2) * lanes);
          hn::Store(a3, d, acc + (k + 3) * lanes);
        }
        for (; k < k_count; ++k) {
          auto a = hn::Load(d, acc + k * lanes);
          for (uint32_t f = 0; f < chunk; ++f) {
            const size_t at = (f0 + f) * stride + k;
            const auto delta = hn::Sub(hn::Load(d, tile + f * lanes), hn::Set(d, p.mean[at]));
            a = hn::MulAdd(hn::Mul(hn::Set(d, p.half_precision[at]), delta), delta, a);
          }
          hn::Store(a, d, acc + k * lanes);
        }
      }
      // Lane-wise max-shifted log-sum-exp over the components.
      auto top = hn::Set(d, -kInf);
      for (uint32_t k = 0; k < k_count; ++k) {
        const auto l = hn::Sub(hn::Set(d, p.log_weight[k] + p.log_norm[k]), hn::Load(d, acc + k * lanes));
        hn::Store(l, d, acc + k * lanes);
        top = hn::Max(top, l);
      }
      const auto finite = hn::Gt(top, hn::Set(d, -kInf));
      const auto shift = hn::IfThenElseZero(finite, top);
      auto sum = hn::Zero(d);
      for (uint32_t k = 0; k < k_count; ++k) {
        sum = hn::Add(sum, ExpCut(d, hn::Sub(hn::Load(d, acc + k * lanes), shift), kExpFloor));
      }
      // Lanes whose every component is -inf give -inf (sum 0 there: Log is masked).
      const auto log_p = hn::Add(shift, hn::Log(d, hn::IfThenElse(finite, sum, hn::Set(d, 1.0f))));
      hn::StoreU(hn::IfThenElse(finite, log_p, hn::Set(d, -kInf)), d, out + i);
    }
  }
  // More components: lanes across components as in the per-sample E-step.
  ScorePerSampleLayout(p, x, i, n, out);
}

}  // namespace HWY_NAMESPACE
}  // namespace streamix::kernels::highway
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace streamix::kernels {
namespace highway {

HWY_EXPORT(LogJointBlock);
HWY_EXPORT(LseAdd);
HWY_EXPORT(Responsibilities);
HWY_EXPORT(MstepUpdate);
HWY_EXPORT(DeriveEstepTerms);
HWY_EXPORT(RunningMean);
HWY_EXPORT(ScoreBatch);
HWY_EXPORT(EStep);
HWY_EXPORT(MstepRefresh);

namespace {

void log_joint_block(const EStepParams& p, const float* x, uint32_t first, float* l) {
  HWY_DYNAMIC_DISPATCH(LogJointBlock)(p, x, first, l);
}
void lse_add(LogSumExp& acc, const float* l, uint32_t n) { HWY_DYNAMIC_DISPATCH(LseAdd)(acc, l, n); }
void responsibilities(const float* l, uint32_t n, const LogSumExp& lse, float* r) {
  HWY_DYNAMIC_DISPATCH(Responsibilities)(l, n, lse, r);
}
void mstep_update(const Stats& s, const float* x, const float* r, float gamma,
                  float variance_floor, float weight_floor) {
  HWY_DYNAMIC_DISPATCH(MstepUpdate)(s, x, r, gamma, variance_floor, weight_floor);
}
void derive_estep_terms(const ParamArrays& p) { HWY_DYNAMIC_DISPATCH(DeriveEstepTerms)(p); }
void running_mean(float* avg, const float* value, size_t n, float inv_count) {
  HWY_DYNAMIC_DISPATCH(RunningMean)(avg, value, n, inv_count);
}
void score_batch(const EStepParams& p, const float* x, size_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(ScoreBatch)(p, x, n, out);
}
float estep(const EStepParams& p, const float* x, float* log_joint, float* resp) {
  return HWY_DYNAMIC_DISPATCH(EStep)(p, x, log_joint, resp);
}
void mstep_refresh(const Stats& s, const float* x, const float* r, float gamma,
                   float variance_floor, float weight_floor, const ParamArrays& out) {
  HWY_DYNAMIC_DISPATCH(MstepRefresh)(s, x, r, gamma, variance_floor, weight_floor, out);
}

#if defined(HWY_COMPILE_ONLY_STATIC)
// Static dispatch: the one compiled target is the only one to select.
bool restrict_target(const char* name) {
  return name == nullptr || std::strcmp(hwy::TargetName(HWY_STATIC_TARGET), name) == 0;
}

const char* target() { return hwy::TargetName(HWY_STATIC_TARGET); }
#else
// The target dispatch picks: the best (lowest bit) of the supported, compiled targets.
int64_t chosen_target() {
  const int64_t targets = hwy::SupportedTargets() & HWY_TARGETS;
  return targets & -targets;
}

int64_t g_restriction = 0;  // the mask given to SetSupportedTargetsForTest (0: none)

bool restrict_target(const char* name) {
  hwy::SetSupportedTargetsForTest(0);  // list every target this CPU really has
  int64_t found = 0;
  for (int64_t t : hwy::SupportedAndGeneratedTargets()) {
    if (name != nullptr && std::strcmp(hwy::TargetName(t), name) == 0) found = t;
  }
  if (name != nullptr && found == 0) {
    hwy::SetSupportedTargetsForTest(g_restriction);  // unknown or unsupported: keep the old
    return false;
  }
  g_restriction = found;
  hwy::SetSupportedTargetsForTest(found);
  return true;
}

const char* target() { return hwy::TargetName(chosen_target()); }
#endif

// HWY_EXPORT's tables have one slot per target (plus, with dynamic dispatch, the
// initializing trampoline and the fallback); slot_table(i) is kHighwayTable with slot i's
// functions.
constexpr size_t kSlots = sizeof(HWY_DISPATCH_TABLE(EStep)) / sizeof(HWY_DISPATCH_TABLE(EStep)[0]);

KernelTable slot_table(size_t i) {
  KernelTable t = kHighwayTable;
  t.log_joint_block = HWY_DISPATCH_TABLE(LogJointBlock)[i];
  t.lse_add = HWY_DISPATCH_TABLE(LseAdd)[i];
  t.responsibilities = HWY_DISPATCH_TABLE(Responsibilities)[i];
  t.mstep_update = HWY_DISPATCH_TABLE(MstepUpdate)[i];
  t.derive_estep_terms = HWY_DISPATCH_TABLE(DeriveEstepTerms)[i];
  t.mstep_refresh = HWY_DISPATCH_TABLE(MstepRefresh)[i];
  t.running_mean = HWY_DISPATCH_TABLE(RunningMean)[i];
  t.estep = HWY_DISPATCH_TABLE(EStep)[i];
  t.score_batch = HWY_DISPATCH_TABLE(ScoreBatch)[i];
  t.resolved = nullptr;
  return t;
}

// The table of the target dispatch chooses now (after restrict_target, the restricted one).
// Measured against dispatching inside every call: 33 fewer instructions per smx_score and 63
// per smx_observe at K = D = 16 (callgrind, AVX2); the time change was within the noise.
const KernelTable& resolved() {
  static const struct Slots {
    KernelTable table[kSlots];
    Slots() {
      for (size_t i = 0; i < kSlots; ++i) table[i] = slot_table(i);
    }
  } slots;
#if defined(HWY_COMPILE_ONLY_STATIC)
  return slots.table[0];
#else
  hwy::ChosenTarget& chosen = hwy::GetChosenTarget();
  chosen.Update(hwy::SupportedTargets());
  return slots.table[chosen.GetIndex()];
#endif
}

}  // namespace
}  // namespace highway

const KernelTable kHighwayTable = {"highway",
                                   highway::log_joint_block,
                                   highway::lse_add,
                                   highway::responsibilities,
                                   highway::mstep_update,
                                   highway::derive_estep_terms,
                                   highway::mstep_refresh,
                                   highway::running_mean,
                                   highway::estep,
                                   highway::score_batch,
                                   nullptr,
                                   highway::restrict_target,
                                   highway::target,
                                   highway::resolved};

}  // namespace streamix::kernels
#endif  // HWY_ONCE
