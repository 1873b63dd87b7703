// The C API: every argument is validated here, before the core touches the model, so that
// a rejected call leaves the storage bit-for-bit unchanged.
#include <cmath>
#include <cstdint>
#include <limits>

#include "core/model.h"
#include "core/snapshot.h"
#include "streamix/streamix.h"

namespace {

using namespace streamix;

using core::is_model;

bool sample_is_valid(const smx_model* m, const float* x) {
  return core::sample_is_valid(x, m->config.features);
}

}  // namespace

extern "C" {

void smx_config_init(smx_config* cfg, uint32_t components, uint32_t features) {
  if (cfg == nullptr) return;
  cfg->components = components;
  cfg->features = features;
  cfg->step_exponent = 0.6f;
  cfg->step_offset = 2.0f;
  cfg->step_floor = 0.0f;
  cfg->hold_samples = 20;
  cfg->init_samples = components * 10u > 20u ? components * 10u : 20u;
  if (components > SMX_MAX_COMPONENTS) cfg->init_samples = 0;  // invalid anyway; no overflow
  cfg->variance_floor = 1e-6f;
  cfg->weight_floor = components > 0 ? 0.01f / static_cast<float>(components) : 0.01f;
  cfg->seed = 1;
  cfg->average_from = 0;
  cfg->batch_size = 1;
}

#define SMX_STRINGIFY_(x) #x
#define SMX_STRINGIFY(x) SMX_STRINGIFY_(x)
const char* smx_version(void) {
  return SMX_STRINGIFY(SMX_VERSION_MAJOR) "." SMX_STRINGIFY(SMX_VERSION_MINOR) "." SMX_STRINGIFY(
      SMX_VERSION_PATCH);
}

const char* smx_config_problem(const smx_config* cfg) {
  return cfg == nullptr ? nullptr : core::rule_text(core::broken_rule(*cfg));
}

smx_status smx_model_size(const smx_config* cfg, size_t* bytes) {
  if (cfg == nullptr || bytes == nullptr || !core::config_is_valid(*cfg)) return SMX_ERR_ARGUMENT;
  *bytes = core::carve_storage(*cfg, nullptr, nullptr);
  return SMX_OK;
}

smx_status smx_model_create(const smx_config* cfg, void* storage, size_t storage_bytes,
                            smx_model** model) {
  if (cfg == nullptr || storage == nullptr || model == nullptr || !core::config_is_valid(*cfg))
    return SMX_ERR_ARGUMENT;
  if (!core::storage_fits(storage, storage_bytes, core::carve_storage(*cfg, nullptr, nullptr)))
    return SMX_ERR_STORAGE;
  *model = core::create_model(*cfg, storage);
  return SMX_OK;
}

smx_status smx_model_set_params(smx_model* m, const float* weights, const float* means,
                                const float* variances) {
  if (!is_model(m) || weights == nullptr || means == nullptr || variances == nullptr)
    return SMX_ERR_ARGUMENT;
  const uint32_t k_count = m->config.components;
  const size_t n = size_t{k_count} * m->config.features;
  double total = 0.0;
  for (uint32_t k = 0; k < k_count; ++k) {
    if (!(weights[k] >= 0.0f && weights[k] <= std::numeric_limits<float>::max()))
      return SMX_ERR_ARGUMENT;
    total += weights[k];
  }
  if (!(total > 0.0)) return SMX_ERR_ARGUMENT;
  for (size_t i = 0; i < n; ++i) {
    if (!core::feature_is_valid(means[i])) return SMX_ERR_ARGUMENT;
    if (!(variances[i] > 0.0f && variances[i] <= std::numeric_limits<float>::max()))
      return SMX_ERR_ARGUMENT;
  }
  core::set_params(m, weights, means, variances);
  return SMX_OK;
}

smx_status smx_model_get_params(const smx_model* m, float* weights, float* means,
                                float* variances) {
  if (!is_model(m)) return SMX_ERR_ARGUMENT;
  if (!m->ready) return SMX_ERR_NOT_READY;
  const core::ModelArrays a = core::arrays_of(m);
  const kernels::ParamArrays& p = core::reported_params(m, a);
  const uint32_t stride = p.shape.stride;
  for (uint32_t k = 0; k < p.shape.components; ++k) {
    if (weights) weights[k] = p.weight[k];
    for (uint32_t d = 0; d < p.shape.features; ++d) {
      const size_t row = size_t{k} * p.shape.features + d;
      if (means) means[row] = p.mean[size_t{d} * stride + k];
      if (variances) variances[row] = p.variance[size_t{d} * stride + k];
    }
  }
  return SMX_OK;
}

smx_status smx_observe(smx_model* m, const float* x, float* log_likelihood) {
  if (!is_model(m) || x == nullptr) return SMX_ERR_ARGUMENT;
  const smx_status verdict = core::observe_verdict(m->config, m->ready, x);
  if (verdict != SMX_OK) return verdict;
  const float log_p = core::observe(m, x);
  if (log_likelihood) *log_likelihood = log_p;
  return SMX_OK;
}

smx_status smx_observe_batch(smx_model* m, const float* x, size_t n, float* log_likelihood) {
  if (!is_model(m)) return SMX_ERR_ARGUMENT;
  if (n == 0) return SMX_OK;
  if (x == nullptr) return SMX_ERR_ARGUMENT;
  const size_t d = m->config.features;
  if (n > SIZE_MAX / sizeof(float) / d) return SMX_ERR_ARGUMENT;
  if (!core::rows_are_valid(x, n * d)) return SMX_ERR_INPUT;
  if (!m->ready && m->config.init_samples == 0) return SMX_ERR_NOT_READY;
  core::observe_rows(m, x, n, log_likelihood);
  return SMX_OK;
}

smx_status smx_score(const smx_model* m, const float* x, float* log_likelihood) {
  if (!is_model(m) || x == nullptr || log_likelihood == nullptr) return SMX_ERR_ARGUMENT;
  if (!sample_is_valid(m, x)) return SMX_ERR_INPUT;
  if (!m->ready) return SMX_ERR_NOT_READY;
  // One sample through the batch kernel: the same per-sample E-step smx_score_batch uses.
  kernels::score_batch(core::reported_estep_params(m), x, 1, log_likelihood);
  return SMX_OK;
}

smx_status smx_responsibilities(const smx_model* m, const float* x, float* resp) {
  if (!is_model(m) || x == nullptr || resp == nullptr) return SMX_ERR_ARGUMENT;
  if (!sample_is_valid(m, x)) return SMX_ERR_INPUT;
  if (!m->ready) return SMX_ERR_NOT_READY;
  const core::ModelArrays a = core::arrays_of(m);
  const kernels::ParamArrays& p = core::reported_params(m, a);
  const kernels::EStepParams e = core::estep_view(p);
  // Log joint densities block by block into the caller's K floats, then normalize in place.
  kernels::LogSumExp lse;
  alignas(64) float block[kernels::kBlock];
  const uint32_t width = p.shape.block();
  for (uint32_t first = 0; first < p.shape.stride; first += width) {
    kernels::log_joint_block(e, x, first, block);
    kernels::lse_add(lse, block, width);
    for (uint32_t j = 0; j < width && first + j < p.shape.components; ++j)
      resp[first + j] = block[j];
  }
  kernels::responsibilities(resp, p.shape.components, lse, resp);
  return SMX_OK;
}

smx_status smx_model_merge(smx_model* into, const smx_model* from, float weight) {
  if (!is_model(into) || !is_model(from) || !(weight > 0.0f && weight <= 1.0f))
    return SMX_ERR_ARGUMENT;
  const smx_config &a = into->config, &b = from->config;
  if (a.components != b.components || a.features != b.features) return SMX_ERR_ARGUMENT;
  if (core::regions_overlap(into, core::carve_storage(a, nullptr, nullptr), from,
                            core::carve_storage(b, nullptr, nullptr)))
    return SMX_ERR_ARGUMENT;
  if (!into->ready || !from->ready) return SMX_ERR_NOT_READY;
  core::merge(into, from, weight);
  return SMX_OK;
}

uint64_t smx_samples_seen(const smx_model* m) { return is_model(m) ? m->samples_seen : 0; }

int smx_is_ready(const smx_model* m) { return is_model(m) && m->ready ? 1 : 0; }

smx_status smx_model_config(const smx_model* m, smx_config* cfg) {
  if (!is_model(m) || cfg == nullptr) return SMX_ERR_ARGUMENT;
  *cfg = m->config;
  return SMX_OK;
}

smx_status smx_snapshot_size(const smx_model* m, size_t* bytes) {
  if (!is_model(m) || bytes == nullptr) return SMX_ERR_ARGUMENT;
  *bytes = core::snapshot_size(m);
  return SMX_OK;
}

smx_status smx_snapshot_save(const smx_model* m, void* buf, size_t buf_bytes, size_t* written) {
  if (!is_model(m) || buf == nullptr) return SMX_ERR_ARGUMENT;
  if (buf_bytes < core::snapshot_size(m)) return SMX_ERR_STORAGE;
  const size_t n = core::snapshot_save(m, static_cast<unsigned char*>(buf));
  if (written) *written = n;
  return SMX_OK;
}

smx_status smx_snapshot_load(const void* buf, size_t len, void* storage, size_t storage_bytes,
                             smx_model** model) {
  if (buf == nullptr || storage == nullptr || model == nullptr) return SMX_ERR_ARGUMENT;
  return core::snapshot_load(static_cast<const unsigned char*>(buf), len, storage, storage_bytes,
                             model);
}

smx_status smx_snapshot_config(const void* buf, size_t len, smx_config* cfg) {
  if (buf == nullptr || cfg == nullptr) return SMX_ERR_ARGUMENT;
  smx_config c;
  size_t total = 0;
  if (!core::snapshot_config(static_cast<const unsigned char*>(buf), len, &c, &total))
    return SMX_ERR_SNAPSHOT;
  *cfg = c;
  return SMX_OK;
}

smx_status smx_score_batch(const smx_model* m, const float* x, size_t n, float* log_likelihood) {
  if (!is_model(m)) return SMX_ERR_ARGUMENT;
  if (n == 0) return SMX_OK;
  if (x == nullptr || log_likelihood == nullptr) return SMX_ERR_ARGUMENT;
  const size_t d = m->config.features;
  if (n > SIZE_MAX / sizeof(float) / d) return SMX_ERR_ARGUMENT;
  if (!core::rows_are_valid(x, n * d)) return SMX_ERR_INPUT;
  if (!m->ready) return SMX_ERR_NOT_READY;
  kernels::score_batch(core::reported_estep_params(m), x, n, log_likelihood);
  return SMX_OK;
}

smx_status smx_select_kernels(const char* name) {
  if (name == nullptr) return SMX_ERR_ARGUMENT;
  return kernels::select(name) ? SMX_OK : SMX_ERR_ARGUMENT;
}

const char* smx_backend(void) { return kernels::backend_name(); }

const char* smx_backend_target(void) { return kernels::backend_target(); }

const char* smx_status_string(smx_status s) {
  switch (s) {
    case SMX_OK: return "ok";
    case SMX_ERR_ARGUMENT: return "invalid argument (null pointer, config or parameter value)";
    case SMX_ERR_STORAGE: return "storage too small or not 64-byte aligned";
    case SMX_ERR_INPUT: return "invalid sample: NaN, infinite, or |x| above sqrt(FLT_MAX)";
    case SMX_ERR_NOT_READY: return "model not ready: set parameters or finish the warm-up";
    case SMX_ERR_SNAPSHOT: return "snapshot truncated, corrupted, of another version or invalid";
  }
  return "unknown status";
}

}  // extern "C"
