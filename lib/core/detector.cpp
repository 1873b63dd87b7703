// The anomaly detector: scaling, views, scoring before learning and the learning gate around
// one model and one score-tail tracker (score_tail.h); its snapshots in detector_snapshot.cpp.
#include "core/detector.h"

#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/archive.h"
#include "core/model.h"

namespace streamix::core {

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// The residual view's baseline learns like the model: a flagged reading moves it by the
// learning gate's weight only, so a sustained fault keeps showing as a departure. It moves
// toward the level, or, for a reading learned winsorized (learned = its moved views), toward
// the level that reading's residual view was moved to.
void follow_slow_average(smx_detector* det, const DetectorArrays& a, float weight,
                         const float* learned) {
  const smx_detector_config& c = det->config;
  const float r = weight * c.residual_rate;
  const float* residual = nullptr;
  if (learned != nullptr && (c.views & SMX_VIEW_RESIDUAL))
    residual = learned + size_t{view_count(c.views) - 1} * c.features;
  for (uint32_t d = 0; d < c.features; ++d) {
    const float gap = residual != nullptr ? residual[d] * a.scale[d] : a.level[d] - a.slow[d];
    // A moved residual is bounded in scaled units: times a scale up to SMX_MAX_SCALE it can
    // carry the average past the range of raw readings (found by fuzz_snapshot_repaired: a
    // slow average of -5.5e22 that the loader rejects). It stays within that range.
    const float slow = a.slow[d] + r * gap;
    a.slow[d] = slow > kMaxAbsLocation ? kMaxAbsLocation : (slow < -kMaxAbsLocation ? -kMaxAbsLocation : slow);
  }
}

// How far one reading may move what is learned (the model, the score tracker, the residual
// view's baseline): a reading scoring above this is learned as one scoring this (winsorized).
// kInfluenceScales tail scales (the larger of the mean excess and the scores' standard
// deviation) above the threshold; before the first score, the learner's own bound. On SKAB
// 10 scales cost FAR (17.7 % against 8.1 %: sustained faults no longer raised the threshold
// after them) and 100 kept F1 0.81 at FAR 9.5 %; either bounds a glitch (the glitch test).
constexpr float kInfluenceScales = 100.0f;
float influence_limit(const smx_score_tail& t, float excess, float threshold, const ComponentView& v) {
  if (t.updates == 0) return poorly_explained_score(v);
  const float sd = std::sqrt(t.variance);
  return threshold + kInfluenceScales * (excess > sd ? excess : sd);
}

// Spikes: a single reading far from the level, which the level view averages away (an 80 sigma
// spike on a slow sine scored as nothing); with smoothing 1 the model sees the reading itself
// and there is no spike view. Each feature's raw innovation x - level (before
// the level moves) is measured in its own root mean square, tracked per feature: a plain
// mean over the warm-up, then exponential forgetting at kInnovationRate, each term capped at
// kInnovationCap mean squares once kSeedInnovations are in (one glitch raises it by 9 % at
// most after the warm-up). A reading is a spike when an innovation exceeds kSpikeSigmas of
// them; its surprise is then the normal tail's beyond that point, added to the alarm's
// surprise, so that the alarm, surprise and anomaly_score stay one decision: surprise =
// s_alarm + log10(e) ((z^2 - Z^2) / 2 + ln(z / Z)) (the Mills-ratio form of -log10 P(|N| > z),
// relative to Z).
constexpr float kInnovationRate = 0.01f;
constexpr float kInnovationCap = 9.0f;
constexpr float kSpikeSigmas = 8.0f;
// The first innovations of a stream have little to be measured against: they seed the mean
// square, and from the next one on a warm-up glitch is held beyond kInnovationLimit (see
// warmup_pull) and each term is capped. Within the seed, from its third reading on (one
// innovation in; a reading held wrongly there is confirmed by the next), only an
// astronomical one is held: beyond kSeedInnovationLimit. (32 and 1,000: SKAB's flow meter
// steps by 1 for single readings about every 7 readings, around an rms of 0.002, 660 of them;
// holding its first steps as glitches, with a seed of 8 at the limit of 16, cost SKAB F1
// 0.02.)
constexpr uint64_t kSeedInnovations = 32;
constexpr uint64_t kFirstHeldInnovations = 1;
constexpr float kSeedInnovationLimit = 1000.0f;

bool scaling_pending(const smx_detector* det, bool ready);

// The level view's moving average after reading x (exactly x without smoothing). Once the
// scaling is known, a reading's pull on it is limited to kInnovationLimit standard
// deviations of the raw readings (the level's, scale, times sqrt((2 - s) / s) for an
// average of weight s): one glitch then moves the level by s times that, not by s times the
// glitch (a 1e10 reading held the level above the threshold for ~200 readings). During the
// warm-up there is no such scale: a glitch is held instead (warmup_pull). Without scaling
// the level follows every reading after the warm-up. (16: SKAB's FAR is 9.6 % with it,
// 12.4 % with 5.)
constexpr float kInnovationLimit = 16.0f;

// Innovations in the mean squares before reading number samples_seen + 1.
uint64_t innovations_before(const smx_detector* det) {
  return det->samples_seen > 0 ? det->samples_seen - 1 : 0;
}

// What a warm-up reading does to its feature's level. A glitch there would reach the warm-up
// scaling and the k-means initialization as data (after one 1e2 glitch at 100 sigma the
// faults of the glitch test went unflagged), so once the mean square is seeded a reading
// beyond kInnovationLimit root mean square innovations is held (within the seed, beyond
// kSeedInnovationLimit): the level stays, and the mean square takes it as a reading at that
// limit (so that excursions which recur soon pass).
// The next reading beyond the limit confirms it: two in a row are a change, which the level
// follows at once. A held reading is marked by the sign bit of its feature's mean square
// (negative only during the warm-up; cleared when it ends).
enum class Pull { kMove, kHold, kConfirm };
bool is_held(float innovation_ms) { return std::signbit(innovation_ms); }
Pull warmup_pull(const smx_detector* det, bool ready, const DetectorArrays& a, const float* x,
                uint32_t d) {
  if (!det->has_previous || ready) return Pull::kMove;
  const uint64_t before = innovations_before(det);
  if (before < kFirstHeldInnovations) return Pull::kMove;
  const float limit = before < kSeedInnovations ? kSeedInnovationLimit : kInnovationLimit;
  const float ms = std::fabs(a.innovation[d]);
  const float v = x[d] - a.level[d];
  if (!(ms > 0.0f) || !(v * v > limit * limit * ms)) return Pull::kMove;
  return is_held(a.innovation[d]) ? Pull::kConfirm : Pull::kHold;
}

// (pull: warmup_pull's answer for this reading and feature)
float next_level(const smx_detector* det, bool ready, const DetectorArrays& a, const float* x,
                 uint32_t d, Pull pull) {
  const float s = det->config.smoothing;
  if (!det->has_previous) return x[d];
  if (pull == Pull::kHold) return a.level[d];
  if (s >= 1.0f) return x[d];
  float innovation = x[d] - a.level[d];
  if (det->config.scaling != SMX_SCALING_NONE && !scaling_pending(det, ready)) {
    const float limit = kInnovationLimit * a.scale[d] * std::sqrt((2.0f - s) / s);
    innovation = innovation > limit ? limit : (innovation < -limit ? -limit : innovation);
  }
  return a.level[d] + s * innovation;
}

// Reading x through the level, in one pass over the features and before samples_seen counts
// it: its innovations measured against their mean squares so far (the spike), the level
// moved (next_level, the expression compute_views checked), the innovations taken into the
// mean squares.
Spike advance_level(smx_detector* det, bool ready, const DetectorArrays& a, const float* x) {
  Spike spike;
  const uint64_t before = innovations_before(det);
  const bool warming_up = !ready;
  // Without smoothing the level is the reading, which the model scores as it is.
  const bool spikes = det->has_previous && !warming_up && det->config.smoothing < 1.0f;
  const float n = static_cast<float>(before + 1);
  for (uint32_t d = 0; d < det->config.features; ++d) {
    const Pull pull = warmup_pull(det, ready, a, x, d);
    const float level = next_level(det, ready, a, x, d, pull);
    if (pull == Pull::kHold) {
      // (in the seed the mean square is left as it is: a reading held there is no scale)
      float& ms = a.innovation[d];
      if (before >= kSeedInnovations) {
        const float at_limit = kInnovationLimit * kInnovationLimit * ms;
        ms = std::fmin(ms + (at_limit - ms) / n, kernels::kMaxVariance);
      }
      ms = -ms;
      continue;
    }
    if (det->has_previous) {
      a.innovation[d] = std::fabs(a.innovation[d]);
      const float v = x[d] - a.level[d];
      float square = std::fmin(v * v, kernels::kMaxVariance);
      float& ms = a.innovation[d];
      if (spikes && ms > 0.0f && square / ms > spike.z2)
        spike.z2 = square / ms, spike.feature = static_cast<int32_t>(d);
      if (pull != Pull::kConfirm && before >= kSeedInnovations && ms > 0.0f)
        square = std::fmin(square, kInnovationCap * ms);
      if (warming_up) ms += (square - ms) / n;
      else if (ms == 0.0f) ms = square;  // a feature constant so far, or a version 1 snapshot
      else ms += kInnovationRate * (square - ms);
      ms = std::fmin(ms, kernels::kMaxVariance);  // (rounding of a convex combination)
    } else {
      a.slow[d] = level;
    }
    a.level[d] = level;
  }
  det->has_previous = 1;
  return spike;
}

// (alarm_surprise: -log10 of the alarm rate, the surprise at the threshold)
float spike_surprise(const Spike& s, float alarm_surprise) {
  const float z2 = kSpikeSigmas * kSpikeSigmas;
  if (!(s.z2 > z2)) return 0.0f;
  return alarm_surprise + kLog10e * (0.5f * (s.z2 - z2) + 0.5f * std::log(s.z2 / z2));
}

// The [0, 1) score that resolves the far tail (streamix.h).
float anomaly_score(float surprise, float alarm_surprise) {
  if (surprise == kernels::kInf) return 1.0f;
  return surprise / (surprise + alarm_surprise);
}

bool scaling_pending(const smx_detector* det, bool ready) {
  return det->config.scaling == SMX_SCALING_WARMUP && !ready;
}

// The warm-up hook (model.h) of a warm-up scaling: offset = mean, scale = standard
// deviation (or 1 for a constant feature), then the buffered views scaled the same way,
// clamped to the model's feature range.
void finish_warmup_scaling(void* context, float* rows, uint32_t count, uint32_t width) {
  auto* det = static_cast<smx_detector*>(context);
  const DetectorArrays a = detector_arrays(det);
  const uint32_t d_count = det->config.features;
  const float n = static_cast<float>(det->samples_seen);
  for (uint32_t d = 0; d < d_count; ++d) {
    const float sd = n > 1.0f ? std::sqrt(a.scale[d] / (n - 1.0f)) : 0.0f;
    // Below a millionth of the offset a deviation is at the level of float rounding.
    const float resolution = 1e-6f * std::fabs(a.offset[d]);
    const float scale = sd > resolution && sd > 0.0f ? sd : (resolution > 0.0f ? resolution : 1.0f);
    a.scale[d] = scale < SMX_MIN_SCALE ? SMX_MIN_SCALE : (scale > SMX_MAX_SCALE ? SMX_MAX_SCALE : scale);
  }
  const uint32_t views = det->config.views;
  for (uint32_t i = 0; i < count; ++i) {
    float* row = rows + size_t{i} * width;
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
  }
}

// The feature whose squared standardized deviations from the most responsible component,
// summed over views, are largest (v: the model's components after scoring the reading).
int32_t top_feature(const smx_detector* det, const DetectorArrays& a, const ComponentView& v) {
  const size_t best = most_likely_component(v) * v.component_step;
  const uint32_t d_count = det->config.features;
  const uint32_t v_count = view_count(det->config.views);
  int32_t top = 0;
  float top_term = -1.0f;
  for (uint32_t d = 0; d < d_count; ++d) {
    float term = 0.0f;
    for (uint32_t view = 0; view < v_count; ++view) {
      const size_t j = size_t{view} * d_count + d;
      const float dev = a.input[j] - v.mean[j * v.feature_step + best];
      term += dev * dev * v.half_precision[j * v.feature_step + best];
    }
    if (term > top_term) top_term = term, top = static_cast<int32_t>(d);
  }
  return top;
}

}  // namespace

