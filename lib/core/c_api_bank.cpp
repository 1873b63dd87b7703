// The C API of banks: every argument validated here, before the core touches the bank.
#include <cstdint>
#include <cstring>

#include "core/bank.h"
#include "core/model.h"
#include "core/snapshot.h"
#include "streamix/streamix.h"

namespace {

using namespace streamix;

using core::is_model;

bool is_bank(const smx_bank* b) { return core::holds_object(b, core::kBankMagic); }

bool is_model_of(const smx_bank* b, uint32_t id) { return is_bank(b) && id < b->models; }

bool models_are_valid(uint32_t models) { return models >= 1 && models <= SMX_MAX_BANK_MODELS; }

// Field by field (smx_config has no padding: twelve 4-byte fields).
bool same_config(const smx_config& a, const smx_config& b) { return std::memcmp(&a, &b, sizeof a) == 0; }
static_assert(sizeof(smx_config) == 12 * 4, "smx_config compares as bytes");

// The scratch model holding model id.
smx_model* gathered(smx_bank* b, uint32_t id) {
  smx_model* m = core::bank_scratch(b);
  core::bank_gather(b, id, m);
  return m;
}

}  // namespace

extern "C" {

smx_status smx_bank_size(const smx_config* cfg, uint32_t models, size_t* bytes) {
  if (cfg == nullptr || bytes == nullptr || !core::config_is_valid(*cfg) || !models_are_valid(models))
    return SMX_ERR_ARGUMENT;
  const size_t n = core::bank_bytes(*cfg, models);
  if (n == 0) return SMX_ERR_ARGUMENT;  // (larger than the address space)
  *bytes = n;
  return SMX_OK;
}

smx_status smx_bank_create(const smx_config* cfg, uint32_t models, void* storage,
                           size_t storage_bytes, smx_bank** bank) {
  size_t needed = 0;
  if (storage == nullptr || bank == nullptr) return SMX_ERR_ARGUMENT;
  const smx_status sized = smx_bank_size(cfg, models, &needed);
  if (sized != SMX_OK) return sized;
  if (!core::storage_fits(storage, storage_bytes, needed)) return SMX_ERR_STORAGE;
  *bank = core::create_bank(*cfg, models, storage);
  return SMX_OK;
}

uint32_t smx_bank_models(const smx_bank* bank) { return is_bank(bank) ? bank->models : 0; }

smx_status smx_bank_config(const smx_bank* bank, smx_config* cfg) {
  if (!is_bank(bank) || cfg == nullptr) return SMX_ERR_ARGUMENT;
  *cfg = bank->config;
  return SMX_OK;
}

smx_status smx_bank_observe(smx_bank* bank, const float* x, float* log_likelihood,
                            smx_status* status) {
  if (!is_bank(bank) || x == nullptr) return SMX_ERR_ARGUMENT;
  return core::bank_observe_all(bank, x, log_likelihood, status);
}

smx_status smx_bank_observe_some(smx_bank* bank, const uint32_t* ids, const float* x, size_t n,
                                 float* log_likelihood, smx_status* status) {
  if (!is_bank(bank)) return SMX_ERR_ARGUMENT;
  if (n == 0) return SMX_OK;
  if (ids == nullptr || x == nullptr) return SMX_ERR_ARGUMENT;
  if (n > SIZE_MAX / sizeof(float) / bank->config.features) return SMX_ERR_ARGUMENT;
  return core::bank_observe_some(bank, ids, x, n, log_likelihood, status);
}

smx_status smx_bank_model_get(const smx_bank* bank, uint32_t id, void* storage,
                              size_t storage_bytes, smx_model** model) {
  if (!is_model_of(bank, id) || storage == nullptr || model == nullptr) return SMX_ERR_ARGUMENT;
  const size_t needed = core::carve_storage(bank->config, nullptr, nullptr);
  if (!core::storage_fits(storage, storage_bytes, needed)) return SMX_ERR_STORAGE;
  if (core::regions_overlap(storage, needed, bank, core::bank_bytes(bank->config, bank->models)))
    return SMX_ERR_ARGUMENT;
  smx_model* m = core::create_model(bank->config, storage);
  core::bank_gather(bank, id, m);
  *model = m;
  return SMX_OK;
}

smx_status smx_bank_model_set(smx_bank* bank, uint32_t id, const smx_model* model) {
  if (!is_model_of(bank, id) || !is_model(model) || !same_config(bank->config, model->config))
    return SMX_ERR_ARGUMENT;
  core::bank_scatter(bank, id, model);
  return SMX_OK;
}

smx_status smx_bank_model_reset(smx_bank* bank, uint32_t id) {
  if (!is_model_of(bank, id)) return SMX_ERR_ARGUMENT;
  core::bank_scatter(bank, id, core::create_model(bank->config, core::bank_scratch(bank)));
  return SMX_OK;
}

// (The scratch model validates the rest, as a lone model does.)
smx_status smx_bank_score(smx_bank* bank, uint32_t id, const float* x, float* log_likelihood) {
  if (!is_model_of(bank, id)) return SMX_ERR_ARGUMENT;
  return smx_score(gathered(bank, id), x, log_likelihood);
}

smx_status smx_bank_get_params(smx_bank* bank, uint32_t id, float* weights, float* means,
                               float* variances) {
  if (!is_model_of(bank, id)) return SMX_ERR_ARGUMENT;
  return smx_model_get_params(gathered(bank, id), weights, means, variances);
}

uint64_t smx_bank_samples_seen(const smx_bank* bank, uint32_t id) {
  return is_model_of(bank, id) ? core::lane_state(bank, id).samples_seen : 0;
}

int smx_bank_is_ready(const smx_bank* bank, uint32_t id) {
  return is_model_of(bank, id) && core::lane_state(bank, id).ready ? 1 : 0;
}

smx_status smx_bank_snapshot_size(const smx_bank* bank, uint32_t id, size_t* bytes) {
  if (!is_model_of(bank, id) || bytes == nullptr) return SMX_ERR_ARGUMENT;
  // The size depends on the config and the buffered and pending counts alone.
  smx_model header{};
  header.config = bank->config;
  header.buffered = core::lane_state(bank, id).buffered;
  header.pending = core::lane_state(bank, id).pending;
  *bytes = core::snapshot_size(&header);
  return SMX_OK;
}

smx_status smx_bank_snapshot_save(smx_bank* bank, uint32_t id, void* buf, size_t buf_bytes,
                                  size_t* written) {
  size_t needed = 0;
  if (buf == nullptr || smx_bank_snapshot_size(bank, id, &needed) != SMX_OK) return SMX_ERR_ARGUMENT;
  if (buf_bytes < needed) return SMX_ERR_STORAGE;
  if (core::regions_overlap(buf, needed, bank, core::bank_bytes(bank->config, bank->models)))
    return SMX_ERR_ARGUMENT;
  const size_t n = core::snapshot_save(gathered(bank, id), static_cast<unsigned char*>(buf));
  if (written) *written = n;
  return SMX_OK;
}

smx_status smx_bank_snapshot_load(smx_bank* bank, uint32_t id, const void* buf, size_t len) {
  if (!is_model_of(bank, id) || buf == nullptr) return SMX_ERR_ARGUMENT;
  const auto* in = static_cast<const unsigned char*>(buf);
  smx_config c;
  size_t total = 0;
  if (!core::snapshot_check(in, len, &c, &total, nullptr)) return SMX_ERR_SNAPSHOT;
  if (!same_config(c, bank->config)) return SMX_ERR_ARGUMENT;
  if (core::regions_overlap(in, total, bank, core::bank_bytes(bank->config, bank->models)))
    return SMX_ERR_ARGUMENT;
  smx_model* m = nullptr;
  core::snapshot_restore(in, c, core::bank_scratch(bank), &m);
  core::bank_scatter(bank, id, m);
  return SMX_OK;
}

}  // extern "C"
