// Portable C++17 reference backend: plain loops over the K components of the feature-major
// layout. It is the only backend on Cortex-M, so it skips the layout's padding (left as
// created: see kernels.h; the E-step's groups of 4 compute up to 3 padding lanes and drop
// them), keeps stack use bounded (one block of kBlock floats) and uses float arithmetic only:
// one exponential per component in the E-step; per step, one logarithm per component for
// its weight and one per 8 features for the normalizer of each component the step moved.
#include "kernels/float_math.h"
#include "kernels/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace streamix::kernels {
namespace scalar {
namespace {

constexpr float kLog2Pi = 1.8378770664093453f;

// exp(gap) for gap <= 0, or 0 below 2^-64 (kMinLogResponsibility): such terms are below float
// resolution beside the largest (1), and they would be denormal soon after.
inline float exp_cut(float gap) { return gap >= kMinLogResponsibility ? exp_nonpositive(gap) : 0.0f; }

}  // namespace

// The operations (declared in kernels.h when they are bound statically).
namespace {

// Whether the compiler has float vectors to vectorize plain loops with (hosts; not a
// Cortex-M4's scalar FPU).
#if defined(__SSE2__) || defined(__ARM_NEON)
constexpr bool kCompilerVectorizes = true;
#else
constexpr bool kCompilerVectorizes = false;
#endif

// l_j = log w + log_norm - sum_d half_precision (x_d - mean)^2 for the n components from
// `first`. Two loop orders, the same sums (each lane's, in feature order):
//  - four components at a time: their four sums stay in registers while two pointers step
//    through the features (Cortex-M4 observe at K = D = 8: this E-step 571 instructions,
//    871 with the pass below; 16 x 16: 7,470 against 8,427 for the whole observe);
//  - a pass over l per feature, for whole blocks of 16 where the compiler vectorizes it
//    (x86-64 scalar score at K = D = 64: 23,711 instructions, 33,506 four at a time).
// Lanes past n are padding (log weight -inf, finite terms); only the n lanes are written.
void log_joint_range(const EStepParams& p, const float* x, uint32_t first, uint32_t n, float* l) {
  const size_t stride = p.shape.stride;
  const uint32_t features = p.shape.features;
  if (kCompilerVectorizes && n >= kBlock) {
    for (uint32_t j = 0; j < n; ++j) l[j] = 0.0f;
    for (uint32_t d = 0; d < features; ++d) {
      const float* mean = p.mean + d * stride + first;
      const float* half_precision = p.half_precision + d * stride + first;
      for (uint32_t j = 0; j < n; ++j) {
        const float delta = x[d] - mean[j];
        l[j] += half_precision[j] * delta * delta;
      }
    }
    for (uint32_t j = 0; j < n; ++j) l[j] = (p.log_weight[first + j] + p.log_norm[first + j]) - l[j];
    return;
  }
  for (uint32_t j = 0; j < n; j += 4) {
    const float* mean = p.mean + first + j;
    const float* half_precision = p.half_precision + first + j;
    float q0 = 0.0f, q1 = 0.0f, q2 = 0.0f, q3 = 0.0f;
    for (uint32_t d = 0; d < features; ++d, mean += stride, half_precision += stride) {
      const float d0 = x[d] - mean[0], d1 = x[d] - mean[1], d2 = x[d] - mean[2], d3 = x[d] - mean[3];
      q0 += half_precision[0] * d0 * d0, q1 += half_precision[1] * d1 * d1;
      q2 += half_precision[2] * d2 * d2, q3 += half_precision[3] * d3 * d3;
    }
    const float* log_weight = p.log_weight + first + j;
    const float* log_norm = p.log_norm + first + j;
    const float q[4] = {q0, q1, q2, q3};
    const uint32_t lanes = n - j < 4 ? n - j : 4;
    for (uint32_t i = 0; i < lanes; ++i) l[j + i] = (log_weight[i] + log_norm[i]) - q[i];
  }
}

}  // namespace

// The block's existing components, and -inf for its padding.
void log_joint_block(const EStepParams& p, const float* x, uint32_t first, float* l) {
  const uint32_t width = p.shape.block();
  const uint32_t n = p.shape.components - first < width ? p.shape.components - first : width;
  log_joint_range(p, x, first, n, l);
  for (uint32_t j = n; j < width; ++j) l[j] = -kInf;
}

void lse_add(LogSumExp& acc, const float* l, uint32_t n) {
  float block_max = -kInf;
  for (uint32_t i = 0; i < n; ++i) block_max = std::max(block_max, l[i]);
  const float new_max = std::max(acc.max, block_max);
  if (new_max == -kInf) return;  // everything so far is -inf: keep sum = 0, avoid inf - inf
  float sum = lse_rescaled_sum(acc, new_max);
  for (uint32_t i = 0; i < n; ++i) sum += exp_cut(l[i] - new_max);
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
    const float v = exp_cut(l[i] - lse.max) * inv;
    r[i] = v >= 0x1.0p-64f ? v : 0.0f;
  }
}