uint32_t view_count(uint32_t views) { return SMX_VIEW_COUNT(views); }

ConfigRule broken_rule(const smx_detector_config& c) {
  const uint32_t v = view_count(c.views);
  if (c.features == 0 || c.features > SMX_MAX_FEATURES) return ConfigRule::kDetectorFeatures;
  if (v == 0 || (c.views & ~7u) != 0) return ConfigRule::kViews;
  if (uint64_t{c.features} * v != c.model.features) return ConfigRule::kViewFeatures;
  const ConfigRule model = broken_rule(c.model);
  if (model != ConfigRule::kNone) return model;
  if (!(c.smoothing > 0.0f && c.smoothing <= 1.0f)) return ConfigRule::kSmoothing;
  if (!(c.residual_rate > 0.0f && c.residual_rate < 1.0f)) return ConfigRule::kResidualRate;
  if (c.scaling > SMX_SCALING_FIXED) return ConfigRule::kScaling;
  // The model initializes itself from its warm-up (a warm-up scaling needs two readings).
  if (c.model.init_samples < (c.scaling == SMX_SCALING_WARMUP ? 2u : 1u)) return ConfigRule::kWarmupSamples;
  if (!(c.tail_rate > 0.0f && c.tail_rate <= 1.0f)) return ConfigRule::kTailRate;
  if (!(c.alarm_rate >= FLT_MIN && c.alarm_rate <= 0.1f)) return ConfigRule::kAlarmRate;
  if (!(c.anomaly_weight >= 0.0f && c.anomaly_weight <= 1.0f)) return ConfigRule::kAnomalyWeight;
  return ConfigRule::kNone;
}

