// Merging two models' statistics (smx_model_merge): the pairwise combination of
// (weight, mean, M2) of Chan, Golub and LeVeque, per component, each model weighted by its
// effective sample count. Not a hot path: the arithmetic is in double, so that the merge of
// two models' statistics is the statistics of the union to float rounding.
#include <cmath>

#include "core/model.h"

namespace streamix::core {

namespace {

// The moments of one component: its weight as a count of samples, its mean and variance.
struct Moments {
  double count, mean, variance;
};

// The combination of two sets of moments: counts add, the mean is the count-weighted mean,
// the variance the pooled M2 (within + between) over the total count.
Moments combine(const Moments& a, const Moments& b) {
  const double total = a.count + b.count;
  const double share = b.count / total, delta = b.mean - a.mean;
  return Moments{total, a.mean + share * delta,
                 (1.0 - share) * a.variance + share * b.variance + share * (1.0 - share) * delta * delta};
}

// A two-float mean (hi + residual), as the statistics keep it (see kernels::Stats).
struct SplitMean {
  float hi, residual;
};
SplitMean split(double mean) {
  const float hi = static_cast<float>(mean);
  const float residual = static_cast<float>(mean - hi);
  // (the snapshot invariant |residual| <= 2^-23 |mean|, which rounding gives except among
  // subnormal means)
  return SplitMean{hi, std::fabs(residual) <= 0x1.0p-23f * std::fabs(hi) ? residual : 0.0f};
}

// A merged variance as a float within [floor, kMaxVariance] (clamped in double first: the
// between-means term can exceed FLT_MAX).
float variance_in_range(double v, float floor) {
  return clamp_variance(v > static_cast<double>(kernels::kMaxVariance) ? kernels::kMaxVariance
                                                                      : static_cast<float>(v),
                        floor);
}

// The position t >= from at which the schedule's step is 1 / samples (or the step floor,
// if 1 / samples is below it), at most `limit`.
uint64_t position_for(const smx_config& c, double samples, uint64_t from, uint64_t limit) {
  if (c.step_floor > 0.0f && samples > 1.0 / c.step_floor) samples = 1.0 / c.step_floor;
  const double t = std::ceil(std::pow(samples, 1.0 / c.step_exponent) - c.step_offset);
  if (!(t > static_cast<double>(from))) return from;
  if (t >= static_cast<double>(limit)) return limit;
  return static_cast<uint64_t>(t);
}

}  // namespace

double effective_samples(const smx_model* m) {
  return 1.0 / static_cast<double>(step_size(m->config, m->step_origin + m->steps));
}

void merge(smx_model* into, const smx_model* from, float weight) {
  const smx_config& c = into->config;
  const ModelArrays a = arrays_of(into), b = arrays_of(from);
  const kernels::Shape sa = a.stats.shape, sb = b.stats.shape;
  const double na = effective_samples(into), nb = weight * effective_samples(from);
  const double total = na + nb;

  // The statistics: weight s0_k is the share of the samples component k holds.
  for (uint32_t k = 0; k < sa.components; ++k) {
    const double ca = na * a.stats.weight[k], cb = nb * b.stats.weight[k];
    for (uint32_t d = 0; d < sa.features; ++d) {
      const size_t i = size_t{d} * sa.stride + k, j = size_t{d} * sb.stride + k;
      const Moments m = combine(
          Moments{ca, double{a.stats.mean[i]} + a.stats.mean_residual[i], a.stats.variance[i]},
          Moments{cb, double{b.stats.mean[j]} + b.stats.mean_residual[j], b.stats.variance[j]});
      const SplitMean mean = split(m.mean);
      a.stats.mean[i] = mean.hi;
      a.stats.mean_residual[i] = mean.residual;
      a.stats.variance[i] = variance_in_range(m.variance, c.variance_floor);
    }
    const float w = static_cast<float>((ca + cb) / total);
    a.stats.weight[k] = w > c.weight_floor ? w : c.weight_floor;
  }

  // The average (once it has iterates) merges with what `from` reports, by the same counts.
  if (into->averaged > 0) {
    const kernels::ParamArrays& p = reported_params(from, b);
    for (uint32_t k = 0; k < sa.components; ++k) {
      const double ca = na * a.average.weight[k], cb = nb * p.weight[k];
      for (uint32_t d = 0; d < sa.features; ++d) {
        const size_t i = size_t{d} * sa.stride + k, j = size_t{d} * sb.stride + k;
        const Moments m = combine(Moments{ca, a.average.mean[i], a.average.variance[i]},
                                  Moments{cb, p.mean[j], p.variance[j]});
        a.average.mean[i] = static_cast<float>(m.mean);
        a.average.variance[i] = variance_in_range(m.variance, c.variance_floor);
      }
      a.average.weight[k] = static_cast<float>((ca + cb) / total);
    }
    kernels::derive_estep_terms(a.average);
  }

  // The merged parameters are in effect at once, also during the hold.
  refresh_iterate(a);

  // The counts: the samples of both, and the schedule moved on to the merged count (never
  // back, and never past the samples seen: step_origin + steps <= samples_seen).
  into->samples_seen = saturating_add(into->samples_seen, from->samples_seen);
  const uint64_t t = into->step_origin + into->steps;
  into->step_origin = position_for(c, total, t, into->samples_seen - into->pending) - into->steps;
}

}  // namespace streamix::core
