// The learner over long streams: recovery from self-initialization, drift tracking,
// degenerate streams and the dead-component rule, warm-up semantics, averaging.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "reference.h"
#include "streamix/streamix.hpp"

namespace {

using streamix::status;

// 4 components in D = 8 with weights 0.1 .. 0.4, means N(0, 4^2) per feature (so about
// 16 sigma apart), variances in [0.5, 2].
reference::Mixture four_in_eight() {
  reference::Mixture m{4, 8, {0.1, 0.2, 0.3, 0.4}, {}, {}};
  std::mt19937_64 rng(2024);
  std::normal_distribution<double> loc(0.0, 4.0);
  std::uniform_real_distribution<double> var(0.5, 2.0);
  for (int i = 0; i < 4 * 8; ++i) {
    m.mean.push_back(loc(rng));
    m.variance.push_back(var(rng));
  }
  return m;
}

// Recovery with Polyak-Ruppert averaging from the 20,000th step: the averaged means carry a
// sampling error of about sigma / sqrt(180,000 w) <= 0.005 sigma, the weights about
// sqrt(w (1 - w) / 180,000) <= 0.0012, so the bounds 0.05 sigma and 0.01 are 10 and 8
// standard errors: a failure means a biased learner, not bad luck.
TEST(Learning, RecoversFourComponentsInEightDimensions) {
  const reference::Mixture truth = four_in_eight();
  reference::Sampler sampler(truth, 99);
  streamix::model model;
  ASSERT_EQ(streamix::model::create(streamix::config(4, 8).average_from(20000), model), status::ok);
  float x[8];
  for (int i = 0; i < 200000; ++i) {
    sampler.draw(x);
    ASSERT_EQ(model.observe(x), status::ok);
  }
  std::vector<float> w(4), mean(32), var(32);
  ASSERT_EQ(model.get_params(w, mean, var), status::ok);
  for (int t = 0; t < 4; ++t) {
    // The learned component closest to true component t, in units of the true sigma.
    int best = -1;
    double best_distance = 1e300;
    for (int k = 0; k < 4; ++k) {
      double worst = 0.0;
      for (int d = 0; d < 8; ++d) {
        worst = std::max(worst, std::fabs(mean[k * 8 + d] - truth.mean[t * 8 + d]) /
                                    std::sqrt(truth.variance[t * 8 + d]));
      }
      if (worst < best_distance) best = k, best_distance = worst;
    }
    std::printf("recovery: true component %d matched within %.4f sigma, weight %.4f vs %.1f\n", t,
                best_distance, w[best], truth.weight[t]);
    EXPECT_LT(best_distance, 0.05) << "true component " << t;
    EXPECT_NEAR(w[best], truth.weight[t], 0.01) << "true component " << t;
  }
}

// Drift: two components 20 sigma apart, step floor 0.01; both means jump by 5 sigma. The
// bias of a forgetting average decays like (1 - gamma / w)^n, so 5 sigma -> 0.1 sigma takes
// at least ln(50) w / gamma = 196 samples for w = 1/2, and each mean also fluctuates with sd
// sqrt(gamma / 2w) = 0.1 sigma, so both must be inside 0.1 sigma at the same moment. Measured
// first passage over 300 seeds of this setup: median 397, 99th percentile 611, maximum 692
// samples; the bound is 800. After that the model must stay unbiased: the mean signed error
// over the next 5,000 samples is within 0.05 sigma (the noise of that average is ~0.01).
TEST(Learning, TracksAJumpWithStepFloor) {
  reference::Mixture before{2, 1, {0.5, 0.5}, {0.0, 20.0}, {1.0, 1.0}};
  reference::Mixture after = before;
  for (double& m : after.mean) m += 5.0;
  streamix::model model;
  ASSERT_EQ(streamix::model::create(streamix::config(2, 1).step_floor(0.01f).init_samples(0), model),
            status::ok);
  const std::vector<float> w = {0.5f, 0.5f}, m0 = {0, 20}, v0 = {1, 1};
  ASSERT_EQ(model.set_params(w, m0, v0), status::ok);
  float x[1];
  reference::Sampler first(before, 5);
  for (int i = 0; i < 20000; ++i) {
    first.draw(x);
    ASSERT_EQ(model.observe(x), status::ok);
  }
  reference::Sampler second(after, 6);
  std::vector<float> wt(2), mean(2), var(2);
  auto worst_error = [&] {
    return std::max(std::fabs(mean[0] - after.mean[0]), std::fabs(mean[1] - after.mean[1]));
  };
  int recovered_after = -1;
  for (int i = 1; i <= 5000 && recovered_after < 0; ++i) {
    second.draw(x);
    ASSERT_EQ(model.observe(x), status::ok);
    ASSERT_EQ(model.get_params(wt, mean, var), status::ok);
    if (worst_error() < 0.1) recovered_after = i;
  }
  ASSERT_GT(recovered_after, 0) << "never came back within 0.1 sigma";
  std::printf("drift: back within 0.1 sigma after %d samples (bound 800)\n", recovered_after);
  EXPECT_LE(recovered_after, 800);
  std::vector<double> bias(2, 0.0);
  for (int i = 0; i < 5000; ++i) {
    second.draw(x);
    ASSERT_EQ(model.observe(x), status::ok);
    ASSERT_EQ(model.get_params(wt, mean, var), status::ok);
    for (int j = 0; j < 2; ++j) bias[j] += (mean[j] - after.mean[j]) / 5000.0;
  }
  for (double b : bias) {
    std::printf("drift: mean signed error over the next 5,000 samples %.4f sigma\n", b);
    EXPECT_LT(std::fabs(b), 0.05);
  }
}

// A constant stream for 1,000,000 samples into a model with a component that never gets
// data: all stays finite, variances at the floor, the idle component dies and is re-seeded
// at the first poorly explained sample.
TEST(Learning, ConstantStreamAndDeadComponent) {
  const float floor = 1e-6f;
  streamix::model model;
  ASSERT_EQ(streamix::model::create(streamix::config(3, 2).init_samples(0), model), status::ok);
  const std::vector<float> w = {0.4f, 0.4f, 0.2f}, m0 = {0, 0, 1, 1, 1000, 1000},
                           v0 = {1, 1, 1, 1, 1, 1};
  ASSERT_EQ(model.set_params(w, m0, v0), status::ok);
  const float x[2] = {0.5f, 0.5f};
  std::vector<float> wt(3), mean(6), var(6);
  for (int i = 0; i < 1000000; ++i) {
    float log_p = 0.0f;
    ASSERT_EQ(model.observe(x, &log_p), status::ok);
    ASSERT_TRUE(std::isfinite(log_p)) << "sample " << i;
    if (i % 100000 == 0 || i == 999999) {
      ASSERT_EQ(model.get_params(wt, mean, var), status::ok);
      for (int j = 0; j < 6; ++j) {
        ASSERT_TRUE(std::isfinite(mean[j]) && std::isfinite(var[j]));
        ASSERT_GE(var[j], floor);
      }
    }
  }
  // Components 0 and 1 share the constant; their variances sit at the floor. Component 2
  // received nothing: its weight is held at the floor (0.01 / K of the statistics).
  EXPECT_EQ(var[0], floor);
  EXPECT_EQ(var[2], floor);
  EXPECT_EQ(mean[4], 1000.0f);
  EXPECT_LT(wt[2], 0.0034f);
  // A poorly explained sample re-seeds the dead component there, with a variance spanning
  // the gap to the live component that explained it best (the two live ones both sit at
  // the constant, so either may be that one): per feature, (x - its mean)^2.
  const std::vector<float> live_means = mean;
  const float outlier[2] = {-50.0f, 70.0f};
  ASSERT_EQ(model.observe(outlier), status::ok);
  ASSERT_EQ(model.get_params(wt, mean, var), status::ok);
  EXPECT_EQ(mean[4], -50.0f);
  EXPECT_EQ(mean[5], 70.0f);
  bool spans_gap = false;
  for (int k = 0; k < 2; ++k) {
    const float g0 = outlier[0] - live_means[k * 2], g1 = outlier[1] - live_means[k * 2 + 1];
    spans_gap = spans_gap || (var[4] == g0 * g0 && var[5] == g1 * g1);
  }
  EXPECT_TRUE(spans_gap) << var[4] << " " << var[5];
  EXPECT_GT(wt[2], 0.0002f);  // it took the sample's whole step: gamma_t = (1e6 + 2)^-0.6
  // A second outlier next to it is explained by the re-seeded component: no new re-seed.
  const float near[2] = {-50.0f, 70.0f};
  float log_p = 0.0f;
  ASSERT_EQ(model.observe(near, &log_p), status::ok);
  EXPECT_GT(log_p, -30.0f);
}

TEST(Learning, WarmUpReportsNaNThenScores) {
  const uint32_t n = 24;
  streamix::model model;
  ASSERT_EQ(streamix::model::create(streamix::config(2, 1).init_samples(n), model), status::ok);
  const float probe[1] = {0.0f};
  float log_p = 1.0f;
  EXPECT_EQ(model.score(probe, log_p), status::not_ready);
  std::vector<float> w(2), m(2), v(2);
  EXPECT_EQ(model.get_params(w, m, v), status::not_ready);
  for (uint32_t i = 0; i < n; ++i) {
    const float x[1] = {i % 2 ? 10.0f + 0.1f * i : -10.0f - 0.1f * i};
    EXPECT_FALSE(model.ready());
    ASSERT_EQ(model.observe(x, &log_p), status::ok);
    EXPECT_TRUE(std::isnan(log_p)) << "sample " << i;
  }
  EXPECT_TRUE(model.ready());
  EXPECT_EQ(model.samples_seen(), n);
  ASSERT_EQ(model.get_params(w, m, v), status::ok);
  // k-means++ on two clusters finds both.
  EXPECT_NEAR(std::min(m[0], m[1]), -11.1f, 0.2f);
  EXPECT_NEAR(std::max(m[0], m[1]), 11.2f, 0.2f);
  EXPECT_NEAR(w[0], 0.5f, 1e-6f);
  const float x[1] = {10.0f};
  ASSERT_EQ(model.observe(x, &log_p), status::ok);
  EXPECT_TRUE(std::isfinite(log_p));
  EXPECT_EQ(model.score(probe, log_p), status::ok);
}

TEST(Learning, HoldPeriodKeepsParametersThenMoves) {
  streamix::model model;
  ASSERT_EQ(streamix::model::create(streamix::config(1, 1).init_samples(0).hold_samples(5), model),
            status::ok);
  const std::vector<float> w = {1}, m0 = {0}, v0 = {1};
  ASSERT_EQ(model.set_params(w, m0, v0), status::ok);
  std::vector<float> wt(1), m(1), v(1);
  const float x[1] = {3.0f};
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(model.observe(x), status::ok);
    ASSERT_EQ(model.get_params(wt, m, v), status::ok);
    EXPECT_EQ(m[0], 0.0f) << "no M-step during the hold period";
  }
  ASSERT_EQ(model.observe(x), status::ok);
  ASSERT_EQ(model.get_params(wt, m, v), status::ok);
  EXPECT_GT(m[0], 2.0f) << "the statistics accumulated during the hold arrive at once";
}

