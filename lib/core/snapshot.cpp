// Snapshot format, version 1. All integers and floats little-endian; floats as IEEE-754
// binary32 bit patterns; arrays component-major (row k = component k), logical K only.
//   u32 magic "SMXS" | u32 version | u32 total bytes (CRC included)
//   config: u32 K, u32 D, f32 step_exponent, f32 step_offset, f32 step_floor,
//           u32 hold_samples, u32 init_samples, f32 variance_floor, f32 weight_floor,
//           u32 seed, u32 average_from
//   state:  u32 ready, u32 buffered, u64 samples_seen, u64 steps, u64 step_origin,
//           u64 averaged
//   stats:  f32 weight[K], mean[K][D], variance[K][D], then mean_residual[K][D] (below)
//   iterate parameters: f32 weight[K], mean[K][D], variance[K][D]
//   average parameters (only if average_from > 0): the same three arrays
//   stats mean_residual: f32 [K][D]
//   warm-up buffer: f32 [buffered][D]
//   u32 CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) of every byte before it
// Derived terms (log weights, normalizers, precisions) are not stored: loading recomputes
// them with the same code, so a loaded model behaves bit-for-bit like the saved one.
#include "core/snapshot.h"

#include <cmath>
#include <cstring>

#include "core/archive.h"
#include "core/model.h"

