// The anomaly detector: scaling, views, scoring before learning, the score distribution and
// the learning gate around one model.
#include "core/detector.h"

#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/archive.h"
#include "core/model.h"
#include "core/snapshot.h"

namespace streamix::core {

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Stochastic-approximation gains of the quantile updates, in units of the score's standard
// deviation: 1 / f(q) at the 50 % and 90 % quantiles of a normal distribution (sqrt(2 pi) and
// sqrt(2 pi) exp(1.2816^2 / 2)). With the 1/n steps of the first scores this is the gain at
// which the Robbins-Monro recursion converges at its optimal rate for normal scores.
constexpr float kMedianGain = 2.5066283f;
constexpr float kUpperGain = 5.6983f;
// The smallest mean excess of the tail, in nats: a tail thinner than this says nothing a
// float score could resolve, and it keeps the threshold formula away from 0 / 0.
constexpr float kMinMeanExcess = 1e-3f;
constexpr float kMaxTrackedScore = 1e18f;
// The ranges the tracker's values stay in (see the invariants with the snapshot format):
// the mean of scores clamped at kMaxTrackedScore, their variance (the largest squared
// deviation, 4e36, with a factor 2 for rounding), and the quantiles, which may overshoot the
// scores' range by one step of at most kUpperGain sd_max = 1.6e19.
constexpr float kMaxTailMean = 2.0f * kMaxTrackedScore;
constexpr float kMaxTailVariance = 8e36f;
constexpr float kMaxTailQuantile = 3.2e19f;
constexpr float kMaxTailExcess = 2.0f * kMaxTailQuantile;
// ln 5: the log-odds step from the median (tail 0.5) to the 90 % quantile (tail 0.1).
constexpr float kLog5 = 1.6094379f;

// The mean excess of the tail. Flagged readings reach the tracker with the gate's weight
// only, so once alarms are on, the tracked excesses are (nearly) those of scores below the
// threshold: an exponential tail truncated at L = ln(0.1 / alarm_rate) mean excesses above
// the 90 % quantile, whose mean is e (1 - L / (exp(L) - 1)). Undoing that truncation keeps
// the alarm rate at its nominal value on a stationary stream; without it, every alarm
// thinned the tail, lowered the threshold and raised the alarm rate (5.7 % measured for a
// nominal 1 %).
float mean_excess(const smx_score_tail& t, float truncation) {
  float e = t.mean_excess > kMinMeanExcess ? t.mean_excess : kMinMeanExcess;
  if (truncation > 0.0f && truncation < 0.1f) {
    const float l = std::log(0.1f / truncation);
    e /= 1.0f - l / std::expm1(l);
  }
  return e;
}

// Tail probability 1 - F(s) of the fitted score distribution: log-linear between the
// median (0.5) and the 90 % quantile (0.1), exponential above it, mirrored below the median.
float tail_probability(const smx_score_tail& t, float excess, float s) {
  const float span = t.upper - t.median;
  if (s >= t.upper) return 0.1f * std::exp(-(s - t.upper) / excess);
  if (s >= t.median) return 0.5f * std::exp(-kLog5 * (s - t.median) / span);
  return 1.0f - 0.5f * std::exp(-kLog5 * (t.median - s) / span);
}

// The score whose tail probability is `tail` (in (0, 0.5]).
float score_at(const smx_score_tail& t, float excess, float tail) {
  if (tail <= 0.1f) return t.upper + excess * std::log(0.1f / tail);
  return t.median + (t.upper - t.median) * std::log(0.5f / tail) / kLog5;
}

// Takes score s in with weight w in (0, 1]: steps max(rate, 1/n) (plain averages over the
// first scores, exponential forgetting after), scaled by w. `truncation` is the share of
// scores kept out by the alarms (0 during calibration): the quantile levels are those of the
// scores below the threshold, (level - truncation) / (1 - truncation).
void tail_update(smx_score_tail& t, float score, float w, float rate, float truncation) {
  // Scores beyond 1e18 nats (readings astronomically far from every component) are clamped
  // there: squared deviations stay finite in float, so the tracker never turns to inf or
  // NaN (found by fuzz_csv: a probability of NaN).
  const float s = score > kMaxTrackedScore ? kMaxTrackedScore
                  : score < -kMaxTrackedScore ? -kMaxTrackedScore : score;
  ++t.updates;
  const float n = static_cast<float>(t.updates);
  const float r = w * (rate > 1.0f / n ? rate : 1.0f / n);
  if (t.updates == 1) {
    t.mean = t.median = t.upper = s;
    t.variance = 0.0f;
    t.mean_excess = 0.0f;
    return;
  }
  const float diff = s - t.mean;
  t.mean += r * diff;
  t.variance = (1.0f - r) * (t.variance + r * diff * diff);
  const float sd = std::sqrt(t.variance);
  const float upper = t.upper;
  const float kept = 1.0f - truncation;
  const float above_median = (0.5f - truncation) / kept, above_upper = (0.1f - truncation) / kept;
  t.median += r * kMedianGain * sd * ((s <= t.median ? 0.0f : 1.0f) - above_median);
  t.upper += r * kUpperGain * sd * ((s <= t.upper ? 0.0f : 1.0f) - above_upper);
  if (t.upper < t.median) t.upper = t.median;
  if (s > upper) {
    // About one score in ten exceeds: a ten times larger step reflects the same recent past.
    ++t.exceedances;
    const float ne = static_cast<float>(t.exceedances);
    float re = 10.0f * rate > 1.0f / ne ? 10.0f * rate : 1.0f / ne;
    re = w * (re < 1.0f ? re : 1.0f);
    t.mean_excess += re * ((s - upper) - t.mean_excess);
  }
}

// The residual view's baseline learns like the model: a flagged reading moves it by the
// learning gate's weight only, so a sustained fault keeps showing as a departure.
void follow_slow_average(smx_detector* det, const DetectorArrays& a, float weight) {
  const float r = weight * det->config.residual_rate;
  for (uint32_t d = 0; d < det->config.features; ++d) a.slow[d] += r * (a.level[d] - a.slow[d]);
}

// The level view's moving average after reading x (exactly x without smoothing).
float next_level(const smx_detector* det, const DetectorArrays& a, const float* x, uint32_t d) {
  const float s = det->config.smoothing;
  return det->has_previous && s < 1.0f ? a.level[d] + s * (x[d] - a.level[d]) : x[d];
}

bool scaling_pending(const smx_detector* det) {
  return det->config.scaling == SMX_SCALING_WARMUP && !detector_model(det)->ready;
}

// Finishes the warm-up scaling: offset = mean, scale = standard deviation (or 1 for a
// constant feature); then scales the views already in the model's warm-up buffer and in the
// input scratch the same way, clamped to the model's feature range.
void finish_warmup_scaling(smx_detector* det, const DetectorArrays& a) {
  const uint32_t d_count = det->config.features;
  const float n = static_cast<float>(det->samples_seen);
  for (uint32_t d = 0; d < d_count; ++d) {
    const float sd = n > 1.0f ? std::sqrt(a.scale[d] / (n - 1.0f)) : 0.0f;
    // Below a millionth of the offset a deviation is at the level of float rounding.
    const float resolution = 1e-6f * std::fabs(a.offset[d]);
    const float scale = sd > resolution && sd > 0.0f ? sd : (resolution > 0.0f ? resolution : 1.0f);
    a.scale[d] = scale < SMX_MIN_SCALE ? SMX_MIN_SCALE : (scale > SMX_MAX_SCALE ? SMX_MAX_SCALE : scale);
  }
  const smx_model* m = detector_model(det);
  float* buffer = arrays_of(m).warmup;
  const uint32_t views = det->config.views;
  auto rescale = [&](float* row) {
    uint32_t column = 0;
    for (uint32_t bit = SMX_VIEW_LEVEL; bit <= SMX_VIEW_RESIDUAL; bit <<= 1) {
      if (!(views & bit)) continue;
      for (uint32_t d = 0; d < d_count; ++d, ++column) {
        float v = row[column];
        if (bit == SMX_VIEW_LEVEL) v -= a.offset[d];
        v /= a.scale[d];
        const float limit = SMX_MAX_ABS_FEATURE;
        row[column] = v > limit ? limit : (v < -limit ? -limit : v);
      }
    }
  };
  const uint32_t width = m->config.features;
  for (uint32_t i = 0; i < m->buffered; ++i) rescale(buffer + size_t{i} * width);
  rescale(a.input);
}

// The feature whose squared standardized deviations from the most responsible component,
// summed over views, are largest (ma: the model's arrays after estep_sample).
int32_t top_feature(const smx_detector* det, const DetectorArrays& a, const ModelArrays& ma) {
  const kernels::ParamArrays& p = ma.iterate;
  uint32_t best_k = 0;
  for (uint32_t k = 1; k < p.shape.components; ++k) {
    if (ma.log_joint[k] > ma.log_joint[best_k]) best_k = k;
  }
  const uint32_t d_count = det->config.features;
  const uint32_t v_count = view_count(det->config.views);
  int32_t best = 0;
  float best_term = -1.0f;
  for (uint32_t d = 0; d < d_count; ++d) {
    float term = 0.0f;
    for (uint32_t v = 0; v < v_count; ++v) {
      const size_t j = size_t{v} * d_count + d;
      const float dev = a.input[j] - p.mean[j * p.shape.stride + best_k];
      term += dev * dev * p.half_precision[j * p.shape.stride + best_k];
    }
    if (term > best_term) best_term = term, best = static_cast<int32_t>(d);
  }
  return best;
}

}  // namespace