// The longest hold there is: the parameters must not move (hold_samples + 1 once wrapped to
// 0 in 32-bit arithmetic, and the fused M-step ran from the first step).
TEST(Learning, LongestHoldKeepsParameters) {
  streamix::model model;
  ASSERT_EQ(streamix::model::create(
                streamix::config(2, 1).init_samples(0).hold_samples(UINT32_MAX), model),
            status::ok);
  const std::vector<float> w = {0.5f, 0.5f}, m0 = {-1.0f, 1.0f}, v0 = {1.0f, 1.0f};
  ASSERT_EQ(model.set_params(w, m0, v0), status::ok);
  std::vector<float> wt(2), m(2), v(2);
  for (int i = 0; i < 10; ++i) {
    const float x[1] = {static_cast<float>(i)};
    ASSERT_EQ(model.observe(x), status::ok);
    ASSERT_EQ(model.get_params(wt, m, v), status::ok);
    ASSERT_EQ(m, m0) << "step " << i;
    ASSERT_EQ(v, v0) << "step " << i;
  }
}

// Past the hold the iterate shares the statistics' arrays; set_params must start a new hold
// with the new parameters in the iterate's own arrays. Scores during that hold must be a
// fresh model's with the same parameters, bit for bit, and must not move.
TEST(Learning, SetParamsAfterTheHoldStartsANewOne) {
  const auto cfg = streamix::config(2, 3).init_samples(0).hold_samples(4);
  const std::vector<float> w = {0.3f, 0.7f}, m0 = {0, 0, 0, 4, 4, 4}, v0(6, 1.0f);
  const std::vector<float> m1 = {-2, 1, 0, 6, 5, 3}, v1 = {2, 1, 1, 1, 3, 1};
  streamix::model used, fresh;
  ASSERT_EQ(streamix::model::create(cfg, used), status::ok);
  ASSERT_EQ(streamix::model::create(cfg, fresh), status::ok);
  ASSERT_EQ(used.set_params(w, m0, v0), status::ok);
  reference::Sampler sampler(reference::Mixture{2, 3, {0.3, 0.7}, {0, 0, 0, 4, 4, 4},
                                                std::vector<double>(6, 1.0)},
                             21);
  float x[3];
  for (int i = 0; i < 50; ++i) {  // well past the hold
    sampler.draw(x);
    ASSERT_EQ(used.observe(x), status::ok);
  }
  ASSERT_EQ(used.set_params(w, m1, v1), status::ok);
  ASSERT_EQ(fresh.set_params(w, m1, v1), status::ok);
  const float probe[3] = {1.0f, 2.0f, 0.5f};
  for (int i = 0; i < 4; ++i) {  // the new hold: the iterate stays at m1, v1
    float a = 0.0f, b = 0.0f;
    ASSERT_EQ(used.score(probe, a), status::ok);
    ASSERT_EQ(fresh.score(probe, b), status::ok);
    EXPECT_EQ(a, b) << "step " << i;
    sampler.draw(x);
    ASSERT_EQ(used.observe(x), status::ok);
    ASSERT_EQ(fresh.observe(x), status::ok);
  }
  sampler.draw(x);  // the fifth step ends the hold
  ASSERT_EQ(used.observe(x), status::ok);
  ASSERT_EQ(fresh.observe(x), status::ok);
  std::vector<float> wa(2), ma(6), va(6), wb(2), mb(6), vb(6);
  ASSERT_EQ(used.get_params(wa, ma, va), status::ok);
  ASSERT_EQ(fresh.get_params(wb, mb, vb), status::ok);
  EXPECT_EQ(ma, mb);
  EXPECT_EQ(va, vb);
  EXPECT_NE(ma, m1) << "the hold is over: the means have moved";
}

}  // namespace
