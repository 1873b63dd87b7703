// M-step: the weighted-Welford statistics against the textbook (s0, s1, s2) recursion in
// double, and against the cancellation that ruins the textbook recursion in float.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <vector>

#include "reference.h"
#include "streamix/streamix.hpp"

namespace {

constexpr int kK = 3, kD = 4;

reference::Mixture truth() {
  reference::Mixture m{kK, kD, {0.25, 0.25, 0.5}, {}, {}};
  for (int k = 0; k < kK; ++k) {
    for (int d = 0; d < kD; ++d) {
      m.mean.push_back(4.0 * k - 2.0 + 0.5 * d);
      m.variance.push_back(0.5 + 0.25 * ((k + d) % 4));
    }
  }
  return m;
}

// The starting point: the truth, with means moved by 0.5 sigma and variances scaled by 1.5.
struct Start {
  std::vector<float> w{0.25f, 0.25f, 0.5f}, mean, var;
  Start() {
    const reference::Mixture t = truth();
    for (int i = 0; i < kK * kD; ++i) {
      mean.push_back(float(t.mean[i] + 0.5 * std::sqrt(t.variance[i])));
      var.push_back(float(1.5 * t.variance[i]));
    }
  }
};

// Runs n samples through the library and through the double textbook from the same start.
// Tolerances are relative to each component's scale: |mean error| <= tol * sigma,
// |variance error| <= tol * variance, |weight error| <= tol.
void compare_after(int n, double tol, uint32_t hold) {
  const Start start;
  streamix::model model;
  const auto cfg = streamix::config(kK, kD).init_samples(0).hold_samples(hold);
  ASSERT_EQ(streamix::model::create(cfg, model), streamix::status::ok);
  ASSERT_EQ(model.set_params(start.w, start.mean, start.var), streamix::status::ok);
  reference::TextbookEM textbook(reference::from_float(kK, kD, start.w, start.mean, start.var),
                                 0.6, 2.0, 0.0, hold);
  reference::Sampler sampler(truth(), 7);
  float x[kD];
  double worst_log_p = 0.0;
  for (int i = 0; i < n; ++i) {
    sampler.draw(x);
    float log_p = 0.0f;
    ASSERT_EQ(model.observe(x, &log_p), streamix::status::ok);
    const double expected = textbook.observe(x);
    worst_log_p = std::max(worst_log_p, std::fabs(log_p - expected) / (1.0 + std::fabs(expected)));
  }
  std::vector<float> w(kK), mean(kK * kD), var(kK * kD);
  ASSERT_EQ(model.get_params(w, mean, var), streamix::status::ok);
  const reference::Mixture& ref = textbook.theta;
  for (int k = 0; k < kK; ++k) {
    EXPECT_NEAR(w[k], ref.weight[k], tol) << "k=" << k;
    for (int d = 0; d < kD; ++d) {
      const int i = k * kD + d;
      EXPECT_NEAR(mean[i], ref.mean[i], tol * std::sqrt(ref.variance[i])) << "k=" << k << " d=" << d;
      EXPECT_NEAR(var[i], ref.variance[i], tol * ref.variance[i]) << "k=" << k << " d=" << d;
    }
  }
  EXPECT_LT(worst_log_p, tol) << "prequential log-likelihoods diverge";
}

// One step: a handful of float roundings on O(1) quantities (the E-step's error, ~(D + K)
// eps relative, enters eta), so 32 eps = 3.8e-6 relative is the bound.
TEST(MStep, OneObserveMatchesTextbook) { compare_after(1, 32 * FLT_EPSILON, 0); }

// 10,000 steps (hold 20): the recursion is contractive (each step keeps 1 - eta of the old
// value), so rounding errors do not accumulate linearly; measured here: 6.3e-7 of the scale
// at worst (about 5 eps). The bound 1e-5 leaves 15x for other seeds and compilers, while a
// biased update (one wrong term, a variance in the wrong form) misses it by orders.
TEST(MStep, TenThousandObservesMatchTextbook) { compare_after(10000, 1e-5, 20); }

// Features with mean 1e4 and standard deviation 1e-2. alpha = 1 makes the stepwise EM the
// running average, so after 100,000 samples the variance estimate's own sampling error is
// sqrt(2 / 1e5) = 0.45 %, leaving room for the 1 % bound only if the arithmetic is sound
// (measured: 0.09 % and 0.41 %). It also catches a mean kept as a plain float: at 1e4 its
// ulp is 1e-3, so updates eta (x - mean) < 5e-4 vanish, the mean freezes at its warm-up
// value, and its error (~3e-3) lands squared in the variance (+9 %).
TEST(MStep, LargeOffsetVarianceWithinOnePercent) {
  const double kMean = 1e4, kSigma = 1e-2;
  const int kSamples = 100000;
  reference::Mixture source{1, 2, {1.0}, {kMean, kMean + 0.5}, {kSigma * kSigma, kSigma * kSigma}};
  reference::Sampler sampler(source, 11);
  streamix::model model;
  ASSERT_EQ(streamix::model::create(streamix::config(1, 2).step_exponent(1.0f), model),
            streamix::status::ok);

  // The same stream through the textbook (s0, s1, s2) recursion in float, as a naive
  // implementation would write it: var = s2 / s0 - mean^2 cancels 1e8 against 1e8.
  float s0 = 0.0f, s1[2] = {0, 0}, s2[2] = {0, 0};
  float x[2];
  for (int i = 0; i < kSamples; ++i) {
    sampler.draw(x);
    ASSERT_EQ(model.observe(x), streamix::status::ok);
    const float gamma = 1.0f / float(i + 1);
    s0 = (1 - gamma) * s0 + gamma;
    for (int d = 0; d < 2; ++d) {
      s1[d] = (1 - gamma) * s1[d] + gamma * x[d];
      s2[d] = (1 - gamma) * s2[d] + gamma * x[d] * x[d];
    }
  }
  std::vector<float> w(1), mean(2), var(2);
  ASSERT_EQ(model.get_params(w, mean, var), streamix::status::ok);
  const double truth = kSigma * kSigma;
  for (int d = 0; d < 2; ++d) {
    EXPECT_NEAR(var[d], truth, 0.01 * truth) << "d=" << d;
    const float naive_mean = s1[d] / s0;
    const float naive_var = s2[d] / s0 - naive_mean * naive_mean;
    EXPECT_GT(std::fabs(naive_var - truth), 0.01 * truth)
        << "the naive float formula should fail here (got " << naive_var << ")";
  }
}

}  // namespace
