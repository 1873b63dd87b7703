#include "core/bank.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace streamix::core {

namespace {

using kernels::kBankLanes;

// A lone model's array as a bank mirrors it: a P-vector (its K components), a D-by-P array
// (its K D elements, d K + k in the lanes) or a plain run of floats.
enum class Layout : uint8_t { kVector, kMatrix, kPlain };
struct Mirror {
  float* lone;
  uint32_t elements;
  Layout layout;
};
constexpr size_t kMaxMirrors = 19;

// The arrays of m that are state, in the lanes' order: first the "hot" ones a step in the
// lanes reads and writes (the statistics, the iterate's weights, log weights, normalizers and
// half precisions: hot_elements of them, at the offsets bank_group computes), then the rest
// (the iterate's own means and variances, held during the hold; the average; the warm-up
// buffer; the mini-batch's waiting samples and weights). The E-step scratch, the k-means++
// distances and the mini-batch's sums (0 between mini-batches) are not state.
size_t mirrors_of(const smx_model* m, Mirror* out) {
  const smx_config& c = m->config;
  ModelArrays a;
  carve_storage(c, reinterpret_cast<unsigned char*>(const_cast<smx_model*>(m)), &a);
  const uint32_t k = c.components, kd = c.components * c.features;
  size_t n = 0;
  auto add = [&](float* p, uint32_t elements, Layout layout) { out[n++] = Mirror{p, elements, layout}; };
  auto add_derived = [&](const kernels::ParamArrays& p) {  // what the E-step reads
    add(p.weight, k, Layout::kVector), add(p.log_weight, k, Layout::kVector);
    add(p.log_norm, k, Layout::kVector), add(p.half_precision, kd, Layout::kMatrix);
  };
  auto add_moments = [&](const kernels::ParamArrays& p) {
    add(p.mean, kd, Layout::kMatrix), add(p.variance, kd, Layout::kMatrix);
  };
  add(a.stats.weight, k, Layout::kVector);
  add(a.stats.mean, kd, Layout::kMatrix);
  add(a.stats.mean_residual, kd, Layout::kMatrix);
  add(a.stats.variance, kd, Layout::kMatrix);
  add_derived(a.iterate);
  add_moments(a.iterate);
  if (averaging_enabled(c)) add_derived(a.average), add_moments(a.average);
  if (c.init_samples > 0) add(a.warmup, c.init_samples * c.features, Layout::kPlain);
  if (c.batch_size > 1) {
    const BatchArrays b = batch_arrays_of(m);
    add(b.rows, c.batch_size * c.features, Layout::kPlain);
    add(b.weights, c.batch_size, Layout::kPlain);
  }
  return n;
}

// F, the floats of state per lane (SMX_BANK_FLOATS).
uint64_t lane_floats(const smx_config& c) {
  const uint64_t k = c.components, kd = k * c.features, a = averaging_enabled(c) ? 1 : 0;
  const uint64_t batch = c.batch_size > 1 ? uint64_t{c.batch_size} * (c.features + 1u) : 0;
  return k * (4 + 3 * a) + kd * (6 + 3 * a) + uint64_t{c.init_samples} * c.features + batch;
}

uint64_t ceil64(uint64_t n) { return (n + 63) / 64 * 64; }

unsigned char* base_of(const smx_bank* b) {
  return reinterpret_cast<unsigned char*>(const_cast<smx_bank*>(b));
}

float* cold_floats(const smx_bank* b, uint32_t g) {
  const size_t hot = hot_elements(b->config), cold = b->lane_floats - hot;
  return hot_floats(b, b->groups + 1) + size_t{g} * cold * kBankLanes;
}
// Per group the count of its staged readings, then the list of touched groups.
uint32_t* staged_counts(const smx_bank* b) { return reinterpret_cast<uint32_t*>(base_of(b) + b->groups_offset); }
uint32_t* touched_groups(const smx_bank* b) { return staged_counts(b) + b->groups; }

}  // namespace

kernels::BankGroup bank_group(const smx_bank* b, uint32_t g) {
  const size_t k = b->config.components, kd = k * b->config.features;
  float* base = hot_floats(b, g);
  auto at = [&](size_t element) { return base + element * kBankLanes; };
  return kernels::BankGroup{at(0),          at(k),          at(k + kd),     at(k + 2 * kd),
                            at(k + 3 * kd), at(2 * k + 3 * kd), at(3 * k + 3 * kd),
                            at(4 * k + 3 * kd), b->config.components, b->config.features};
}