uint32_t view_count(uint32_t views) { return SMX_VIEW_COUNT(views); }

bool detector_config_is_valid(const smx_detector_config& c) {
  const uint32_t v = view_count(c.views);
  if (c.features == 0 || c.features > SMX_MAX_FEATURES || v == 0 || (c.views & ~7u) != 0)
    return false;
  if (uint64_t{c.features} * v != c.model.features || !config_is_valid(c.model)) return false;
  if (!(c.smoothing > 0.0f && c.smoothing <= 1.0f)) return false;
  if (!(c.residual_rate > 0.0f && c.residual_rate < 1.0f)) return false;
  if (c.scaling > SMX_SCALING_FIXED) return false;
  // The model initializes itself from its warm-up (a warm-up scaling needs two readings).
  if (c.model.init_samples < (c.scaling == SMX_SCALING_WARMUP ? 2u : 1u)) return false;
  if (!(c.tail_rate > 0.0f && c.tail_rate <= 1.0f)) return false;
  if (!(c.alarm_rate >= FLT_MIN && c.alarm_rate <= 0.1f)) return false;
  return c.anomaly_weight >= 0.0f && c.anomaly_weight <= 1.0f;
}

size_t detector_state_bytes(const smx_detector_config& c) {
  const size_t floats = size_t{c.features} * (kStateArrays + view_count(c.views));
  return kDetectorHeaderBytes + (4 * floats + 63) / 64 * 64;
}