bool detector_config_is_valid(const smx_detector_config& c) { return broken_rule(c) == ConfigRule::kNone; }

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
  return DetectorArrays{base,         base + d,     base + 2 * d,       base + 3 * d,
                        base + 4 * d, base + 5 * d, base + kStateArrays * d};
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

// A glitch in the first or second reading cannot be told from a change until the third: it
// is then the one of the three far from both others, beyond kSeedInnovationLimit times their
// distance from each other in some feature (the seed's limit, for the same SKAB reason). By
// then it has reached the level, the warm-up scaling and the model's warm-up as data (a 1e10
// first or second reading left both faults of the glitch test unflagged), so the stream
// restarts at the third reading, which becomes the first (samples_seen counts from it). Only
// while the model still warms up at the third reading (init_samples > 2), only once (an
// alternating stream would restart for ever), and only if that reading's views are valid as
// a first's. Two equal readings give no distance to measure against and restart nothing: a
// quantized sensor repeats values and steps by a quantum (SKAB's do, in most files; with
// repeats counted, and beyond 20 distances, 224 of skab_eval's 578 runs restarted and F1 fell
// to 0.79, as it does when every file starts at its third reading).
namespace {
bool is_far(float a, float b, float c) {
  if (b == c) return false;
  const float apart = kSeedInnovationLimit * std::fabs(b - c);
  return std::fabs(a - b) > apart && std::fabs(a - c) > apart;
}
}  // namespace

