// The model's state inside the caller's storage, and the operations the C API builds on.
// The core knows nothing of instruction sets: all arithmetic on arrays goes through
// kernels/kernels.h. Functions here assume validated arguments; validation lives in c_api.cpp.
#ifndef STREAMIX_CORE_MODEL_H
#define STREAMIX_CORE_MODEL_H

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/kernels.h"
#include "streamix/streamix.h"

// The header at the start of the storage. It holds no pointers (array offsets are derived
// from the config by carve_storage), so a model may be relocated with memcpy.
struct smx_model {
  uint32_t magic;         // streamix::core::kModelMagic once created
  uint32_t ready;         // 1 once the model has parameters
  smx_config config;
  uint32_t buffered;      // samples in the warm-up buffer
  uint64_t samples_seen;  // samples accepted by smx_observe
  uint64_t steps;         // samples learned from since initialization
  uint64_t step_origin;   // samples the statistics summarized at initialization: the step
                          // size continues from t = step_origin + steps
  uint64_t averaged;      // iterates in the Polyak-Ruppert average
  uint32_t pending;       // samples waiting for their mini-batch (batch_size > 1)
  uint32_t batch_offset;  // byte offset of the mini-batch's arrays (0: batch_size 1)
  // Byte offsets of the arrays, in streamix::core::for_each_array order (0: absent). Set by
  // create_model from carve_storage, so the hot path does not recompute the layout; they
  // are relative, so the model stays relocatable. (20 = streamix::core::kArrayCount.)
  uint32_t array_offset[20];
};