size_t detector_storage_bytes(const smx_detector_config& c) {
  return detector_state_bytes(c) + carve_storage(c.model, nullptr, nullptr);
}

DetectorArrays detector_arrays(const smx_detector* det) {
  auto* base = reinterpret_cast<float*>(
      reinterpret_cast<unsigned char*>(const_cast<smx_detector*>(det)) + kDetectorHeaderBytes);
  const size_t d = det->config.features;
  return DetectorArrays{base, base + d, base + 2 * d, base + 3 * d, base + kStateArrays * d};
}

smx_model* detector_model(const smx_detector* det) {
  auto* base = reinterpret_cast<unsigned char*>(const_cast<smx_detector*>(det));
  return reinterpret_cast<smx_model*>(base + detector_state_bytes(det->config));
}

smx_detector* create_detector(const smx_detector_config& c, void* storage) {
  auto* base = static_cast<unsigned char*>(storage);
  std::memset(base, 0, detector_state_bytes(c));
  auto* det = reinterpret_cast<smx_detector*>(base);
  det->magic = kDetectorMagic;
  det->config = c;
  const DetectorArrays a = detector_arrays(det);
  for (uint32_t d = 0; d < c.features; ++d) a.scale[d] = c.scaling == SMX_SCALING_WARMUP ? 0.0f : 1.0f;
  create_model(c.model, detector_model(det));
  return det;
}

bool compute_views(const smx_detector* det, const float* x) {
  const smx_detector_config& c = det->config;
  const DetectorArrays a = detector_arrays(det);
  const bool raw = scaling_pending(det);
  const uint32_t d_count = c.features;
  uint32_t column = 0;
  bool ok = true;
  for (uint32_t bit = SMX_VIEW_LEVEL; bit <= SMX_VIEW_RESIDUAL; bit <<= 1) {
    if (!(c.views & bit)) continue;
    for (uint32_t d = 0; d < d_count; ++d, ++column) {
      // The same expressions detect() commits, so the state it stores is what was checked.
      const float level = next_level(det, a, x, d);
      float v;
      if (bit == SMX_VIEW_LEVEL) {
        v = raw ? level : (level - a.offset[d]) / a.scale[d];
      } else {
        const float base = !det->has_previous     ? level
                           : bit == SMX_VIEW_DELTA ? a.level[d]
                                                   : a.slow[d];
        v = raw ? level - base : (level - base) / a.scale[d];
      }
      a.input[column] = v;
      ok = ok && feature_is_valid(v);
    }
  }
  return ok;
}