bool seed_glitch_restarts(const smx_detector* det, const float* x) {
  if (det->samples_seen != 2 || det->restarted || detector_model(det)->ready) return false;
  const DetectorArrays a = detector_arrays(det);
  const uint32_t d_count = det->config.features;
  const bool raw = scaling_pending(det, false);
  bool glitch = false;
  for (uint32_t d = 0; d < d_count; ++d) {
    const float first = a.seed[d], second = a.seed[d_count + d];
    glitch = glitch || is_far(first, second, x[d]) || is_far(second, first, x[d]);
    // (a first reading's views: its level, and 0 for the differences)
    if ((det->config.views & SMX_VIEW_LEVEL) && !feature_is_valid(raw ? x[d] : (x[d] - a.offset[d]) / a.scale[d]))
      return false;
  }
  return glitch;
}

void restart_stream(smx_detector* det) {
  const smx_detector_config c = det->config;
  const DetectorArrays a = detector_arrays(det);
  if (c.scaling != SMX_SCALING_FIXED) {
    create_detector(c, det);
  } else {  // (a fixed scaling is set once, before the first reading: it stays)
    std::memset(a.level, 0, 4 * size_t{c.features} * (kStateArrays - 2));
    det->has_previous = 0;
    det->samples_seen = 0;
    create_model(c.model, detector_model(det));
  }
  det->restarted = 1;
}

