#include "core/model.h"

#include <cfloat>
#include <cmath>
#include <cstring>

namespace streamix::core {

using kernels::kBlock;
static_assert(SMX_MAX_VARIANCE == kernels::kMaxVariance, "the public ceiling is the kernels'");

bool averaging_enabled(const smx_config& c) { return c.average_from > 0; }

size_t carve_storage(const smx_config& c, unsigned char* base, ModelArrays* out,
                     uint32_t* batch_offset) {
  const kernels::Shape shape = shape_of(c);
  const size_t vector_bytes = sizeof(float) * shape.stride;
  const size_t matrix_bytes = vector_bytes * shape.features;
  size_t offset = kHeaderBytes;
  // Every array size is a multiple of 4 P bytes (64 from 16 components on), so every array
  // starts aligned to a whole vector of the widest a kernel uses for the block.
  auto take = [&](size_t bytes) {
    float* p = base ? reinterpret_cast<float*>(base + offset) : nullptr;
    offset += bytes;
    return p;
  };
  auto take_params = [&](kernels::ParamArrays& p) {
    p.weight = take(vector_bytes);
    p.log_weight = take(vector_bytes);
    p.log_norm = take(vector_bytes);
    p.mean = take(matrix_bytes);
    p.variance = take(matrix_bytes);
    p.half_precision = take(matrix_bytes);
    p.shape = shape;
  };
  ModelArrays a{};
  a.stats.weight = take(vector_bytes);
  a.stats.mean = take(matrix_bytes);
  a.stats.mean_residual = take(matrix_bytes);
  a.stats.variance = take(matrix_bytes);
  a.stats.shape = shape;
  take_params(a.iterate);
  if (averaging_enabled(c)) take_params(a.average);
  a.log_joint = take(vector_bytes);
  a.resp = take(vector_bytes);
  const size_t warmup_floats = size_t{c.init_samples} * (size_t{c.features} + 1);
  a.warmup = take(0);
  a.seeding = a.warmup ? a.warmup + size_t{c.init_samples} * c.features : nullptr;
  offset += (sizeof(float) * warmup_floats + 63) / 64 * 64;
  if (out) *out = a;
  if (batch_offset) *batch_offset = c.batch_size > 1 ? static_cast<uint32_t>(offset) : 0;
  if (c.batch_size > 1) {  // the sums; per sample responsibilities, features and log p
    offset += vector_bytes + 2 * matrix_bytes;
    offset += (sizeof(float) * c.batch_size * (size_t{shape.stride} + c.features + 2) + 63) / 64 * 64;
  }
  return offset;
}

BatchArrays batch_arrays_of(const smx_model* m) {
  const kernels::Shape shape = shape_of(m->config);
  auto* base = reinterpret_cast<float*>(reinterpret_cast<unsigned char*>(const_cast<smx_model*>(m)) +
                                        m->batch_offset);
  const size_t matrix = size_t{shape.stride} * shape.features, size = m->config.batch_size;
  BatchArrays b;
  b.sums = kernels::BatchSums{base, base + shape.stride, base + shape.stride + matrix};
  b.resp = base + shape.stride + 2 * matrix;  // (aligned: every array before is whole P-vectors)
  b.rows = b.resp + size * shape.stride;
  b.log_p = b.rows + size * shape.features;
  b.weights = b.log_p + size;
  return b;
}

ModelArrays arrays_of(const smx_model* m) {
  // The core owns the storage; const-ness of the model is enforced at the API boundary.
  auto* base = reinterpret_cast<unsigned char*>(const_cast<smx_model*>(m));
  ModelArrays a;
  a.stats.shape = a.iterate.shape = a.average.shape = shape_of(m->config);
  size_t i = 0;
  // Only the average's arrays can be absent (averaging off), and then all of them: one test
  // for the six, and a plain add for the others. Inlined: called as a function per array,
  // this lambda cost the Cortex-M4 280 of the 10,200 instructions of a K = 2, D = 4 observe.
  const bool averaging = m->array_offset[kAverageArrays.first] != 0;
  for_each_array(a, [&](float*& p) __attribute__((always_inline)) {
    const uint32_t offset = m->array_offset[i];
    // (unsigned: an index below the run wraps past its count)
    const bool present = averaging || i - kAverageArrays.first >= kAverageArrays.count;
    p = present ? reinterpret_cast<float*>(base + offset) : nullptr;
    ++i;
  });
  if (iterate_shares_stats(m)) {
    a.iterate.mean = a.stats.mean;
    a.iterate.variance = a.stats.variance;
  }
  return a;
}

ConfigRule broken_rule(const smx_config& c) {
  if (c.components < 1 || c.components > SMX_MAX_COMPONENTS) return ConfigRule::kComponents;
  if (c.features < 1 || c.features > SMX_MAX_FEATURES) return ConfigRule::kFeatures;
  if (!(c.step_exponent > 0.5f && c.step_exponent <= 1.0f)) return ConfigRule::kStepExponent;
  if (!(c.step_offset >= 1.0f && c.step_offset <= FLT_MAX)) return ConfigRule::kStepOffset;
  if (!(c.step_floor >= 0.0f && c.step_floor < 1.0f)) return ConfigRule::kStepFloor;
  if (c.init_samples != 0 && (c.init_samples < c.components || c.init_samples > SMX_MAX_INIT_SAMPLES))
    return ConfigRule::kInitSamples;
  if (!(c.variance_floor >= FLT_MIN && c.variance_floor <= kernels::kMaxVariance))
    return ConfigRule::kVarianceFloor;
  // The floors of all K weights together must leave room: K * floor < 1.
  if (!(c.weight_floor >= FLT_MIN && static_cast<double>(c.weight_floor) * c.components < 1.0))
    return ConfigRule::kWeightFloor;
  if (c.batch_size < 1 || c.batch_size > SMX_MAX_BATCH_SIZE) return ConfigRule::kBatchSize;
  return ConfigRule::kNone;
}

bool config_is_valid(const smx_config& c) { return broken_rule(c) == ConfigRule::kNone; }

namespace {

// Padding and not-yet-set components: weight 0, mean 0, variance 1 (see kernels.h), or the
// variance floor if that is larger, so that every stored variance respects the floor.
void fill_unset_variances(const smx_config& c, float* variance, size_t n) {
  const float unit_variance = unset_variance(c);
  for (size_t i = 0; i < n; ++i) variance[i] = unit_variance;
}

// The padding components' log weights are -inf whatever the backend: the scalar backend's
// derive_estep_terms skips the padding, whose other terms then keep the 0 of the memset (the
// SIMD backends recompute them, finite, with the same -inf log weight): they never take
// responsibility and never reach a result.
void set_padding_log_weights(const kernels::ParamArrays& p) {
  for (uint32_t k = p.shape.components; k < p.shape.stride; ++k) p.log_weight[k] = -kernels::kInf;
}

}  // namespace

smx_model* create_model(const smx_config& c, void* storage) {
  ModelArrays a;
  uint32_t batch_offset = 0;
  const size_t bytes = carve_storage(c, static_cast<unsigned char*>(storage), &a, &batch_offset);
  std::memset(storage, 0, bytes);
  auto* m = static_cast<smx_model*>(storage);
  m->magic = kModelMagic;
  m->config = c;
  m->batch_offset = batch_offset;
  size_t i = 0;
  for_each_array(a, [&](float*& p) {
    m->array_offset[i++] =
        p ? static_cast<uint32_t>(reinterpret_cast<unsigned char*>(p) - static_cast<unsigned char*>(storage)) : 0;
  });
  const kernels::Shape shape = shape_of(c);
  const size_t matrix = size_t{shape.stride} * shape.features;
  for (uint32_t k = 0; k < shape.stride; ++k) a.stats.weight[k] = c.weight_floor;
  fill_unset_variances(c, a.stats.variance, matrix);
  clear_held_iterate(c, a);
  kernels::derive_estep_terms(a.iterate);
  set_padding_log_weights(a.iterate);
  if (averaging_enabled(c)) {
    fill_unset_variances(c, a.average.variance, matrix);
    kernels::derive_estep_terms(a.average);
    set_padding_log_weights(a.average);
  }
  return m;
}

void clear_held_iterate(const smx_config& c, const ModelArrays& own) {
  const size_t matrix = size_t{own.iterate.shape.stride} * own.iterate.shape.features;
  std::memset(own.iterate.mean, 0, sizeof(float) * matrix);
  fill_unset_variances(c, own.iterate.variance, matrix);
}

namespace {

// Whether smx_score and get_params report the average (see reported_params).
bool reports_average(const smx_model* m) { return m->averaged > 0; }

}  // namespace

const kernels::ParamArrays& reported_params(const smx_model* m, const ModelArrays& a) {
  return reports_average(m) ? a.average : a.iterate;
}

namespace {

// The position of one array in for_each_array's order (and so in smx_model::array_offset).
template <class Select>
constexpr size_t array_index(Select select) {
  ModelArrays a{};
  float* const* target = &select(a);
  size_t i = 0, found = kArrayCount;
  for_each_array(a, [&](float*& p) {
    if (&p == target) found = i;
    ++i;
  });
  return found;
}

// The E-step's arrays (log weight, log norm, mean, half precision) of what smx_score reads:
// the held iterate, the iterate past the hold (its means are the statistics': see
// iterate_shares_stats), and the average.
constexpr size_t kEStepArrayIndex[3][4] = {
    {array_index([](ModelArrays& a) -> float*& { return a.iterate.log_weight; }),
     array_index([](ModelArrays& a) -> float*& { return a.iterate.log_norm; }),
     array_index([](ModelArrays& a) -> float*& { return a.iterate.mean; }),
     array_index([](ModelArrays& a) -> float*& { return a.iterate.half_precision; })},
    {array_index([](ModelArrays& a) -> float*& { return a.iterate.log_weight; }),
     array_index([](ModelArrays& a) -> float*& { return a.iterate.log_norm; }),
     array_index([](ModelArrays& a) -> float*& { return a.stats.mean; }),
     array_index([](ModelArrays& a) -> float*& { return a.iterate.half_precision; })},
    {array_index([](ModelArrays& a) -> float*& { return a.average.log_weight; }),
     array_index([](ModelArrays& a) -> float*& { return a.average.log_norm; }),
     array_index([](ModelArrays& a) -> float*& { return a.average.mean; }),
     array_index([](ModelArrays& a) -> float*& { return a.average.half_precision; })}};

}  // namespace

kernels::EStepParams reported_estep_params(const smx_model* m) {
  const size_t* index = kEStepArrayIndex[reports_average(m) ? 2 : iterate_shares_stats(m) ? 1 : 0];
  auto array = [m](size_t i) {
    return reinterpret_cast<const float*>(reinterpret_cast<const unsigned char*>(m) +
                                          m->array_offset[i]);
  };
  return kernels::EStepParams{array(index[0]), array(index[1]), array(index[2]), array(index[3]),
                              shape_of(m->config)};
}

void refresh_iterate(const ModelArrays& a) {
  kernels::refresh_from_stats(a.stats, a.iterate);
}

void start_from_stats(smx_model* m, uint64_t origin) {
  m->ready = 1;
  m->buffered = 0;
  if (m->pending > 0) {  // samples waiting for the old parameters' mini-batch are dropped
    m->pending = 0;
    const BatchArrays b = batch_arrays_of(m);
    std::memset(b.rows, 0, sizeof(float) * m->config.batch_size * m->config.features);
    std::memset(b.weights, 0, sizeof(float) * m->config.batch_size);
  }
  m->steps = 0;  // first: a new hold starts, and the iterate is held in its own arrays
  m->step_origin = origin;
  m->averaged = 0;
  const ModelArrays a = arrays_of(m);
  refresh_iterate(a);
  // The consumed warm-up samples are no longer state: clear them, so that the storage is a
  // function of the model's state alone (a loaded snapshot matches it byte for byte).
  const smx_config& c = m->config;
  if (a.warmup) std::memset(a.warmup, 0, sizeof(float) * c.init_samples * (size_t{c.features} + 1));
}

void set_params(smx_model* m, const float* weights, const float* means, const float* variances) {
  const ModelArrays a = arrays_of(m);
  const kernels::Shape s = a.stats.shape;
  const smx_config& c = m->config;
  double total = 0.0;
  for (uint32_t k = 0; k < s.components; ++k) total += weights[k];
  for (uint32_t k = 0; k < s.components; ++k) {
    const float w = static_cast<float>(weights[k] / total);
    a.stats.weight[k] = w > c.weight_floor ? w : c.weight_floor;
    for (uint32_t d = 0; d < s.features; ++d) {
      const size_t at = size_t{d} * s.stride + k;
      const float v = variances[size_t{k} * s.features + d];
      a.stats.mean[at] = means[size_t{k} * s.features + d];
      a.stats.mean_residual[at] = 0.0f;
      a.stats.variance[at] = clamp_variance(v, c.variance_floor);
    }
  }
  start_from_stats(m, 0);
}

float step_size(const smx_config& c, uint64_t t) {
  // Through uint32_t while t fits: a 64-bit integer to float conversion is a library call on
  // 32-bit cores (23 instructions on the Cortex-M4), a 32-bit one is one instruction.
  const float steps = t <= UINT32_MAX ? static_cast<float>(static_cast<uint32_t>(t))
                                      : static_cast<float>(t);
  const float base = steps + c.step_offset;
  // The 1/t schedule (the detector's default) needs no logarithm. Otherwise exp(-alpha log b)
  // rather than powf: newlib's powf costs ~250 instructions on a Cortex-M4, these ~60; the
  // result is within 4e-6 relative of pow (alpha log b <= 44.4 for b < 2^64, and its
  // rounding error becomes exp's relative error; tests/float_math_test.cpp).
  const float decay = c.step_exponent == 1.0f
                          ? 1.0f / base
                          : kernels::exp_nonpositive(-c.step_exponent * kernels::log_positive(base));
  return decay > c.step_floor ? decay : c.step_floor;
}

}  // namespace streamix::core