void detect(smx_detector* det, const float* x, smx_detection* out) {
  const smx_detector_config& c = det->config;
  const DetectorArrays a = detector_arrays(det);
  smx_model* m = detector_model(det);
  ++det->samples_seen;

  // Commit the level (compute_views used the same expression). The slow average follows
  // once the learning gate's weight is known.
  for (uint32_t d = 0; d < c.features; ++d) {
    const float level = next_level(det, a, x, d);
    if (!det->has_previous) a.slow[d] = level;
    a.level[d] = level;
  }
  det->has_previous = 1;

  smx_detection result{kNaN, kNaN, 0.0f, -1, 0};
  if (!m->ready) {
    if (c.scaling == SMX_SCALING_WARMUP) {
      // Welford's running mean and sum of squared deviations of the level. Levels may be
      // 2^65 apart, so a squared deviation can overflow float: each term and the sum are
      // clamped at kMaxVariance (the standard deviation is then underestimated, by a
      // bounded factor, only for readings spread beyond +-6e18).
      const float n = static_cast<float>(det->samples_seen);
      for (uint32_t d = 0; d < c.features; ++d) {
        const float dev = a.level[d] - a.offset[d];
        a.offset[d] += dev / n;
        const float square = std::fmin(dev * (a.level[d] - a.offset[d]), kernels::kMaxVariance);
        a.scale[d] = std::fmin(a.scale[d] + square, kernels::kMaxVariance);
      }
      if (m->buffered + 1 == m->config.init_samples) finish_warmup_scaling(det, a);
    }
    observe(m, a.input);  // buffers; the last warm-up reading initializes the model
    follow_slow_average(det, a, 1.0f);
    *out = result;
    return;
  }

  ++det->scored;
  ++m->samples_seen;
  const ModelArrays ma = arrays_of(m);
  const float log_p = estep_sample(ma, a.input);
  smx_score_tail& tail = det->tail;
  result.score = -log_p;
  result.top_feature = top_feature(det, a, ma);
  const bool alarms_on = det->scored > c.calibration_samples;
  const float truncation = alarms_on ? c.alarm_rate : 0.0f;
  if (tail.updates > 0) {
    const float excess = mean_excess(tail, truncation);
    result.threshold = score_at(tail, excess, c.alarm_rate);
    result.probability = 1.0f - tail_probability(tail, excess, result.score);
    result.is_anomaly = alarms_on && result.score > result.threshold;
  }
  const float weight = result.is_anomaly ? c.anomaly_weight : 1.0f;
  if (weight > 0.0f) {
    learn(m, ma, a.input, log_p, weight);
    if (std::isfinite(result.score))
      tail_update(tail, result.score, weight, c.tail_rate, truncation);
    follow_slow_average(det, a, weight);
  }
  *out = result;
}

