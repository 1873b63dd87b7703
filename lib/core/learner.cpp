// The stepwise-EM learner: warm-up buffering, the step-size schedule and hold period, the
// dead-component rule and Polyak-Ruppert averaging around the E-step and M-step kernels.
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/model.h"

namespace streamix::core {

// Squared Mahalanobis distance above which a sample is "poorly explained" by a component:
// the 1 - 1e-4 quantile of chi-square with D degrees of freedom, by the Wilson-Hilferty
// approximation (z = 3.719). For D = 1 it gives 16.2 (exact: 15.1), i.e. it errs on the
// side of re-seeding less.
float poorly_explained_distance(uint32_t features) {
  const float nine_d = 9.0f * static_cast<float>(features);
  const float c = 1.0f - 2.0f / nine_d + 3.719f * std::sqrt(2.0f / nine_d);
  return static_cast<float>(features) * c * c * c;
}

namespace {

// A component whose weight statistic sits at the floor is dead. Finds the first dead
// component if x is poorly explained by every live one.
// The first dead component, or -1.
int32_t first_dead_component(const smx_model* m, const ModelArrays& a) {
  for (uint32_t k = 0; k < a.stats.shape.components; ++k) {
    if (a.stats.weight[k] <= m->config.weight_floor) return static_cast<int32_t>(k);
  }
  return -1;
}

// A lone model's components for reseed_rule (its arrays as they lie: the rule's code for
// them is the plain loop, without a view's strides).
struct LoneComponents {
  explicit LoneComponents(const ModelArrays& a)
      : stats_weight(a.stats.weight), log_weight(a.iterate.log_weight),
        log_norm(a.iterate.log_norm), log_joint(a.log_joint),
        components(a.stats.shape.components), features(a.stats.shape.features) {}
  static constexpr size_t component_step = 1;
  const float *stats_weight, *log_weight, *log_norm, *log_joint;
  uint32_t components, features;
};

Reseed component_to_reseed(const smx_model* m, const ModelArrays& a) {
  return reseed_rule(LoneComponents(a), m->config.weight_floor);
}

// Re-seeds component k at x. Its variance, per feature, is the larger of the weight-averaged
// variance of the others (the scale the model believes in) and the squared distance from x
// to the live component that explains x best: the new component spans the gap it was born
// to fill. Scattered outliers then meet a broad background component; a genuine new cluster
// shrinks it quickly (a light component takes large steps). With the pooled variance alone,
// the soak's 1 % outliers kept re-seeding a narrow component that explained none of the next
// ones, which then landed on the true clusters (tracking errors up to 2.4 sigma).
void reseed(const ModelArrays& a, uint32_t k, uint32_t nearest, const float* x,
            float variance_floor) {
  const kernels::Shape s = a.stats.shape;
  float others = 0.0f;
  for (uint32_t j = 0; j < s.components; ++j) {
    if (j != k) others += a.stats.weight[j];
  }
  for (uint32_t d = 0; d < s.features; ++d) {
    const float* row = a.stats.variance + size_t{d} * s.stride;
    float pooled = 0.0f;
    for (uint32_t j = 0; j < s.components; ++j) {
      if (j != k) pooled += a.stats.weight[j] * row[j];
    }
    pooled = others > 0.0f ? pooled / others : 1.0f;
    const float gap = x[d] - a.stats.mean[size_t{d} * s.stride + nearest];
    const float spread = gap * gap > pooled ? gap * gap : pooled;
    a.stats.mean[size_t{d} * s.stride + k] = x[d];
    a.stats.mean_residual[size_t{d} * s.stride + k] = 0.0f;
    a.stats.variance[size_t{d} * s.stride + k] = clamp_variance(spread, variance_floor);
  }
}

// (counted: whether the step was counted; the average's count follows the steps')
void update_average(smx_model* m, const ModelArrays& a, bool counted) {
  const kernels::Shape s = a.stats.shape;
  const size_t vector_bytes = sizeof(float) * s.stride;
  const size_t matrix_bytes = vector_bytes * s.features;
  if (counted) ++m->averaged;
  if (m->averaged == 1) {  // copy exactly: avg + (x - avg) * 1 need not round to x
    std::memcpy(a.average.weight, a.iterate.weight, vector_bytes);
    std::memcpy(a.average.mean, a.iterate.mean, matrix_bytes);
    std::memcpy(a.average.variance, a.iterate.variance, matrix_bytes);
  } else {
    const float inv = 1.0f / static_cast<float>(m->averaged);
    kernels::running_mean(a.average.weight, a.iterate.weight, s.stride, inv);
    kernels::running_mean(a.average.mean, a.iterate.mean, size_t{s.stride} * s.features, inv);
    kernels::running_mean(a.average.variance, a.iterate.variance, size_t{s.stride} * s.features,
                          inv);
  }
  kernels::derive_estep_terms(a.average);
}

// The warm-up path stays out of observe's frame, and the array table (~120 bytes) lives
// only in warmup_buffer's, released before the k-means initialization runs: that keeps
// smx_observe's worst stack depth low on a microcontroller.
__attribute__((noinline)) float* warmup_buffer(const smx_model* m) { return arrays_of(m).warmup; }

__attribute__((noinline)) float buffer_warmup_sample(smx_model* m, const float* x,
                                                     const WarmupHook* hook) {
  const uint32_t d = m->config.features;
  std::memcpy(warmup_buffer(m) + size_t{m->buffered} * d, x, sizeof(float) * d);
  ++m->buffered;
  if (m->buffered == m->config.init_samples) {
    if (hook != nullptr) hook->prepare(hook->context, warmup_buffer(m), m->buffered, d);
    initialize_from_warmup(m);
    // The statistics now summarize the whole buffer: continuing the schedule at t = N
    // (rather than restarting with steps of 1/2) keeps the first updates from undoing
    // the fit the initialization found.
    start_from_stats(m, m->buffered);
  }
  return std::numeric_limits<float>::quiet_NaN();
}

}  // namespace

float estep_sample(const ModelArrays& a, const float* x) {
  return kernels::estep(estep_view(a.iterate), x, a.log_joint, a.resp);
}

Reseed component_to_reseed(const ComponentView& v, float weight_floor) {
  return reseed_rule(v, weight_floor);
}

ComponentView component_view(const ModelArrays& a) {
  const kernels::ParamArrays& p = a.iterate;
  return ComponentView{p.mean,      p.half_precision, p.log_weight,        p.log_norm,
                       a.log_joint, a.stats.weight,   p.shape.stride,      1,
                       p.shape.components, p.shape.features};
}

uint32_t most_likely_component(const ComponentView& v) {
  uint32_t k = 0;
  for (uint32_t j = 1; j < v.components; ++j) {
    if (v.log_joint[j * v.component_step] > v.log_joint[k * v.component_step]) k = j;
  }
  return k;
}

bool winsorize_point(const ComponentView& v, float* x, float log_p, float max_score) {
  if (!(-log_p > max_score) || log_p == -kernels::kInf) return false;
  const uint32_t k = most_likely_component(v);
  const size_t first = k * v.component_step;
  // q_k(x) / 2 = sum_d h_d delta_d^2 (h = half precision) may overflow float: with
  // m = max_d |delta_d| sqrt(h_d), it is m^2 S with S = sum_d (delta_d sqrt(h_d) / m)^2 in
  // [1, D], and the factor that brings it to `target` is sqrt(target / S) / m.
  const float target = v.log_weight[first] + v.log_norm[first] + max_score;
  float m = 0.0f;
  for (uint32_t d = 0; d < v.features; ++d) {
    const size_t i = d * v.feature_step + first;
    m = std::fmax(m, std::fabs(x[d] - v.mean[i]) * std::sqrt(v.half_precision[i]));
  }
  float s = 0.0f;
  for (uint32_t d = 0; d < v.features; ++d) {
    const size_t i = d * v.feature_step + first;
    const float t = (x[d] - v.mean[i]) * std::sqrt(v.half_precision[i]) / m;
    s += t * t;
  }
  const bool far = !(m <= FLT_MAX);  // (only with variances near FLT_MIN)
  const float factor = target > 0.0f && m > 0.0f && !far ? std::sqrt(target / s) / m : 0.0f;
  for (uint32_t d = 0; d < v.features; ++d) {
    const float mean = v.mean[d * v.feature_step + first];
    x[d] = factor < 1.0f ? mean + factor * (x[d] - mean) : x[d];
  }
  return true;
}

float winsorize(const ModelArrays& a, float* x, float log_p, float max_score) {
  return winsorize_point(component_view(a), x, log_p, max_score) ? estep_sample(a, x) : log_p;
}

float poorly_explained_score(const ComponentView& v) {
  float best = -kernels::kInf;
  for (uint32_t k = 0; k < v.components; ++k) {
    best = std::fmax(best, v.log_weight[k * v.component_step] + v.log_norm[k * v.component_step]);
  }
  return 0.5f * poorly_explained_distance(v.features) - best;
}

void learn(smx_model* m, const ModelArrays& a, const float* x, float log_p, float weight) {
  const smx_config& c = m->config;
  const uint32_t stride = a.stats.shape.stride;
  // 64-bit, so that the step after the hold exists for every hold: hold_samples + 1 in
  // uint32_t arithmetic wrapped to 0 at UINT32_MAX, and the fused M-step then refreshed the
  // iterate from the first step of the hold on.
  const uint64_t hold = c.hold_samples;

  // A down-weighted sample (a detector's flagged reading) never re-seeds a component: that
  // would turn the reading it distrusts into a component of its own.
  const bool past_hold = m->steps >= hold;
  const bool held = !iterate_shares_stats(m);
  const Reseed reseeding = past_hold && weight == 1.0f ? component_to_reseed(m, a) : Reseed{};
  const int32_t reseeded = reseeding.dead;
  if (reseeded >= 0) {
    // The sample belongs wholly to the re-seeded component.
    for (uint32_t k = 0; k < stride; ++k) a.resp[k] = 0.0f;
    a.resp[reseeded] = 1.0f;
  } else if (log_p == -kernels::kInf) {
    return;  // no component can take the sample: nothing to learn
  }

  // Steps stop counting where they would pass the samples (count_up): step_origin + steps
  // <= samples_seen stays true, and the average's count with them.
  const bool counted = m->steps < m->samples_seen - m->step_origin;
  if (counted) ++m->steps;
  const float gamma = weight * step_size(c, m->step_origin + m->steps);
  const bool refresh = m->steps > hold;
  if (reseeded < 0 && m->steps > hold + 1) {
    // The iterate was refreshed at the previous step: update and refresh in one pass.
    kernels::mstep_refresh(a.stats, x, a.resp, gamma, c.variance_floor, c.weight_floor, a.iterate);
  } else {  // during the hold, at its end, and after a re-seed: the full refresh
    kernels::mstep_update(a.stats, x, a.resp, gamma, c.variance_floor, c.weight_floor);
    if (reseeded >= 0) reseed(a, static_cast<uint32_t>(reseeded), reseeding.nearest, x, c.variance_floor);
    if (refresh) refresh_iterate(a);
  }
  if (refresh && averaging_enabled(c) && m->steps - hold >= c.average_from) {
    update_average(m, a, counted);
  }
  // This step ended the hold: from the next one on the iterate shares the statistics' arrays,
  // and its own ones, read for the last time above, go back to their creation values.
  if (held && iterate_shares_stats(m)) clear_held_iterate(c, a);
}

namespace {

// A mini-batch's screen for the dead-component rule: rows it clears cannot be poorly
// explained by every live component (component_to_reseed's rule), told from the row's log p
// and its responsibilities alone (l_k = log p + log r_k; c_k = log w_k + log_norm_k, the
// component's peak; a live component explains a row when l_k >= c_k - limit / 2). Two tests,
// each with a margin for rounding; rows that pass neither get the rule itself:
//  - the row's most responsible live component explains it;
//  - a row that every live component leaves beyond the radius has p R_live =
//    sum_live exp(l_k) < sum_live exp(c_k - limit / 2) = exp(bound), R_live the live
//    components' responsibility: a row with log p + log R_live >= bound is explained. This
//    one clears rows whose largest responsibility is a dead component's (a repeated reading
//    a dead component was re-seeded at).
class ReseedScreen {
 public:
  ReseedScreen(const smx_model* m, const ModelArrays& a)
      : log_weight_(a.iterate.log_weight), log_norm_(a.iterate.log_norm),
        components_(a.iterate.shape.components),
        half_limit_(0.5f * poorly_explained_distance(a.iterate.shape.features)) {
    float top = -kernels::kInf;
    for (uint32_t k = 0; k < components_; ++k) {
      if (a.stats.weight[k] <= m->config.weight_floor) {
        dead_mask_[k / 32] |= 1u << (k % 32);
      } else {
        top = std::fmax(top, peak(k) - half_limit_);
      }
    }
    float sum = 0.0f;
    for (uint32_t k = 0; k < components_; ++k) {
      if (!is_dead(k)) sum += kernels::exp_nonpositive(peak(k) - half_limit_ - top);
    }
    bound_ = top + kernels::log_positive(sum > 0.0f ? sum : 1.0f);
  }
  bool clears(const float* r, float log_p) const {
    if (!(bound_ > -kernels::kInf)) return false;  // no live component
    const float margin = 1e-3f * (1.0f + std::fabs(log_p) + std::fabs(bound_));
    uint32_t best = components_;
    float top = 0.0f, live = 0.0f;
    for (uint32_t k = 0; k < components_; ++k) {
      if (is_dead(k)) continue;
      live += r[k];
      if (r[k] > top) best = k, top = r[k];
    }
    if (best == components_) return false;  // no live component has any responsibility
    if (log_p + kernels::log_positive(top) >= peak(best) - half_limit_ + margin) return true;
    return log_p + kernels::log_positive(live) >= bound_ + margin;
  }

