// libFuzzer target: arbitrary sequences of C API calls with arbitrary configs, kernels and
// float bit patterns (NaN payloads, infinities, denormals, huge values). After each call: a
// rejected call left the storage bit-for-bit unchanged; an accepted one left the model's
// parameters finite (weights in [0, 1], variances at or above the floor).
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <vector>

#include "bank_arithmetic.h"
#include "fuzz_require.h"
#include "streamix/streamix.h"

namespace {

constexpr uint32_t kMaxK = 8, kMaxD = 8, kMaxN = 64, kMaxBatch = 16;
constexpr size_t kStorageBytes = SMX_MODEL_BATCH_BYTES(kMaxK, kMaxD, kMaxN, 1, kMaxBatch);
alignas(64) unsigned char g_storage[kStorageBytes];
alignas(64) unsigned char g_before[kStorageBytes];
alignas(64) unsigned char g_loaded[kStorageBytes];
unsigned char g_snapshot[kStorageBytes + 1024];
// A bank of the model's config, and a lone twin of its model 0 (fed model 0's readings).
constexpr uint32_t kBankModels = 20;
constexpr size_t kBankBytes = SMX_BANK_BYTES(kMaxK, kMaxD, kMaxN, 1, kMaxBatch, kBankModels);
alignas(64) unsigned char g_bank[kBankBytes];
alignas(64) unsigned char g_twin[kStorageBytes];
unsigned char g_twin_snapshot[kStorageBytes + 1024];
// A detector bank around the model's config (one view), and a lone twin of its detector 0.
constexpr size_t kDetectorBankBytes =
    SMX_DETECTOR_BANK_BYTES(kMaxK, kMaxD, 1, kMaxN, 1, kMaxBatch, kBankModels);
constexpr size_t kDetectorBytes = SMX_DETECTOR_BATCH_BYTES(kMaxK, kMaxD, 1, kMaxN, 1, kMaxBatch);
alignas(64) unsigned char g_detector_bank[kDetectorBankBytes];
alignas(64) unsigned char g_detector_twin[kDetectorBytes];
alignas(64) unsigned char g_detector_copy[kDetectorBytes];

class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return used_ >= size_; }
  uint8_t byte() { return used_ < size_ ? data_[used_++] : 0; }
  uint32_t u32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t{byte()} << (8 * i);
    return v;
  }
  float f32() {  // any bit pattern
    const uint32_t bits = u32();
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
  }
  // Mostly tame values so the model gets somewhere, sometimes any bit pattern.
  float feature() {
    const uint8_t kind = byte();
    if (kind < 160) return static_cast<float>(static_cast<int8_t>(byte())) / 16.0f;
    if (kind < 200) return static_cast<float>(static_cast<int16_t>(u32())) * 1e15f;
    return f32();
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t used_ = 0;
};

// Every accepted call must leave a model whose parameters are finite and within the floors.
void check_model(const smx_model* m, const smx_config& c) {
  if (!smx_is_ready(m)) return;
  float w[kMaxK], mean[kMaxK * kMaxD], var[kMaxK * kMaxD];
  require(smx_model_get_params(m, w, mean, var) == SMX_OK);
  for (uint32_t k = 0; k < c.components; ++k) {
    for (uint32_t d = 0; d < c.features; ++d) {
      const float mu = mean[k * c.features + d], v = var[k * c.features + d];
      if (!(w[k] >= 0.0f && w[k] <= 1.0f) || !std::isfinite(mu) || !std::isfinite(v) ||
          !(v >= c.variance_floor)) {
        std::fprintf(stderr, "bad parameters: k=%u d=%u weight=%g mean=%g variance=%g (floor %g)\n",
                     k, d, w[k], mu, v, c.variance_floor);
        __builtin_trap();
      }
    }
  }
}

