// libFuzzer target: smx_snapshot_load and smx_detector_snapshot_load on arbitrary bytes. A
// rejected buffer must leave the target storage untouched and return SMX_ERR_SNAPSHOT or
// SMX_ERR_STORAGE; an accepted one must give a working model (detector) whose snapshot is
// the same bytes again.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_require.h"
#include "streamix/streamix.h"

namespace {

constexpr size_t kStorageBytes = 1 << 20;
alignas(64) unsigned char g_storage[kStorageBytes];
constexpr size_t kSentinelBytes = 4096;  // create_model writes the header and arrays first

void paint_storage() { std::memset(g_storage, 0xA5, kSentinelBytes); }

// After a load into the painted storage: a rejection must be a snapshot or storage error
// that left the storage untouched. True if the load was accepted.
bool accepted(smx_status status) {
  if (status == SMX_OK) return true;
  require(status == SMX_ERR_SNAPSHOT || status == SMX_ERR_STORAGE);
  for (size_t i = 0; i < kSentinelBytes; ++i) require(g_storage[i] == 0xA5);
  return false;
}

// The detector loader on the same bytes (the seeds include detector snapshots).
void fuzz_detector(const uint8_t* data, size_t size) {
  paint_storage();
  smx_detector* det = nullptr;
  if (!accepted(smx_detector_snapshot_load(data, size, g_storage, kStorageBytes, &det))) return;
  size_t bytes = 0, written = 0;
  smx_detector_config cfg;
  require(smx_detector_config_get(det, &cfg) == SMX_OK);
  require(smx_detector_snapshot_size(det, &bytes) == SMX_OK);
  std::vector<unsigned char> again(bytes);
  require(smx_detector_snapshot_save(det, again.data(), again.size(), &written) == SMX_OK);
  require(written == bytes);
  if (data[4] < 3) {
    // Formats 1 (no innovation array) and 2 (no seed) save as format 3, longer by those
    // arrays and the restarted flag, which loads and saves itself back.
    const size_t stored = size_t{data[8]} | size_t{data[9]} << 8 | size_t{data[10]} << 16 |
                          size_t{data[11]} << 24;  // the snapshot's own length field
    const size_t grown = 4 * size_t{cfg.features} * (data[4] == 1 ? 3 : 2) + 4;
    require(bytes == stored + grown && again[4] == 3);
    smx_detector* reloaded = nullptr;
    require(smx_detector_snapshot_load(again.data(), again.size(), g_storage, kStorageBytes,
                                       &reloaded) == SMX_OK);
    std::vector<unsigned char> twice(bytes);
    require(smx_detector_snapshot_save(reloaded, twice.data(), twice.size(), &written) == SMX_OK);
    require(twice == again);
    det = reloaded;
  } else {
    require(bytes <= size && std::memcmp(again.data(), data, bytes) == 0);
  }
  std::vector<float> x(cfg.features, 0.25f);
  smx_detection d{};
  const smx_status s = smx_detect(det, x.data(), &d);
  require(s == SMX_OK || s == SMX_ERR_INPUT);
  require(s != SMX_OK || (d.probability >= 0.0f && d.probability <= 1.0f));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz_detector(data, size);
  paint_storage();
  smx_model* model = nullptr;
  if (!accepted(smx_snapshot_load(data, size, g_storage, kStorageBytes, &model))) return 0;
  size_t bytes = 0;
  require(smx_snapshot_size(model, &bytes) == SMX_OK && bytes <= size);
  std::vector<unsigned char> again(bytes);
  size_t written = 0;
  require(smx_snapshot_save(model, again.data(), again.size(), &written) == SMX_OK);
  require(written == bytes && std::memcmp(again.data(), data, bytes) == 0);
  // The loaded model works: a sample near the origin scores and learns without NaN.
  smx_config cfg;
  require(smx_model_config(model, &cfg) == SMX_OK);
  std::vector<float> x(cfg.features, 0.25f);
  float log_p = 0.0f;
  const int ready = smx_is_ready(model);
  if (ready) {
    require(smx_score(model, x.data(), &log_p) == SMX_OK && !std::isnan(log_p));
  }
  require(smx_observe(model, x.data(), &log_p) == SMX_OK);
  require(!ready || !std::isnan(log_p));
  return 0;
}
