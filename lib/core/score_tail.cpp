// The score-tail tracker (score_tail.h).
#include "core/score_tail.h"

#include <cmath>

namespace streamix::core {

namespace {

// Stochastic-approximation gains of the quantile updates, in units of the score's standard
// deviation: 1 / f(q) at the 50 % and 90 % quantiles of a normal distribution (sqrt(2 pi) and
// sqrt(2 pi) exp(1.2816^2 / 2)). With the 1/n steps of the first scores this is the gain at
// which the Robbins-Monro recursion converges at its optimal rate for normal scores.
constexpr float kMedianGain = 2.5066283f;
constexpr float kUpperGain = 5.6983f;
// A floor under the mean excess of the fitted tail, in nats, while the tracker has seen few
// exceedances. A score is a log density, and for data from a density p, P(-log p(X) > s) =
// integral over t > s of e^-t dV(t), V(t) the volume where -log p < t: for Gaussian
// components V grows like t^(D/2), so the tail is e^-s times a polynomial and its mean excess
// tends to 1 nat (0.84 at the 90 % quantile in one dimension, 1 in two, 1.49 in eight). The
// first estimates rest on a handful of excursions (a smoothed level's scores are correlated
// over ~(2 - s) / s readings) and came out far below that: the first 2,000 readings of white
// noise raised 2 times the nominal alarms. A stream's own tail may be thinner still (a model
// broader than the data: on the NAB demo a constant floor found 2 of the 4 windows instead of
// 4), so the floor fades as exceedances come: 1 nat x n0 / (n0 + exceedances), n0 =
// kFloorExceedances (half of it after ~5,000 readings).
constexpr float kMinMeanExcess = 1.0f;
constexpr float kFloorExceedances = 500.0f;
// The floor's own floor: a tail thinner than this says nothing a float score could resolve,
// and it keeps the threshold formula away from 0 / 0.
constexpr float kLeastMeanExcess = 1e-3f;
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

}  // namespace

// The mean excess of the tail. Flagged readings reach the tracker with the gate's weight
// only, so once alarms are on, the tracked excesses are (nearly) those of scores below the
// threshold: an exponential tail truncated at L = ln(0.1 / alarm_rate) mean excesses above
// the 90 % quantile, whose mean is e (1 - L / (exp(L) - 1)). Undoing that truncation keeps
// the alarm rate at its nominal value on a stationary stream; without it, every alarm
// thinned the tail, lowered the threshold and raised the alarm rate (5.7 % measured for a
// nominal 1 %).
float truncation_divisor(float truncation) {
  if (!(truncation > 0.0f && truncation < 0.1f)) return 1.0f;
  const float l = std::log(0.1f / truncation);
  return 1.0f - l / std::expm1(l);
}

float mean_excess(const smx_score_tail& t, float divisor) {
  const float e = t.mean_excess / divisor;  // (exact for 1)
  const float ne = static_cast<float>(t.exceedances);
  const float floor = std::fmax(kMinMeanExcess * kFloorExceedances / (kFloorExceedances + ne),
                                kLeastMeanExcess);
  return e > floor ? e : floor;
}

// Tail probability 1 - F(s) of the fitted score distribution: log-linear between the
// median (0.5) and the 90 % quantile (0.1), exponential above it, mirrored below the median.
float tail_probability(const smx_score_tail& t, float excess, float s) {
  const float span = t.upper - t.median;
  if (s >= t.upper) return 0.1f * std::exp(-(s - t.upper) / excess);
  if (s >= t.median) return 0.5f * std::exp(-kLog5 * (s - t.median) / span);
  return 1.0f - 0.5f * std::exp(-kLog5 * (t.median - s) / span);
}

float surprise(const smx_score_tail& t, float excess, float s) {
  const float span = t.upper - t.median;
  if (s >= t.upper) return 1.0f + kLog10e * ((s - t.upper) / excess);
  if (s >= t.median) return 0.30103f + kLog10e * (kLog5 * (s - t.median) / span);
  return -kLog10e * std::log1p(-0.5f * std::exp(-kLog5 * (t.median - s) / span));
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
  // Cantelli's inequality puts the 90 % quantile of any distribution at most 3 standard
  // deviations above its mean: holding the estimate there lets it come down as fast as the
  // moments do. The stochastic-approximation step alone comes down at a tenth of its gain
  // (0.001 sd per score at the default rate), so a glitch among the first scores (1/n steps)
  // held the threshold at 5 times its value 5,000 readings later.
  if (t.upper > t.mean + 3.0f * sd) t.upper = t.mean + 3.0f * sd;
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

}  // namespace streamix::core
