#include "keyed_detectors.h"

#include <utility>

#include "io.h"

namespace streamix::host {

namespace {

constexpr uint32_t kMagic = 0x4B584D53u;  // bytes "SMXK"
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 16;  // magic, version, total bytes, key count

// Reads a u32 at `at` if 4 bytes remain, advancing `at`.
bool get_u32(const std::vector<unsigned char>& in, size_t& at, uint32_t& v) {
  if (in.size() - at < 4) return false;
  v = u32_le(in.data() + at);
  at += 4;
  return true;
}

}  // namespace

bool KeyedDetectors::find_or_add(const std::string& key, size_t& index, std::string& error) {
  const auto found = index_.find(key);
  if (found != index_.end()) return index = found->second, true;
  if (detectors_.size() >= capacity_) {
    error = "key '" + printable(key) + "' is new and --max-keys " + std::to_string(capacity_) +
            " keys are in use";
    return false;
  }
  detector fresh;
  if (detector::load(start_, fresh) != status::ok) {
    error = "out of memory for key '" + printable(key) + "'";
    return false;
  }
  index = detectors_.size();
  index_.emplace(key, index);
  keys_.push_back(key);
  detectors_.push_back(std::move(fresh));
  return true;
}

bool KeyedDetectors::is_keyed_file(const std::vector<unsigned char>& bytes) {
  size_t at = 0;
  uint32_t magic = 0;
  return get_u32(bytes, at, magic) && magic == kMagic;
}

bool KeyedDetectors::save(std::vector<unsigned char>& out) const {
  out.clear();
  put_u32_le(out, kMagic);
  put_u32_le(out, kVersion);
  put_u32_le(out, 0);  // total bytes, below
  put_u32_le(out, static_cast<uint32_t>(detectors_.size()));
  std::vector<unsigned char> snapshot;
  for (size_t i = 0; i < detectors_.size(); ++i) {
    size_t bytes = 0, written = 0;
    if (detectors_[i].snapshot_size(bytes) != status::ok) return false;
    snapshot.resize(bytes);
    if (detectors_[i].save(snapshot, written) != status::ok) return false;
    put_u32_le(out, static_cast<uint32_t>(keys_[i].size()));
    out.insert(out.end(), keys_[i].begin(), keys_[i].end());
    put_u32_le(out, static_cast<uint32_t>(written));
    out.insert(out.end(), snapshot.begin(), snapshot.begin() + static_cast<std::ptrdiff_t>(written));
  }
  if (out.size() > UINT32_MAX) return false;
  const uint32_t total = static_cast<uint32_t>(out.size());
  for (int i = 0; i < 4; ++i) out[8 + i] = static_cast<unsigned char>(total >> (8 * i));
  return true;
}

bool KeyedDetectors::load(const std::vector<unsigned char>& bytes, uint32_t features,
                          std::string& error) {
  size_t at = 0;
  uint32_t magic = 0, version = 0, total = 0, count = 0;
  if (!get_u32(bytes, at, magic) || !get_u32(bytes, at, version) || !get_u32(bytes, at, total) ||
      !get_u32(bytes, at, count) || magic != kMagic || total != bytes.size()) {
    error = "not a complete keyed detector file";
    return false;
  }
  if (version != kVersion) {
    error = "a keyed detector file of version " + std::to_string(version) + " (this is version 1)";
    return false;
  }
  if (count > capacity_) {
    error = "the file holds " + std::to_string(count) + " keys, --max-keys is " + std::to_string(capacity_);
    return false;
  }
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t key_bytes = 0, snapshot_bytes = 0;
    if (!get_u32(bytes, at, key_bytes) || bytes.size() - at < key_bytes) {
      error = "key " + std::to_string(i + 1) + " is cut short";
      return false;
    }
    const std::string key(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                          bytes.begin() + static_cast<std::ptrdiff_t>(at + key_bytes));
    at += key_bytes;
    if (!get_u32(bytes, at, snapshot_bytes) || bytes.size() - at < snapshot_bytes) {
      error = "the detector of key '" + printable(key) + "' is cut short";
      return false;
    }
    detector d;
    const status s = detector::load({bytes.data() + at, snapshot_bytes}, d);
    at += snapshot_bytes;
    if (s != status::ok) {
      error = "the detector of key '" + printable(key) + "': " + to_string(s);
      return false;
    }
    if (d.features() != features) {
      error = "the detector of key '" + printable(key) + "' has " + std::to_string(d.features()) +
              " features, the input " + std::to_string(features);
      return false;
    }
    if (!index_.emplace(key, detectors_.size()).second) {
      error = "key '" + printable(key) + "' appears twice";
      return false;
    }
    keys_.push_back(key);
    detectors_.push_back(std::move(d));
  }
  if (at != bytes.size()) {
    error = "bytes after the last key";
    return false;
  }
  return true;
}

}  // namespace streamix::host
