// The C API of detector banks: every argument validated here, before the core touches the
// bank.
#include <cstdint>
#include <cstring>

#include "core/detector_bank.h"
#include "core/model.h"
#include "streamix/streamix.h"

namespace {

using namespace streamix;

bool is_detector_bank(const smx_detector_bank* b) {
  return core::holds_object(b, core::kDetectorBankMagic);
}

bool is_detector_of(const smx_detector_bank* b, uint32_t id) {
  return is_detector_bank(b) && id < b->detectors;
}

bool is_detector(const smx_detector* det) { return core::holds_object(det, core::kDetectorMagic); }

// Field by field (no padding: the model's twelve 4-byte fields and nine more).
bool same_config(const smx_detector_config& a, const smx_detector_config& b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}
static_assert(sizeof(smx_detector_config) == 21 * 4, "smx_detector_config compares as bytes");

size_t bank_storage(const smx_detector_bank* b) {
  return core::detector_bank_bytes(b->config, b->detectors);
}

}  // namespace

extern "C" {

smx_status smx_detector_bank_size(const smx_detector_config* cfg, uint32_t detectors,
                                  size_t* bytes) {
  if (cfg == nullptr || bytes == nullptr || !core::detector_config_is_valid(*cfg) ||
      detectors < 1 || detectors > SMX_MAX_BANK_MODELS)
    return SMX_ERR_ARGUMENT;
  const size_t n = core::detector_bank_bytes(*cfg, detectors);
  if (n == 0) return SMX_ERR_ARGUMENT;  // (larger than the address space)
  *bytes = n;
  return SMX_OK;
}

smx_status smx_detector_bank_create(const smx_detector_config* cfg, uint32_t detectors,
                                    void* storage, size_t storage_bytes,
                                    smx_detector_bank** bank) {
  size_t needed = 0;
  if (storage == nullptr || bank == nullptr) return SMX_ERR_ARGUMENT;
  const smx_status sized = smx_detector_bank_size(cfg, detectors, &needed);
  if (sized != SMX_OK) return sized;
  if (!core::storage_fits(storage, storage_bytes, needed)) return SMX_ERR_STORAGE;
  *bank = core::create_detector_bank(*cfg, detectors, storage);
  return SMX_OK;
}

uint32_t smx_detector_bank_detectors(const smx_detector_bank* bank) {
  return is_detector_bank(bank) ? bank->detectors : 0;
}

smx_status smx_detector_bank_config(const smx_detector_bank* bank, smx_detector_config* cfg) {
  if (!is_detector_bank(bank) || cfg == nullptr) return SMX_ERR_ARGUMENT;
  *cfg = bank->config;
  return SMX_OK;
}

smx_status smx_detector_bank_detect(smx_detector_bank* bank, const float* x, smx_detection* out,
                                    smx_status* status) {
  if (!is_detector_bank(bank) || x == nullptr) return SMX_ERR_ARGUMENT;
  return core::detector_bank_detect_all(bank, x, out, status);
}

smx_status smx_detector_bank_detect_some(smx_detector_bank* bank, const uint32_t* ids,
                                         const float* x, size_t n, smx_detection* out,
                                         smx_status* status) {
  if (!is_detector_bank(bank)) return SMX_ERR_ARGUMENT;
  if (n == 0) return SMX_OK;
  if (ids == nullptr || x == nullptr) return SMX_ERR_ARGUMENT;
  if (n > SIZE_MAX / sizeof(float) / bank->config.features) return SMX_ERR_ARGUMENT;
  return core::detector_bank_detect_some(bank, ids, x, n, out, status);
}

// (set_scaling validates the rest, as on a lone detector)
smx_status smx_detector_bank_set_scaling(smx_detector_bank* bank, uint32_t id,
                                         const float* offsets, const float* scales) {
  if (!is_detector_of(bank, id)) return SMX_ERR_ARGUMENT;
  smx_detector* det = core::gather_detector(bank, id);
  const smx_status s = smx_detector_set_scaling(det, offsets, scales);
  if (s == SMX_OK) core::scatter_detector(bank, id, det);
  return s;
}

smx_status smx_detector_bank_get(smx_detector_bank* bank, uint32_t id, void* storage,
                                 size_t storage_bytes, smx_detector** detector) {
  if (!is_detector_of(bank, id) || storage == nullptr || detector == nullptr) return SMX_ERR_ARGUMENT;
  const size_t needed = core::detector_storage_bytes(bank->config);
  if (!core::storage_fits(storage, storage_bytes, needed)) return SMX_ERR_STORAGE;
  if (core::regions_overlap(storage, needed, bank, bank_storage(bank))) return SMX_ERR_ARGUMENT;
  const smx_detector* det = core::gather_detector(bank, id);
  std::memcpy(storage, det, needed);
  *detector = static_cast<smx_detector*>(storage);
  return SMX_OK;
}

smx_status smx_detector_bank_set(smx_detector_bank* bank, uint32_t id, const smx_detector* det) {
  if (!is_detector_of(bank, id) || !is_detector(det) || !same_config(bank->config, det->config))
    return SMX_ERR_ARGUMENT;
  core::scatter_detector(bank, id, det);
  return SMX_OK;
}

smx_status smx_detector_bank_reset(smx_detector_bank* bank, uint32_t id) {
  if (!is_detector_of(bank, id)) return SMX_ERR_ARGUMENT;
  core::scatter_detector(bank, id, core::fresh_detector(bank));
  return SMX_OK;
}

uint64_t smx_detector_bank_samples_seen(const smx_detector_bank* bank, uint32_t id) {
  return is_detector_of(bank, id) ? core::detector_shell(bank, id)->samples_seen : 0;
}

smx_status smx_detector_bank_snapshot_size(smx_detector_bank* bank, uint32_t id, size_t* bytes) {
  if (!is_detector_of(bank, id) || bytes == nullptr) return SMX_ERR_ARGUMENT;
  *bytes = core::detector_snapshot_size(core::gather_detector(bank, id));
  return SMX_OK;
}

smx_status smx_detector_bank_snapshot_save(smx_detector_bank* bank, uint32_t id, void* buf,
                                           size_t buf_bytes, size_t* written) {
  size_t needed = 0;
  if (buf == nullptr || smx_detector_bank_snapshot_size(bank, id, &needed) != SMX_OK)
    return SMX_ERR_ARGUMENT;
  if (buf_bytes < needed) return SMX_ERR_STORAGE;
  if (core::regions_overlap(buf, needed, bank, bank_storage(bank))) return SMX_ERR_ARGUMENT;
  // (the scratch detector still holds detector id)
  const size_t n = core::detector_snapshot_save(core::gather_detector(bank, id),
                                                static_cast<unsigned char*>(buf));
  if (written) *written = n;
  return SMX_OK;
}

smx_status smx_detector_bank_snapshot_load(smx_detector_bank* bank, uint32_t id, const void* buf,
                                           size_t len) {
  if (!is_detector_of(bank, id) || buf == nullptr) return SMX_ERR_ARGUMENT;
  const auto* in = static_cast<const unsigned char*>(buf);
  smx_detector_config c;
  size_t total = 0;
  if (!core::detector_snapshot_check(in, len, &c, &total)) return SMX_ERR_SNAPSHOT;
  if (!same_config(c, bank->config)) return SMX_ERR_ARGUMENT;
  if (core::regions_overlap(in, total, bank, bank_storage(bank))) return SMX_ERR_ARGUMENT;
  // Into the scratch detector (checked above: the load succeeds), then into the bank.
  const size_t scratch_bytes = core::detector_storage_bytes(bank->config);
  void* scratch = core::fresh_detector(bank);
  smx_detector* det = nullptr;
  if (core::detector_snapshot_load(in, total, scratch, scratch_bytes, &det) != SMX_OK)
    return SMX_ERR_SNAPSHOT;
  core::scatter_detector(bank, id, det);
  return SMX_OK;
}

}  // extern "C"
