// The detector's snapshot format: what it holds, the invariants its loader checks, and
// saving and loading.
#include <cmath>
#include <cstring>

#include "core/archive.h"
#include "core/detector.h"
#include "core/model.h"
#include "core/snapshot.h"

namespace streamix::core {

// Snapshot format, version 3 (little-endian, with the archives of archive.h):
//   u32 magic "SDTS" | u32 version | u32 total bytes (CRC included)
//   config: u32 features, u32 views, f32 smoothing, f32 residual_rate, u32 scaling,
//           u32 calibration_samples, f32 tail_rate, f32 alarm_rate, f32 anomaly_weight
//   state:  u32 has_previous, u64 samples_seen, u64 scored, u64 tail updates,
//           u64 tail exceedances, f32 tail mean, variance, median, upper, mean_excess,
//           u32 restarted (from version 3; before, 0)
//   arrays: f32 offset[D], scale[D], level[D], slow[D], innovation[D], seed[2 D]
//           (versions 1 and 2, which still load, have no seed: it starts at 0; version 1
//           has no innovation array either: it starts at 0)
//   the model's snapshot (its own format, with its own CRC and invariants)
//   u32 CRC-32 of every byte before it
// The invariants (what the library reaches, so exactly what the loader accepts):
//   config     valid (detector_config_is_valid), the model's features = D x views
//   counters   has_previous = (samples_seen > 0); restarted 0 or 1, 1 only with
//              samples_seen > 0; the model's samples_seen = samples_seen;
//              the model is ready iff samples_seen >= its init_samples, and then
//              scored = samples_seen - init_samples (0 before)
//   tail       updates <= scored; updates 0: every tail value and exceedances 0;
//              updates 1: variance, mean_excess, exceedances 0 and mean = median = upper;
//              else exceedances < updates, exceedances 0 => mean_excess 0;
//              |mean| <= kMaxTailMean, variance in [0, kMaxTailVariance],
//              |median|, |upper| <= kMaxTailQuantile, upper >= median,
//              mean_excess in [0, kMaxTailExcess]
//   scaling    none: offsets 0, scales 1; fixed: |offset| <= SMX_MAX_ABS_FEATURE, scales in
//              [SMX_MIN_SCALE, SMX_MAX_SCALE]; warm-up: while the model warms up, offsets are
//              running means (|o| <= kMaxAbsLocation) and scales running sums of squared
//              deviations in [0, SMX_MAX_VARIANCE] (0 before the first reading), then
//              scales in [SMX_MIN_SCALE, SMX_MAX_SCALE]
//   levels     level and slow |v| <= kMaxAbsLocation (moving averages of inputs); 0 before
//              the first reading
//   innovation mean squares, |v| in [0, SMX_MAX_VARIANCE], 0 before the second reading;
//              negative (not -0: the sign bit marks a held reading) only while the model
//              warms up
//   seed       valid features (raw readings); a reading's row 0 until it arrives (both rows
//              before the first reading, the second before the second)
namespace {

constexpr uint32_t kDetectorSnapshotMagic = 0x53544453u;  // bytes "SDTS"
// Version 2 added the innovation array (spikes), version 3 the seed (a glitch among the first
// two readings); versions 1 and 2 still load (see the format).
constexpr uint32_t kDetectorSnapshotVersion = 3;

// State arrays stored by each version: 4 before the innovation array, 5 before the seed's 2.
size_t state_arrays(uint32_t version) { return version == 1 ? 4 : (version == 2 ? 5 : kStateArrays); }

template <class Archive>
void transfer_detector(Archive& ar, smx_detector_config& c, smx_detector& det, uint32_t version) {
  ar.u32(c.features);
  ar.u32(c.views);
  ar.f32(c.smoothing);
  ar.f32(c.residual_rate);
  ar.u32(c.scaling);
  ar.u32(c.calibration_samples);
  ar.f32(c.tail_rate);
  ar.f32(c.alarm_rate);
  ar.f32(c.anomaly_weight);
  ar.u32(det.has_previous);
  ar.u64(det.samples_seen);
  ar.u64(det.scored);
  ar.u64(det.tail.updates);
  ar.u64(det.tail.exceedances);
  ar.value(Kind::finite, &det.tail.mean);
  ar.value(Kind::finite, &det.tail.variance);
  ar.value(Kind::finite, &det.tail.median);
  ar.value(Kind::finite, &det.tail.upper);
  ar.value(Kind::finite, &det.tail.mean_excess);
  if (version >= 3) ar.u32(det.restarted);
}

// The per-feature arrays of a format version, with the kinds of a detector whose model is
// ready or not (null destinations when validating).
template <class Archive>
void transfer_detector_arrays(Archive& ar, const smx_detector_config& c, bool model_ready,
                              const DetectorArrays* a, uint32_t version) {
  const bool running_sums = c.scaling == SMX_SCALING_WARMUP && !model_ready;
  const Kind kinds[] = {running_sums ? Kind::location : Kind::feature,
                        running_sums ? Kind::square_sum : Kind::finite, Kind::location,
                        Kind::location, model_ready ? Kind::square_sum : Kind::finite,
                        Kind::feature, Kind::feature};
  float* const arrays[] = {a ? a->offset : nullptr, a ? a->scale : nullptr,
                           a ? a->level : nullptr,  a ? a->slow : nullptr,
                           a ? a->innovation : nullptr, a ? a->seed : nullptr,
                           a ? a->seed + c.features : nullptr};
  static_assert(sizeof kinds / sizeof kinds[0] == kStateArrays, "a kind per array");
  for (size_t i = 0; i < state_arrays(version); ++i) {
    for (uint32_t d = 0; d < c.features; ++d)
      ar.value(kinds[i], arrays[i] ? arrays[i] + d : nullptr);
  }
}

// The scaling and level invariants of one feature (listed with the format); each value is
// already within its kind's range (transfer_detector_arrays).
bool feature_state_is_valid(const smx_detector_config& c, uint64_t samples_seen, bool model_ready,
                            float offset, float scale, float level, float slow, float innovation) {
  if (samples_seen == 0 && (level != 0.0f || slow != 0.0f)) return false;
  if (samples_seen <= 1 && innovation != 0.0f) return false;
  // (ready: in range by its kind; a held reading's mark only while warming up, never on 0)
  if (std::signbit(innovation) && (model_ready || innovation == 0.0f)) return false;
  if (std::fabs(innovation) > kernels::kMaxVariance) return false;
  if (c.scaling == SMX_SCALING_NONE) return offset == 0.0f && scale == 1.0f;
  if (c.scaling == SMX_SCALING_WARMUP && !model_ready)
    return samples_seen > 0 || (offset == 0.0f && scale == 0.0f);
  return scale_is_valid(scale);
}

size_t detector_fixed_bytes(uint32_t version = kDetectorSnapshotVersion) {
  return kSnapshotPreambleBytes + 9 * 4 + 4 + 4 * 8 + 5 * 4 + (version >= 3 ? 4 : 0);
}

// The detector's part of a snapshot, before the model's: fixed fields and the state arrays.
size_t detector_head_bytes(uint32_t features, uint32_t version = kDetectorSnapshotVersion) {
  return detector_fixed_bytes(version) + 4 * state_arrays(version) * size_t{features};
}

}  // namespace

size_t detector_snapshot_size(const smx_detector* det) {
  return detector_head_bytes(det->config.features) +
         snapshot_size(detector_model(det)) + 4;
}

size_t detector_snapshot_save(const smx_detector* det, unsigned char* out) {
  const size_t total = detector_snapshot_size(det);
  smx_detector header = *det;  // the archives take references; the detector stays const
  const DetectorArrays a = detector_arrays(det);
  Writer w(out);
  write_preamble(w, kDetectorSnapshotMagic, kDetectorSnapshotVersion, total);
  transfer_detector(w, header.config, header, kDetectorSnapshotVersion);
  transfer_detector_arrays(w, det->config, detector_model(det)->ready != 0, &a,
                           kDetectorSnapshotVersion);
  const size_t head = detector_head_bytes(det->config.features);
  const size_t model_bytes = snapshot_save(detector_model(det), out + head);
  Writer(out + head + model_bytes).u32(crc32(out, total - 4));
  return total;
}

bool detector_snapshot_check(const unsigned char* in, size_t len, smx_detector_config* c,
                             size_t* total, uint32_t* version_out) {
  size_t length = 0;
  uint32_t version = 0;
  if (!check_preamble(in, len, kDetectorSnapshotMagic, 1, kDetectorSnapshotVersion,
                      detector_fixed_bytes(1) + 4, &length, &version))
    return false;
  if (length < detector_fixed_bytes(version) + 4) return false;
  smx_detector det{};
  Checker checker(in + kSnapshotPreambleBytes, 0.0f);
  transfer_detector(checker, *c, det, version);
  if (!checker.ok()) return false;
  if (c->features > SMX_MAX_FEATURES) return false;
  const size_t head = detector_head_bytes(c->features, version);
  if (head + 4 > length) return false;
  // The model first: its state decides the kinds of the scaling arrays.
  size_t model_total = 0;
  smx_model model{};
  if (!snapshot_check(in + head, length - head - 4, &c->model, &model_total, &model, &c->anomaly_weight))
    return false;
  if (head + model_total + 4 != length || !detector_config_is_valid(*c)) return false;
  const bool ready = model.ready != 0;
  if (det.has_previous != (det.samples_seen > 0 ? 1u : 0u)) return false;
  if (det.restarted > 1 || (det.restarted == 1 && det.samples_seen == 0)) return false;
  if (model.samples_seen != det.samples_seen) return false;
  if (ready != (det.samples_seen >= c->model.init_samples)) return false;
  // A detector's model starts from its warm-up and is never merged.
  if (ready && model.step_origin != c->model.init_samples) return false;
  if (det.scored != (ready ? det.samples_seen - c->model.init_samples : 0)) return false;
  if (!tail_is_valid(det.tail, det.scored)) return false;
  Checker array_checker(in + detector_fixed_bytes(version), 0.0f);
  transfer_detector_arrays(array_checker, *c, ready, nullptr, version);
  if (!array_checker.ok()) return false;
  const unsigned char* arrays = in + detector_fixed_bytes(version);
  auto array_value = [&](size_t array, uint32_t d) {
    return f32_at(arrays + 4 * (array * c->features + d));
  };
  for (uint32_t d = 0; d < c->features; ++d) {
    const float innovation = version == 1 ? 0.0f : array_value(4, d);
    if (!feature_state_is_valid(*c, det.samples_seen, ready, array_value(0, d), array_value(1, d),
                                array_value(2, d), array_value(3, d), innovation))
      return false;
    // (+0 exactly: a row not yet written)
    auto unwritten = [](float v) { return v == 0.0f && !std::signbit(v); };
    if (version >= 3 && det.samples_seen < 1 && !unwritten(array_value(5, d))) return false;
    if (version >= 3 && det.samples_seen < 2 && !unwritten(array_value(6, d))) return false;
  }
  *total = length;
  if (version_out != nullptr) *version_out = version;
  return true;
}

smx_status detector_snapshot_load(const unsigned char* in, size_t len, void* storage,
                                  size_t storage_bytes, smx_detector** out) {
  smx_detector_config c;
  size_t total = 0;
  uint32_t version = 0;
  if (!detector_snapshot_check(in, len, &c, &total, &version)) return SMX_ERR_SNAPSHOT;
  const size_t needed = detector_storage_bytes(c);
  if (!storage_fits(storage, storage_bytes, needed)) return SMX_ERR_STORAGE;
  if (regions_overlap(in, total, storage, needed)) return SMX_ERR_ARGUMENT;
  // Everything is checked: from here on the target storage is written.
  smx_detector* det = create_detector(c, storage);
  // Through the checking archive, which stores what it decodes: one instantiation of each
  // transfer function fewer (the values were checked above).
  Checker r(in + kSnapshotPreambleBytes, 0.0f);
  transfer_detector(r, det->config, *det, version);
  const DetectorArrays a = detector_arrays(det);
  const size_t head = detector_head_bytes(c.features, version);
  smx_model* model = nullptr;
  snapshot_restore(in + head, c.model, detector_model(det), &model);
  // (version 1: the innovations stay 0, and each feature's next one starts their estimate)
  transfer_detector_arrays(r, c, model->ready != 0, &a, version);
  *out = det;
  return SMX_OK;
}

}  // namespace streamix::core