// Bank model 0 against its twin, and the n models `ids` (those a call touched) sane.
void check_bank(smx_bank* bank, const smx_model* twin, const smx_config& c, const uint32_t* ids,
                size_t n) {
  size_t a = 0, b = 0;
  require(smx_bank_snapshot_save(bank, 0, g_snapshot, sizeof g_snapshot, &a) == SMX_OK);
  require(smx_snapshot_save(twin, g_twin_snapshot, sizeof g_twin_snapshot, &b) == SMX_OK);
  require(a == b);
  if (same_arithmetic(c)) require(std::memcmp(g_snapshot, g_twin_snapshot, a) == 0);
  smx_model* reloaded = nullptr;  // every state a bank model reaches saves to a snapshot that loads
  require(smx_snapshot_load(g_snapshot, a, g_loaded, kStorageBytes, &reloaded) == SMX_OK);
  for (size_t i = 0; i < n; ++i) {
    if (ids[i] >= kBankModels) continue;
    smx_model* copy = nullptr;
    require(smx_bank_model_get(bank, ids[i], g_loaded, kStorageBytes, &copy) == SMX_OK);
    check_model(copy, c);
  }
}

bool same_detection(const smx_detection& a, const smx_detection& b) {
  return std::memcmp(&a, &b, sizeof a) == 0 ||
         (std::isnan(a.score) && std::isnan(b.score) && a.top_feature == b.top_feature &&
          a.is_anomaly == b.is_anomaly);
}