// Snapshot format, version 1 (little-endian, with the archives of archive.h):
//   u32 magic "SDTS" | u32 version | u32 total bytes (CRC included)
//   config: u32 features, u32 views, f32 smoothing, f32 residual_rate, u32 scaling,
//           u32 calibration_samples, f32 tail_rate, f32 alarm_rate, f32 anomaly_weight
//   state:  u32 has_previous, u64 samples_seen, u64 scored, u64 tail updates,
//           u64 tail exceedances, f32 tail mean, variance, median, upper, mean_excess
//   arrays: f32 offset[D], scale[D], level[D], slow[D]
//   the model's snapshot (its own format, with its own CRC and invariants)
//   u32 CRC-32 of every byte before it
// The invariants (what the library reaches, so exactly what the loader accepts):
//   config     valid (detector_config_is_valid), the model's features = D x views
//   counters   has_previous = (samples_seen > 0); the model's samples_seen = samples_seen;
//              the model is ready iff samples_seen >= its init_samples, and then
//              scored = samples_seen - init_samples (0 before)
//   tail       updates <= scored; updates 0: every tail value and exceedances 0;
//              updates 1: variance, mean_excess, exceedances 0 and mean = median = upper;
//              else exceedances < updates, exceedances 0 => mean_excess 0;
//              |mean| <= kMaxTailMean, variance in [0, kMaxTailVariance],
//              |median|, |upper| <= kMaxTailQuantile, upper >= median,
//              mean_excess in [0, kMaxTailExcess]
//   scaling    none: offsets 0, scales 1; fixed: |offset| <= SMX_MAX_ABS_FEATURE, scales in
//              [SMX_MIN_SCALE, SMX_MAX_SCALE]; warm-up: while the model warms up, offsets are
//              running means (|o| <= kMaxAbsLocation) and scales running sums of squared
//              deviations in [0, SMX_MAX_VARIANCE] (0 before the first reading), then
//              scales in [SMX_MIN_SCALE, SMX_MAX_SCALE]
//   levels     level and slow |v| <= kMaxAbsLocation (moving averages of inputs); 0 before
//              the first reading
namespace {

constexpr uint32_t kDetectorSnapshotMagic = 0x53544453u;  // bytes "SDTS"
constexpr uint32_t kDetectorSnapshotVersion = 1;

template <class Archive>
void transfer_detector(Archive& ar, smx_detector_config& c, smx_detector& det) {
  ar.u32(c.features);
  ar.u32(c.views);
  ar.f32(c.smoothing);
  ar.f32(c.residual_rate);
  ar.u32(c.scaling);
  ar.u32(c.calibration_samples);
  ar.f32(c.tail_rate);
  ar.f32(c.alarm_rate);
  ar.f32(c.anomaly_weight);
  ar.u32(det.has_previous);
  ar.u64(det.samples_seen);
  ar.u64(det.scored);
  ar.u64(det.tail.updates);
  ar.u64(det.tail.exceedances);
  ar.value(Kind::finite, &det.tail.mean);
  ar.value(Kind::finite, &det.tail.variance);
  ar.value(Kind::finite, &det.tail.median);
  ar.value(Kind::finite, &det.tail.upper);
  ar.value(Kind::finite, &det.tail.mean_excess);
}

// The four per-feature arrays, with the kinds of a detector whose model is ready or not
// (null destinations when validating).
template <class Archive>
void transfer_detector_arrays(Archive& ar, const smx_detector_config& c, bool model_ready,
                              const DetectorArrays* a) {
  const bool running_sums = c.scaling == SMX_SCALING_WARMUP && !model_ready;
  const Kind kinds[] = {running_sums ? Kind::location : Kind::feature,
                        running_sums ? Kind::square_sum : Kind::finite, Kind::location,
                        Kind::location};
  float* const arrays[] = {a ? a->offset : nullptr, a ? a->scale : nullptr,
                           a ? a->level : nullptr, a ? a->slow : nullptr};
  for (size_t i = 0; i < kStateArrays; ++i) {
    for (uint32_t d = 0; d < c.features; ++d)
      ar.value(kinds[i], arrays[i] ? arrays[i] + d : nullptr);
  }
}

// The tail tracker's invariants (listed with the format).
bool tail_is_valid(const smx_score_tail& t, uint64_t scored) {
  if (t.updates > scored) return false;
  if (t.updates == 0) {
    return t.exceedances == 0 && t.mean == 0.0f && t.variance == 0.0f && t.median == 0.0f &&
           t.upper == 0.0f && t.mean_excess == 0.0f;
  }
  if (t.updates == 1) {
    return t.exceedances == 0 && t.variance == 0.0f && t.mean_excess == 0.0f &&
           t.median == t.mean && t.upper == t.mean && std::fabs(t.mean) <= kMaxTrackedScore;
  }
  if (t.exceedances >= t.updates || (t.exceedances == 0 && t.mean_excess != 0.0f)) return false;
  return std::fabs(t.mean) <= kMaxTailMean && t.variance >= 0.0f &&
         t.variance <= kMaxTailVariance && std::fabs(t.median) <= kMaxTailQuantile &&
         std::fabs(t.upper) <= kMaxTailQuantile && t.upper >= t.median &&
         t.mean_excess >= 0.0f && t.mean_excess <= kMaxTailExcess;
}

// The scaling and level invariants of one feature (listed with the format); each value is
// already within its kind's range (transfer_detector_arrays).
bool feature_state_is_valid(const smx_detector_config& c, uint64_t samples_seen, bool model_ready,
                            float offset, float scale, float level, float slow) {
  if (samples_seen == 0 && (level != 0.0f || slow != 0.0f)) return false;
  if (c.scaling == SMX_SCALING_NONE) return offset == 0.0f && scale == 1.0f;
  if (c.scaling == SMX_SCALING_WARMUP && !model_ready)
    return samples_seen > 0 || (offset == 0.0f && scale == 0.0f);
  return scale_is_valid(scale);
}

size_t detector_fixed_bytes() { return kSnapshotPreambleBytes + 9 * 4 + 4 + 4 * 8 + 5 * 4; }

// The detector's part of a snapshot, before the model's: fixed fields and the state arrays.
size_t detector_head_bytes(uint32_t features) {
  return detector_fixed_bytes() + 4 * kStateArrays * size_t{features};
}

}  // namespace

