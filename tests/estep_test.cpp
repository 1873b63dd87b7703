// E-step: log p(x) and responsibilities against the double-precision reference.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <random>
#include <vector>

#include "reference.h"
#include "streamix/streamix.hpp"

namespace {

struct Case {
  int k, d;
};

// A random model: weights in [0.05, 1], means N(0, 3^2), variances e^U(-2, 2).
struct RandomModel {
  std::vector<float> w, mean, var;
  reference::Mixture ref;
  RandomModel(int k, int d, std::mt19937_64& rng) : w(k), mean(k * d), var(k * d) {
    std::uniform_real_distribution<float> weight(0.05f, 1.0f), log_var(-2.0f, 2.0f);
    std::normal_distribution<float> loc(0.0f, 3.0f);
    float total = 0.0f;
    for (auto& v : w) total += v = weight(rng);
    for (auto& v : w) v /= total;  // normalized here so the library keeps the same floats
    for (auto& v : mean) v = loc(rng);
    for (auto& v : var) v = std::exp(log_var(rng));
    ref = reference::from_float(k, d, w, mean, var);
  }
};

// Float rounding bound for log p(x). Each log joint density is a sum of D + 2 terms, each
// computed from float inputs with a few roundings (subtract, square, multiply; log of the
// variance), so its error is at most about (D + 4) eps times the sum of term magnitudes S.
// The log-sum-exp adds K + 4 roundings of values <= max(1, |L|). Hence the bound
// (D + K + 8) eps (S + |L| + 1), with S the largest term magnitude over components.
double tolerance(const reference::Mixture& m, const float* x, double log_p) {
  double s = 0.0;
  for (int k = 0; k < m.k; ++k) s = std::max(s, reference::term_magnitude(m, x, k));
  return (m.d + m.k + 8) * double(FLT_EPSILON) * (s + std::fabs(log_p) + 1.0);
}

class EStep : public ::testing::TestWithParam<Case> {};

TEST_P(EStep, MatchesDoubleReference) {
  const auto [k, d] = GetParam();
  std::mt19937_64 rng(1000 + 37 * k + d);
  double widest_spread = 0.0;
  for (int trial = 0; trial < 20; ++trial) {
    RandomModel rm(k, d, rng);
    streamix::model model;
    ASSERT_EQ(streamix::model::create(streamix::config(k, d).init_samples(0), model),
              streamix::status::ok);
    ASSERT_EQ(model.set_params(rm.w, rm.mean, rm.var), streamix::status::ok);
    std::normal_distribution<float> noise(0.0f, 1.0f);
    for (int sample = 0; sample < 20; ++sample) {
      // Half the samples near a component, half far out (spreads of hundreds of nats).
      std::vector<float> x(d);
      const int near = sample % k;
      const float scale = sample % 2 ? 1.0f : 12.0f;
      for (int j = 0; j < d; ++j) x[j] = rm.mean[near * d + j] + scale * noise(rng);

      double top = -1e300, bottom = 1e300;
      for (int c = 0; c < k; ++c) {
        const double l = reference::log_joint(rm.ref, x.data(), c);
        top = std::max(top, l);
        bottom = std::min(bottom, l);
      }
      widest_spread = std::max(widest_spread, top - bottom);

      const double expected = reference::log_density(rm.ref, x.data());
      const double tol = tolerance(rm.ref, x.data(), expected);
      float got = 0.0f;
      ASSERT_EQ(model.score(x, got), streamix::status::ok);
      EXPECT_NEAR(got, expected, tol) << "K=" << k << " D=" << d;

      // r_k = exp(l_k - L): its error is r times the error of l_k - L (<= 2 tol), plus the
      // 2^-64 truncation and one rounding of r.
      std::vector<float> r(k);
      ASSERT_EQ(model.responsibilities(x, r), streamix::status::ok);
      const std::vector<double> r_ref = reference::responsibilities(rm.ref, x.data());
      double sum = 0.0;
      for (int c = 0; c < k; ++c) {
        EXPECT_NEAR(r[c], r_ref[c], 2.5 * tol * r_ref[c] + 0x1p-64 + FLT_EPSILON * r_ref[c]);
        EXPECT_GE(r[c], 0.0f);
        sum += r[c];
      }
      // sum r = exp(L_exact - L) up to K roundings: off by the absolute error of L itself.
      EXPECT_NEAR(sum, 1.0, 2.0 * tol + k * FLT_EPSILON);
    }
  }
  if (k > 1) {
    EXPECT_GT(widest_spread, 200.0) << "the cases must include spreads over 200 nats";
  }
}

// K = 1; K = 3, 13, 17 are multiples of no lane count; 16, 64 exact blocks; D = 1 included.
INSTANTIATE_TEST_SUITE_P(Shapes, EStep,
                         ::testing::Values(Case{1, 1}, Case{1, 8}, Case{3, 1}, Case{3, 5},
                                           Case{13, 7}, Case{16, 16}, Case{17, 3}, Case{64, 2}),
                         [](const auto& info) {
                           return "K" + std::to_string(info.param.k) + "_D" +
                                  std::to_string(info.param.d);
                         });

TEST(EStepEdge, EveryComponentInfinitelyFarGivesMinusInfinityNotNaN) {
  // (x - mean)^2 overflows float for every component: each log joint density is -inf.
  const int k = 5, d = 2;
  std::vector<float> w(k, 1.0f), mean(k * d, 1.8e19f), var(k * d, 1.0f);
  streamix::model model;
  ASSERT_EQ(streamix::model::create(streamix::config(k, d).init_samples(0), model),
            streamix::status::ok);
  ASSERT_EQ(model.set_params(w, mean, var), streamix::status::ok);
  const float x[d] = {-1.8e19f, -1.8e19f};
  float log_p = 0.0f;
  ASSERT_EQ(model.score(x, log_p), streamix::status::ok);
  EXPECT_EQ(log_p, -INFINITY);
  std::vector<float> r(k, -1.0f);
  ASSERT_EQ(model.responsibilities(x, r), streamix::status::ok);
  for (float v : r) EXPECT_EQ(v, 0.0f);  // no NaN: the sample belongs to nobody
  // Learning from it changes nothing and reports -inf.
  std::vector<float> before_mean(k * d);
  ASSERT_EQ(model.get_params(w, before_mean, var), streamix::status::ok);
  ASSERT_EQ(model.observe(x, &log_p), streamix::status::ok);
  EXPECT_EQ(log_p, -INFINITY);
  std::vector<float> after_mean(k * d);
  ASSERT_EQ(model.get_params(w, after_mean, var), streamix::status::ok);
  EXPECT_EQ(before_mean, after_mean);
}

TEST(EStepEdge, DistantComponentsGetExactlyZeroResponsibility) {
  // A component 400 nats away gets r = 0 exactly (below 2^-64), never a denormal.
  const int k = 2, d = 1;
  std::vector<float> w = {0.5f, 0.5f}, mean = {0.0f, 30.0f}, var = {1.0f, 1.0f};
  streamix::model model;
  ASSERT_EQ(streamix::model::create(streamix::config(k, d).init_samples(0), model),
            streamix::status::ok);
  ASSERT_EQ(model.set_params(w, mean, var), streamix::status::ok);
  const float x[1] = {0.0f};
  std::vector<float> r(k);
  ASSERT_EQ(model.responsibilities(x, r), streamix::status::ok);
  EXPECT_EQ(r[0], 1.0f);
  EXPECT_EQ(r[1], 0.0f);
}

}  // namespace