namespace streamix::core {

namespace {

constexpr uint32_t kSnapshotMagic = 0x53584D53u;  // bytes "SMXS"
constexpr uint32_t kSnapshotVersion = 1;
constexpr size_t kConfigBytes = 11 * 4;
constexpr size_t kStateBytes = 2 * 4 + 4 * 8;
constexpr size_t kFixedBytes = kSnapshotPreambleBytes + kConfigBytes + kStateBytes + 4;

size_t snapshot_bytes(const smx_config& c, uint32_t buffered) {
  const size_t k = c.components, d = c.features;
  const size_t param_floats = k + 2 * k * d;
  const size_t sets = averaging_enabled(c) ? 3 : 2;  // stats, iterate, average
  return kFixedBytes + 4 * (sets * param_floats + k * d + size_t{buffered} * d);
}

// The format, described once (the byte layout is listed at the top of this file).
template <class Archive>
void transfer_config(Archive& ar, smx_config& c) {
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
}

template <class Archive>
void transfer_state(Archive& ar, smx_model& m) {
  ar.u32(m.ready);
  ar.u32(m.buffered);
  ar.u64(m.samples_seen);
  ar.u64(m.steps);
  ar.u64(m.step_origin);
  ar.u64(m.averaged);
}

// The arrays, component-major. With every pointer of `a` null (validation), the archive
// gets null destinations and only reads.
template <class Archive>
void transfer_arrays(Archive& ar, const smx_config& c, uint32_t buffered, const ModelArrays& a) {
  const uint32_t stride = shape_of(c).stride;
  auto at = [](float* base, size_t i) { return base ? base + i : nullptr; };
  auto matrix = [&](Kind kind, float* base) {
    for (uint32_t k = 0; k < c.components; ++k) {
      for (uint32_t d = 0; d < c.features; ++d) ar.value(kind, at(base, size_t{d} * stride + k));
    }
  };
  auto param_set = [&](float* weight, float* mean, float* variance) {
    for (uint32_t k = 0; k < c.components; ++k) ar.value(Kind::weight, at(weight, k));
    matrix(Kind::feature, mean);
    matrix(Kind::variance, variance);
  };
  param_set(a.stats.weight, a.stats.mean, a.stats.variance);
  param_set(a.iterate.weight, a.iterate.mean, a.iterate.variance);
  if (averaging_enabled(c)) param_set(a.average.weight, a.average.mean, a.average.variance);
  matrix(Kind::feature, a.stats.mean_residual);
  for (size_t i = 0; i < size_t{buffered} * c.features; ++i) ar.value(Kind::feature, at(a.warmup, i));
}

// Past the hold the iterate is the refresh of the statistics after every step, so its means
// and variances are the statistics' bit for bit (the model keeps them once: see
// iterate_shares_stats). A snapshot that says otherwise did not come from this library.
bool iterate_matches_stats(const unsigned char* arrays, const smx_model& m) {
  if (!iterate_shares_stats(&m)) return true;
  const size_t k = m.config.components, kd = k * m.config.features;
  const unsigned char* stats_moments = arrays + 4 * k;  // after the K weights
  const unsigned char* iterate_moments = arrays + 4 * (k + 2 * kd + k);
  return std::memcmp(stats_moments, iterate_moments, 4 * 2 * kd) == 0;
}

bool state_is_valid(const smx_model& m, const smx_config& c, size_t total) {
  if (m.ready > 1 || m.buffered > c.init_samples) return false;
  if (m.ready == 0 && m.buffered == c.init_samples && m.buffered > 0) return false;  // would have initialized
  if (m.averaged > 0 && !averaging_enabled(c)) return false;
  return total == snapshot_bytes(c, m.buffered);
}

}  // namespace

size_t snapshot_size(const smx_model* m) { return snapshot_bytes(m->config, m->buffered); }

size_t snapshot_save(const smx_model* m, unsigned char* out) {
  smx_model header = *m;  // the archives take references; the model itself stays const
  const size_t total = snapshot_size(m);
  Writer w(out);
  write_preamble(w, kSnapshotMagic, kSnapshotVersion, total);
  transfer_config(w, header.config);
  transfer_state(w, header);
  transfer_arrays(w, m->config, m->buffered, arrays_of(m));
  w.u32(crc32(out, total - 4));
  return total;
}

bool snapshot_config(const unsigned char* in, size_t len, smx_config* c, size_t* total) {
  size_t length = 0;
  if (!check_preamble(in, len, kSnapshotMagic, kSnapshotVersion, kFixedBytes, &length))
    return false;
  Reader r(in + kSnapshotPreambleBytes);
  transfer_config(r, *c);
  *total = length;
  return config_is_valid(*c);
}

bool snapshot_check(const unsigned char* in, size_t len, smx_config* c, size_t* total) {
  if (!snapshot_config(in, len, c, total)) return false;
  // A snapshot with a valid CRC can still come from something other than this library:
  // check every value.
  smx_model state{};
  Reader state_reader(in + kSnapshotPreambleBytes + kConfigBytes);
  transfer_state(state_reader, state);
  if (!state_is_valid(state, *c, *total)) return false;
  const unsigned char* arrays = in + kSnapshotPreambleBytes + kConfigBytes + kStateBytes;
  Checker checker(arrays, c->variance_floor);
  transfer_arrays(checker, *c, state.buffered, ModelArrays{});
  state.config = *c;
  return checker.ok() && iterate_matches_stats(arrays, state);
}

void snapshot_restore(const unsigned char* in, const smx_config& c, void* storage,
                      smx_model** model) {
  smx_model* m = create_model(c, storage);
  Reader r(in + kSnapshotPreambleBytes + kConfigBytes);
  transfer_state(r, *m);
  const ModelArrays a = arrays_of(m);
  transfer_arrays(r, c, m->buffered, a);
  kernels::derive_estep_terms(a.iterate);
  if (averaging_enabled(c)) kernels::derive_estep_terms(a.average);
  *model = m;
}

bool snapshot_load(const unsigned char* in, size_t len, void* storage, size_t storage_bytes,
                   smx_model** model, bool* storage_error) {
  smx_config c;
  size_t total = 0;
  *storage_error = false;
  if (!snapshot_check(in, len, &c, &total)) return false;
  if (!storage_fits(storage, storage_bytes, carve_storage(c, nullptr, nullptr))) {
    *storage_error = true;
    return false;
  }
  // Everything is checked: from here on the target storage is written.
  snapshot_restore(in, c, storage, model);
  return true;
}

}  // namespace streamix::core
