// `streamix detect --key COLUMN`: one detector per distinct value of a key column (long-format
// input, `sensor_id,time,value,...`), up to a capacity, each created on its key's first row
// from one starting detector (the options' fresh detector, or a saved one), and all of them
// saved to and loaded from one file.
//
// The file: u32 magic "SMXK", u32 version 1, u32 total bytes, u32 key count, then per key
// u32 key length, the key's bytes, u32 snapshot length and an ordinary detector snapshot
// (each with its own CRC-32); all little-endian, nothing after the last record. The key
// texts carry no checksum of their own: a damaged length or snapshot is rejected, a damaged
// key byte is not detected.
#ifndef STREAMIX_HOST_KEYED_DETECTORS_H
#define STREAMIX_HOST_KEYED_DETECTORS_H

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "streamix/streamix.hpp"

namespace streamix::host {

class KeyedDetectors {
 public:
  // Detectors for at most `capacity` keys, each starting as the detector whose snapshot is
  // `start` (kept as bytes: a new key loads them).
  KeyedDetectors(std::vector<unsigned char> start, uint64_t capacity)
      : start_(std::move(start)), capacity_(capacity) {}

  // The index of `key`'s detector, created on its first row; false with `error` set when
  // the key is new and the capacity is reached (or memory is out).
  bool find_or_add(const std::string& key, size_t& index, std::string& error);

  size_t size() const { return detectors_.size(); }
  const std::string& key(size_t i) const { return keys_[i]; }
  detector& at(size_t i) { return detectors_[i]; }
  const detector& at(size_t i) const { return detectors_[i]; }

  // Whether bytes are a keyed file (its magic), and the file of every key in first-seen order.
  static bool is_keyed_file(const std::vector<unsigned char>& bytes);
  bool save(std::vector<unsigned char>& out) const;
  // Restores every key of a keyed file (its detectors must read `features` features); false
  // with error for a malformed file, a bad snapshot, a repeated key or more keys than the
  // capacity.
  bool load(const std::vector<unsigned char>& bytes, uint32_t features, std::string& error);

 private:
  std::vector<unsigned char> start_;
  uint64_t capacity_;
  std::unordered_map<std::string, size_t> index_;
  std::vector<std::string> keys_;
  std::vector<detector> detectors_;
};

}  // namespace streamix::host

#endif  // STREAMIX_HOST_KEYED_DETECTORS_H
