// The narrow interface between the core (schedule, initialization, snapshots, C API) and
// the arithmetic. Each backend (scalar/, highway/, xsimd/) implements the operations once and
// exports them as a KernelTable; every backend the platform supports is compiled in, one is
// active (the build's default, or the one selected at run time).
//
// Layout: feature-major. A "D-by-P array" holds element (d, k) at [d * stride + k], with
// stride P = K rounded up to the model's block: 4 components for K <= 4, 8 for K <= 8, else
// kBlock = 16 (a function of K alone, so every backend reads every model). Arrays start
// aligned to min(4 P, 64) bytes, a whole vector of any width a kernel uses for the block.
// Padding components k >= K carry weight 0 (log-weight -inf, set at creation), mean 0,
// variance 1, so they never receive responsibility and never produce NaN. No operation
// changes a padding component's primary values; a backend may skip the padding altogether
// (the scalar one does) or compute it along (the SIMD ones).
#ifndef STREAMIX_KERNELS_KERNELS_H
#define STREAMIX_KERNELS_KERNELS_H

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "kernels/float_math.h"

namespace streamix::kernels {

// Components per block, for K > 8: 16 floats = 64 bytes = one AVX-512 vector, two AVX2,
// four NEON. Smaller models use blocks of 4 or 8 (block_of).
inline constexpr uint32_t kBlock = 16;

// The block of a model with K components: 4, 8 or 16.
inline constexpr uint32_t block_of(uint32_t components) {
  return components <= 4 ? 4 : components <= 8 ? 8 : kBlock;
}

// Responsibilities below 2^-64 are set to 0 and not renormalized: the KL gap this opens
// between the ELBO and log p(x) is at most -log(1 - K 2^-64) < 6e-17 nats for K <= 1024,
// far below float resolution, while the M-step never sees denormal-producing weights.
inline constexpr float kMinLogResponsibility = -44.361419555836499f;  // log(2^-64)

inline constexpr float kInf = std::numeric_limits<float>::infinity();

// The largest variance: 2^125, so that 1 / (2 var) = 2^-126 is still a normal float. Inputs
// may be up to sqrt(FLT_MAX) apart from a mean, so (x - mean)^2 can overflow float; the
// M-step clamps its increment at this ceiling (found by fuzz_api: variances became +inf).
inline constexpr float kMaxVariance = 0x1.0p125f;

struct Shape {
  uint32_t components;  // K
  uint32_t features;    // D
  uint32_t stride;      // P, a multiple of block()
  // block_of(K), computed rather than stored: every parameter struct holds a Shape, and a
  // fourth field cost the Cortex-M4 sensor loop 48 bytes of stack.
  uint32_t block() const { return block_of(components); }
};

// What the E-step reads: log w_k, log_norm_k = -1/2 sum_d log(2 pi var_dk), the means and
// half_precision = 1 / (2 var), all P-padded.
struct EStepParams {
  const float* log_weight;
  const float* log_norm;
  const float* mean;
  const float* half_precision;
  Shape shape;
};

// Streaming max-shifted log-sum-exp: value() = max + log(sum exp(l - max)).
struct LogSumExp {
  float max = -kInf;
  float sum = 0.0f;
};
float lse_value(const LogSumExp& acc);  // -inf when every l was -inf, never NaN

// acc.sum rescaled to a new maximum (>= acc.max): sum exp(l - new_max) over what acc holds.
// Skips the exponential where it is exactly 1 or the sum is empty (the first block of a
// sample, the only one when K <= 16).
inline float lse_rescaled_sum(const LogSumExp& acc, float new_max) {
  if (acc.max == new_max || acc.max == -kInf) return acc.sum;
  return acc.sum * exp_nonpositive(acc.max - new_max);
}

// Running sufficient statistics in weighted-Welford form (weight s0, mean, variance). The
// mean is a two-float sum mean + mean_residual: once the step eta (x - mean) falls below
// half an ulp of the mean (|mean| = 1e4, sigma = 1e-2: already at eta < 0.05), a plain float
// mean would stop moving; the residual keeps what the float cannot hold.
struct Stats {
  float* weight;
  float* mean;
  float* mean_residual;
  float* variance;
  Shape shape;
};

// A mini-batch's sums, centred on the statistics' means (mean + mean_residual), each
// sample's terms scaled by `scale` (1 / batch size): weight[k] = sum scale r_k (P floats),
// first[d][k] = sum scale r_k delta and second[d][k] = sum scale r_k min(delta^2, ceiling)
// (D-by-P), delta = (x_d - mean) - mean_residual. Zero between mini-batches.
struct BatchSums {
  float* weight;
  float* first;
  float* second;
};

// Banks (lanes across models): kBankLanes models of one shape side by side, element i of each
// array at [i * kBankLanes + lane], so that one SIMD lane is one model (a layout of K, D and
// the lane count only, like a model's: every backend reads every bank). Arrays hold no
// padding components: a P-vector is K elements, a D-by-P array K D elements, element (d, k)
// at i = d K + k. A group's model updates with bank_observe only once its iterate shares the
// statistics' means and variances (a lone model past its hold); the core runs every other
// state through a lone model.
inline constexpr uint32_t kBankLanes = 16;
// The largest K bank_observe takes (its stack holds a few vectors per component).
inline constexpr uint32_t kBankMaxComponents = 16;
struct BankGroup {
  float* stats_weight;  // the statistics: weight (K), mean, mean_residual, variance (K D)
  float* mean;
  float* mean_residual;
  float* variance;
  float* weight;  // the iterate: weight, log_weight, log_norm (K), half_precision (K D)
  float* log_weight;
  float* log_norm;
  float* half_precision;
  uint32_t components;
  uint32_t features;
};

// Parameters in E-step-ready form. weight, mean and variance are the primary values;
// log_weight, log_norm and half_precision are derived from them by derive_estep_terms.
struct ParamArrays {
  float* weight;
  float* log_weight;
  float* log_norm;
  float* mean;
  float* variance;
  float* half_precision;
  Shape shape;
};

// The kernel operations (documented on the forwarders below), one table per backend.
struct KernelTable {
  const char* name;
  void (*log_joint_block)(const EStepParams& p, const float* x, uint32_t first, float* l);
  void (*lse_add)(LogSumExp& acc, const float* l, uint32_t n);
  void (*responsibilities)(const float* l, uint32_t n, const LogSumExp& lse, float* r);
  void (*mstep_update)(const Stats& s, const float* x, const float* r, float gamma,
                       float variance_floor, float weight_floor);
  void (*derive_estep_terms)(const ParamArrays& p);
  // mstep_update, then out (the iterate) refreshed from the statistics: every weight and
  // log weight, and the derived terms of the blocks the update changed. Requires out's means
  // and variances to be the statistics' own arrays (the learner's iterate once past the
  // hold), and out to be the refresh of the statistics before the call (true after any
  // refresh): unchanged blocks are left as they are.
  void (*mstep_refresh)(const Stats& s, const float* x, const float* r, float gamma,
                        float variance_floor, float weight_floor, const ParamArrays& out);
  void (*running_mean)(float* avg, const float* value, size_t n, float inv_count);
  // The whole per-sample E-step of the learner: the P log joint densities into log_joint,
  // the responsibilities into resp (both P floats, 64-byte aligned; r_k < 2^-64 is 0), and
  // log p(x) returned. One exponential per component serves the log-sum-exp and r.
  float (*estep)(const EStepParams& p, const float* x, float* log_joint, float* resp);
  // log p(x_i) for n samples (rows of D floats) under p: the batch layout (vectorized across
  // samples where that pays); out has n floats.
  void (*score_batch)(const EStepParams& p, const float* x, size_t n, float* out);
  void (*batch_estep)(const EStepParams& p, const float* x, size_t n, float* log_p, float* resp);
  void (*batch_accumulate)(const Stats& s, const float* x, const float* resp, size_t n,
                           float scale, const BatchSums& sums);
  void (*batch_update)(const Stats& s, const BatchSums& sums, float gamma, float variance_floor,
                       float weight_floor);
  void (*bank_observe)(const BankGroup& g, const float* x, const float* gamma,
                       float variance_floor, float weight_floor, float* log_p);
  void (*bank_score)(const BankGroup& g, const float* x, float* log_joint, float* top,
                     float* total);
  // Optional: whether this CPU can run the backend (null: always).
  bool (*supported)();
  // Optional: restrict dispatch to one target by name, or lift the restriction (null).
  bool (*restrict_target)(const char* target);
  // The instruction set in use ("AVX3", "NEON", ...).
  const char* (*target)();
  // Optional: a copy of this table whose operations are the chosen target's own functions
  // (null: this table is already direct). The active table is the resolved one, so that an
  // operation costs one indirect call, not a second dispatch inside the backend.
  const KernelTable& (*resolved)();
};

#if STREAMIX_STATIC_SCALAR
// One backend compiled in (bare metal, or a build without SIMD libraries): its operations
// are called directly, with no table and no atomic load, and a firmware link keeps only the
// ones it uses.
namespace scalar {
void log_joint_block(const EStepParams& p, const float* x, uint32_t first, float* l);
void lse_add(LogSumExp& acc, const float* l, uint32_t n);
void responsibilities(const float* l, uint32_t n, const LogSumExp& lse, float* r);
void mstep_update(const Stats& s, const float* x, const float* r, float gamma,
                  float variance_floor, float weight_floor);
void derive_estep_terms(const ParamArrays& p);
void mstep_refresh(const Stats& s, const float* x, const float* r, float gamma,
                   float variance_floor, float weight_floor, const ParamArrays& out);
void running_mean(float* avg, const float* value, size_t n, float inv_count);
float estep(const EStepParams& p, const float* x, float* log_joint, float* resp);
void score_batch(const EStepParams& p, const float* x, size_t n, float* out);
void batch_estep(const EStepParams& p, const float* x, size_t n, float* log_p, float* resp);
void batch_accumulate(const Stats& s, const float* x, const float* resp, size_t n, float scale,
                      const BatchSums& sums);
void batch_update(const Stats& s, const BatchSums& sums, float gamma, float variance_floor,
                  float weight_floor);
void bank_observe(const BankGroup& g, const float* x, const float* gamma, float variance_floor,
                  float weight_floor, float* log_p);
void bank_score(const BankGroup& g, const float* x, float* log_joint, float* top, float* total);
}  // namespace scalar
#define STREAMIX_KERNEL(op) scalar::op
#else
// The backend in use (process-wide; the default is chosen at build time), resolved.
const KernelTable& active();
#define STREAMIX_KERNEL(op) active().op
// The backends' tables (each defined only where that backend is compiled in).
extern const KernelTable kScalarTable;
extern const KernelTable kHighwayTable;
extern const KernelTable kXsimdTable;
#endif

// Selects a backend by name: "scalar", "xsimd", "highway", or "highway:<TARGET>" (e.g.
// "highway:AVX2") to restrict Highway's dispatch to one target. False if that backend or
// target is not compiled in or not supported by this CPU; the active one then stays.
bool select(const char* name);
// The active backend's name ("scalar", "highway", "xsimd") and instruction set.
const char* backend_name();
const char* backend_target();

// l[j] = log joint density l_{first+j} = log w + log_norm - sum_d half_precision (x_d - mean)^2
// for the block of components starting at `first` (a multiple of the block). l is aligned
// like the model's arrays (SIMD backends use aligned loads and stores).
inline void log_joint_block(const EStepParams& p, const float* x, uint32_t first, float* l) {
  STREAMIX_KERNEL(log_joint_block)(p, x, first, l);
}

// Adds n log values (aligned, n a multiple of 4) to a streaming log-sum-exp.
inline void lse_add(LogSumExp& acc, const float* l, uint32_t n) { STREAMIX_KERNEL(lse_add)(acc, l, n); }

// r_k = exp(l_k - lse.max) / lse.sum, where lse is the log-sum-exp of l; 0 where
// l_k - lse.max < kMinLogResponsibility or r_k < 2^-64 (and everywhere when every l is
// -inf). Normalizing by the sum, not by exp(log p), keeps sum r = 1 within (n + 2) float
// epsilons for every sample: far from the model, log p is ~ -1e7 and one float step of it is
// already a whole nat, so exp(l - log p) can sum to anything between 0.7 and 2.
inline void responsibilities(const float* l, uint32_t n, const LogSumExp& lse, float* r) {
  STREAMIX_KERNEL(responsibilities)(l, n, lse, r);
}

// One stepwise-EM update with step gamma and responsibilities r (P floats):
//   s0' = max((1 - gamma) s0 + gamma r, weight_floor),  eta = gamma r / s0'
//   delta = (x - mean) - mean_residual
//   mean + mean_residual += eta delta (an exact TwoSum, renormalized)
//   var' = clamp((1 - eta)(var + min(eta delta^2, kMaxVariance)), var_floor, kMaxVariance)
// Algebraically identical to s <- s + gamma (sbar(x) - s) on (s0, s1, s2) followed by
// mean = s1/s0, var = s2/s0 - mean^2, without the cancellation of the latter. Blocks whose
// responsibilities are all 0 keep their means and variances untouched.
inline void mstep_update(const Stats& s, const float* x, const float* r, float gamma,
                         float variance_floor, float weight_floor) {
  STREAMIX_KERNEL(mstep_update)(s, x, r, gamma, variance_floor, weight_floor);
}

// Recomputes the derived terms of every component from the primary ones.
inline void derive_estep_terms(const ParamArrays& p) { STREAMIX_KERNEL(derive_estep_terms)(p); }

inline void mstep_refresh(const Stats& s, const float* x, const float* r, float gamma,
                          float variance_floor, float weight_floor, const ParamArrays& out) {
  STREAMIX_KERNEL(mstep_refresh)(s, x, r, gamma, variance_floor, weight_floor, out);
}

// avg += (value - avg) * inv_count, elementwise: the running (Polyak-Ruppert) average.
inline void running_mean(float* avg, const float* value, size_t n, float inv_count) {
  STREAMIX_KERNEL(running_mean)(avg, value, n, inv_count);
}

inline void score_batch(const EStepParams& p, const float* x, size_t n, float* out) {
  STREAMIX_KERNEL(score_batch)(p, x, n, out);
}

inline float estep(const EStepParams& p, const float* x, float* log_joint, float* resp) {
  return STREAMIX_KERNEL(estep)(p, x, log_joint, resp);
}

// The E-step of n rows (D floats each) under p: log p(x_i) into log_p[i] and the
// responsibilities into resp row i (P floats from resp + i P, aligned like the model's
// arrays), as the learner's estep defines them. The rows' padding (k >= K) must be 0 and is
// left 0 (a backend may write it or not). A row's results do not depend on
// the other rows of the call (vectorized across rows, K <= 8 on SIMD backends, a partial
// tile is padded), so a row learned alone or among others gets the same bits.
inline void batch_estep(const EStepParams& p, const float* x, size_t n, float* log_p, float* resp) {
  STREAMIX_KERNEL(batch_estep)(p, x, n, log_p, resp);
}

// Adds n rows (x: D floats each; resp: their responsibilities, rows of P floats) to a
// mini-batch's sums, their terms scaled by scale (see BatchSums); components without
// responsibility are skipped. The order of the additions depends only on n and the shape.
inline void batch_accumulate(const Stats& s, const float* x, const float* resp, size_t n,
                             float scale, const BatchSums& sums) {
  STREAMIX_KERNEL(batch_accumulate)(s, x, resp, n, scale, sums);
}

// The stepwise update towards a mini-batch's statistics, the pairwise (Chan et al.) merge of
// the statistics kept, (1 - gamma) s0, with the mini-batch's, gamma R: with R = min(weight[k], 1),
// Delta = first / R, within = max(second / R - Delta^2, 0),
//   s0' = max((1 - gamma) s0 + gamma R, weight_floor),  eta = gamma R / s0'
//   mean + mean_residual += eta Delta (an exact TwoSum, renormalized)
//   var' = clamp((1 - eta)(var + min(eta Delta^2, kMaxVariance)) + eta within)
// For one sample (within = 0) that is mstep_update's arithmetic. Components with R = 0 keep
// their means and variances. The sums are left 0, ready for the next mini-batch.
inline void batch_update(const Stats& s, const BatchSums& sums, float gamma, float variance_floor,
                         float weight_floor) {
  STREAMIX_KERNEL(batch_update)(s, sums, gamma, variance_floor, weight_floor);
}

// One reading for each model of a bank group that learns: x holds the readings feature-major
// (x_d of lane l at [d * kBankLanes + l]), gamma each lane's step size (0: the lane is left
// bit-for-bit unchanged). For every lane log p(x) goes to log_p[lane] (meaningful where
// gamma > 0); a learning lane with finite log p then takes the learner's step, exactly
// estep followed by mstep_refresh of a lone model past its hold (their arithmetic per lane:
// the SIMD backends' lone model, but for the order of the sum over components; bank-inl.h).
// components <= kBankMaxComponents.
inline void bank_observe(const BankGroup& g, const float* x, const float* gamma,
                         float variance_floor, float weight_floor, float* log_p) {
  STREAMIX_KERNEL(bank_observe)(g, x, gamma, variance_floor, weight_floor, log_p);
}

// The E-step of bank_observe alone, learning nothing: the log joint densities l_k of each
// lane (log_joint[k * kBankLanes + lane]), their maximum (top[lane], -inf where no component
// can take the reading) and the sum of exp(l_k - max) cut as the E-step cuts it (total[lane]),
// so that log p = top + log(total) in scalar arithmetic, as a lone model's E-step takes it.
inline void bank_score(const BankGroup& g, const float* x, float* log_joint, float* top,
                       float* total) {
  STREAMIX_KERNEL(bank_score)(g, x, log_joint, top, total);
}

#undef STREAMIX_KERNEL

// Composed from the operations above (refresh.cpp):

// out.weight[k] = s.weight[k] * inverse_weight_total(...), for k < K (the padding weights
// stay 0): the weight part of every refresh, full or fused.
void normalize_weights(const Stats& s, const ParamArrays& out);

// 1 / (sum of weight(0) .. weight(n - 1)), summed in order: the scale normalize_weights
// applies, and the one the snapshot check recomputes (weight: any index -> float accessor).
template <class Weight>
inline float inverse_weight_total(uint32_t n, Weight weight) {
  float total = 0.0f;
  for (uint32_t k = 0; k < n; ++k) total += weight(k);
  return 1.0f / total;
}

// out = theta_bar(s), in full: weights normalized over the K components, means and variances
// copied (unless out shares the statistics' arrays), derived terms recomputed.
void refresh_from_stats(const Stats& s, const ParamArrays& out);

}  // namespace streamix::kernels

#endif  // STREAMIX_KERNELS_KERNELS_H
