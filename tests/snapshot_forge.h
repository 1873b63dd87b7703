// Forging snapshots that a CRC cannot tell from real ones: field offsets of the two formats
// (lib/core/snapshot.cpp, lib/core/detector_snapshot.cpp) and a repair of the lengths and CRCs after
// bytes were changed. Used by the tests of the loaders' invariants and by the structure-aware
// fuzz target, so that mutations reach the semantic checks instead of dying at the CRC.
#ifndef STREAMIX_TESTS_SNAPSHOT_FORGE_H
#define STREAMIX_TESTS_SNAPSHOT_FORGE_H

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace forge {

// Model snapshots ("SMXS").
inline constexpr uint32_t kModelMagic = 0x53584D53u;
inline constexpr size_t kModelConfig = 12;   // u32 K, u32 D, ...
inline constexpr size_t kModelReady = 56;    // u32 ready, u32 buffered, u64 samples_seen,
inline constexpr size_t kModelSteps = 72;    //   u64 steps, u64 step_origin, u64 averaged
inline constexpr size_t kModelArrays = 96;   // stats weight[K], mean[K][D], variance[K][D], ...
// Format 2 (mini-batches): the config and the state one u32 longer each.
inline constexpr size_t kModelBatchSize = 56;   // u32 batch_size, the config's last field
inline constexpr size_t kModelV2Steps = 76;     // u64 steps (after ready, buffered, samples_seen)
inline constexpr size_t kModelV2Pending = 100;  // u32 pending, the state's last field
// Detector snapshots ("SDTS").
inline constexpr uint32_t kDetectorMagic = 0x53544453u;
inline constexpr size_t kDetectorFeatures = 12;     // u32 features
inline constexpr size_t kDetectorSeen = 52;         // u64 samples_seen, u64 scored, ...
inline constexpr size_t kDetectorTailUpdates = 68;  // u64 updates, u64 exceedances
inline constexpr size_t kDetectorTail = 84;         // f32 mean, variance, median, upper, excess
inline constexpr size_t kDetectorRestarted = 104;   // u32 restarted
inline constexpr size_t kDetectorArrays = 108;      // f32 offset[D], scale[D], level[D], slow[D],
inline constexpr size_t kDetectorArrayCount = 7;    //   innovation[D], seed[2 D] (version 3)
inline constexpr uint32_t kDetectorVersion = 3;

inline uint32_t get_u32(const unsigned char* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}
inline void put_u32(unsigned char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
inline void put_u64(unsigned char* p, uint64_t v) {
  put_u32(p, static_cast<uint32_t>(v));
  put_u32(p + 4, static_cast<uint32_t>(v >> 32));
}
inline void put_f32(unsigned char* p, float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  put_u32(p, bits);
}
inline float get_f32(const unsigned char* p) {
  const uint32_t bits = get_u32(p);
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}

// CRC-32 (IEEE 802.3), bit by bit: written independently of the library's table version.
inline uint32_t crc32(const unsigned char* data, size_t n) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    crc ^= data[i];
    for (int b = 0; b < 8; ++b) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

// Where the model snapshot of a detector snapshot starts.
inline size_t detector_model_offset(const unsigned char* s) {
  return kDetectorArrays + 4 * kDetectorArrayCount * size_t{get_u32(s + kDetectorFeatures)};
}

// Sets the magic and version (2 stays 2, anything else becomes 1) of a model snapshot of
// `length` bytes at s, its length field to `length` and its CRC.
inline void repair_model(unsigned char* s, size_t length) {
  put_u32(s, kModelMagic);
  put_u32(s + 4, get_u32(s + 4) == 2 ? 2 : 1);
  put_u32(s + 8, static_cast<uint32_t>(length));
  put_u32(s + length - 4, crc32(s, length - 4));
}

// Repairs a whole snapshot in place: a model's, or (if its magic says so) a detector's
// with the model inside it. Sizes that cannot hold the preamble are left alone.
inline void repair(std::vector<unsigned char>& s) {
  if (s.size() < 24) return;
  if (get_u32(s.data()) != kDetectorMagic) {
    repair_model(s.data(), s.size());
    return;
  }
  // The features field decides where the model starts; keep it where the bytes allow one.
  const size_t model = detector_model_offset(s.data());
  if (model + 16 + 4 <= s.size()) repair_model(s.data() + model, s.size() - model - 4);
  put_u32(s.data() + 4, kDetectorVersion);
  put_u32(s.data() + 8, static_cast<uint32_t>(s.size()));
  put_u32(s.data() + s.size() - 4, crc32(s.data(), s.size() - 4));
}

}  // namespace forge

#endif  // STREAMIX_TESTS_SNAPSHOT_FORGE_H
