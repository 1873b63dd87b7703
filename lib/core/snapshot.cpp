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
#include <initializer_list>

#include "core/model.h"

namespace streamix::core {

namespace {

constexpr uint32_t kSnapshotMagic = 0x53584D53u;  // bytes "SMXS"
constexpr uint32_t kSnapshotVersion = 1;
constexpr size_t kPreambleBytes = 12;
constexpr size_t kConfigBytes = 11 * 4;
constexpr size_t kStateBytes = 2 * 4 + 4 * 8;
constexpr size_t kFixedBytes = kPreambleBytes + kConfigBytes + kStateBytes + 4;

uint32_t crc32(const unsigned char* data, size_t n) {
  // Nibble-wise table: 64 bytes of constants, small enough for a microcontroller.
  static const uint32_t kTable[16] = {
      0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
      0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
      0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu};
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    crc ^= data[i];
    crc = (crc >> 4) ^ kTable[crc & 15u];
    crc = (crc >> 4) ^ kTable[crc & 15u];
  }
  return ~crc;
}

size_t snapshot_bytes(const smx_config& c, uint32_t buffered) {
  const size_t k = c.components, d = c.features;
  const size_t param_floats = k + 2 * k * d;
  const size_t sets = averaging_enabled(c) ? 3 : 2;  // stats, iterate, average
  return kFixedBytes + 4 * (sets * param_floats + k * d + size_t{buffered} * d);
}

class Writer {
 public:
  explicit Writer(unsigned char* out) : out_(out) {}
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) *out_++ = static_cast<unsigned char>(v >> (8 * i));
  }
  void u64(uint64_t v) {
    u32(static_cast<uint32_t>(v));
    u32(static_cast<uint32_t>(v >> 32));
  }
  void f32(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    u32(bits);
  }
  unsigned char* position() const { return out_; }

 private:
  unsigned char* out_;
};

class Reader {
 public:
  explicit Reader(const unsigned char* in) : in_(in) {}
  uint32_t u32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(*in_++) << (8 * i);
    return v;
  }
  uint64_t u64() {
    const uint64_t low = u32();
    return low | (static_cast<uint64_t>(u32()) << 32);
  }
  float f32() {
    const uint32_t bits = u32();
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
  }

 private:
  const unsigned char* in_;
};

// Walks the parameter-shaped arrays of a snapshot in order, between the model's feature-
// major storage and the snapshot's component-major stream.
template <class Visit>
void for_each_param_set(const ModelArrays& a, bool averaging, Visit&& visit) {
  visit(a.stats.weight, a.stats.mean, a.stats.variance);
  visit(a.iterate.weight, a.iterate.mean, a.iterate.variance);
  if (averaging) visit(a.average.weight, a.average.mean, a.average.variance);
}

void read_config(Reader& r, smx_config* c) {
  c->components = r.u32();
  c->features = r.u32();
  c->step_exponent = r.f32();
  c->step_offset = r.f32();
  c->step_floor = r.f32();
  c->hold_samples = r.u32();
  c->init_samples = r.u32();
  c->variance_floor = r.f32();
  c->weight_floor = r.f32();
  c->seed = r.u32();
  c->average_from = r.u32();
}

}  // namespace

size_t snapshot_size(const smx_model* m) { return snapshot_bytes(m->config, m->buffered); }

size_t snapshot_save(const smx_model* m, unsigned char* out) {
  const smx_config& c = m->config;
  const ModelArrays a = arrays_of(m);
  const size_t total = snapshot_size(m);
  Writer w(out);
  w.u32(kSnapshotMagic);
  w.u32(kSnapshotVersion);
  w.u32(static_cast<uint32_t>(total));
  w.u32(c.components);
  w.u32(c.features);
  w.f32(c.step_exponent);
  w.f32(c.step_offset);
  w.f32(c.step_floor);
  w.u32(c.hold_samples);
  w.u32(c.init_samples);
  w.f32(c.variance_floor);
  w.f32(c.weight_floor);
  w.u32(c.seed);
  w.u32(c.average_from);
  w.u32(m->ready);
  w.u32(m->buffered);
  w.u64(m->samples_seen);
  w.u64(m->steps);
  w.u64(m->step_origin);
  w.u64(m->averaged);
  const uint32_t stride = a.stats.shape.stride;
  for_each_param_set(a, averaging_enabled(c), [&](float* weight, float* mean, float* variance) {
    for (uint32_t k = 0; k < c.components; ++k) w.f32(weight[k]);
    for (float* p : {mean, variance}) {
      for (uint32_t k = 0; k < c.components; ++k) {
        for (uint32_t d = 0; d < c.features; ++d) w.f32(p[size_t{d} * stride + k]);
      }
    }
  });
  for (uint32_t k = 0; k < c.components; ++k) {
    for (uint32_t d = 0; d < c.features; ++d) w.f32(a.stats.mean_residual[size_t{d} * stride + k]);
  }
  for (size_t i = 0; i < size_t{m->buffered} * c.features; ++i) w.f32(a.warmup[i]);
  w.u32(crc32(out, total - 4));
  return total;
}

