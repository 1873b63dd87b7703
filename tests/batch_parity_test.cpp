// Batch parity: after a few online passes over a data set's training rows, the mean
// held-out log-likelihood is within 2 % of scikit-learn's batch EM (GaussianMixture,
// covariance_type='diag', best of 10 initializations). The fixtures and the script that
// made them are in tests/fixtures/ (make_sklearn_reference.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "streamix/streamix.hpp"

namespace {

using streamix::status;

struct Fixture {
  std::string name;
  uint32_t k = 0, d = 0;
  size_t n_train = 0, n_test = 0;
  double sklearn_test = 0.0, sklearn_train = 0.0;
  std::vector<float> train, test;  // row-major
};

Fixture load(const std::string& name) {
  Fixture f;
  std::ifstream in(std::string(STREAMIX_FIXTURES) + "/sklearn_" + name + ".txt");
  in >> f.name >> f.k >> f.d >> f.n_train >> f.n_test >> f.sklearn_test >> f.sklearn_train;
  f.train.resize(f.n_train * f.d);
  f.test.resize(f.n_test * f.d);
  for (float& v : f.train) in >> v;
  for (float& v : f.test) in >> v;
  EXPECT_TRUE(in) << "fixture " << name << " unreadable";
  return f;
}

// One configuration for every data set: self-initialization on the whole training set,
// then kPasses shuffled passes with the default schedule (alpha 0.6, t0 2, hold 20) and
// Polyak-Ruppert averaging over the last half of the steps. The test runs the default seed;
// over seeds 1..8, 22 of the 24 runs are within 2 %: on iris, seed 4 finds a better optimum
// than scikit-learn's best of 10 (held-out -2.37 against -2.65), on wine seed 8 a worse
// local one (-16.87 against -15.46), as EM from a single start does.
constexpr int kPasses = 40;

// batch_size 1: one smx_observe per row; larger: each shuffled pass through
// smx_observe_batch (mini-batches run on across passes).
double online_held_out(const Fixture& f, uint32_t batch_size = 1) {
  const uint32_t steps = static_cast<uint32_t>(kPasses * f.n_train);
  streamix::model model;
  const auto cfg = streamix::config(f.k, f.d)
                       .init_samples(static_cast<uint32_t>(f.n_train))
                       .average_from(steps / 2)
                       .batch_size(batch_size);
  EXPECT_EQ(streamix::model::create(cfg, model), status::ok);
  std::vector<size_t> order(f.n_train);
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937_64 rng(5);
  for (size_t i = 0; i < f.n_train; ++i) {  // the warm-up pass initializes the model
    EXPECT_EQ(model.observe(streamix::span<const float>(&f.train[i * f.d], f.d)), status::ok);
  }
  std::vector<float> rows(f.train.size());
  for (int pass = 0; pass < kPasses; ++pass) {
    std::shuffle(order.begin(), order.end(), rng);
    if (batch_size == 1) {
      for (size_t i : order) {
        EXPECT_EQ(model.observe(streamix::span<const float>(&f.train[i * f.d], f.d)), status::ok);
      }
      continue;
    }
    for (size_t j = 0; j < order.size(); ++j) {
      std::copy(&f.train[order[j] * f.d], &f.train[order[j] * f.d] + f.d, &rows[j * f.d]);
    }
    EXPECT_EQ(model.observe_batch(rows), status::ok);
  }
  double sum = 0.0;
  for (size_t i = 0; i < f.n_test; ++i) {
    float log_p = 0.0f;
    EXPECT_EQ(model.score(streamix::span<const float>(&f.test[i * f.d], f.d), log_p), status::ok);
    sum += log_p;
  }
  return sum / static_cast<double>(f.n_test);
}

class BatchParity : public ::testing::TestWithParam<const char*> {};

TEST_P(BatchParity, HeldOutLogLikelihoodWithinTwoPercentOfScikitLearn) {
  const Fixture f = load(GetParam());
  const double online = online_held_out(f);
  RecordProperty("online", std::to_string(online));
  RecordProperty("sklearn", std::to_string(f.sklearn_test));
  std::printf("%s: streamix %.4f, scikit-learn %.4f nats per held-out row\n", f.name.c_str(),
              online, f.sklearn_test);
  EXPECT_NEAR(online, f.sklearn_test, 0.02 * std::fabs(f.sklearn_test));
}

// Mini-batches of 64, the same passes and schedule: the held-out log-likelihood within 1 %
// of the per-sample learner's (the mini-batch's step m gamma_t keeps the schedule's meaning
// in samples, so no setting changes).
TEST_P(BatchParity, MiniBatchesOf64LearnAsWellAsSingleSamples) {
  const Fixture f = load(GetParam());
  const double single = online_held_out(f), batched = online_held_out(f, 64);
  std::printf("%s: mini-batches of 64 %.4f, single samples %.4f nats per held-out row\n",
              f.name.c_str(), batched, single);
  EXPECT_NEAR(batched, single, 0.01 * std::fabs(single));
}

INSTANTIATE_TEST_SUITE_P(Datasets, BatchParity,
                         ::testing::Values("iris", "wine", "breast_cancer"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
