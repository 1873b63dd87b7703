// The score-tail tracker: the distribution of a detector's scores, tracked in fixed memory
// with forgetting (streamix.h explains the model of it), and what it answers: the threshold
// for an alarm rate, a score's tail probability and its logarithm.
#ifndef STREAMIX_CORE_SCORE_TAIL_H
#define STREAMIX_CORE_SCORE_TAIL_H

#include <cstdint>

// The score distribution, tracked with forgetting (see streamix.h): updated by every scored
// reading with its learning-gate weight.
struct smx_score_tail {
  uint64_t updates;         // scores taken in (weight > 0)
  uint64_t exceedances;     // of which above the 90 % quantile
  float mean;               // exponentially weighted mean and variance of the score: the
  float variance;           //   scale of the quantile updates
  float median;             // streaming 50 % and 90 % quantiles
  float upper;
  float mean_excess;        // mean of (score - upper) over scores above upper
};

namespace streamix::core {

// The mean excess of the tail, undoing the truncation by the alarms (see score_tail.cpp):
// divided by truncation_divisor(the share of scores the alarms keep out), which depends on
// the alarm rate alone (callers compute it once).
float truncation_divisor(float truncation);
float mean_excess(const smx_score_tail& t, float divisor);
// Tail probability 1 - F(s) of the fitted score distribution.
float tail_probability(const smx_score_tail& t, float excess, float s);
inline constexpr float kLog10e = 0.43429448f;  // log10(e): nats to decimal digits

// -log10 of that tail probability, computed in the log domain: no underflow however far
// the score (2 at a tail of 1e-2, 20 at 1e-20, 1e17 for the largest tracked score).
float surprise(const smx_score_tail& t, float excess, float s);
// The score whose tail probability is `tail` (in (0, 0.5]).
float score_at(const smx_score_tail& t, float excess, float tail);
// Takes score s in with weight w in (0, 1] (score_tail.cpp).
void tail_update(smx_score_tail& t, float score, float w, float rate, float truncation);
// The tracker's invariants, given the detector's scored readings (listed with the
// detector's snapshot format).
bool tail_is_valid(const smx_score_tail& t, uint64_t scored);

}  // namespace streamix::core

#endif  // STREAMIX_CORE_SCORE_TAIL_H
