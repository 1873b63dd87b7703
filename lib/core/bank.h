// Banks: M models of one config in one block of storage, interleaved across models
// (kernels.h, BankGroup). The lanes hold each model's state as a lone model holds it (its
// arrays without padding, its counters); models past their hold step in groups through
// kernels::bank_observe, every other state through the lone learner on the bank's scratch
// model (gather, observe, scatter). Functions here assume validated arguments (c_api_bank.cpp).
#ifndef STREAMIX_CORE_BANK_H
#define STREAMIX_CORE_BANK_H

#include <cstddef>
#include <cstdint>

#include "core/model.h"
#include "streamix/streamix.h"

// The header at the start of the storage (no pointers: a bank is relocatable like a model).
struct smx_bank {
  uint32_t magic;   // streamix::core::kBankMagic once created
  uint32_t models;  // M
  smx_config config;
  uint32_t groups;       // ceil(M / kBankLanes)
  uint32_t lane_floats;  // F: floats of state per model (SMX_BANK_FLOATS)
  uint32_t lane_steps;   // 1 if models past the hold step lanes-across-models (batch_size 1,
                         // no averaging, K <= kBankMaxComponents)
  uint32_t touched;      // groups with staged readings (0 between calls)
  uint64_t scratch_offset;  // byte offsets: the scratch model, the lanes' counters, the
  uint64_t lanes_offset;    // groups' staged counts and touched list, the lane floats
  uint64_t groups_offset;
  uint64_t floats_offset;
};

namespace streamix::core {

inline constexpr uint32_t kBankMagic = 0x4B4E4253u;  // "SBNK"

// Each model's counters (a lone model's header fields), and the reading staged for its
// step in the current call (0: none, else its index in the call + 1).
struct LaneState {
  uint64_t samples_seen, steps, step_origin, averaged;
  uint32_t ready, buffered, pending, staged;
};
static_assert(sizeof(LaneState) == 48, "SMX_BANK_BYTES counts 48 bytes per lane");

// The storage a bank needs (0 if it does not fit in size_t).
size_t bank_bytes(const smx_config& c, uint32_t models);
smx_bank* create_bank(const smx_config& c, uint32_t models, void* storage);

inline LaneState& lane_state(const smx_bank* b, uint32_t id) {
  auto* base = reinterpret_cast<unsigned char*>(const_cast<smx_bank*>(b)) + b->lanes_offset;
  return reinterpret_cast<LaneState*>(base)[id];
}
// The bank's scratch model: the lone model per-model operations run on.
smx_model* bank_scratch(smx_bank* b);

// Model id's state into m (a model with the bank's config), and back.
void bank_gather(const smx_bank* b, uint32_t id, smx_model* m);
void bank_scatter(smx_bank* b, uint32_t id, const smx_model* m);

// One reading for every model (x: M rows), group by group; see smx_bank_observe.
smx_status bank_observe_all(smx_bank* b, const float* x, float* log_p, smx_status* status);
// n readings for the models ids[i] (validated as a call: ids, x non-null), in order; see
// smx_bank_observe_some. Staged readings wait for their group's step until the call ends or
// their model gets another reading.
smx_status bank_observe_some(smx_bank* b, const uint32_t* ids, const float* x, size_t n,
                             float* log_p, smx_status* status);

// The lanes' step, for banks built on a model bank (the detector bank steps its models'
// lanes itself).
kernels::BankGroup bank_group(const smx_bank* b, uint32_t g);
// The hot arrays' elements per lane (4K + 4KD: the arrays a step reads and writes).
inline size_t hot_elements(const smx_config& c) {
  return 4 * size_t{c.components} * (1 + size_t{c.features});
}
// The lane floats lie in two regions of groups + 1 groups each (the spare one last): the hot
// elements of each group followed by its staged readings (so that a step streams through
// consecutive memory from group to group), then the other elements of each group (bank.cpp).
// Each element is kernels::kBankLanes floats.
inline float* hot_floats(const smx_bank* b, uint32_t g) {
  const size_t elements = hot_elements(b->config) + b->config.features;
  auto* base = reinterpret_cast<unsigned char*>(const_cast<smx_bank*>(b)) + b->floats_offset;
  return reinterpret_cast<float*>(base) + size_t{g} * elements * kernels::kBankLanes;
}
// Group g's staged readings (feature-major: x_d of lane l at [d * kBankLanes + l]).
inline float* staged_readings(const smx_bank* b, uint32_t g) {
  return hot_floats(b, g) + hot_elements(b->config) * kernels::kBankLanes;
}
// Whether model id's next reading steps in the lanes: the states in which the lone learner's
// observe is the E-step and the fused M-step (learn's mstep_refresh branch): past the hold
// (the iterate shares the statistics' arrays), the step counted. A reading that re-seeds a
// dead component is the exception, told once it is scored: leave_lanes_to_reseed.
inline bool steps_in_lanes(const smx_bank* b, uint32_t id) {
  const LaneState& s = lane_state(b, id);
  if (!b->lane_steps || !s.ready || s.steps <= b->config.hold_samples) return false;
  return s.samples_seen < UINT64_MAX && s.steps < s.samples_seen + 1 - s.step_origin;
}
// Lane l of a group as a ComponentView (log_joint: bank_score's, for this group).
ComponentView lane_view(const kernels::BankGroup& g, uint32_t l, const float* log_joint);
// If a lane of group g (lanes[l] != kNoModel) has a dead component, takes the lanes whose
// reading re-seeds (component_to_reseed) out of `lanes`, onto deferred[(*deferred_count)++]:
// the lone learner learns those. The rule reads the log joint densities of the group's
// readings x: `scored` (bank_score's, when the caller has them), else scored here.
void leave_lanes_to_reseed(const kernels::BankGroup& g, const float* x, float weight_floor,
                           uint32_t* lanes, uint32_t* deferred, uint32_t* deferred_count,
                           const float* scored = nullptr);
// Stages reading x for model id's step in the lanes, as reading `index` - 1 of its chunk
// (index >= 1; readings are indexed relative to chunks of kStagedChunk), for step_group;
// stage_for_later also notes its group as touched, for step_staged.
inline void stage(smx_bank* b, uint32_t id, const float* x, uint32_t index) {
  float* staged = staged_readings(b, id / kernels::kBankLanes) + id % kernels::kBankLanes;
  for (uint32_t d = 0; d < b->config.features; ++d) staged[size_t{d} * kernels::kBankLanes] = x[d];
  lane_state(b, id).staged = index;
}
void stage_for_later(smx_bank* b, uint32_t id, const float* x, uint32_t index);
inline constexpr size_t kStagedChunk = size_t{1} << 30;
inline constexpr uint32_t kNoModel = UINT32_MAX;
// step steps the lanes of group g: models[lane] is the model staged in each lane (kNoModel:
// none, its values stay); it clears each model's `staged`, or leaves a model to finish,
// which runs once the lanes' values are back in their own groups (models the lone code
// learns: gather, learn, scatter).
struct LaneStepper {
  void (*step)(void* context, uint32_t g, const uint32_t* models);
  void (*finish)(void* context);
  void* context;
};
// Steps group g's staged models in place (readings staged group by group: one per model).
void step_group(smx_bank* b, uint32_t g, const LaneStepper& step);
// Steps every model staged for later: groups with many staged models in place, the staged
// models of the others packed 16 at a time into the spare group (and copied back).
void step_staged(smx_bank* b, const LaneStepper& step);

// Each reading's status of a bank call, and the call's result: the first rejection.
class Verdicts {
 public:
  explicit Verdicts(smx_status* status) : status_(status) {}
  // Reading i's verdict; true if it was accepted.
  bool record(size_t i, smx_status verdict) {
    if (status_) status_[i] = verdict;
    if (verdict != SMX_OK && first_rejected_ == SMX_OK) first_rejected_ = verdict;
    return verdict == SMX_OK;
  }
  smx_status first_rejected() const { return first_rejected_; }

