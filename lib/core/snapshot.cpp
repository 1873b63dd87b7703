// Snapshot format, versions 1 and 2. All integers and floats little-endian; floats as
// IEEE-754 binary32 bit patterns; arrays component-major (row k = component k), logical K
// only. Version 2 is version 1 with the mini-batch's fields (marked v2); a model with
// batch_size 1 saves version 1, so its bytes are what they were before mini-batches, and a
// version 1 snapshot loads with batch_size 1 and nothing pending.
//   u32 magic "SMXS" | u32 version | u32 total bytes (CRC included)
//   config: u32 K, u32 D, f32 step_exponent, f32 step_offset, f32 step_floor,
//           u32 hold_samples, u32 init_samples, f32 variance_floor, f32 weight_floor,
//           u32 seed, u32 average_from, (v2) u32 batch_size
//   state:  u32 ready, u32 buffered, u64 samples_seen, u64 steps, u64 step_origin,
//           u64 averaged, (v2) u32 pending
//   stats:  f32 weight[K], mean[K][D], variance[K][D], then mean_residual[K][D] (below)
//   iterate parameters: f32 weight[K], mean[K][D], variance[K][D]
//   average parameters (only if average_from > 0): the same three arrays
//   stats mean_residual: f32 [K][D]
//   warm-up buffer: f32 [buffered][D]
//   (v2) pending mini-batch: f32 [pending][D], then f32 weights[pending]
//   u32 CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) of every byte before it
// Derived terms (log weights, normalizers, precisions) are not stored: loading recomputes
// them with the same code, so a loaded model behaves bit-for-bit like the saved one.
//
// The invariants: what every state the library reaches satisfies, and so exactly what the
// loader accepts (a CRC proves only that the bytes arrived, not that a model made them).
//   config   valid (config_is_valid)
//   warm-up  (ready 0): buffered < init_samples (0 if init_samples is 0),
//            samples_seen = buffered, steps = step_origin = averaged = 0, and every parameter
//            array as created: statistics' weights = weight_floor, iterate and average
//            weights 0, means and residuals 0, variances max(1, variance_floor)
//   ready    (ready 1): buffered = 0, step_origin + steps + pending <= samples_seen
//            (step_origin is 0 after set_params, init_samples after the warm-up, and moves
//            on at a merge: any value); steps a multiple of batch_size; statistics' weights in
//            [weight_floor, 1], iterate weights in (0, 1], average weights too once averaged
//   averaged = the steps (mini-batches) ending at or past hold_samples + average_from
//            samples of steps (0 without averaging)
//   batch    (v2) batch_size > 1 (1 saves version 1); pending < batch_size, 0 in the
//            warm-up; pending rows valid features; their learning weights 1, or for a
//            detector's model 1 or its anomaly_weight (> 0)
//   values   weights in [0, 1]; means |m| <= 2 SMX_MAX_ABS_FEATURE (kMaxAbsLocation);
//            variances in [variance_floor, SMX_MAX_VARIANCE]; warm-up rows valid features;
//            |mean_residual| <= 2^-23 |mean| (the rounding error of its mean)
//   past the hold (steps > hold_samples): the iterate is the refresh of the statistics,
//            bit for bit: means and variances equal, weights = normalize_weights(statistics)
#include "core/snapshot.h"

#include <cmath>
#include <cstring>

#include "core/archive.h"
#include "core/model.h"