namespace {

// The weighted-Welford step of one element by eta towards a point delta away from the mean
// (mean + residual), plus eta times the spread within a mini-batch (kWithin).
template <bool kWithin>
inline void welford_step(float eta, float delta, float within, float* mean, float* residual,
                         float* variance, float variance_floor) {
  // TwoSum of mean and (residual + step): mean' is the rounded sum, residual' its error.
  const float addend = *residual + eta * delta;
  const float sum = *mean + addend;
  const float addend_part = sum - *mean;
  *residual = (*mean - (sum - addend_part)) + (addend - addend_part);
  *mean = sum;
  // (eta delta) delta may overflow to +inf, never NaN: min() turns it into the ceiling.
  const float increment = std::min(eta * delta * delta, kMaxVariance);
  float updated = (1.0f - eta) * (*variance + increment);
  if (kWithin) updated += eta * within;
  *variance = std::min(std::max(updated, variance_floor), kMaxVariance);
}

// s0' = max((1 - gamma) s0 + gamma r, floor); returns eta = gamma r / s0'.
inline float weight_step(float* s0, float r, float gamma, float weight_floor) {
  const float gr = gamma * r;
  const float updated = std::max((1.0f - gamma) * *s0 + gr, weight_floor);
  *s0 = updated;
  return gr / updated;
}

// Component k's means and variances stepped by eta towards x.
void update_component(const Stats& s, uint32_t k, const float* x, float eta, float variance_floor) {
  const uint32_t stride = s.shape.stride;
  float* mean = s.mean + k;
  float* residual = s.mean_residual + k;
  float* variance = s.variance + k;
  for (uint32_t d = 0; d < s.shape.features; ++d, mean += stride, residual += stride, variance += stride) {
    welford_step<false>(eta, (x[d] - *mean) - *residual, 0.0f, mean, residual, variance, variance_floor);
  }
}

}  // namespace

void mstep_update(const Stats& s, const float* x, const float* r, float gamma,
                  float variance_floor, float weight_floor) {
  for (uint32_t k = 0; k < s.shape.components; ++k) {
    const float eta = weight_step(s.weight + k, r[k], gamma, weight_floor);
    if (eta != 0.0f) update_component(s, k, x, eta, variance_floor);  // (else a far component)
  }
}

void batch_accumulate(const Stats& s, const float* x, const float* resp, size_t n, float scale,
                      const BatchSums& sums) {
  const uint32_t stride = s.shape.stride, features = s.shape.features;
  for (size_t i = 0; i < n; ++i) {
    const float* r = resp + i * stride;
    const float* xi = x + i * features;
    for (uint32_t k = 0; k < s.shape.components; ++k) {
      if (r[k] == 0.0f) continue;
      const float w = scale * r[k];
      sums.weight[k] += w;
      for (uint32_t d = 0; d < features; ++d) {
        const size_t at = size_t{d} * stride + k;
        const float delta = (xi[d] - s.mean[at]) - s.mean_residual[at];
        sums.first[at] += w * delta;
        sums.second[at] += w * std::min(delta * delta, kMaxVariance);
      }
    }
  }
}

void batch_update(const Stats& s, const BatchSums& sums, float gamma, float variance_floor,
                  float weight_floor) {
  const uint32_t stride = s.shape.stride;
  for (uint32_t k = 0; k < s.shape.components; ++k) {
    // R <= 1, but its sum is rounded: above 1, the weight statistic could leave [floor, 1].
    const float total = std::min(sums.weight[k], 1.0f);
    sums.weight[k] = 0.0f;
    const float eta = weight_step(s.weight + k, total, gamma, weight_floor);
    const float inv = total > 0.0f ? 1.0f / total : 0.0f;
    for (uint32_t d = 0; d < s.shape.features; ++d) {
      const size_t at = size_t{d} * stride + k;
      const float first = sums.first[at], second = sums.second[at];
      sums.first[at] = sums.second[at] = 0.0f;
      if (eta == 0.0f) continue;  // no responsibility in the mini-batch (or a vanishing one)
      const float delta = first * inv;
      const float within = std::max(second * inv - std::min(delta * delta, kMaxVariance), 0.0f);
      welford_step<true>(eta, delta, within, s.mean + at, s.mean_residual + at, s.variance + at,
                         variance_floor);
    }
  }
}