bool compute_views(const smx_detector* det, bool ready, const float* x) {
  const smx_detector_config& c = det->config;
  const DetectorArrays a = detector_arrays(det);
  const bool raw = scaling_pending(det, ready);
  const uint32_t d_count = c.features;
  uint32_t column = 0;
  bool ok = true;
  for (uint32_t bit = SMX_VIEW_LEVEL; bit <= SMX_VIEW_RESIDUAL; bit <<= 1) {
    if (!(c.views & bit)) continue;
    for (uint32_t d = 0; d < d_count; ++d, ++column) {
      // The same expressions detect() commits, so the state it stores is what was checked.
      const float level = next_level(det, ready, a, x, d, warmup_pull(det, ready, a, x, d));
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

Spike detect_front(smx_detector* det, bool ready, const float* x) {
  const smx_detector_config& c = det->config;
  const DetectorArrays a = detector_arrays(det);
  // The spike view and the level; the slow average follows once the learning gate's weight
  // is known.
  if (det->samples_seen < 2) std::memcpy(a.seed + det->samples_seen * c.features, x, 4 * size_t{c.features});
  const Spike spike = advance_level(det, ready, a, x);
  const bool counted = count_up(det->samples_seen);  // (as the model's count: the same value)
  if (ready && counted) ++det->scored;  // scored = samples_seen - init_samples, at every count
  return spike;
}

JudgeConstants judge_constants(const smx_detector_config& c) {
  return JudgeConstants{-std::log10(c.alarm_rate), truncation_divisor(c.alarm_rate)};
}

Verdict judge(const smx_detector* det, float log_p, const ComponentView& v, const Spike& spike,
              const JudgeConstants& constants) {
  const smx_detector_config& c = det->config;
  const smx_score_tail& tail = det->tail;
  Verdict verdict;
  smx_detection& result = verdict.result;
  result = smx_detection{kNaN, kNaN, 0.0f, 0.0f, 0.0f, -1, 0};
  result.score = -log_p;
  result.top_feature = top_feature(det, detector_arrays(det), v);
  const bool alarms_on = det->scored > c.calibration_samples;
  verdict.truncation = alarms_on ? c.alarm_rate : 0.0f;
  const float excess = mean_excess(tail, alarms_on ? constants.excess_divisor : 1.0f);
  const float alarm_surprise = constants.alarm_surprise;
  if (tail.updates > 0) {
    result.threshold = score_at(tail, excess, c.alarm_rate);
    result.probability = 1.0f - tail_probability(tail, excess, result.score);
    result.surprise = surprise(tail, excess, result.score);
    result.anomaly_score = anomaly_score(result.surprise, alarm_surprise);
    result.is_anomaly = alarms_on && result.score > result.threshold;
  }
  const float spiked = spike_surprise(spike, alarm_surprise);
  if (spiked > result.surprise) {
    result.surprise = spiked;
    result.anomaly_score = anomaly_score(spiked, alarm_surprise);
    result.top_feature = spike.feature;
    result.is_anomaly = alarms_on;
  }
  verdict.weight = result.is_anomaly ? c.anomaly_weight : 1.0f;
  verdict.limit = verdict.weight > 0.0f ? influence_limit(tail, excess, result.threshold, v) : 0.0f;
  return verdict;
}

void settle(smx_detector* det, const Verdict& v, bool moved) {
  const smx_detector_config& c = det->config;
  smx_score_tail& tail = det->tail;
  const float score = v.result.score;
  // (updates <= scored at every count: the tracker stops with a saturated count)
  if (std::isfinite(score) && tail.updates < det->scored)
    tail_update(tail, score < v.limit ? score : v.limit, v.weight, c.tail_rate, v.truncation);
  const DetectorArrays a = detector_arrays(det);
  follow_slow_average(det, a, v.weight, moved ? a.input : nullptr);
}

void detect(smx_detector* det, const float* x, smx_detection* out) {
  const smx_detector_config& c = det->config;
  const DetectorArrays a = detector_arrays(det);
  smx_model* m = detector_model(det);
  const Spike spike = detect_front(det, m->ready, x);
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
    }
    const WarmupHook scaling{finish_warmup_scaling, det};
    // buffers; the last warm-up reading initializes the model (scaled first)
    observe(m, a.input, c.scaling == SMX_SCALING_WARMUP ? &scaling : nullptr);
    if (m->ready) {  // the warm-up is over: no reading is held any more
      for (uint32_t d = 0; d < c.features; ++d) a.innovation[d] = std::fabs(a.innovation[d]);
    }
    follow_slow_average(det, a, 1.0f, nullptr);
    *out = smx_detection{kNaN, kNaN, 0.0f, 0.0f, 0.0f, -1, 0};
    return;
  }

  const ModelArrays ma = arrays_of(m);
  const float log_p = take_sample(m, ma, a.input);
  const Verdict verdict = judge(det, log_p, component_view(ma), spike, judge_constants(c));
  if (verdict.weight > 0.0f) {
    const float learned_log_p = winsorize(ma, a.input, log_p, verdict.limit);
    if (m->config.batch_size > 1) {
      learn_in_batch(m, ma, a.input, verdict.weight);
    } else {
      learn(m, ma, a.input, learned_log_p, verdict.weight);
    }
    // (a moved reading scores at most the limit, below its own score: a different log p)
    settle(det, verdict, learned_log_p != log_p);
  }
  *out = verdict.result;
}

smx_status detect_reading(smx_detector* det, const float* x, smx_detection* out) {
  if (!sample_is_valid(x, det->config.features)) return SMX_ERR_INPUT;
  // (the reading's views are then valid as a first reading's: compute_views passes)
  if (seed_glitch_restarts(det, x)) restart_stream(det);
  // compute_views writes only the input scratch, which no state depends on.
  if (!compute_views(det, detector_model(det)->ready, x)) return SMX_ERR_INPUT;
  detect(det, x, out);
  return SMX_OK;
}

}  // namespace streamix::core