// Readings for some detectors of the bank (ids past it too), detector 0's also to its twin:
// per-reading statuses, counts, detections in range; detector 0 equals its twin (bit for bit
// where the arithmetic is the same), and every touched detector saves a snapshot that loads.
void detect_some(Input& in, smx_detector_bank* bank, smx_detector* twin, const smx_config& c) {
  constexpr size_t kMaxReadings = 2 * kMaxBatch;
  const uint32_t dd = c.features;
  const size_t n = in.byte() % (kMaxReadings + 1);
  uint32_t ids[kMaxReadings];
  float x[kMaxReadings * kMaxD];
  smx_status statuses[kMaxReadings];
  smx_detection out[kMaxReadings];
  uint64_t seen[kBankModels] = {}, accepted[kBankModels] = {};
  for (size_t i = 0; i < n; ++i) ids[i] = in.byte() % (kBankModels + 2);
  for (uint32_t id = 0; id < kBankModels; ++id) seen[id] = smx_detector_bank_samples_seen(bank, id);
  for (size_t i = 0; i < n * dd; ++i) x[i] = in.byte() < 16 ? 1.8e19f : in.feature();
  const smx_status all = smx_detector_bank_detect_some(bank, ids, x, n, out, statuses);
  smx_status first_rejected = SMX_OK;
  for (size_t i = 0; i < n; ++i) {
    if (first_rejected == SMX_OK) first_rejected = statuses[i];
    if (statuses[i] != SMX_OK) {
      require(std::isnan(out[i].score) && out[i].is_anomaly == 0);
      continue;
    }
    require(ids[i] < kBankModels);
    const smx_detection& d = out[i];
    require(d.probability >= 0.0f && d.probability <= 1.0f && d.anomaly_score >= 0.0f &&
            d.anomaly_score <= 1.0f && d.top_feature >= -1 && d.top_feature < int32_t(dd));
    ++accepted[ids[i]];
    if (ids[i] == 0) {
      smx_detection expected;
      require(smx_detect(twin, x + i * dd, &expected) == SMX_OK);
      if (same_arithmetic(c)) require(same_detection(d, expected));
    }
  }
  require(all == first_rejected);
  for (uint32_t id = 0; id < kBankModels; ++id) {
    const uint64_t now = smx_detector_bank_samples_seen(bank, id);
    // (a glitch among the first two readings restarts a stream: it counts from the third)
    require(now == seen[id] + accepted[id] || (accepted[id] > 0 && now < seen[id] + accepted[id]));
  }
  size_t a = 0, b = 0;
  require(smx_detector_bank_snapshot_save(bank, 0, g_snapshot, sizeof g_snapshot, &a) == SMX_OK);
  require(smx_detector_snapshot_save(twin, g_twin_snapshot, sizeof g_twin_snapshot, &b) == SMX_OK);
  require(a == b);
  if (same_arithmetic(c)) require(std::memcmp(g_snapshot, g_twin_snapshot, a) == 0);
  for (size_t i = 0; i < n; ++i) {
    if (ids[i] >= kBankModels) continue;
    require(smx_detector_bank_snapshot_save(bank, ids[i], g_snapshot, sizeof g_snapshot, &a) == SMX_OK);
    smx_detector* reloaded = nullptr;
    require(smx_detector_snapshot_load(g_snapshot, a, g_detector_copy, kDetectorBytes, &reloaded) == SMX_OK);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  static const char* const kKernels[] = {"highway", "scalar", "xsimd", "highway:AVX2",
                                         "highway:SSE4", "highway:SCALAR"};
  (void)smx_select_kernels(kKernels[in.byte() % 6]);  // unavailable ones keep the last

  smx_config c;
  smx_config_init(&c, 1 + in.byte() % kMaxK, 1 + in.byte() % kMaxD);
  c.init_samples = in.byte() % (kMaxN + 1);
  c.average_from = in.byte() % 4;
  const uint8_t raw = in.byte();  // each bit: replace one field by an arbitrary bit pattern
  if (raw & 1) c.step_exponent = in.f32();
  if (raw & 2) c.step_offset = in.f32();
  if (raw & 4) c.step_floor = in.f32();
  if (raw & 8) c.variance_floor = in.f32();
  if (raw & 16) c.weight_floor = in.f32();
  if (raw & 32) c.hold_samples = in.u32();
  if (raw & 64) c.seed = in.u32();
  c.batch_size = raw & 128 ? in.u32() : 1 + in.byte() % kMaxBatch;
  smx_model* m = nullptr;
  const smx_status created = smx_model_create(&c, g_storage, kStorageBytes, &m);
  if (created != SMX_OK) {
    require(created == SMX_ERR_ARGUMENT || created == SMX_ERR_STORAGE);
    return 0;
  }
  size_t bytes = 0;
  require(smx_model_size(&c, &bytes) == SMX_OK && bytes <= kStorageBytes);
  const uint32_t kk = c.components, dd = c.features;
  smx_bank* bank = nullptr;
  require(smx_bank_create(&c, kBankModels, g_bank, kBankBytes, &bank) == SMX_OK);
  smx_model* twin = nullptr;
  require(smx_model_create(&c, g_twin, kStorageBytes, &twin) == SMX_OK);
  size_t bank_bytes = 0;
  require(smx_bank_size(&c, kBankModels, &bank_bytes) == SMX_OK && bank_bytes <= kBankBytes);
  // The detector bank, made at its first call (most runs never reach it), for the configs
  // a detector takes (a warm-up of two readings or more for its scaling).
  smx_detector_bank* detectors = nullptr;
  smx_detector* detector_twin = nullptr;
  bool detectors_tried = false;
  float x[2 * kMaxBatch * kMaxD], out[kMaxK * kMaxD * 2 + 2 * kMaxBatch], w[kMaxK], mean[kMaxK * kMaxD], var[kMaxK * kMaxD];

  for (int call = 0; call < 256 && !in.empty(); ++call) {
    std::memcpy(g_before, g_storage, bytes);
    const int ready_before = smx_is_ready(m);
    smx_status s = SMX_OK;
    float log_p = 0.0f;
    switch (in.byte() % 14) {
      case 0:
        for (uint32_t d = 0; d < dd; ++d) x[d] = in.feature();
        s = smx_observe(m, x, &log_p);
        if (s == SMX_OK && ready_before) require(!std::isnan(log_p));
        break;
      case 1:
        for (uint32_t d = 0; d < dd; ++d) x[d] = in.feature();
        s = smx_score(m, x, &log_p);
        if (s == SMX_OK) require(!std::isnan(log_p));
        break;
      case 2:
        for (uint32_t d = 0; d < dd; ++d) x[d] = in.feature();
        s = smx_responsibilities(m, x, out);
        if (s == SMX_OK) {
          for (uint32_t k = 0; k < kk; ++k) require(out[k] >= 0.0f && out[k] <= 1.0f);
        }
        break;
      case 3:
        for (uint32_t k = 0; k < kk; ++k) w[k] = in.byte() < 200 ? in.byte() / 8.0f : in.f32();
        for (uint32_t i = 0; i < kk * dd; ++i) mean[i] = in.feature();
        for (uint32_t i = 0; i < kk * dd; ++i) var[i] = in.byte() < 200 ? 0.01f + in.byte() : in.f32();
        s = smx_model_set_params(m, w, mean, var);
        break;
      case 4:
        s = smx_model_get_params(m, w, mean, var);
        break;
      case 5: {  // snapshot round trip: the loaded model scores like the original
        size_t written = 0;
        s = smx_snapshot_save(m, g_snapshot, sizeof g_snapshot, &written);
        if (s != SMX_OK) break;
        smx_model* loaded = nullptr;
        require(smx_snapshot_load(g_snapshot, written, g_loaded, kStorageBytes, &loaded) == SMX_OK);
        for (uint32_t d = 0; d < dd; ++d) x[d] = in.feature();
        float a = 0.0f, b = 0.0f;
        const smx_status sa = smx_score(m, x, &a), sb = smx_score(loaded, x, &b);
        require(sa == sb && (sa != SMX_OK || std::memcmp(&a, &b, 4) == 0));
        break;
      }
      case 6: {
        const size_t n = 1 + in.byte() % 4;
        for (size_t i = 0; i < n * dd; ++i) x[i] = in.feature();
        s = smx_score_batch(m, x, n, out);
        if (s == SMX_OK) {
          for (size_t i = 0; i < n; ++i) require(!std::isnan(out[i]));
        }
        break;
      }
      case 7: {  // a burst of tame samples around a few centers, to reach the M-step quickly
        const uint8_t seed = in.byte();
        for (int i = 0; i < 48; ++i) {
          for (uint32_t d = 0; d < dd; ++d) {
            x[d] = static_cast<float>(((seed + i * 7 + d * 3) % 5) * 4) + 0.01f * static_cast<float>((i * 13 + d) % 17);
          }
          std::memcpy(g_before, g_storage, bytes);
          if (smx_observe(m, x, &log_p) != SMX_OK) {
            require(std::memcmp(g_before, g_storage, bytes) == 0);  // (no warm-up buffer)
            break;
          }
          check_model(m, c);
        }
        s = SMX_OK;  // every call of the burst was checked above
        break;
      }
      case 9: {  // merge a copy that learned on: this model's snapshot, loaded and fed
        size_t written = 0;
        smx_model* other = nullptr;
        if (smx_snapshot_save(m, g_snapshot, sizeof g_snapshot, &written) != SMX_OK ||
            smx_snapshot_load(g_snapshot, written, g_loaded, kStorageBytes, &other) != SMX_OK) {
          __builtin_trap();  // every state saves to a snapshot that loads
        }
        for (int i = in.byte() % 8; i > 0; --i) {
          for (uint32_t d = 0; d < dd; ++d) x[d] = in.feature();
          (void)smx_observe(other, x, nullptr);
        }
        const float weight = in.byte() < 128 ? in.byte() / 255.0f : in.f32();
        alignas(64) static unsigned char other_before[kStorageBytes];
        std::memcpy(other_before, g_loaded, bytes);
        std::memcpy(g_before, g_storage, bytes);
        s = smx_model_merge(m, other, weight);
        require(std::memcmp(other_before, g_loaded, bytes) == 0);  // from is only read
        if (s == SMX_OK) {
          require(weight > 0.0f && weight <= 1.0f && smx_is_ready(m));
          written = 0;
          require(smx_snapshot_save(m, g_snapshot, sizeof g_snapshot, &written) == SMX_OK);
          smx_model* reloaded = nullptr;
          require(smx_snapshot_load(g_snapshot, written, g_loaded, kStorageBytes, &reloaded) == SMX_OK);
        } else {
          require(s == SMX_ERR_ARGUMENT || s == SMX_ERR_NOT_READY);
        }
        break;
      }
      case 10: {  // rows in one call: mini-batches straight from them, and pending ones
        const size_t n = in.byte() % (2 * kMaxBatch + 1);
        for (size_t i = 0; i < n * dd; ++i) x[i] = in.feature();
        for (size_t i = 0; i < n; ++i) out[i] = 12345.0f;
        s = smx_observe_batch(m, x, n, out);
        if (s != SMX_OK) {
          for (size_t i = 0; i < n; ++i) require(out[i] == 12345.0f);  // untouched
        }
        break;
      }
      case 11: {  // readings for some models of the bank (ids past it too), model 0's also to its twin
        const size_t n = in.byte() % (2 * kMaxBatch + 1);
        uint32_t ids[2 * kMaxBatch];
        smx_status statuses[2 * kMaxBatch];
        uint64_t seen[kBankModels + 2] = {};
        for (size_t i = 0; i < n; ++i) ids[i] = in.byte() % (kBankModels + 2);
        for (size_t i = 0; i < n; ++i) {
          if (ids[i] < kBankModels) seen[ids[i]] = smx_bank_samples_seen(bank, ids[i]);
        }
        for (size_t i = 0; i < n * dd; ++i) x[i] = in.byte() < 16 ? 1.8e19f : in.feature();
        const smx_status all = smx_bank_observe_some(bank, ids, x, n, out, statuses);
        uint64_t accepted[kBankModels + 2] = {};
        smx_status first_rejected = SMX_OK;
        for (size_t i = 0; i < n; ++i) {
          require(statuses[i] != SMX_OK || ids[i] < kBankModels);
          if (first_rejected == SMX_OK) first_rejected = statuses[i];
          if (statuses[i] != SMX_OK) {
            require(std::isnan(out[i]));
            continue;
          }
          ++accepted[ids[i]];
          if (ids[i] == 0) {
            float twin_log_p = 0.0f;
            require(smx_observe(twin, x + i * dd, &twin_log_p) == SMX_OK);
            require(std::isnan(twin_log_p) == std::isnan(out[i]));
          }
        }
        require(all == first_rejected);
        for (uint32_t id = 0; id < kBankModels; ++id) {
          if (seen[id] || accepted[id]) require(smx_bank_samples_seen(bank, id) == seen[id] + accepted[id]);
        }
        check_bank(bank, twin, c, ids, n);
        s = SMX_OK;  // (the bank and its twin were checked; the lone model is untouched)
        break;
      }
      case 12: {  // one model of the bank from the lone model, reset, or from its snapshot
        const uint32_t id = in.byte() % kBankModels;
        const uint8_t how = in.byte() % 3;
        size_t written = 0;
        if (how == 0) {
          require(smx_bank_model_set(bank, id, m) == SMX_OK);
        } else if (how == 1) {
          require(smx_bank_model_reset(bank, id) == SMX_OK);
        } else {
          require(smx_snapshot_save(m, g_snapshot, sizeof g_snapshot, &written) == SMX_OK);
          require(smx_bank_snapshot_load(bank, id, g_snapshot, written) == SMX_OK);
        }
        if (id == 0) {  // the twin follows
          if (how == 1) {
            require(smx_model_create(&c, g_twin, kStorageBytes, &twin) == SMX_OK);
          } else {
            std::memcpy(g_twin, g_storage, bytes);  // (a model is relocatable)
          }
        }
        if (how != 1) {
          require(smx_bank_snapshot_save(bank, id, g_twin_snapshot, sizeof g_twin_snapshot, &written) == SMX_OK);
          require(smx_snapshot_save(m, g_snapshot, sizeof g_snapshot, &written) == SMX_OK);
          require(std::memcmp(g_snapshot, g_twin_snapshot, written) == 0);  // the lone model's bytes
        }
        check_bank(bank, twin, c, &id, 1);
        s = SMX_OK;
        break;
      }
      case 13:  // the detector bank
        if (!detectors_tried) {
          detectors_tried = true;
          smx_detector_config dc;
          smx_detector_config_init(&dc, c.components, c.features);
          dc.model = c;
          dc.calibration_samples = 4;
          if (smx_detector_bank_create(&dc, kBankModels, g_detector_bank, kDetectorBankBytes, &detectors) == SMX_OK)
            require(smx_detector_create(&dc, g_detector_twin, kDetectorBytes, &detector_twin) == SMX_OK);
        }
        if (detectors != nullptr) detect_some(in, detectors, detector_twin, c);
        s = SMX_OK;
        break;
      default:  // extreme but valid magnitudes, to push the numerics
        for (uint32_t d = 0; d < dd; ++d) x[d] = (in.byte() & 1 ? 1.0f : -1.0f) * 1.8e19f;
        s = smx_observe(m, x, &log_p);
        break;
    }
    if (s != SMX_OK) {
      require(std::memcmp(g_before, g_storage, bytes) == 0);  // rejected: nothing changed
    } else {
      check_model(m, c);
    }
  }
  return 0;
}