namespace {

// log w, or -inf for a weight of 0.
inline float log_weight_of(float weight) { return weight > 0.0f ? log_positive(weight) : -kInf; }

// The derived terms of component k from its variances: half precisions, log weight and
// normalizer. sum_d log(var_d) takes one log per 8 features: var = 2^e m with m in [1, 2);
// the exponents add exactly as integers, 8 mantissas multiply below 256, and their product
// takes one log (the SIMD backends' DeriveEstepTerms do the same lane-wise). Every variance
// is a normal float (>= the floor >= FLT_MIN), so its bit fields are well formed. The loops
// are do-while over pointers stepped by the stride: at -Os on the Cortex-M4 an indexed for
// loop cost 13 instructions per element, this one 9 (and out of line, 9 with the division).
__attribute__((noinline)) void derive_component(const ParamArrays& p, uint32_t k) {
  constexpr uint32_t kLogGroup = 8;
  const size_t stride = p.shape.stride;
  const uint32_t features = p.shape.features;
  const float* variance = p.variance + k;
  float* half_precision = p.half_precision + k;
  p.log_weight[k] = log_weight_of(p.weight[k]);
  int32_t exponents = 0;
  float log_mantissas = 0.0f;
  uint32_t remaining = features;
  do {
    uint32_t count = remaining > kLogGroup ? kLogGroup : remaining;
    remaining -= count;
    float product = 1.0f;
    do {
      int32_t bits;
      std::memcpy(&bits, variance, sizeof bits);
      *half_precision = 0.5f / *variance;
      half_precision += stride;
      variance += stride;
      exponents += bits >> 23;
      const int32_t mantissa_bits = (bits & 0x007FFFFF) | 0x3F800000;
      float mantissa;
      std::memcpy(&mantissa, &mantissa_bits, sizeof mantissa);
      product *= mantissa;
    } while (--count != 0);
    log_mantissas += log_positive(product);
  } while (remaining != 0);
  const float n = static_cast<float>(exponents - 127 * static_cast<int32_t>(features));
  const float log_variance_sum = log_mantissas + (n * kLn2Hi + n * kLn2Lo);
  p.log_norm[k] = -0.5f * (kLog2Pi * static_cast<float>(features) + log_variance_sum);
}

}  // namespace

void derive_estep_terms(const ParamArrays& p) {
  for (uint32_t k = 0; k < p.shape.components; ++k) derive_component(p, k);
}

void running_mean(float* avg, const float* value, size_t n, float inv_count) {
  for (size_t i = 0; i < n; ++i) avg[i] += (value[i] - avg[i]) * inv_count;
}

// The learner's E-step: the K log joint densities and their maximum, one exponential per
// component for both the sum and r, r = e / sum (as the SIMD backends' fused E-step).
float estep(const EStepParams& p, const float* x, float* log_joint_out, float* resp) {
  const uint32_t k_count = p.shape.components;
  log_joint_range(p, x, 0, k_count, log_joint_out);
  float max = -kInf;
  for (uint32_t k = 0; k < k_count; ++k) max = std::max(max, log_joint_out[k]);
  if (max == -kInf) {  // no component can take the sample
    for (uint32_t k = 0; k < k_count; ++k) resp[k] = 0.0f;
    return -kInf;
  }
  float total = 0.0f;
  for (uint32_t k = 0; k < k_count; ++k) {
    resp[k] = exp_cut(log_joint_out[k] - max);
    total += resp[k];
  }
  const float inv = 1.0f / total;
  for (uint32_t k = 0; k < k_count; ++k) {
    const float r = resp[k] * inv;  // >= 2^-64 / K: never denormal
    resp[k] = r >= 0x1.0p-64f ? r : 0.0f;
  }
  return max + log_positive(total);
}

void batch_estep(const EStepParams& p, const float* x, size_t n, float* log_p, float* resp) {
  const uint32_t stride = p.shape.stride;
  for (size_t i = 0; i < n; ++i) {
    float* r = resp + i * stride;
    // (the row serves as the log joint densities' scratch: estep reads each before it
    // writes the responsibility in its place)
    log_p[i] = scalar::estep(p, x + i * p.shape.features, r, r);  // (k < K only)
  }
}

// log p(x) a block of components at a time (no scratch beyond one block), combined by the
// streaming log-sum-exp rule.
void score_batch(const EStepParams& p, const float* x, size_t n, float* out) {
  float block[kBlock];
  for (size_t i = 0; i < n; ++i) {
    const float* xi = x + i * p.shape.features;
    LogSumExp lse;
    for (uint32_t first = 0; first < p.shape.components; first += p.shape.block()) {
      scalar::log_joint_block(p, xi, first, block);  // (qualified: ADL finds the forwarders)
      scalar::lse_add(lse, block, p.shape.block());
    }
    out[i] = lse_value(lse);
  }
}