namespace streamix::core {

inline constexpr uint32_t kModelMagic = 0x4C444D53u;  // "SMDL"
inline constexpr size_t kHeaderBytes = 256;
static_assert(sizeof(smx_model) <= kHeaderBytes, "the size formula reserves 256 header bytes");

// Pointers to every array of a model (mutable: the core decides what it writes).
struct ModelArrays {
  kernels::Stats stats;
  kernels::ParamArrays iterate;  // the stepwise-EM iterate theta_t, used by the recursion
  kernels::ParamArrays average;  // Polyak-Ruppert average; all null when averaging is off
  float* log_joint;              // scratch, P floats
  float* resp;                   // scratch, P floats
  float* warmup;                 // init_samples rows of D floats
  float* seeding;                // init_samples floats (k-means++ distances)
};

// The number of arrays in a model: the length of smx_model::array_offset.
inline constexpr size_t kArrayCount = 20;
static_assert(sizeof(smx_model::array_offset) / sizeof(uint32_t) == kArrayCount);

// Calls f(float*&) on every array pointer of a, in one fixed order (straight-line, so that
// arrays_of compiles to one add per array).
template <class F>
constexpr void for_each_array(ModelArrays& a, F&& f) {
  f(a.stats.weight), f(a.stats.mean), f(a.stats.mean_residual), f(a.stats.variance);
  f(a.iterate.weight), f(a.iterate.log_weight), f(a.iterate.log_norm), f(a.iterate.mean);
  f(a.iterate.variance), f(a.iterate.half_precision);
  f(a.average.weight), f(a.average.log_weight), f(a.average.log_norm), f(a.average.mean);
  f(a.average.variance), f(a.average.half_precision);
  f(a.log_joint), f(a.resp), f(a.warmup), f(a.seeding);
}

constexpr size_t count_arrays() {
  ModelArrays a{};
  size_t n = 0;
  for_each_array(a, [&n](float*&) { ++n; });
  return n;
}
static_assert(count_arrays() == kArrayCount, "one offset per array");

// Where the average's arrays sit in for_each_array's order (the only ones that can be absent).
struct ArrayRange {
  size_t first, count;
};
constexpr ArrayRange average_arrays() {
  ModelArrays a{};
  size_t i = 0, first = kArrayCount, count = 0;
  for_each_array(a, [&](float*& p) {
    float** average_begin = &a.average.weight;
    float** average_end = &a.average.half_precision;
    if (&p >= average_begin && &p <= average_end) first = first < i ? first : i, ++count;
    ++i;
  });
  return ArrayRange{first, count};
}
inline constexpr ArrayRange kAverageArrays = average_arrays();
static_assert(kAverageArrays.count == 6, "the average's six arrays, in one run");

// Counts up to UINT64_MAX and stays there rather than wrap to 0: a counter of samples may
// be loaded near its end, and a wrapped one broke the relations the snapshot loaders check
// (a model loaded at 2^64 - 209 samples saved, 300 samples later, a snapshot that did not
// load: fuzz_snapshot_repaired). Returns whether it counted.
inline bool count_up(uint64_t& n) {
  if (n == UINT64_MAX) return false;
  ++n;
  return true;
}
// a + b, or UINT64_MAX where that would wrap (count_up for many at once).
inline uint64_t saturating_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

bool averaging_enabled(const smx_config& c);
inline kernels::Shape shape_of(const smx_config& c) {
  const uint32_t block = kernels::block_of(c.components);
  const uint32_t stride = (c.components + block - 1) / block * block;
  return kernels::Shape{c.components, c.features, stride};
}

// Lays out the arrays of a model with config c from `base` and returns the storage size.
// With base == nullptr it only computes the size. The mini-batch's arrays (batch_size > 1)
// follow the others, from *batch_offset (0 without them).
size_t carve_storage(const smx_config& c, unsigned char* base, ModelArrays* out,
                     uint32_t* batch_offset = nullptr);

// The mini-batch's arrays, only for batch_size > 1: its sums (kernels::BatchSums), and per
// sample of the mini-batch its responsibilities (rows of P floats), its features (the
// samples waiting for the mini-batch: rows of D floats), its log p (scratch) and its
// learning weight in (0, 1] (1 but for a detector's flagged readings).
struct BatchArrays {
  kernels::BatchSums sums;
  float* resp;
  float* rows;
  float* log_p;
  float* weights;
};
BatchArrays batch_arrays_of(const smx_model* m);

// Once past the hold, the iterate is theta_bar(s) after every step, and theta_bar copies the
// statistics' means and variances unchanged: the iterate then uses the statistics' arrays
// for them (arrays_of points it there), and the M-step writes each value once. During the
// hold (and the warm-up) the iterate is held in arrays of its own.
// (always inlined: out of line at -Os it cost the Cortex-M4 observe 11 instructions)
__attribute__((always_inline)) inline bool iterate_shares_stats(const smx_model* m) {
  return m->ready && m->steps > m->config.hold_samples;
}

// The arrays of a model, from the offsets cached in its header. (Out of line: inlined at
// its dozen call sites it cost the Cortex-M4 build 1.7 KB of .text, 11 % of the library.)
ModelArrays arrays_of(const smx_model* m);

// Validates a config (limits, ranges, finite values). The one definition of "valid".
// The rules a model's or a detector's config can break, in the order they are checked.
enum class ConfigRule : uint8_t {
  kNone, kComponents, kFeatures, kStepExponent, kStepOffset, kStepFloor, kInitSamples,
  kVarianceFloor, kWeightFloor, kBatchSize,
  kDetectorFeatures, kViews, kViewFeatures, kSmoothing, kResidualRate, kScaling,
  kWarmupSamples, kTailRate, kAlarmRate, kAnomalyWeight
};
// The first rule c breaks (kNone: c is valid).
ConfigRule broken_rule(const smx_config& c);
// The rule's text, naming the field and its range (null for kNone). Only smx_*_problem use
// the texts, so a firmware that does not call them links none.
const char* rule_text(ConfigRule r);
bool config_is_valid(const smx_config& c);

// A variance within [floor, kernels::kMaxVariance] (+inf gives the ceiling).
inline float clamp_variance(float v, float floor) {
  return v > kernels::kMaxVariance ? kernels::kMaxVariance : (v > floor ? v : floor);
}

// A float's magnitude as integer bits: for a float without its sign, integer order is float
// order, and NaN lies above every finite value and infinity.
inline int32_t magnitude_bits(float v) {
  int32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return bits & 0x7FFFFFFF;
}

// True if v may be used as a feature value: finite and |v| <= SMX_MAX_ABS_FEATURE.
inline bool feature_is_valid(float v) {
  return magnitude_bits(v) <= magnitude_bits(SMX_MAX_ABS_FEATURE);
}

// True if every one of the n values of x is a valid feature value: feature_is_valid without
// an early exit, so that the compiler vectorizes it (valid samples, the common case, read
// all n values anyway).
inline bool sample_is_valid(const float* x, uint32_t n) {
  int32_t invalid = 0;
  for (uint32_t d = 0; d < n; ++d) invalid |= !feature_is_valid(x[d]);
  return invalid == 0;
}

// True if every one of the n values of x (any number of rows, each value alike) is a valid
// feature value, checked as one run in chunks that sample_is_valid vectorizes.
inline bool rows_are_valid(const float* x, size_t n) {
  constexpr size_t kChunk = 4096;
  for (size_t i = 0; i < n; i += kChunk) {
    if (!sample_is_valid(x + i, static_cast<uint32_t>(n - i < kChunk ? n - i : kChunk))) return false;
  }
  return true;
}

// True if p points at an object of the C API (a model, detector or bank) in caller storage:
// not null, aligned to SMX_STORAGE_ALIGN, its header's magic the type's.
template <class T>
inline bool holds_object(const T* p, uint32_t magic) {
  return p != nullptr && reinterpret_cast<uintptr_t>(p) % SMX_STORAGE_ALIGN == 0 && p->magic == magic;
}
inline bool is_model(const smx_model* m) { return holds_object(m, kModelMagic); }

// Whether a model with config c (ready or not) can take sample x: SMX_ERR_INPUT for a bad
// feature, SMX_ERR_NOT_READY for a model with neither parameters nor a warm-up buffer to
// fill (found by fuzz_api: this used to append to a zero-length buffer), else SMX_OK.
inline smx_status observe_verdict(const smx_config& c, uint32_t ready, const float* x) {
  if (!sample_is_valid(x, c.features)) return SMX_ERR_INPUT;
  if (!ready && c.init_samples == 0) return SMX_ERR_NOT_READY;
  return SMX_OK;
}

// True if caller storage can hold `needed` bytes of a model or detector: aligned to
// SMX_STORAGE_ALIGN and large enough.
inline bool storage_fits(const void* storage, size_t storage_bytes, size_t needed) {
  return reinterpret_cast<uintptr_t>(storage) % SMX_STORAGE_ALIGN == 0 && storage_bytes >= needed;
}

// True if the byte ranges [a, a + a_bytes) and [b, b + b_bytes) share a byte (compared as
// integers: ordering pointers into different objects is not defined in C++).
inline bool regions_overlap(const void* a, size_t a_bytes, const void* b, size_t b_bytes) {
  const uintptr_t a0 = reinterpret_cast<uintptr_t>(a), b0 = reinterpret_cast<uintptr_t>(b);
  return a0 < b0 + b_bytes && b0 < a0 + a_bytes;
}

// The variance of padding and not-yet-set components: 1, or the variance floor if that is
// larger (every stored variance respects the floor).
inline float unset_variance(const smx_config& c) { return c.variance_floor > 1.0f ? c.variance_floor : 1.0f; }

// Writes the values of a fresh model into the iterate's own means and variances (mean 0,
// variance 1 or the floor): where they are kept while the iterate shares the statistics'
// arrays, so that the storage stays a function of the model's state.
void clear_held_iterate(const smx_config& c, const ModelArrays& own);

// Writes a fresh model (header, arrays with their padding values) into storage.
smx_model* create_model(const smx_config& c, void* storage);

// The parameters that smx_score, smx_responsibilities and get_params report: the average
// once it has at least one iterate, the iterate otherwise.
const kernels::ParamArrays& reported_params(const smx_model* m, const ModelArrays& a);
// What the E-step reads of a parameter set. (Inline: a call cost the Cortex-M4 observe 16
// instructions.)
inline kernels::EStepParams estep_view(const kernels::ParamArrays& p) {
  return kernels::EStepParams{p.log_weight, p.log_norm, p.mean, p.half_precision, p.shape};
}
// estep_view(reported_params(m, arrays_of(m))) from the four offsets it needs: the scoring
// path's way to its arrays (arrays_of builds all twenty pointers).
kernels::EStepParams reported_estep_params(const smx_model* m);

// theta = theta_bar(s): the iterate's weights (normalized), means and variances from the
// statistics, and its derived E-step terms.
void refresh_iterate(const ModelArrays& a);

// Copies stats into the iterate (normalizing the weights), derives the E-step terms, and
// restarts the step counter and the average: the model is ready from here. `origin` is the
// number of samples the statistics already summarize (see smx_model::step_origin).
void start_from_stats(smx_model* m, uint64_t origin);

// The sufficient statistics become the given parameters (row k of means/variances is
// component k), with the floors applied. Then start_from_stats.
void set_params(smx_model* m, const float* weights, const float* means, const float* variances);

// What a caller may do to the warm-up buffer once it is full, before the model initializes
// from it (the detector scales the buffered readings there): prepare(context, rows, count,
// width) may rewrite the count x width floats at rows, each within the feature range.
struct WarmupHook {
  void (*prepare)(void* context, float* rows, uint32_t count, uint32_t width);
  void* context;
};

// One sample through the learner (x validated): during the warm-up buffered (the last one
// initializes the model, after hook->prepare if given), then estep_sample and learn with
// weight 1; with batch_size > 1, scored and added to the pending mini-batch, which is
// learned when it is full. Counts the sample.
float observe(smx_model* m, const float* x, const WarmupHook* hook = nullptr);

// n samples (rows of D floats, validated) through observe, in order, with whole mini-batches
// learned straight from x (each row's E-step serves its score and its statistics); log_p
// (may be null) gets each sample's log p.
void observe_rows(smx_model* m, const float* x, size_t n, float* log_p);

// For a ready model with batch_size > 1, what learn is for single samples: x (already scored
// by take_sample, and counted) joins the pending mini-batch with a learning weight in (0, 1]
// (a weight below 1 never re-seeds a dead component), and the mini-batch is learned once it
// holds batch_size samples.
void learn_in_batch(smx_model* m, const ModelArrays& a, const float* x, float weight);

// The scoring half on its own, for callers that learn with a weight of their choosing (the
// detector): counts the sample and returns estep_sample(a, x).
float take_sample(smx_model* m, const ModelArrays& a, const float* x);

// The two halves of observe on a ready model (a = arrays_of(m)), for callers that decide
// between them (the detector's learning gate). estep_sample returns log p(x) under the
// iterate and leaves the log-joint densities and responsibilities in the model's scratch
// arrays; learn continues from them with the step size scaled by weight in (0, 1]
// (weight < 1 never re-seeds a dead component). samples_seen is the caller's to count.
float estep_sample(const ModelArrays& a, const float* x);
void learn(smx_model* m, const ModelArrays& a, const float* x, float log_p, float weight);

// A model's components as the E-step reads them, wherever they lie (a lone model's iterate,
// or one lane of a bank group): element (d, k) of a D-by-K array at
// [d * feature_step + k * component_step], element k of a K-vector at [k * component_step].
struct ComponentView {
  const float* mean;
  const float* half_precision;
  const float* log_weight;
  const float* log_norm;
  const float* log_joint;     // the log joint densities of the reading just scored
  const float* stats_weight;  // the statistics' weights (the dead-component rule's)
  size_t feature_step, component_step;
  uint32_t components, features;
};
ComponentView component_view(const ModelArrays& a);  // (the iterate, after estep_sample)

// Bounded influence (a winsorized update), for callers that learn from readings they do not
// trust (the detector). After the E-step of x: if -log p(x) > max_score, moves x, in
// place, along the segment to the mean of its most likely component k until that
// component alone gives it the score max_score (q_k(x) / 2 = log w_k + log_norm_k +
// max_score, q_k the squared Mahalanobis distance; to the mean if that is negative), and
// returns true: the caller scores the moved point again. What one reading can then do to
// the model is what a reading at that radius does. False: nothing changed.
bool winsorize_point(const ComponentView& v, float* x, float log_p, float max_score);
// winsorize_point, then the E-step of the moved point: its log p (log_p if nothing moved).
float winsorize(const ModelArrays& a, float* x, float log_p, float max_score);
// Squared Mahalanobis distance above which a reading is "poorly explained" by a component.
float poorly_explained_distance(uint32_t features);
// The dead-component rule: a component whose weight statistic sits at the floor is dead; the
// first dead one is re-seeded at a reading that every live component explains poorly
// (beyond poorly_explained_distance), next to the live one that explains it best. Over any
// view V of the components with ComponentView's members stats_weight, log_weight, log_norm,
// log_joint (component k at [k * component_step]), components and features.
struct Reseed {
  int32_t dead = -1;     // the component to re-seed, or -1
  uint32_t nearest = 0;  // the live component that explains x best
};
template <class V>
Reseed reseed_rule(const V& v, float weight_floor) {
  const size_t step = v.component_step;
  Reseed r;
  for (uint32_t k = 0; k < v.components && r.dead < 0; ++k) {
    if (v.stats_weight[k * step] <= weight_floor) r.dead = static_cast<int32_t>(k);
  }
  if (r.dead < 0) return r;
  // l_k = log w_k + log_norm_k - q_k / 2, so q_k = 2 (log w_k + log_norm_k - l_k).
  const float limit = poorly_explained_distance(v.features);
  float best = -kernels::kInf;
  for (uint32_t k = 0; k < v.components; ++k) {
    if (v.stats_weight[k * step] <= weight_floor) continue;
    const float q = 2.0f * (v.log_weight[k * step] + v.log_norm[k * step] - v.log_joint[k * step]);
    if (q <= limit) return Reseed{};
    if (v.log_joint[k * step] >= best) best = v.log_joint[k * step], r.nearest = k;
  }
  return r;
}
Reseed component_to_reseed(const ComponentView& v, float weight_floor);
// The component with the largest log joint density (the first of ties).
uint32_t most_likely_component(const ComponentView& v);
// The score of a reading at the learner's "poorly explained" radius (the 1 - 1e-4 quantile
// of chi-square with D degrees of freedom) from the component with the largest weighted
// density at its mean: a bound for winsorize before any score distribution is known.
float poorly_explained_score(const ComponentView& v);

// k-means++ seeding plus Lloyd iterations on the warm-up buffer; fills the statistics.
void initialize_from_warmup(smx_model* m);

// Step size gamma_t = max(gamma_min, (t + t0)^-alpha).
float step_size(const smx_config& c, uint64_t t);

// The samples a ready model's statistics are worth: 1 / gamma_t at its schedule position
// t = step_origin + steps (the weight one more sample is averaged against; under the 1/t
// schedule, exactly the samples averaged, step_offset counting as prior samples).
double effective_samples(const smx_model* m);

// Merges from's statistics into's (both ready, of one shape, distinct; weight in (0, 1]
// scales from's effective samples): per component the pairwise combination of (weight,
// mean, M2), the average too once into has one, the iterate refreshed, samples_seen summed
// and the schedule moved on to the merged count (see smx_model_merge).
void merge(smx_model* into, const smx_model* from, float weight);

}  // namespace streamix::core

#endif  // STREAMIX_CORE_MODEL_H
