#include "core/detector_bank.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "core/model.h"

namespace streamix::core {

namespace {

using kernels::kBankLanes;

uint64_t ceil64(uint64_t n) { return (n + 63) / 64 * 64; }

unsigned char* base_of(const smx_detector_bank* b) {
  return reinterpret_cast<unsigned char*>(const_cast<smx_detector_bank*>(b));
}

// Where a detector bank's parts lie (byte offsets) and its size: the header, the scratch
// detector, the M shells, the model bank (SMX_DETECTOR_BANK_BYTES).
struct DetectorBankLayout {
  uint64_t shell_bytes, scratch, shells, models, bytes;
};
DetectorBankLayout detector_bank_layout(const smx_detector_config& c, uint32_t detectors) {
  DetectorBankLayout l;
  l.shell_bytes = detector_state_bytes(c);
  l.scratch = 256;
  l.shells = l.scratch + ceil64(detector_storage_bytes(c));
  l.models = l.shells + l.shell_bytes * detectors;
  const size_t models = bank_bytes(c.model, detectors);
  l.bytes = models == 0 ? 0 : l.models + models;
  return l;
}

const smx_detection kNoDetection{std::numeric_limits<float>::quiet_NaN(),
                                 std::numeric_limits<float>::quiet_NaN(), 0.0f, 0.0f, 0.0f, -1, 0};

// log p as the lone E-step takes it from the maximum and the sum of exponentials.
float log_p_of(float top, float total) { return top == -kernels::kInf ? top : top + std::log(total); }

// The step of one group's lanes (a LaneStepper): each staged detector's model scored in the
// lanes, the detector's decision in its shell, the models' steps in the lanes with each
// detector's learning weight (its reading winsorized first where judge says so), then the
// score tracker and the residual baseline. Per detector this is detect's ready path. A
// reading that re-seeds a dead component is learned by the lone learner (finish).
struct DetectorSteps {
  DetectorSteps(smx_detector_bank* bank, const float* readings, smx_detection* detections)
      : b(bank), x(readings), out(detections), steps(bank->config.model),
        constants(judge_constants(bank->config)) {}
  smx_detector_bank* b;
  const float* x;  // the call's readings: reading `staged` of a chunk at base + staged - 1
  size_t base = 0;
  smx_detection* out;
  StepSizes steps;
  JudgeConstants constants;
  struct Deferred {
    uint32_t id;
    bool moved;   // winsorized: the input holds the moved views
    float log_p;  // the reading's own log p
    Verdict verdict;
  };
  Deferred deferred[kBankLanes] = {};
  uint32_t deferred_count = 0;

  static void step(void* context, uint32_t g, const uint32_t* models) {
    static_cast<DetectorSteps*>(context)->step_group(g, models);
  }
  static void finish(void* context) { static_cast<DetectorSteps*>(context)->learn_deferred(); }

  // As detect's learning after winsorize: the E-step of the reading learned (moved or not),
  // then learn with the verdict's weight.
  void learn_deferred() {
    smx_bank* mb = detector_models(b);
    for (uint32_t i = 0; i < deferred_count; ++i) {
      const Deferred& d = deferred[i];
      smx_detector* det = detector_shell(b, d.id);
      const float* input = detector_arrays(det).input;
      smx_model* m = bank_scratch(mb);
      bank_gather(mb, d.id, m);
      const ModelArrays ma = arrays_of(m);
      const float learned_log_p = take_sample(m, ma, input);
      learn(m, ma, input, learned_log_p, d.verdict.weight);
      bank_scatter(mb, d.id, m);
      settle(det, d.verdict, d.moved && learned_log_p != d.log_p);
      LaneState& s = lane_state(mb, d.id);
      if (out) out[base + s.staged - 1] = d.verdict.result;
      s.staged = 0;
    }
    deferred_count = 0;
  }