 private:
  smx_status* status_;
  smx_status first_rejected_ = SMX_OK;
};

// A call's readings into a bank, for model and detector banks alike: x holds rows of `width`
// floats. Taker::take(i, id, row, index, later) takes reading i (row, for model id; `index`
// its index in its chunk plus 1): stages it and returns true, or handles it at once
// (rejected, or through the lone code); `later` stages it for step_staged.
// One reading per model (row id for model id), each group stepped once its readings are in.
template <class Taker>
void take_every_row(smx_bank* b, Taker& taker, const float* x, uint32_t width,
                    const LaneStepper& stepper) {
  const uint32_t lanes = kernels::kBankLanes;
  for (uint32_t g = 0; g < b->groups; ++g) {
    const uint32_t end = b->models - g * lanes < lanes ? b->models : (g + 1) * lanes;
    bool any = false;
    for (uint32_t id = g * lanes; id < end; ++id) {
      any |= taker.take(id, id, x + size_t{id} * width, id + 1, false);
    }
    if (any) step_group(b, g, stepper);
  }
}
// Reading i for model ids[i]. The staged models step after the last reading, before a
// second reading for one of them (one model's readings in order), and between chunks of
// kStagedChunk readings (base: the chunk's first, which the stepper reads).
template <class Taker>
void take_rows_by_id(smx_bank* b, Taker& taker, const uint32_t* ids, const float* x, size_t n,
                     uint32_t width, size_t& base, const LaneStepper& stepper) {
  for (size_t i = 0; i < n; ++i) {
    if (i - base == kStagedChunk) step_staged(b, stepper), base = i;
    const uint32_t id = ids[i];
    if (id < b->models && lane_state(b, id).staged) step_staged(b, stepper);
    taker.take(i, id, x + i * width, static_cast<uint32_t>(i - base + 1), true);
  }
  step_staged(b, stepper);
}

// step_size, once for a run of models at one schedule position (a bank's models often share
// theirs: created together, fed together).
class StepSizes {
 public:
  explicit StepSizes(const smx_config& c) : c_(c) {}
  float at(uint64_t position) {  // (position >= 1)
    if (position != last_position_) last_gamma_ = step_size(c_, position), last_position_ = position;
    return last_gamma_;
  }

 private:
  const smx_config& c_;
  uint64_t last_position_ = 0;
  float last_gamma_ = 0.0f;
};

}  // namespace streamix::core

#endif  // STREAMIX_CORE_BANK_H