// The update, then the refresh of an iterate that shares the statistics' means and
// variances (kernels.h): every weight statistic, then per component its normalized weight,
// its elements' update and its derived terms. A component without responsibility keeps its means and
// variances, hence its half precisions and normalizer: only its log weight changes.
// The arithmetic is mstep_update's, normalize_weights' and derive_estep_terms': the same bits.
void mstep_refresh(const Stats& s, const float* x, const float* r, float gamma,
                   float variance_floor, float weight_floor, const ParamArrays& out) {
  const uint32_t components = s.shape.components;
  for (uint32_t k = 0; k < components; ++k) weight_step(s.weight + k, r[k], gamma, weight_floor);
  const float inv_total = inverse_weight_total(components, [&s](uint32_t k) { return s.weight[k]; });
  for (uint32_t k = 0; k < components; ++k) {
    out.weight[k] = s.weight[k] * inv_total;
    const float eta = (gamma * r[k]) / s.weight[k];  // (weight_step's quotient, recomputed)
    if (eta != 0.0f) {
      update_component(s, k, x, eta, variance_floor);
      derive_component(out, k);
    } else {
      out.log_weight[k] = log_weight_of(out.weight[k]);
    }
  }
}

// The bank kernel (generic/bank-inl.h) over one-lane "vectors" of float: the primitives of
// generic/kernels-inl.h on plain scalars, with this backend's exp and log.
namespace one_lane {
template <uint32_t B>
struct Simd {
  static constexpr uint32_t kWidth = B;
  using V = float;
  using VI = int32_t;
  using M = bool;
  static size_t lanes() { return 1; }
  static V zero() { return 0.0f; }
  static V set(float f) { return f; }
  static VI set_int(int32_t i) { return i; }
  static V load(const float* p) { return *p; }
  static void store(V v, float* p) { *p = v; }
  static void storeu(V v, float* p) { *p = v; }
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V mul(V a, V b) { return a * b; }
  static V div(V a, V b) { return a / b; }
  static V min(V a, V b) { return std::min(a, b); }
  static V max(V a, V b) { return std::max(a, b); }
  static V mul_add(V a, V b, V c) { return a * b + c; }  // (not fused: -ffp-contract=off)
  static M ge(V a, V b) { return a >= b; }
  static M gt(V a, V b) { return a > b; }
  static M eq(V a, V b) { return a == b; }
  static V select(M m, V a, V b) { return m ? a : b; }
  static V zero_unless(M m, V a) { return m ? a : 0.0f; }
  static bool all_true(M m) { return m; }
  static V exp(V v) { return exp_nonpositive(v); }  // (ExpCut passes v <= 0 only)
  static V log(V v) { return v > 0.0f ? log_positive(v) : -kInf; }  // (LogWeight's 0 too)
  static VI bits(V v) {
    VI b;
    std::memcpy(&b, &v, sizeof b);
    return b;
  }
  static V from_bits(VI b) {
    V v;
    std::memcpy(&v, &b, sizeof v);
    return v;
  }
  static VI int_add(VI a, VI b) { return a + b; }
  static VI int_sub(VI a, VI b) { return a - b; }
  static VI int_and(VI a, int32_t b) { return a & b; }
  static VI int_or(VI a, int32_t b) { return a | b; }
  static VI shift_right_23(VI v) { return v >> 23; }  // (of a positive float's bits)
  static V to_float(VI v) { return static_cast<float>(v); }
};

#include "kernels/generic/elements-inl.h"
#include "kernels/generic/bank-inl.h"
}  // namespace one_lane

void bank_observe(const BankGroup& g, const float* x, const float* gamma, float variance_floor,
                  float weight_floor, float* log_p) {
  one_lane::generic::BankObserve<one_lane::Simd<kBankLanes>>(g, x, gamma, variance_floor, weight_floor,
                                                             log_p);
}

void bank_score(const BankGroup& g, const float* x, float* log_joint, float* top, float* total) {
  one_lane::generic::BankScore<one_lane::Simd<kBankLanes>>(g, x, log_joint, top, total);
}

}  // namespace scalar

#if !STREAMIX_STATIC_SCALAR
namespace {
const char* scalar_target() { return "portable"; }
}  // namespace

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
                                  scalar::batch_estep,
                                  scalar::batch_accumulate,
                                  scalar::batch_update,
                                  scalar::bank_observe,
                                  scalar::bank_score,
                                  nullptr,
                                  nullptr,
                                  scalar_target,
                                  nullptr};
#endif

}  // namespace streamix::kernels