  void step_group(uint32_t g, const uint32_t* models) {
    smx_bank* mb = detector_models(b);
    const smx_config& mc = mb->config;
    const uint32_t width = mc.features, features = b->config.features;
    const kernels::BankGroup group = bank_group(mb, g);
    float* staged = staged_readings(mb, g);
    alignas(64) float log_joint[kernels::kBankMaxComponents * kBankLanes];
    alignas(64) float top[kBankLanes], total[kBankLanes], gamma[kBankLanes], lanes_log_p[kBankLanes];
    float log_p[kBankLanes], learned_log_p[kBankLanes];
    Verdict verdicts[kBankLanes];
    bool moved[kBankLanes] = {};
    bool any_moved = false;
    kernels::bank_score(group, staged, log_joint, top, total);
    for (uint32_t l = 0; l < kBankLanes; ++l) {
      gamma[l] = 0.0f;
      if (models[l] == kNoModel) continue;
      smx_detector* det = detector_shell(b, models[l]);
      const LaneState& s = lane_state(mb, models[l]);
      const Spike spike = detect_front(det, true, x + (base + s.staged - 1) * features);
      log_p[l] = learned_log_p[l] = log_p_of(top[l], total[l]);
      const ComponentView v = lane_view(group, l, log_joint);
      verdicts[l] = judge(det, log_p[l], v, spike, constants);
      if (!(verdicts[l].weight > 0.0f)) continue;
      float* input = detector_arrays(det).input;
      if (winsorize_point(v, input, log_p[l], verdicts[l].limit)) {
        for (uint32_t f = 0; f < width; ++f) staged[size_t{f} * kBankLanes + l] = input[f];
        moved[l] = any_moved = true;
      }
      gamma[l] = verdicts[l].weight * steps.at(s.step_origin + s.steps + 1);
    }
    if (any_moved) {  // (the moved readings' log p, which decides whether their model learns)
      kernels::bank_score(group, staged, log_joint, top, total);
      for (uint32_t l = 0; l < kBankLanes; ++l) {
        if (moved[l]) learned_log_p[l] = log_p_of(top[l], total[l]);
      }
    }
    // (only a reading learned with weight 1 re-seeds; the lanes that do go to finish)
    uint32_t lanes[kBankLanes], left[kBankLanes], left_count = 0;
    for (uint32_t l = 0; l < kBankLanes; ++l) {
      lanes[l] = models[l] != kNoModel && verdicts[l].weight == 1.0f ? models[l] : kNoModel;
    }
    // (log_joint is the readings' as learned: scored again above if any was moved)
    leave_lanes_to_reseed(group, staged, mc.weight_floor, lanes, left, &left_count, log_joint);
    bool lone[kBankLanes] = {};
    for (uint32_t l = 0; l < kBankLanes && left_count > 0; ++l) {
      if (models[l] == kNoModel || verdicts[l].weight != 1.0f || lanes[l] != kNoModel) continue;
      deferred[deferred_count++] = Deferred{models[l], moved[l], log_p[l], verdicts[l]};
      gamma[l] = 0.0f;
      lone[l] = true;
    }
    kernels::bank_observe(group, staged, gamma, mc.variance_floor, mc.weight_floor, lanes_log_p);
    for (uint32_t l = 0; l < kBankLanes; ++l) {
      if (models[l] == kNoModel || lone[l]) continue;
      LaneState& s = lane_state(mb, models[l]);
      const Verdict& verdict = verdicts[l];
      ++s.samples_seen;  // (below UINT64_MAX: steps_in_lanes)
      if (verdict.weight > 0.0f) {
        if (learned_log_p[l] > -kernels::kInf) ++s.steps;
        settle(detector_shell(b, models[l]), verdict, learned_log_p[l] != log_p[l]);
      }
      if (out) out[base + s.staged - 1] = verdict.result;
      s.staged = 0;
    }
  }
};

// What becomes of reading x for detector id: rejected (its status, kNoDetection), staged for
// the lanes (true: its views in the staged readings), or detected now on the scratch detector.
class DetectorReading {
 public:
  DetectorReading(smx_detector_bank* b, smx_detection* out, smx_status* status)
      : b_(b), out_(out), verdicts_(status) {}
  bool take(size_t i, uint32_t id, const float* x, uint32_t index, bool later) {
    smx_bank* models = detector_models(b_);
    smx_status verdict = SMX_OK;
    bool staged = false;
    if (id >= b_->detectors) {
      verdict = SMX_ERR_ARGUMENT;
    } else if (!sample_is_valid(x, b_->config.features)) {
      verdict = SMX_ERR_INPUT;
    } else if (steps_in_lanes(models, id)) {
      // (a ready model: no seed glitch can restart the stream)
      const smx_detector* det = detector_shell(b_, id);
      staged = compute_views(det, true, x);
      const float* views = detector_arrays(det).input;
      if (!staged) verdict = SMX_ERR_INPUT;
      else if (later) stage_for_later(models, id, views, index);
      else stage(models, id, views, index);
    } else {
      smx_detector* det = gather_detector(b_, id);
      smx_detection result;
      verdict = detect_reading(det, x, &result);
      if (verdict == SMX_OK) {
        scatter_detector(b_, id, det);
        if (out_) out_[i] = result;
      }
    }
    if (!verdicts_.record(i, verdict) && out_) out_[i] = kNoDetection;
    return staged;
  }
  smx_status first_rejected() const { return verdicts_.first_rejected(); }

