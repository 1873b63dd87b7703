// The little-endian archives snapshots are written and read with (model and detector): one
// description of a format, run with Writer (encode), Checker (decode and validate without
// writing) and Reader (decode into the target).
#ifndef STREAMIX_CORE_ARCHIVE_H
#define STREAMIX_CORE_ARCHIVE_H

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/model.h"

namespace streamix::core {

// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320).
inline uint32_t crc32(const unsigned char* data, size_t n) {
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

// What a stored float must satisfy, value by value (relations between values, such as a
// mean residual's bound by its mean, are checked by each format after decoding):
//   weight    in [0, 1]
//   feature   a valid input value: |v| <= SMX_MAX_ABS_FEATURE (the warm-up buffer, offsets)
//   location  a mean or moving average of inputs: |v| <= kMaxAbsLocation (rounding can carry
//             one a few ulps past the largest input, never further: it moves towards inputs)
//   variance  in [the variance floor, kernels::kMaxVariance]
//   square_sum in [0, kernels::kMaxVariance] (a clamped running sum of squares)
//   finite    any finite float
enum class Kind { weight, feature, location, variance, square_sum, finite };

inline constexpr float kMaxAbsLocation = 2.0f * SMX_MAX_ABS_FEATURE;

class Writer {
 public:
  explicit Writer(unsigned char* out) : out_(out) {}
  void u32(const uint32_t& v) {
    for (int i = 0; i < 4; ++i) *out_++ = static_cast<unsigned char>(v >> (8 * i));
  }
  void u64(const uint64_t& v) {
    u32(static_cast<uint32_t>(v));
    u32(static_cast<uint32_t>(v >> 32));
  }
  void f32(const float& v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    u32(bits);
  }
  void value(Kind, const float* v) { f32(*v); }

 private:
  unsigned char* out_;
};

class Reader {
 public:
  explicit Reader(const unsigned char* in) : in_(in) {}
  void u32(uint32_t& v) {
    v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(*in_++) << (8 * i);
  }
  void u64(uint64_t& v) {
    uint32_t low, high;
    u32(low);
    u32(high);
    v = low | (static_cast<uint64_t>(high) << 32);
  }
  void f32(float& v) {
    uint32_t bits;
    u32(bits);
    std::memcpy(&v, &bits, 4);
  }
  void value(Kind, float* v) { f32(*v); }

 private:
  const unsigned char* in_;
};

// The little-endian float at p.
inline float f32_at(const unsigned char* p) {
  float v;
  Reader(p).f32(v);
  return v;
}

// True if v satisfies kind (variance_floor: the lower bound of Kind::variance). Out of line
// (snapshot.cpp): both formats' checkers share one copy.
bool value_is_valid(Kind kind, float v, float variance_floor);

// Decodes like Reader and checks every value against its kind; a non-null destination
// receives the value (so that relations between values can be checked afterwards).
class Checker : public Reader {
 public:
  Checker(const unsigned char* in, float variance_floor) : Reader(in), floor_(variance_floor) {}
  void value(Kind kind, float* destination) {
    float v;
    f32(v);
    ok_ = ok_ && is_valid(kind, v);
    if (destination) *destination = v;
  }
  bool is_valid(Kind kind, float v) const { return value_is_valid(kind, v, floor_); }
  bool ok() const { return ok_; }

 private:
  float floor_;
  bool ok_ = true;
};

// Every snapshot starts with u32 magic, u32 version, u32 total bytes and ends with the CRC-32
// of every byte before it.
inline constexpr size_t kSnapshotPreambleBytes = 12;

inline void write_preamble(Writer& w, uint32_t magic, uint32_t version, size_t total) {
  w.u32(magic);
  w.u32(version);
  w.u32(static_cast<uint32_t>(total));
}

// Checks the preamble of a snapshot of at least min_bytes (CRC included) in the len bytes at
// in: magic, version, a length within [min_bytes, len], and the CRC. *length: its length.
// versions: the oldest and newest accepted; *version receives the stored one (if non-null).
inline bool check_preamble(const unsigned char* in, size_t len, uint32_t magic,
                           uint32_t oldest, uint32_t newest, size_t min_bytes, size_t* length,
                           uint32_t* version = nullptr) {
  if (len < min_bytes) return false;
  Reader r(in);
  uint32_t stored_magic, stored_version, stored_length, crc;
  r.u32(stored_magic);
  r.u32(stored_version);
  r.u32(stored_length);
  if (stored_magic != magic || stored_version < oldest || stored_version > newest) return false;
  if (stored_length < min_bytes || stored_length > len) return false;
  Reader(in + stored_length - 4).u32(crc);
  if (crc32(in, stored_length - 4) != crc) return false;
  *length = stored_length;
  if (version != nullptr) *version = stored_version;
  return true;
}

}  // namespace streamix::core

#endif  // STREAMIX_CORE_ARCHIVE_H