namespace streamix::core {

namespace {

constexpr uint32_t kSnapshotMagic = 0x53584D53u;  // bytes "SMXS"
constexpr uint32_t kNewestVersion = 2;
// The version a config saves: 2 only with mini-batches.
uint32_t version_of(const smx_config& c) { return c.batch_size > 1 ? 2 : 1; }
constexpr size_t config_bytes(uint32_t version) { return (version >= 2 ? 12 : 11) * 4; }
constexpr size_t state_bytes(uint32_t version) { return (version >= 2 ? 3 : 2) * 4 + 4 * 8; }
constexpr size_t fixed_bytes(uint32_t version) {
  return kSnapshotPreambleBytes + config_bytes(version) + state_bytes(version) + 4;
}
constexpr size_t kFixedBytesV1 = fixed_bytes(1);

size_t snapshot_bytes(const smx_config& c, uint32_t buffered, uint32_t pending) {
  const size_t k = c.components, d = c.features;
  const size_t param_floats = k + 2 * k * d;
  const size_t sets = averaging_enabled(c) ? 3 : 2;  // stats, iterate, average
  return fixed_bytes(version_of(c)) +
         4 * (sets * param_floats + k * d + size_t{buffered} * d + size_t{pending} * (d + 1));
}

// The format, described once (the byte layout is listed at the top of this file).
template <class Archive>
void transfer_config(Archive& ar, smx_config& c, uint32_t version) {
  ar.u32(c.components);
  ar.u32(c.features);
  ar.f32(c.step_exponent);
  ar.f32(c.step_offset);
  ar.f32(c.step_floor);
  ar.u32(c.hold_samples);
  ar.u32(c.init_samples);
  ar.f32(c.variance_floor);
  ar.f32(c.weight_floor);
  ar.u32(c.seed);
  ar.u32(c.average_from);
  if (version >= 2) {
    ar.u32(c.batch_size);
  } else {
    c.batch_size = 1;
  }
}

template <class Archive>
void transfer_state(Archive& ar, smx_model& m, uint32_t version) {
  ar.u32(m.ready);
  ar.u32(m.buffered);
  ar.u64(m.samples_seen);
  ar.u64(m.steps);
  ar.u64(m.step_origin);
  ar.u64(m.averaged);
  if (version >= 2) {
    ar.u32(m.pending);
  } else {
    m.pending = 0;
  }
}

// The arrays, component-major. With every pointer of `a` null (validation), the archive
// gets null destinations and only reads.
template <class Archive>
void transfer_arrays(Archive& ar, const smx_config& c, uint32_t buffered, uint32_t pending,
                     const ModelArrays& a, const BatchArrays* batch) {
  const uint32_t stride = shape_of(c).stride;
  auto at = [](float* base, size_t i) { return base ? base + i : nullptr; };
  auto matrix = [&](Kind kind, float* base) {
    for (uint32_t k = 0; k < c.components; ++k) {
      for (uint32_t d = 0; d < c.features; ++d) ar.value(kind, at(base, size_t{d} * stride + k));
    }
  };
  auto param_set = [&](float* weight, float* mean, float* variance) {
    for (uint32_t k = 0; k < c.components; ++k) ar.value(Kind::weight, at(weight, k));
    matrix(Kind::location, mean);
    matrix(Kind::variance, variance);
  };
  param_set(a.stats.weight, a.stats.mean, a.stats.variance);
  param_set(a.iterate.weight, a.iterate.mean, a.iterate.variance);
  if (averaging_enabled(c)) param_set(a.average.weight, a.average.mean, a.average.variance);
  matrix(Kind::finite, a.stats.mean_residual);  // bounded by its mean: see arrays_are_valid
  for (size_t i = 0; i < size_t{buffered} * c.features; ++i) ar.value(Kind::feature, at(a.warmup, i));
  float* rows = batch ? batch->rows : nullptr;
  float* weights = batch ? batch->weights : nullptr;
  for (size_t i = 0; i < size_t{pending} * c.features; ++i) ar.value(Kind::feature, at(rows, i));
  for (size_t i = 0; i < pending; ++i) ar.value(Kind::weight, at(weights, i));  // (and see below)
}

// The arrays of a snapshot read in place, float by float, in the order of transfer_arrays.
class SnapshotArrays {
 public:
  SnapshotArrays(const unsigned char* arrays, const smx_config& c)
      : base_(arrays), k_(c.components), kd_(size_t{c.components} * c.features),
        sets_(averaging_enabled(c) ? 3 : 2) {}
  enum Set { kStats = 0, kIterate = 1, kAverage = 2 };
  size_t sets() const { return sets_; }
  size_t components() const { return k_; }
  size_t elements() const { return kd_; }
  float weight(size_t set, size_t k) const { return at(set * (k_ + 2 * kd_) + k); }
  float mean(size_t set, size_t i) const { return at(set * (k_ + 2 * kd_) + k_ + i); }
  float variance(size_t set, size_t i) const { return at(set * (k_ + 2 * kd_) + k_ + kd_ + i); }
  float residual(size_t i) const { return at(sets_ * (k_ + 2 * kd_) + i); }
  // The bytes of set's means and variances (2 K D floats, contiguous).
  const unsigned char* moments(size_t set) const { return base_ + 4 * (set * (k_ + 2 * kd_) + k_); }

