// smx_score_batch: the same values as per-sample scoring (the batch layout runs lanes across
// samples for small K, so its roundings differ), validation before any output, and edge rows.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "reference.h"
#include "streamix/streamix.hpp"

namespace {

using streamix::status;

struct Shape {
  uint32_t k, d;
  size_t n;
};

class ScoreBatch : public ::testing::TestWithParam<Shape> {};

// Against the double reference with the E-step's rounding bound (estep_test.cpp explains
// it), and against per-sample smx_score within twice that bound.
TEST_P(ScoreBatch, MatchesPerSampleScoringAndTheReference) {
  const auto [k, d, n] = GetParam();
  std::mt19937_64 rng(77 + k * 13 + d);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> w(k, 1.0f / k), mean(k * d), var(k * d);
  for (float& m : mean) m = 4.0f * normal(rng);
  for (float& v : var) v = std::exp(0.8f * normal(rng));
  streamix::model model;
  ASSERT_EQ(streamix::model::create(streamix::config(k, d).init_samples(0), model), status::ok);
  ASSERT_EQ(model.set_params(w, mean, var), status::ok);
  const reference::Mixture ref = reference::from_float(k, d, w, mean, var);

  std::vector<float> x(n * d);
  for (size_t i = 0; i < n; ++i) {
    const size_t c = i % k;
    const float spread = i % 3 == 0 ? 10.0f : 1.0f;  // some far from everything
    for (uint32_t j = 0; j < d; ++j) x[i * d + j] = mean[c * d + j] + spread * normal(rng);
  }
  std::vector<float> batch(n, NAN);
  ASSERT_EQ(model.score_batch(x, batch), status::ok);
  for (size_t i = 0; i < n; ++i) {
    const float* row = &x[i * d];
    const double expected = reference::log_density(ref, row);
    double s = 0.0;
    for (uint32_t c = 0; c < k; ++c) s = std::max(s, reference::term_magnitude(ref, row, c));
    const double tol = (d + k + 8) * double(FLT_EPSILON) * (s + std::fabs(expected) + 1.0);
    float single = 0.0f;
    ASSERT_EQ(model.score(streamix::span<const float>(row, d), single), status::ok);
    EXPECT_NEAR(batch[i], expected, tol) << "row " << i;
    EXPECT_NEAR(batch[i], single, 2 * tol) << "row " << i;
    // Beyond 8 components every backend scores a batch with its per-sample arithmetic
    // (Highway four samples at a time, in the same order): the same bits as smx_score.
    if (k > 8) {
      EXPECT_EQ(batch[i], single) << "row " << i;
    }
  }
}

// K <= 8 takes the across-samples path of the Highway backend, larger K its four-samples
// path; n is never a multiple of the lane count or of 4, so the per-sample tail runs too;
// K = 24, 80 and D = 33, 40 cross block and chunk edges.
INSTANTIATE_TEST_SUITE_P(Shapes, ScoreBatch,
                         ::testing::Values(Shape{1, 1, 37}, Shape{2, 3, 101}, Shape{5, 40, 53},
                                           Shape{8, 8, 19}, Shape{24, 5, 29}, Shape{3, 1, 1},
                                           Shape{17, 33, 10}, Shape{80, 3, 7}),
                         [](const auto& info) {
                           return "K" + std::to_string(info.param.k) + "_D" +
                                  std::to_string(info.param.d) + "_N" + std::to_string(info.param.n);
                         });

TEST(ScoreBatchEdge, EveryComponentInfinitelyFarGivesMinusInfinity) {
  // Components at +-1.8e19 with variance 1/4: (x - mean)^2 / (2 var) overflows float for
  // every row near 0, so every log joint density is -inf, in both batch paths.
  const uint32_t k = 2, d = 1;
  const std::vector<float> w = {0.5f, 0.5f}, mean = {1.8e19f, -1.8e19f}, var = {0.25f, 0.25f};
  streamix::model model;
  ASSERT_EQ(streamix::model::create(streamix::config(k, d).init_samples(0), model), status::ok);
  ASSERT_EQ(model.set_params(w, mean, var), status::ok);
  std::vector<float> x(20, 0.0f), out(20, 0.0f);
  x[3] = 1.0f;
  ASSERT_EQ(model.score_batch(x, out), status::ok);
  for (size_t i = 0; i < 20; ++i) EXPECT_EQ(out[i], -INFINITY) << i;  // not NaN, not finite
}

TEST(ScoreBatchEdge, ValidatesEverythingBeforeWriting) {
  streamix::model model;
  ASSERT_EQ(streamix::model::create(streamix::config(2, 2).init_samples(0), model), status::ok);
  std::vector<float> x(10, 0.5f), out(5, 42.0f);
  EXPECT_EQ(model.score_batch(x, out), status::not_ready);
  const std::vector<float> w = {1, 1}, m = {0, 0, 1, 1}, v = {1, 1, 1, 1};
  ASSERT_EQ(model.set_params(w, m, v), status::ok);
  x[7] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(model.score_batch(x, out), status::input);
  for (float o : out) EXPECT_EQ(o, 42.0f);
  EXPECT_EQ(smx_score_batch(model.c_model(), nullptr, 5, out.data()), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_score_batch(model.c_model(), x.data(), 5, nullptr), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_score_batch(nullptr, x.data(), 5, out.data()), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_score_batch(model.c_model(), nullptr, 0, nullptr), SMX_OK);  // nothing to do
  EXPECT_EQ(model.score_batch(streamix::span<const float>(x.data(), 9), out), status::argument);
}

}  // namespace
