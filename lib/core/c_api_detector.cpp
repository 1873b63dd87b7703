// The detector's C API: every argument is validated here, before the core touches the
// detector, so that a rejected call leaves the storage bit-for-bit unchanged.
#include <cmath>
#include <cstdint>
#include <limits>

#include "core/detector.h"
#include "core/model.h"
#include "streamix/streamix.h"

namespace {

using namespace streamix;

bool is_detector(const smx_detector* det) { return core::holds_object(det, core::kDetectorMagic); }

}  // namespace

extern "C" {

void smx_detector_config_init(smx_detector_config* cfg, uint32_t components, uint32_t features) {
  if (cfg == nullptr) return;
  cfg->features = features;
  cfg->views = SMX_VIEW_LEVEL;
  cfg->smoothing = 0.1f;
  cfg->residual_rate = 0.02f;
  cfg->scaling = SMX_SCALING_WARMUP;
  cfg->calibration_samples = 100;
  cfg->tail_rate = 0.002f;
  cfg->alarm_rate = 1e-2f;
  cfg->anomaly_weight = 0.01f;
  smx_config_init(&cfg->model, components, features);
  // A detector learns what is normal slowly (steps 1/t) from a longer warm-up, so that a
  // fault that creeps in is not learned before it is flagged (chosen on SKAB, see README).
  cfg->model.step_exponent = 1.0f;
  if (cfg->model.init_samples < 200 && components <= SMX_MAX_COMPONENTS) cfg->model.init_samples = 200;
}

const char* smx_detector_config_problem(const smx_detector_config* cfg) {
  return cfg == nullptr ? nullptr : core::rule_text(core::broken_rule(*cfg));
}

smx_status smx_detector_size(const smx_detector_config* cfg, size_t* bytes) {
  if (cfg == nullptr || bytes == nullptr || !core::detector_config_is_valid(*cfg))
    return SMX_ERR_ARGUMENT;
  *bytes = core::detector_storage_bytes(*cfg);
  return SMX_OK;
}

smx_status smx_detector_create(const smx_detector_config* cfg, void* storage,
                               size_t storage_bytes, smx_detector** detector) {
  if (cfg == nullptr || storage == nullptr || detector == nullptr ||
      !core::detector_config_is_valid(*cfg))
    return SMX_ERR_ARGUMENT;
  if (!core::storage_fits(storage, storage_bytes, core::detector_storage_bytes(*cfg)))
    return SMX_ERR_STORAGE;
  *detector = core::create_detector(*cfg, storage);
  return SMX_OK;
}

smx_status smx_detector_set_scaling(smx_detector* det, const float* offsets, const float* scales) {
  if (!is_detector(det) || offsets == nullptr || scales == nullptr) return SMX_ERR_ARGUMENT;
  if (det->config.scaling != SMX_SCALING_FIXED || det->samples_seen != 0) return SMX_ERR_ARGUMENT;
  const uint32_t d_count = det->config.features;
  for (uint32_t d = 0; d < d_count; ++d) {
    if (!core::feature_is_valid(offsets[d]) || !core::scale_is_valid(scales[d]))
      return SMX_ERR_ARGUMENT;
  }
  const core::DetectorArrays a = core::detector_arrays(det);
  for (uint32_t d = 0; d < d_count; ++d) a.offset[d] = offsets[d], a.scale[d] = scales[d];
  return SMX_OK;
}

smx_status smx_detect(smx_detector* det, const float* x, smx_detection* out) {
  if (!is_detector(det) || x == nullptr || out == nullptr) return SMX_ERR_ARGUMENT;
  return core::detect_reading(det, x, out);
}

smx_status smx_detector_config_get(const smx_detector* det, smx_detector_config* cfg) {
  if (!is_detector(det) || cfg == nullptr) return SMX_ERR_ARGUMENT;
  *cfg = det->config;
  return SMX_OK;
}

const smx_model* smx_detector_model(const smx_detector* det) {
  return is_detector(det) ? core::detector_model(det) : nullptr;
}

uint64_t smx_detector_samples_seen(const smx_detector* det) {
  return is_detector(det) ? det->samples_seen : 0;
}

smx_status smx_detector_snapshot_size(const smx_detector* det, size_t* bytes) {
  if (!is_detector(det) || bytes == nullptr) return SMX_ERR_ARGUMENT;
  *bytes = core::detector_snapshot_size(det);
  return SMX_OK;
}

smx_status smx_detector_snapshot_save(const smx_detector* det, void* buf, size_t buf_bytes,
                                      size_t* written) {
  if (!is_detector(det) || buf == nullptr) return SMX_ERR_ARGUMENT;
  if (buf_bytes < core::detector_snapshot_size(det)) return SMX_ERR_STORAGE;
  const size_t n = core::detector_snapshot_save(det, static_cast<unsigned char*>(buf));
  if (written) *written = n;
  return SMX_OK;
}

smx_status smx_detector_snapshot_load(const void* buf, size_t len, void* storage,
                                      size_t storage_bytes, smx_detector** detector) {
  if (buf == nullptr || storage == nullptr || detector == nullptr) return SMX_ERR_ARGUMENT;
  return core::detector_snapshot_load(static_cast<const unsigned char*>(buf), len, storage,
                                     storage_bytes, detector);
}

smx_status smx_detector_snapshot_config(const void* buf, size_t len, smx_detector_config* cfg) {
  if (buf == nullptr || cfg == nullptr) return SMX_ERR_ARGUMENT;
  smx_detector_config c;
  size_t total = 0;
  if (!core::detector_snapshot_check(static_cast<const unsigned char*>(buf), len, &c, &total))
    return SMX_ERR_SNAPSHOT;
  *cfg = c;
  return SMX_OK;
}

}  // extern "C"