 private:
  float peak(uint32_t k) const { return log_weight_[k] + log_norm_[k]; }
  bool is_dead(uint32_t k) const { return (dead_mask_[k / 32] >> (k % 32)) & 1u; }
  const float* log_weight_;  // the iterate's
  const float* log_norm_;
  uint32_t components_;
  float half_limit_;
  float bound_ = -kernels::kInf;
  uint32_t dead_mask_[SMX_MAX_COMPONENTS / 32] = {};
};

// One mini-batch of batch_size rows (D floats each) learned by a ready model, whose E-steps
// under the iterate left each row's responsibilities in b.resp and its log p in log_p: the
// rows' terms into the sums, then one step of the statistics towards the mini-batch's, one
// refresh. The skeleton is learn's; the first row no live component explains re-seeds the
// first dead component.
void learn_batch(smx_model* m, const ModelArrays& a, const BatchArrays& b, const float* rows,
                 const float* log_p, const float* weights) {
  const smx_config& c = m->config;
  const uint32_t size = c.batch_size, features = c.features, stride = a.stats.shape.stride;
  const uint64_t hold = c.hold_samples;
  const bool held = !iterate_shares_stats(m);
  Reseed reseeding;
  const float* seed_row = nullptr;
  if (m->steps >= hold && first_dead_component(m, a) >= 0) {
    const ReseedScreen screen(m, a);
    for (uint32_t i = 0; i < size && !seed_row; ++i) {
      if (weights && weights[i] != 1.0f) continue;  // (as in learn: only a whole sample re-seeds)
      if (screen.clears(b.resp + size_t{i} * stride, log_p[i])) continue;
      const float* x = rows + size_t{i} * features;
      estep_sample(a, x);  // (the log joint densities the rule reads)
      reseeding = component_to_reseed(m, a);
      if (reseeding.dead < 0) continue;
      float* r = b.resp + size_t{i} * stride;  // the row belongs wholly to the re-seeded one
      for (uint32_t k = 0; k < a.stats.shape.components; ++k) r[k] = 0.0f;
      r[reseeding.dead] = 1.0f;
      seed_row = x;
    }
  }
  // Weighted rows (a detector's gate): each row's terms scaled by its weight, the mini-batch's
  // statistics the weighted average, its step scaled by the mean weight (for one sample,
  // learn's gamma w; all weights 1 give the unweighted arithmetic bit for bit).
  float total = static_cast<float>(size);
  if (weights) {
    total = 0.0f;
    for (uint32_t i = 0; i < size; ++i) {
      float* r = b.resp + size_t{i} * stride;
      for (uint32_t k = 0; k < a.stats.shape.components; ++k) r[k] *= weights[i];
      total += weights[i];
    }
  }
  kernels::batch_accumulate(a.stats, rows, b.resp, size, 1.0f / total, b.sums);
  // (as in learn: steps never pass the samples seen)
  const bool counted = m->samples_seen - m->step_origin - m->steps >= size;
  if (counted) m->steps += size;
  const float step = static_cast<float>(size) * step_size(c, m->step_origin + m->steps);
  const float gamma = (step < 1.0f ? step : 1.0f) * (total / static_cast<float>(size));
  kernels::batch_update(a.stats, b.sums, gamma, c.variance_floor, c.weight_floor);
  if (seed_row) reseed(a, static_cast<uint32_t>(reseeding.dead), reseeding.nearest, seed_row, c.variance_floor);
  const bool refresh = m->steps > hold;
  if (refresh) refresh_iterate(a);
  if (refresh && averaging_enabled(c) && m->steps - hold >= c.average_from) update_average(m, a, counted);
  if (held && iterate_shares_stats(m)) clear_held_iterate(c, a);
}

// A sample and its learning weight into the pending mini-batch, which is learned once it
// holds batch_size samples: their E-steps run then (the responsibilities are scratch, not
// state: a merge or a snapshot in between needs nothing of them).
void queue_for_batch(smx_model* m, const ModelArrays& a, const BatchArrays& b, const float* x,
                     float weight) {
  const uint32_t features = m->config.features, size = m->config.batch_size;
  std::memcpy(b.rows + size_t{m->pending} * features, x, sizeof(float) * features);
  b.weights[m->pending] = weight;
  if (++m->pending == size) {
    kernels::batch_estep(estep_view(a.iterate), b.rows, size, b.log_p, b.resp);
    learn_batch(m, a, b, b.rows, b.log_p, b.weights);
    m->pending = 0;
    // The rows are no longer state (the storage stays a function of the state).
    std::memset(b.rows, 0, sizeof(float) * size * features);
    std::memset(b.weights, 0, sizeof(float) * size);
  }
}

// A ready model's sample, scored now under the iterate by the mini-batch's own E-step (its
// row's result does not depend on the other rows), into its pending mini-batch. (Out of
// line: smx_observe's per-sample path keeps its frame.)
__attribute__((noinline)) float add_to_batch(smx_model* m, const ModelArrays& a, const float* x) {
  const BatchArrays b = batch_arrays_of(m);
  float log_p;
  kernels::batch_estep(estep_view(a.iterate), x, 1, &log_p, b.resp);
  queue_for_batch(m, a, b, x, 1.0f);
  return log_p;
}

}  // namespace

void observe_rows(smx_model* m, const float* x, size_t n, float* log_p) {
  const uint32_t size = m->config.batch_size, features = m->config.features;
  for (size_t i = 0; i < n;) {
    const float* row = x + i * features;
    if (m->ready && size > 1 && m->pending == 0 && n - i >= size) {  // a whole mini-batch
      m->samples_seen = saturating_add(m->samples_seen, size);
      const ModelArrays a = arrays_of(m);
      const BatchArrays b = batch_arrays_of(m);
      float* row_log_p = log_p ? log_p + i : b.log_p;
      kernels::batch_estep(estep_view(a.iterate), row, size, row_log_p, b.resp);
      learn_batch(m, a, b, row, row_log_p, nullptr);
      i += size;
      continue;
    }
    const float lp = observe(m, row);
    if (log_p) log_p[i] = lp;
    ++i;
  }
}

void learn_in_batch(smx_model* m, const ModelArrays& a, const float* x, float weight) {
  queue_for_batch(m, a, batch_arrays_of(m), x, weight);
}

float take_sample(smx_model* m, const ModelArrays& a, const float* x) {
  count_up(m->samples_seen);
  return estep_sample(a, x);
}

float observe(smx_model* m, const float* x, const WarmupHook* hook) {
  count_up(m->samples_seen);
  if (!m->ready) return buffer_warmup_sample(m, x, hook);
  const ModelArrays a = arrays_of(m);
  if (m->config.batch_size > 1) return add_to_batch(m, a, x);
  const float log_p = estep_sample(a, x);
  learn(m, a, x, log_p, 1.0f);
  return log_p;
}

}  // namespace streamix::core