bool snapshot_config(const unsigned char* in, size_t len, smx_config* c, size_t* total) {
  if (len < kFixedBytes) return false;
  Reader r(in);
  if (r.u32() != kSnapshotMagic || r.u32() != kSnapshotVersion) return false;
  *total = r.u32();
  if (*total < kFixedBytes || *total > len) return false;
  if (crc32(in, *total - 4) != Reader(in + *total - 4).u32()) return false;
  read_config(r, c);
  return config_is_valid(*c);
}

// Checks every value a model may hold before anything is written: a snapshot with a valid
// CRC can still have been produced by something other than this library.
static bool snapshot_content_is_valid(const unsigned char* in, const smx_config& c,
                                      size_t total) {
  Reader r(in + kPreambleBytes + kConfigBytes);
  const uint32_t ready = r.u32();
  const uint32_t buffered = r.u32();
  r.u64();  // samples_seen: any value
  r.u64();  // steps: any value
  r.u64();  // step_origin: any value
  const uint64_t averaged = r.u64();
  if (ready > 1 || buffered > c.init_samples || (ready == 0 && buffered == c.init_samples && buffered > 0))
    return false;
  if (averaged > 0 && !averaging_enabled(c)) return false;
  if (total != snapshot_bytes(c, buffered)) return false;
  const int sets = averaging_enabled(c) ? 3 : 2;
  for (int set = 0; set < sets; ++set) {
    for (uint32_t k = 0; k < c.components; ++k) {
      const float weight = r.f32();
      if (!(weight >= 0.0f && weight <= 1.0f)) return false;
    }
    for (uint32_t i = 0; i < c.components * c.features; ++i) {
      if (!feature_is_valid(r.f32())) return false;
    }
    for (uint32_t i = 0; i < c.components * c.features; ++i) {
      const float variance = r.f32();
      if (!(variance >= c.variance_floor && variance <= 3.4e38f)) return false;
    }
  }
  // The mean residuals, then the warm-up samples: all must be valid feature values.
  for (size_t i = 0; i < size_t{c.components + buffered} * c.features; ++i) {
    if (!feature_is_valid(r.f32())) return false;
  }
  return true;
}

bool snapshot_load(const unsigned char* in, size_t len, void* storage, size_t storage_bytes,
                   smx_model** model, bool* storage_error) {
  smx_config c;
  size_t total = 0;
  *storage_error = false;
  if (!snapshot_config(in, len, &c, &total) || !snapshot_content_is_valid(in, c, total))
    return false;
  if (reinterpret_cast<uintptr_t>(storage) % SMX_STORAGE_ALIGN != 0 ||
      storage_bytes < carve_storage(c, nullptr, nullptr)) {
    *storage_error = true;
    return false;
  }
  // Everything is checked: from here on the target storage is written.
  smx_model* m = create_model(c, storage);
  Reader r(in + kPreambleBytes + kConfigBytes);
  m->ready = r.u32();
  m->buffered = r.u32();
  m->samples_seen = r.u64();
  m->steps = r.u64();
  m->step_origin = r.u64();
  m->averaged = r.u64();
  const ModelArrays a = arrays_of(m);
  const uint32_t stride = a.stats.shape.stride;
  for_each_param_set(a, averaging_enabled(c), [&](float* weight, float* mean, float* variance) {
    for (uint32_t k = 0; k < c.components; ++k) weight[k] = r.f32();
    for (float* p : {mean, variance}) {
      for (uint32_t k = 0; k < c.components; ++k) {
        for (uint32_t d = 0; d < c.features; ++d) p[size_t{d} * stride + k] = r.f32();
      }
    }
  });
  for (uint32_t k = 0; k < c.components; ++k) {
    for (uint32_t d = 0; d < c.features; ++d) a.stats.mean_residual[size_t{d} * stride + k] = r.f32();
  }
  for (size_t i = 0; i < size_t{m->buffered} * c.features; ++i) a.warmup[i] = r.f32();
  kernels::derive_estep_terms(a.iterate);
  if (averaging_enabled(c)) kernels::derive_estep_terms(a.average);
  *model = m;
  return true;
}

}  // namespace streamix::core