namespace {

// Copies model id's state between the lanes and the lone model m (kToLone: gather).
template <bool kToLone>
void transfer(const smx_bank* b, uint32_t id, smx_model* m) {
  const uint32_t k_count = b->config.components, features = b->config.features;
  const uint32_t stride = shape_of(b->config).stride;
  const uint32_t g = id / kBankLanes, l = id % kBankLanes;
  const size_t hot = hot_elements(b->config);
  Mirror mirrors[kMaxMirrors];
  const size_t count = mirrors_of(m, mirrors);
  auto move = [](auto& lone, auto& lanes) {
    if (kToLone) lone = lanes; else lanes = lone;
  };
  size_t element = 0;
  for (size_t i = 0; i < count; ++i) {
    const Mirror& mirror = mirrors[i];
    float* first = element < hot ? hot_floats(b, g) + l + element * kBankLanes
                                 : cold_floats(b, g) + l + (element - hot) * kBankLanes;
    if (mirror.layout == Layout::kMatrix) {
      for (uint32_t d = 0; d < features; ++d) {
        for (uint32_t k = 0; k < k_count; ++k) {
          move(mirror.lone[size_t{d} * stride + k], first[(size_t{d} * k_count + k) * kBankLanes]);
        }
      }
    } else {
      for (uint32_t e = 0; e < mirror.elements; ++e) move(mirror.lone[e], first[size_t{e} * kBankLanes]);
    }
    element += mirror.elements;
  }
  LaneState& s = lane_state(b, id);
  move(m->ready, s.ready), move(m->buffered, s.buffered), move(m->pending, s.pending);
  move(m->samples_seen, s.samples_seen), move(m->steps, s.steps);
  move(m->step_origin, s.step_origin), move(m->averaged, s.averaged);
}

}  // namespace

ComponentView lane_view(const kernels::BankGroup& g, uint32_t l, const float* log_joint) {
  return ComponentView{g.mean + l,         g.half_precision + l,
                       g.log_weight + l,   g.log_norm + l,
                       log_joint + l,      g.stats_weight + l,
                       size_t{g.components} * kBankLanes, kBankLanes,
                       g.components,       g.features};
}

void leave_lanes_to_reseed(const kernels::BankGroup& g, const float* x, float weight_floor,
                           uint32_t* lanes, uint32_t* deferred, uint32_t* deferred_count,
                           const float* scored) {
  // (a lane not stepped may be the dead one: then the group is scored for nothing)
  bool dead = false;
  for (size_t i = 0; i < size_t{g.components} * kBankLanes; ++i) dead |= g.stats_weight[i] <= weight_floor;
  if (!dead) return;
  alignas(64) float own[kernels::kBankMaxComponents * kBankLanes], top[kBankLanes], total[kBankLanes];
  const float* log_joint = scored;
  if (log_joint == nullptr) kernels::bank_score(g, x, own, top, total), log_joint = own;
  for (uint32_t l = 0; l < kBankLanes; ++l) {
    if (lanes[l] == kNoModel) continue;
    if (component_to_reseed(lane_view(g, l, log_joint), weight_floor).dead < 0) continue;
    deferred[(*deferred_count)++] = lanes[l];
    lanes[l] = kNoModel;
  }
}

void stage_for_later(smx_bank* b, uint32_t id, const float* x, uint32_t index) {
  stage(b, id, x, index);
  const uint32_t g = id / kBankLanes;
  if (staged_counts(b)[g]++ == 0) touched_groups(b)[b->touched++] = g;
}

namespace {

// The model bank's step of a group's lanes, for step_staged: the models in the lanes of group
// g (models[lane], kNoModel for a lane that does not learn: its values stay), each with the
// reading staged in its lane; the reading staged as `index` gets its log p at
// log_p[base + index - 1]. A reading that re-seeds a dead component is left to the lone
// learner (finish).
struct ModelSteps {
  ModelSteps(smx_bank* bank, const float* readings, float* log_likelihood)
      : b(bank), x(readings), log_p(log_likelihood), steps(bank->config) {}
  smx_bank* b;
  const float* x;  // the call's readings: reading `staged` of a chunk at base + staged - 1
  size_t base = 0;
  float* log_p;
  StepSizes steps;
  uint32_t deferred[kBankLanes] = {};
  uint32_t deferred_count = 0;