 private:
  smx_detector_bank* b_;
  smx_detection* out_;
  Verdicts verdicts_;
};

}  // namespace

size_t detector_bank_bytes(const smx_detector_config& c, uint32_t detectors) {
  const uint64_t bytes = detector_bank_layout(c, detectors).bytes;
  return bytes > std::numeric_limits<size_t>::max() ? 0 : static_cast<size_t>(bytes);
}

smx_detector* detector_shell(const smx_detector_bank* b, uint32_t id) {
  return reinterpret_cast<smx_detector*>(base_of(b) + b->shells_offset + b->shell_bytes * id);
}

smx_bank* detector_models(const smx_detector_bank* b) {
  return reinterpret_cast<smx_bank*>(base_of(b) + b->models_offset);
}

smx_detector* fresh_detector(smx_detector_bank* b) {
  return create_detector(b->config, base_of(b) + b->scratch_offset);
}

smx_detector* gather_detector(smx_detector_bank* b, uint32_t id) {
  auto* det = reinterpret_cast<smx_detector*>(base_of(b) + b->scratch_offset);
  std::memcpy(det, detector_shell(b, id), static_cast<size_t>(b->shell_bytes));
  bank_gather(detector_models(b), id, detector_model(det));
  return det;
}

void scatter_detector(smx_detector_bank* b, uint32_t id, const smx_detector* det) {
  std::memcpy(detector_shell(b, id), det, static_cast<size_t>(b->shell_bytes));
  bank_scatter(detector_models(b), id, detector_model(det));
}

smx_detector_bank* create_detector_bank(const smx_detector_config& c, uint32_t detectors,
                                        void* storage) {
  const DetectorBankLayout l = detector_bank_layout(c, detectors);
  std::memset(storage, 0, static_cast<size_t>(l.scratch));
  auto* b = static_cast<smx_detector_bank*>(storage);
  b->magic = kDetectorBankMagic;
  b->detectors = detectors;
  b->config = c;
  b->shell_bytes = l.shell_bytes;
  b->scratch_offset = l.scratch;
  b->shells_offset = l.shells;
  b->models_offset = l.models;
  create_bank(c.model, detectors, base_of(b) + l.models);
  const smx_detector* fresh = fresh_detector(b);
  for (uint32_t id = 0; id < detectors; ++id) {
    std::memcpy(detector_shell(b, id), fresh, static_cast<size_t>(l.shell_bytes));
  }
  return b;
}

smx_status detector_bank_detect_all(smx_detector_bank* b, const float* x, smx_detection* out,
                                    smx_status* status) {
  DetectorReading reading(b, out, status);
  DetectorSteps steps(b, x, out);
  take_every_row(detector_models(b), reading, x, b->config.features,
                 LaneStepper{DetectorSteps::step, DetectorSteps::finish, &steps});
  return reading.first_rejected();
}

smx_status detector_bank_detect_some(smx_detector_bank* b, const uint32_t* ids, const float* x,
                                     size_t n, smx_detection* out, smx_status* status) {
  DetectorReading reading(b, out, status);
  DetectorSteps steps(b, x, out);
  take_rows_by_id(detector_models(b), reading, ids, x, n, b->config.features, steps.base,
                  LaneStepper{DetectorSteps::step, DetectorSteps::finish, &steps});
  return reading.first_rejected();
}

}  // namespace streamix::core
