// The concurrency contract: distinct models on distinct threads are independent (each ends
// bit-identical to the same stream run alone), and a model nobody updates may be scored
// from several threads at once. Run under ThreadSanitizer by the preset tsan.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <thread>
#include <vector>

#include "reference.h"
#include "streamix/streamix.hpp"

namespace {

constexpr int kThreads = 4, kSamples = 20000;

std::vector<float> stream() {
  reference::Mixture mix{3, 4, {0.3, 0.3, 0.4}, {}, std::vector<double>(12, 1.0)};
  for (int i = 0; i < 12; ++i) mix.mean.push_back((i / 4) * 5.0 - 5.0);
  reference::Sampler sampler(mix, 31);
  std::vector<float> xs(kSamples * 4);
  for (int i = 0; i < kSamples; ++i) sampler.draw(&xs[i * 4]);
  return xs;
}

void learn(streamix::model& model, const std::vector<float>& xs) {
  for (int i = 0; i < kSamples; ++i) {
    if (model.observe(streamix::span<const float>(&xs[i * 4], 4)) != streamix::status::ok) return;
  }
}

TEST(Threads, DistinctModelsOnDistinctThreadsAreIndependent) {
  const std::vector<float> xs = stream();
  const auto cfg = streamix::config(3, 4).average_from(100);
  streamix::model alone;
  ASSERT_EQ(streamix::model::create(cfg, alone), streamix::status::ok);
  learn(alone, xs);
  size_t bytes = 0;
  ASSERT_EQ(cfg.storage_bytes(bytes), streamix::status::ok);

  std::vector<streamix::model> models(kThreads);
  for (auto& m : models) ASSERT_EQ(streamix::model::create(cfg, m), streamix::status::ok);
  std::vector<std::thread> threads;
  for (auto& m : models) threads.emplace_back([&m, &xs] { learn(m, xs); });
  for (auto& t : threads) t.join();
  for (const auto& m : models) {
    EXPECT_EQ(m.samples_seen(), uint64_t{kSamples});
    EXPECT_EQ(std::memcmp(m.c_model(), alone.c_model(), bytes), 0);
  }
}

TEST(Threads, ConcurrentScoringOfOneModelIsSafe) {
  const std::vector<float> xs = stream();
  streamix::model model;
  ASSERT_EQ(streamix::model::create(streamix::config(3, 4), model), streamix::status::ok);
  learn(model, xs);
  std::vector<float> expected(kSamples);
  ASSERT_EQ(model.score_batch(xs, expected), streamix::status::ok);
  std::vector<std::vector<float>> got(kThreads, std::vector<float>(kSamples));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kSamples; ++i) {
        (void)model.score(streamix::span<const float>(&xs[i * 4], 4), got[t][i]);
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kSamples; i += 97) {
      // score and score_batch share their kernels up to rounding (K = 3 runs lanes across
      // samples in the batch path): compare to 1e-5 relative.
      EXPECT_NEAR(got[t][i], expected[i], 1e-5f * (1.0f + std::fabs(expected[i])));
    }
  }
}

}  // namespace