  static void step(void* context, uint32_t g, const uint32_t* models) {
    static_cast<ModelSteps*>(context)->step_lanes(g, models);
  }
  static void finish(void* context) { static_cast<ModelSteps*>(context)->learn_deferred(); }
  void step_lanes(uint32_t g, const uint32_t* models);
  void learn_deferred();
};

void ModelSteps::learn_deferred() {
  for (uint32_t i = 0; i < deferred_count; ++i) {
    const uint32_t id = deferred[i];
    LaneState& s = lane_state(b, id);
    const size_t at = base + s.staged - 1;
    smx_model* m = bank_scratch(b);
    bank_gather(b, id, m);
    const float lp = observe(m, x + at * b->config.features);
    bank_scatter(b, id, m);
    if (log_p) log_p[at] = lp;
    s.staged = 0;
  }
  deferred_count = 0;
}

void ModelSteps::step_lanes(uint32_t g, const uint32_t* staged_models) {
  const smx_config& c = b->config;
  const kernels::BankGroup group = bank_group(b, g);
  uint32_t models[kBankLanes];
  for (uint32_t l = 0; l < kBankLanes; ++l) models[l] = staged_models[l];
  leave_lanes_to_reseed(group, staged_readings(b, g), c.weight_floor, models, deferred, &deferred_count);
  alignas(64) float gamma[kBankLanes], out[kBankLanes];
  for (uint32_t l = 0; l < kBankLanes; ++l) {
    const LaneState* s = models[l] == kNoModel ? nullptr : &lane_state(b, models[l]);
    gamma[l] = s ? steps.at(s->step_origin + s->steps + 1) : 0.0f;
  }
  kernels::bank_observe(group, staged_readings(b, g), gamma, c.variance_floor, c.weight_floor, out);
  for (uint32_t l = 0; l < kBankLanes; ++l) {
    if (models[l] == kNoModel) continue;
    LaneState& s = lane_state(b, models[l]);
    if (log_p) log_p[base + s.staged - 1] = out[l];
    ++s.samples_seen;  // (below UINT64_MAX: steps_in_lanes)
    if (out[l] > -kernels::kInf) ++s.steps;
    s.staged = 0;
  }
}

}  // namespace

void step_group(smx_bank* b, uint32_t g, const LaneStepper& step) {
  uint32_t models[kBankLanes];
  for (uint32_t l = 0; l < kBankLanes; ++l) {
    const uint32_t id = g * kBankLanes + l;
    models[l] = lane_state(b, id).staged ? id : kNoModel;
  }
  step.step(step.context, g, models);
  step.finish(step.context);
}

namespace {

// Copies n elements of one lane (a group's floats from `from`'s lane to `to`'s).
void copy_lane(const float* from, float* to, size_t n) {
  for (size_t e = 0; e < n; ++e) to[e * kBankLanes] = from[e * kBankLanes];
}

// Up to 16 staged models of sparsely touched groups, packed side by side into the spare
// group after the last one (their hot elements and staged readings), stepped there, and
// copied back.
void step_packed(smx_bank* b, const uint32_t* ids, uint32_t count, const LaneStepper& step) {
  const uint32_t spare = b->groups;
  const size_t hot = hot_elements(b->config) + b->config.features;  // (with the staged reading)
  uint32_t models[kBankLanes];
  for (uint32_t p = 0; p < kBankLanes; ++p) {
    models[p] = p < count ? ids[p] : kNoModel;
    if (p >= count) continue;
    const uint32_t g = ids[p] / kBankLanes, l = ids[p] % kBankLanes;
    copy_lane(hot_floats(b, g) + l, hot_floats(b, spare) + p, hot);
  }
  step.step(step.context, spare, models);
  for (uint32_t p = 0; p < count; ++p) {
    copy_lane(hot_floats(b, spare) + p, hot_floats(b, ids[p] / kBankLanes) + ids[p] % kBankLanes, hot);
  }
  step.finish(step.context);
}

// What becomes of reading x for model id: rejected (its status, NaN for its log p), staged
// for the lanes (true), or learned now by the lone learner on the scratch model.
class Reading {
 public:
  Reading(smx_bank* b, float* log_p, smx_status* status) : b_(b), log_p_(log_p), verdicts_(status) {}
  bool take(size_t i, uint32_t id, const float* x, uint32_t index, bool later) {
    const smx_status verdict = id >= b_->models ? SMX_ERR_ARGUMENT
                                                : observe_verdict(b_->config, lane_state(b_, id).ready, x);
    if (!verdicts_.record(i, verdict)) {
      if (log_p_) log_p_[i] = std::numeric_limits<float>::quiet_NaN();
      return false;
    }
    if (steps_in_lanes(b_, id)) {
      if (later) stage_for_later(b_, id, x, index); else stage(b_, id, x, index);
      return true;
    }
    smx_model* m = bank_scratch(b_);
    bank_gather(b_, id, m);
    const float lp = observe(m, x);
    bank_scatter(b_, id, m);
    if (log_p_) log_p_[i] = lp;
    return false;
  }
  smx_status first_rejected() const { return verdicts_.first_rejected(); }