 private:
  float at(size_t i) const { return f32_at(base_ + 4 * i); }
  const unsigned char* base_;
  size_t k_, kd_, sets_;
};

// The relations between array values listed at the top of this file (each value is already
// within its kind's range).
bool arrays_are_valid(const unsigned char* arrays, const smx_model& m) {
  const smx_config& c = m.config;
  const SnapshotArrays a(arrays, c);
  const size_t k_count = a.components(), n = a.elements();
  for (size_t i = 0; i < n; ++i) {
    if (!(std::fabs(a.residual(i)) <= 0x1.0p-23f * std::fabs(a.mean(SnapshotArrays::kStats, i))))
      return false;
  }
  if (!m.ready) {  // as created (create_model)
    const float unit_variance = unset_variance(c);
    for (size_t set = 0; set < a.sets(); ++set) {
      const float weight = set == SnapshotArrays::kStats ? c.weight_floor : 0.0f;
      for (size_t k = 0; k < k_count; ++k) {
        if (a.weight(set, k) != weight) return false;
      }
      for (size_t i = 0; i < n; ++i) {
        if (a.mean(set, i) != 0.0f || a.variance(set, i) != unit_variance) return false;
      }
    }
    return true;
  }
  for (size_t k = 0; k < k_count; ++k) {
    if (!(a.weight(SnapshotArrays::kStats, k) >= c.weight_floor)) return false;
    if (!(a.weight(SnapshotArrays::kIterate, k) > 0.0f)) return false;
    if (m.averaged > 0 && !(a.weight(SnapshotArrays::kAverage, k) > 0.0f)) return false;
  }
  if (!iterate_shares_stats(&m)) return true;
  // Past the hold the iterate is the refresh of the statistics after every step, bit for bit
  // (the model keeps its means and variances once: see iterate_shares_stats).
  const float inv_total = kernels::inverse_weight_total(
      static_cast<uint32_t>(k_count), [&a](uint32_t k) { return a.weight(SnapshotArrays::kStats, k); });
  for (size_t k = 0; k < k_count; ++k) {
    const float refreshed = a.weight(SnapshotArrays::kStats, k) * inv_total;
    const float stored = a.weight(SnapshotArrays::kIterate, k);
    if (std::memcmp(&refreshed, &stored, sizeof stored) != 0) return false;
  }
  return std::memcmp(a.moments(SnapshotArrays::kStats), a.moments(SnapshotArrays::kIterate),
                     4 * 2 * n) == 0;
}

// The pending samples' learning weights, the last `pending` floats before the CRC: 1, or
// the detector's gate weight (gate: null for a model of its own).
bool pending_weights_are_valid(const unsigned char* in, size_t total, uint32_t pending,
                               const float* gate) {
  for (uint32_t i = 0; i < pending; ++i) {
    const float w = f32_at(in + total - 4 - 4 * size_t{pending - i});
    if (!(w == 1.0f || (gate != nullptr && w == *gate && w > 0.0f))) return false;
  }
  return true;
}

// The averaged iterates a model has after `steps` steps of batch_size samples each: one per
// step that ends at or past hold_samples + average_from (learn, learn_batch), none without
// averaging.
uint64_t expected_averaged(const smx_config& c, uint64_t steps) {
  if (!averaging_enabled(c)) return 0;
  const uint64_t first = uint64_t{c.hold_samples} + c.average_from, size = c.batch_size;
  const uint64_t first_step = (first + size - 1) / size, step_count = steps / size;
  return step_count >= first_step ? step_count - first_step + 1 : 0;
}

bool state_is_valid(const smx_model& m, const smx_config& c, size_t total, uint32_t version) {
  if (m.ready > 1 || m.buffered > c.init_samples) return false;
  if (version != version_of(c)) return false;  // batch_size 1 saves version 1
  if (m.pending >= c.batch_size || (!m.ready && m.pending != 0)) return false;
  if (!m.ready) {
    if (m.buffered == c.init_samples && m.buffered > 0) return false;  // would have initialized
    if (m.samples_seen != m.buffered || m.steps != 0 || m.step_origin != 0) return false;
  } else {
    if (m.buffered != 0) return false;
    if (m.samples_seen < m.step_origin || m.steps > m.samples_seen - m.step_origin ||
        m.pending > m.samples_seen - m.step_origin - m.steps)
      return false;
    if (m.steps % c.batch_size != 0) return false;
  }
  if (m.averaged != expected_averaged(c, m.steps)) return false;
  return total == snapshot_bytes(c, m.buffered, m.pending);
}

}  // namespace

bool value_is_valid(Kind kind, float v, float variance_floor) {
  switch (kind) {
    case Kind::weight: return v >= 0.0f && v <= 1.0f;
    case Kind::feature: return feature_is_valid(v);
    case Kind::location: return std::fabs(v) <= kMaxAbsLocation;
    case Kind::variance: return v >= variance_floor && v <= kernels::kMaxVariance;
    case Kind::square_sum: return v >= 0.0f && v <= kernels::kMaxVariance;
    case Kind::finite: return std::isfinite(v);
  }
  return false;
}

size_t snapshot_size(const smx_model* m) { return snapshot_bytes(m->config, m->buffered, m->pending); }

size_t snapshot_save(const smx_model* m, unsigned char* out) {
  smx_model header = *m;  // the archives take references; the model itself stays const
  const size_t total = snapshot_size(m);
  const uint32_t version = version_of(m->config);
  const BatchArrays batch = m->config.batch_size > 1 ? batch_arrays_of(m) : BatchArrays{};
  Writer w(out);
  write_preamble(w, kSnapshotMagic, version, total);
  transfer_config(w, header.config, version);
  transfer_state(w, header, version);
  transfer_arrays(w, m->config, m->buffered, m->pending, arrays_of(m), &batch);
  w.u32(crc32(out, total - 4));
  return total;
}

namespace {
// The preamble and config of a snapshot: its config, length and version.
bool read_config(const unsigned char* in, size_t len, smx_config* c, size_t* total,
                 uint32_t* version) {
  size_t length = 0;
  if (!check_preamble(in, len, kSnapshotMagic, 1, kNewestVersion, kFixedBytesV1, &length, version))
    return false;
  if (length < fixed_bytes(*version)) return false;
  Reader r(in + kSnapshotPreambleBytes);
  transfer_config(r, *c, *version);
  *total = length;
  return config_is_valid(*c);
}
}  // namespace

bool snapshot_config(const unsigned char* in, size_t len, smx_config* c, size_t* total) {
  uint32_t version = 0;
  return read_config(in, len, c, total, &version);
}

bool snapshot_check(const unsigned char* in, size_t len, smx_config* c, size_t* total,
                    smx_model* header, const float* gate_weight) {
  uint32_t version = 0;
  if (!read_config(in, len, c, total, &version)) return false;
  // A snapshot with a valid CRC can still come from something other than this library:
  // check every value.
  smx_model state{};
  Reader state_reader(in + kSnapshotPreambleBytes + config_bytes(version));
  transfer_state(state_reader, state, version);
  if (!state_is_valid(state, *c, *total, version)) return false;
  const unsigned char* arrays = in + kSnapshotPreambleBytes + config_bytes(version) + state_bytes(version);
  Checker checker(arrays, c->variance_floor);
  transfer_arrays(checker, *c, state.buffered, state.pending, ModelArrays{}, nullptr);
  state.config = *c;
  if (!checker.ok() || !arrays_are_valid(arrays, state)) return false;
  if (!pending_weights_are_valid(in, *total, state.pending, gate_weight)) return false;
  if (header) *header = state;
  return true;
}

void snapshot_restore(const unsigned char* in, const smx_config& c, void* storage,
                      smx_model** model) {
  smx_model* m = create_model(c, storage);
  const uint32_t version = version_of(c);
  Reader r(in + kSnapshotPreambleBytes + config_bytes(version));
  transfer_state(r, *m, version);
  const ModelArrays a = arrays_of(m);
  // Through the checking archive, which stores what it decodes: one instantiation of
  // transfer_arrays fewer (the values were checked by snapshot_check already).
  Checker arrays(in + kSnapshotPreambleBytes + config_bytes(version) + state_bytes(version),
                 c.variance_floor);
  const BatchArrays batch = c.batch_size > 1 ? batch_arrays_of(m) : BatchArrays{};
  transfer_arrays(arrays, c, m->buffered, m->pending, a, &batch);
  kernels::derive_estep_terms(a.iterate);
  if (averaging_enabled(c)) kernels::derive_estep_terms(a.average);
  *model = m;
}

smx_status snapshot_load(const unsigned char* in, size_t len, void* storage, size_t storage_bytes,
                         smx_model** model) {
  smx_config c;
  size_t total = 0;
  if (!snapshot_check(in, len, &c, &total, nullptr)) return SMX_ERR_SNAPSHOT;
  const size_t needed = carve_storage(c, nullptr, nullptr);
  if (!storage_fits(storage, storage_bytes, needed)) return SMX_ERR_STORAGE;
  if (regions_overlap(in, total, storage, needed)) return SMX_ERR_ARGUMENT;
  // Everything is checked: from here on the target storage is written.
  snapshot_restore(in, c, storage, model);
  return SMX_OK;
}

}  // namespace streamix::core
