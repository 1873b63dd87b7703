// libFuzzer target, structure-aware: the bytes are a model or detector snapshot whose magic,
// version, lengths and CRCs are repaired before loading (tests/snapshot_forge.h), so that
// mutations reach the loaders' semantic checks instead of dying at the CRC (fuzz_snapshot,
// on raw bytes, stalls there). It asserts the loader's contract both ways:
//   rejected => the target storage is untouched;
//   accepted => 300 further readings give finite, in-range outputs, and the snapshot saved
//               after them loads again (a loaded state only leads to loadable states).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "snapshot_forge.h"
#include "fuzz_require.h"
#include "streamix/streamix.h"

namespace {

constexpr size_t kStorageBytes = 1 << 20;
alignas(64) unsigned char g_storage[kStorageBytes];
alignas(64) unsigned char g_again[kStorageBytes];
constexpr size_t kSentinelBytes = 4096;  // loading writes the header and arrays first

void paint() { std::memset(g_storage, 0xA5, kSentinelBytes); }
bool painted() {
  for (size_t i = 0; i < kSentinelBytes; ++i) {
    if (g_storage[i] != 0xA5) return false;
  }
  return true;
}

// Readings for the loaded state: ordinary values, the state's own scale, and the extremes,
// from a generator seeded by the input.
struct Readings {
  uint32_t state;
  float next() {
    state = state * 1664525u + 1013904223u;
    const float unit = static_cast<float>(state >> 8) / 16777216.0f - 0.5f;  // [-0.5, 0.5)
    switch (state % 8) {
      case 0: return SMX_MAX_ABS_FEATURE * 2.0f * unit;
      case 1: return 1e10f * unit;
      default: return 8.0f * unit;
    }
  }
};

void fuzz_model(std::vector<unsigned char>& s, Readings& readings) {
  paint();
  smx_model* m = nullptr;
  const smx_status status = smx_snapshot_load(s.data(), s.size(), g_storage, kStorageBytes, &m);
  if (status != SMX_OK) {
    require(status == SMX_ERR_SNAPSHOT || status == SMX_ERR_STORAGE);
    require(painted());
    return;
  }
  smx_config c;
  require(smx_model_config(m, &c) == SMX_OK);
  std::vector<float> x(c.features);
  for (int i = 0; i < 300; ++i) {
    for (float& v : x) v = readings.next();
    const bool ready = smx_is_ready(m);
    float log_p = 0.0f;
    const smx_status st = smx_observe(m, x.data(), &log_p);
    require(st == SMX_OK || (st == SMX_ERR_NOT_READY && c.init_samples == 0));
    if (st == SMX_OK && ready) require(!std::isnan(log_p) && log_p != INFINITY);
  }
  size_t bytes = 0, written = 0;
  require(smx_snapshot_size(m, &bytes) == SMX_OK);
  std::vector<unsigned char> again(bytes);
  require(smx_snapshot_save(m, again.data(), bytes, &written) == SMX_OK);
  smx_model* reloaded = nullptr;
  require(smx_snapshot_load(again.data(), written, g_again, kStorageBytes, &reloaded) == SMX_OK);
}

void fuzz_detector(std::vector<unsigned char>& s, Readings& readings) {
  paint();
  smx_detector* det = nullptr;
  const smx_status status =
      smx_detector_snapshot_load(s.data(), s.size(), g_storage, kStorageBytes, &det);
  if (status != SMX_OK) {
    require(status == SMX_ERR_SNAPSHOT || status == SMX_ERR_STORAGE);
    require(painted());
    return;
  }
  smx_detector_config c;
  require(smx_detector_config_get(det, &c) == SMX_OK);
  std::vector<float> x(c.features);
  for (int i = 0; i < 300; ++i) {
    for (float& v : x) v = readings.next();
    smx_detection d{};
    const smx_status st = smx_detect(det, x.data(), &d);
    require(st == SMX_OK || st == SMX_ERR_INPUT);
    if (st != SMX_OK) continue;
    require(d.probability >= 0.0f && d.probability <= 1.0f);
    require(!std::isinf(d.threshold) && d.score != -INFINITY);
    require(d.surprise >= 0.0f && d.anomaly_score >= 0.0f && d.anomaly_score <= 1.0f);
    // An alarm is the model's (score past the threshold) or a spike's (surprise at least the
    // alarm's).
    require(!d.is_anomaly || d.score > d.threshold || d.surprise >= -std::log10(c.alarm_rate));
    require(d.top_feature >= -1 && d.top_feature < static_cast<int32_t>(c.features));
  }
  size_t bytes = 0, written = 0;
  require(smx_detector_snapshot_size(det, &bytes) == SMX_OK);
  std::vector<unsigned char> again(bytes);
  require(smx_detector_snapshot_save(det, again.data(), bytes, &written) == SMX_OK);
  smx_detector* reloaded = nullptr;
  require(smx_detector_snapshot_load(again.data(), written, g_again, kStorageBytes, &reloaded) ==
          SMX_OK);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;  // no buffer: an argument error, tested in api_test
  std::vector<unsigned char> s(data, data + size);
  forge::repair(s);
  Readings readings{static_cast<uint32_t>(size) * 2654435761u};
  if (s.size() >= 4 && forge::get_u32(s.data()) == forge::kDetectorMagic) {
    fuzz_detector(s, readings);
  } else {
    fuzz_model(s, readings);
  }
  return 0;
}