 private:
  smx_bank* b_;
  float* log_p_;
  Verdicts verdicts_;
};

// Where a bank's parts lie (byte offsets from its start) and its size: the header, the
// scratch model, the lanes' counters, the groups' words, the lane floats of groups + 1 groups
// (the spare one step_packed packs sparse readings into) (SMX_BANK_BYTES).
struct BankLayout {
  uint32_t groups;
  uint64_t scratch, lanes, group_words, floats, bytes;
};
BankLayout bank_layout(const smx_config& c, uint32_t models) {
  BankLayout l;
  l.groups = (models + kBankLanes - 1) / kBankLanes;
  l.scratch = 256;
  l.lanes = l.scratch + ceil64(carve_storage(c, nullptr, nullptr));
  l.group_words = l.lanes + uint64_t{sizeof(LaneState) * kBankLanes} * l.groups;
  l.floats = l.group_words + ceil64(uint64_t{8} * l.groups);
  l.bytes = l.floats + uint64_t{4 * kBankLanes} * (l.groups + 1) * (lane_floats(c) + c.features);
  return l;
}

}  // namespace

size_t bank_bytes(const smx_config& c, uint32_t models) {
  const uint64_t bytes = bank_layout(c, models).bytes;
  return bytes > std::numeric_limits<size_t>::max() ? 0 : static_cast<size_t>(bytes);
}

smx_model* bank_scratch(smx_bank* b) {
  return reinterpret_cast<smx_model*>(base_of(b) + b->scratch_offset);
}

void bank_gather(const smx_bank* b, uint32_t id, smx_model* m) { transfer<true>(b, id, m); }
void bank_scatter(smx_bank* b, uint32_t id, const smx_model* m) {
  transfer<false>(b, id, const_cast<smx_model*>(m));
}

smx_bank* create_bank(const smx_config& c, uint32_t models, void* storage) {
  const BankLayout l = bank_layout(c, models);
  std::memset(storage, 0, static_cast<size_t>(l.bytes));
  auto* b = static_cast<smx_bank*>(storage);
  b->magic = kBankMagic;
  b->models = models;
  b->config = c;
  b->groups = l.groups;
  b->lane_floats = static_cast<uint32_t>(lane_floats(c));
  b->lane_steps = c.batch_size == 1 && !averaging_enabled(c) && c.components <= kernels::kBankMaxComponents;
  b->scratch_offset = l.scratch;
  b->lanes_offset = l.lanes;
  b->groups_offset = l.group_words;
  b->floats_offset = l.floats;
  smx_model* fresh = create_model(c, bank_scratch(b));
  for (uint32_t id = 0; id < l.groups * kBankLanes; ++id) bank_scatter(b, id, fresh);  // padding lanes too
  return b;
}

void step_staged(smx_bank* b, const LaneStepper& step) {
  // A group with at least kInPlace staged models steps in place; the models of groups with
  // fewer are packed 16 to a step (a group steps whole, whatever number of its lanes learn).
  constexpr uint32_t kInPlace = 8;
  uint32_t* counts = staged_counts(b);
  const uint32_t* touched = touched_groups(b);
  uint32_t packed[kBankLanes], count = 0;
  for (uint32_t t = 0; t < b->touched; ++t) {
    const uint32_t g = touched[t];
    if (counts[g] >= kInPlace) {
      step_group(b, g, step);
    } else {
      for (uint32_t id = g * kBankLanes; id < (g + 1) * kBankLanes; ++id) {
        if (!lane_state(b, id).staged) continue;
        packed[count++] = id;
        if (count == kBankLanes) step_packed(b, packed, count, step), count = 0;
      }
    }
    counts[g] = 0;
  }
  if (count > 0) step_packed(b, packed, count, step);
  b->touched = 0;
}

smx_status bank_observe_all(smx_bank* b, const float* x, float* log_p, smx_status* status) {
  Reading reading(b, log_p, status);
  ModelSteps steps(b, x, log_p);
  take_every_row(b, reading, x, b->config.features,
                 LaneStepper{ModelSteps::step, ModelSteps::finish, &steps});
  return reading.first_rejected();
}

smx_status bank_observe_some(smx_bank* b, const uint32_t* ids, const float* x, size_t n,
                             float* log_p, smx_status* status) {
  Reading reading(b, log_p, status);
  ModelSteps steps(b, x, log_p);
  take_rows_by_id(b, reading, ids, x, n, b->config.features, steps.base,
                  LaneStepper{ModelSteps::step, ModelSteps::finish, &steps});
  return reading.first_rejected();
}

}  // namespace streamix::core