size_t detector_snapshot_size(const smx_detector* det) {
  return detector_head_bytes(det->config.features) +
         snapshot_size(detector_model(det)) + 4;
}

size_t detector_snapshot_save(const smx_detector* det, unsigned char* out) {
  const size_t total = detector_snapshot_size(det);
  smx_detector header = *det;  // the archives take references; the detector stays const
  const DetectorArrays a = detector_arrays(det);
  Writer w(out);
  write_preamble(w, kDetectorSnapshotMagic, kDetectorSnapshotVersion, total);
  transfer_detector(w, header.config, header);
  transfer_detector_arrays(w, det->config, detector_model(det)->ready != 0, &a);
  const size_t head = detector_head_bytes(det->config.features);
  const size_t model_bytes = snapshot_save(detector_model(det), out + head);
  Writer(out + head + model_bytes).u32(crc32(out, total - 4));
  return total;
}

bool detector_snapshot_check(const unsigned char* in, size_t len, smx_detector_config* c,
                             size_t* total) {
  size_t length = 0;
  if (!check_preamble(in, len, kDetectorSnapshotMagic, kDetectorSnapshotVersion,
                      detector_fixed_bytes() + 4, &length))
    return false;
  smx_detector det{};
  Checker checker(in + kSnapshotPreambleBytes, 0.0f);
  transfer_detector(checker, *c, det);
  if (!checker.ok()) return false;
  const size_t head = detector_head_bytes(c->features);
  if (c->features > SMX_MAX_FEATURES || head + 4 > length) return false;
  // The model first: its state decides the kinds of the scaling arrays.
  size_t model_total = 0;
  smx_model model{};
  if (!snapshot_check(in + head, length - head - 4, &c->model, &model_total, &model))
    return false;
  if (head + model_total + 4 != length || !detector_config_is_valid(*c)) return false;
  const bool ready = model.ready != 0;
  if (det.has_previous != (det.samples_seen > 0 ? 1u : 0u)) return false;
  if (model.samples_seen != det.samples_seen) return false;
  if (ready != (det.samples_seen >= c->model.init_samples)) return false;
  if (det.scored != (ready ? det.samples_seen - c->model.init_samples : 0)) return false;
  if (!tail_is_valid(det.tail, det.scored)) return false;
  Checker array_checker(in + detector_fixed_bytes(), 0.0f);
  transfer_detector_arrays(array_checker, *c, ready, nullptr);
  if (!array_checker.ok()) return false;
  const unsigned char* arrays = in + detector_fixed_bytes();
  auto array_value = [&](size_t array, uint32_t d) {
    return f32_at(arrays + 4 * (array * c->features + d));
  };
  for (uint32_t d = 0; d < c->features; ++d) {
    if (!feature_state_is_valid(*c, det.samples_seen, ready, array_value(0, d), array_value(1, d),
                                array_value(2, d), array_value(3, d)))
      return false;
  }
  *total = length;
  return true;
}

smx_status detector_snapshot_load(const unsigned char* in, size_t len, void* storage,
                                  size_t storage_bytes, smx_detector** out) {
  smx_detector_config c;
  size_t total = 0;
  if (!detector_snapshot_check(in, len, &c, &total)) return SMX_ERR_SNAPSHOT;
  const size_t needed = detector_storage_bytes(c);
  if (!storage_fits(storage, storage_bytes, needed)) return SMX_ERR_STORAGE;
  if (regions_overlap(in, total, storage, needed)) return SMX_ERR_ARGUMENT;
  // Everything is checked: from here on the target storage is written.
  smx_detector* det = create_detector(c, storage);
  // Through the checking archive, which stores what it decodes: one instantiation of each
  // transfer function fewer (the values were checked above).
  Checker r(in + kSnapshotPreambleBytes, 0.0f);
  transfer_detector(r, det->config, *det);
  const DetectorArrays a = detector_arrays(det);
  const size_t head = detector_head_bytes(c.features);
  smx_model* model = nullptr;
  snapshot_restore(in + head, c.model, detector_model(det), &model);
  transfer_detector_arrays(r, c, model->ready != 0, &a);
  *out = det;
  return SMX_OK;
}

}  // namespace streamix::core
