// smx_model_merge: the pairwise combination of two models' statistics, against plain
// double-precision references; the schedule after a merge; halves of a stream merged
// against one model of the whole; bad input; merged states through snapshots.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "aligned_storage.h"
#include "streamix/streamix.hpp"

namespace {

using streamix::status;

struct Params {
  std::vector<float> weight, mean, variance;  // K, K x D, K x D (row k is component k)
};

Params params_of(const streamix::model& m) {
  Params p{std::vector<float>(m.components()),
           std::vector<float>(size_t{m.components()} * m.features()),
           std::vector<float>(size_t{m.components()} * m.features())};
  EXPECT_EQ(m.get_params(p.weight, p.mean, p.variance), status::ok);
  return p;
}

// A model with parameters set, whose statistics are worth `samples` samples: under the 1/t
// schedule with step_offset t0, a model set by set_params has step 1 / t0.
streamix::model set_model(uint32_t k, uint32_t d, const Params& p, float samples) {
  streamix::model m;
  EXPECT_EQ(streamix::model::create(
                streamix::config(k, d).step_exponent(1.0f).step_offset(samples).init_samples(0).weight_floor(1e-6f),
                m),
            status::ok);
  EXPECT_EQ(m.set_params(p.weight, p.mean, p.variance), status::ok);
  return m;
}

double ulp(float v) {
  const float a = std::fabs(v);
  return std::nextafter(a, std::numeric_limits<float>::infinity()) - a;
}

// Two sets of statistics of (K = 2, D = 2), one feature at offset 1e4 with sigma 1e-2 (where
// s2 / s0 - mean^2 would cancel every digit), counted as 300 and 700 samples: the merge is
// the statistics of the union. Reference: two-pass in double from the values the models
// hold, mean = sum c mu / C, then variance = sum c (v + (mu - mean)^2) / C with c = n w.
// Tolerance: the result is rounded to float once (1/2 ulp), and the inputs the reference
// reads are the models' own floats, so 1 ulp for means and weights, 2 ulps for variances.
TEST(Merge, TheStatisticsOfTwoSetsMergeToTheStatisticsOfTheirUnion) {
  const Params a{{0.25f, 0.75f}, {10000.013f, 2.5f, 9999.982f, -1.0f}, {1.1e-4f, 0.8f, 0.9e-4f, 2.0f}};
  const Params b{{0.6f, 0.4f}, {10000.004f, 2.9f, 9999.990f, -1.3f}, {0.7e-4f, 1.2f, 1.3e-4f, 1.5f}};
  for (const float weight : {1.0f, 0.5f}) {
    SCOPED_TRACE(weight);
    streamix::model into = set_model(2, 2, a, 300.0f), from = set_model(2, 2, b, 700.0f);
    const Params pa = params_of(into), pb = params_of(from);
    ASSERT_EQ(into.merge(from, weight), status::ok);
    const Params merged = params_of(into);
    const double na = 300.0, nb = 700.0 * weight;
    for (int k = 0; k < 2; ++k) {
      const double ca = na * pa.weight[k], cb = nb * pb.weight[k], c = ca + cb;
      EXPECT_NEAR(merged.weight[k], c / (na + nb), ulp(merged.weight[k])) << k;
      for (int d = 0; d < 2; ++d) {
        const int i = k * 2 + d;
        const double mean = (ca * pa.mean[i] + cb * pb.mean[i]) / c;
        const double da = pa.mean[i] - mean, db = pb.mean[i] - mean;
        const double variance = (ca * (pa.variance[i] + da * da) + cb * (pb.variance[i] + db * db)) / c;
        EXPECT_NEAR(merged.mean[i], mean, ulp(merged.mean[i])) << k << "," << d;
        EXPECT_NEAR(merged.variance[i], variance, 2.0 * ulp(merged.variance[i])) << k << "," << d;
      }
    }
  }
}

// K = 1 under the 1/t schedule is an exact running average: a model set to (mu0, v0) with
// step_offset 1 that learns N samples holds the statistics of {the prior, x_1 .. x_N} (the
// prior one pseudo-sample at mu0 with variance v0). Halves learned apart and merged hold
// {prior, prior, the whole stream}. Reference: two-pass double statistics of that set.
// Tolerance: the per-sample recursion in float keeps its mean to a few ulps (compensated)
// and its variance to ~N float epsilons relative, at offset 1e4 with sigma 1e-2 as in the
// per-sample tests (measured on every backend: 0.05 ulp and 9e-7, against 4 ulps and 1e-4).
TEST(Merge, HalvesOfOneComponentMergeToTheWholeStreamsStatistics) {
  const int n = 2000;
  std::mt19937 rng(11);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> xs(2 * n * 2);
  for (int i = 0; i < 2 * n; ++i) xs[2 * i] = 1e4f + 0.01f * g(rng), xs[2 * i + 1] = 3.0f + 2.0f * g(rng);
  const Params prior{{1.0f}, {1e4f, 3.5f}, {2e-4f, 3.0f}};
  streamix::model first = set_model(1, 2, prior, 1.0f), second = set_model(1, 2, prior, 1.0f);
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(first.observe({&xs[2 * i], 2}), status::ok);
    ASSERT_EQ(second.observe({&xs[2 * (n + i)], 2}), status::ok);
  }
  ASSERT_EQ(first.merge(second), status::ok);
  EXPECT_EQ(first.samples_seen(), uint64_t{2 * n});
  const Params merged = params_of(first);
  for (int d = 0; d < 2; ++d) {
    double sum = 2.0 * prior.mean[d];
    for (int i = 0; i < 2 * n; ++i) sum += xs[2 * i + d];
    const double mean = sum / (2 * n + 2);
    const double p = prior.mean[d] - mean;
    double m2 = 2.0 * (prior.variance[d] + p * p);
    for (int i = 0; i < 2 * n; ++i) m2 += (xs[2 * i + d] - mean) * (xs[2 * i + d] - mean);
    const double variance = m2 / (2 * n + 2);
    EXPECT_NEAR(merged.mean[d], mean, 4.0 * ulp(merged.mean[d])) << d;
    EXPECT_NEAR(merged.variance[d], variance, 1e-4 * variance) << d;
  }
  // The schedule moved on with the count: the next step is 1 / (2 N + 2) (the position is
  // held at samples_seen = 2 N, one short of the two priors), where the first half alone
  // would have stepped by 1 / (N + 2).
  const float y[2] = {1e4f + 0.5f, 40.0f};
  ASSERT_EQ(first.observe(y), status::ok);
  const Params after = params_of(first);
  const double expected = merged.mean[1] + (y[1] - merged.mean[1]) / (2.0 * n + 2.0);
  EXPECT_NEAR(after.mean[1], expected, 1e-5) << "without the schedule's move: "
                                              << merged.mean[1] + (y[1] - merged.mean[1]) / (n + 2.0);
}

// Two clusters 10 sigma apart (responsibilities are 0 or 1 to 1e-7), learned under the 1/t
// schedule from the same starting parameters: the halves merged against one model that
// learned the whole stream. The differences are the doubled prior (step_offset 10 of
// 20,000 samples, placed 1 sigma off: 5e-4 sigma) and float rounding, so means within
// 0.01 sigma, variances within 1 %, weights within 0.002 of the whole stream's model
// (measured on every backend: 0.0008 sigma, 0.16 %, 0.0001).
TEST(Merge, HalvesOfAStreamMergeToTheModelOfTheWholeStream) {
  const int n = 10000;
  std::mt19937 rng(5);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> xs(2 * n * 2);
  for (int i = 0; i < 2 * n; ++i) {
    const bool second = u(rng) < 0.3f;
    xs[2 * i] = (second ? 10.0f : 0.0f) + g(rng);
    xs[2 * i + 1] = (second ? -5.0f : 5.0f) + 2.0f * g(rng);
  }
  const Params start{{0.5f, 0.5f}, {1.0f, 4.0f, 9.0f, -3.0f}, {2.0f, 3.0f, 2.0f, 3.0f}};
  streamix::model whole = set_model(2, 2, start, 10.0f), first = set_model(2, 2, start, 10.0f),
                  second = set_model(2, 2, start, 10.0f);
  for (int i = 0; i < 2 * n; ++i) {
    ASSERT_EQ(whole.observe({&xs[2 * i], 2}), status::ok);
    ASSERT_EQ((i < n ? first : second).observe({&xs[2 * i], 2}), status::ok);
  }
  const Params alone = params_of(first);
  ASSERT_EQ(first.merge(second), status::ok);
  const Params merged = params_of(first), reference = params_of(whole);
  for (int k = 0; k < 2; ++k) {
    EXPECT_NEAR(merged.weight[k], reference.weight[k], 0.002) << k;
    for (int d = 0; d < 2; ++d) {
      const int i = k * 2 + d;
      const double sigma = std::sqrt(reference.variance[i]);
      EXPECT_NEAR(merged.mean[i], reference.mean[i], 0.01 * sigma) << k << "," << d;
      EXPECT_NEAR(merged.variance[i], reference.variance[i], 0.01 * reference.variance[i]) << k << "," << d;
    }
  }
  // (the merge did something: the first half alone is further from the whole)
  double moved = 0.0;
  for (int i = 0; i < 4; ++i) moved += std::fabs(alone.mean[i] - merged.mean[i]);
  EXPECT_GT(moved, 1e-3);
}

std::vector<unsigned char> image(const streamix::model& m) {
  size_t bytes = 0;
  EXPECT_EQ(streamix::config(m.settings()).storage_bytes(bytes), status::ok);
  const auto* p = reinterpret_cast<const unsigned char*>(m.c_model());
  return {p, p + bytes};
}

TEST(Merge, BadInputIsRejectedAndChangesNeitherModel) {
  const Params p{{0.5f, 0.5f}, {0.0f, 1.0f, 5.0f, 6.0f}, {1.0f, 1.0f, 1.0f, 1.0f}};
  streamix::model into = set_model(2, 2, p, 10.0f), from = set_model(2, 2, p, 10.0f);
  const float x[2] = {1.0f, 2.0f};
  ASSERT_EQ(from.observe(x), status::ok);
  const std::vector<unsigned char> into_before = image(into), from_before = image(from);
  auto unchanged = [&] { return image(into) == into_before && image(from) == from_before; };

  const float bad_weights[] = {0.0f, -0.0f, -1.0f, 1.0000001f, 2.0f,
                               std::numeric_limits<float>::quiet_NaN(),
                               std::numeric_limits<float>::infinity(), FLT_MIN * -1.0f};
  for (const float w : bad_weights) {
    EXPECT_EQ(smx_model_merge(into.c_model(), from.c_model(), w), SMX_ERR_ARGUMENT) << w;
    EXPECT_TRUE(unchanged()) << w;
  }
  EXPECT_EQ(smx_model_merge(nullptr, from.c_model(), 1.0f), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_model_merge(into.c_model(), nullptr, 1.0f), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_model_merge(into.c_model(), into.c_model(), 1.0f), SMX_ERR_ARGUMENT);
  EXPECT_TRUE(unchanged());

  // Another shape: K, then D.
  streamix::model three, wide;
  ASSERT_EQ(streamix::model::create(streamix::config(3, 2).init_samples(0), three), status::ok);
  ASSERT_EQ(streamix::model::create(streamix::config(2, 3).init_samples(0), wide), status::ok);
  ASSERT_EQ(three.set_params(std::vector<float>{1, 1, 1}, std::vector<float>(6, 0.0f), std::vector<float>(6, 1.0f)), status::ok);
  ASSERT_EQ(wide.set_params(std::vector<float>{1, 1}, std::vector<float>(6, 0.0f), std::vector<float>(6, 1.0f)), status::ok);
  EXPECT_EQ(into.merge(three), status::argument);
  EXPECT_EQ(into.merge(wide), status::argument);
  EXPECT_EQ(smx_model_merge(three.c_model(), into.c_model(), 1.0f), SMX_ERR_ARGUMENT);
  EXPECT_TRUE(unchanged());

  // Not ready: a model still warming up, either way round.
  streamix::model warming;
  ASSERT_EQ(streamix::model::create(streamix::config(2, 2), warming), status::ok);
  ASSERT_EQ(warming.observe(x), status::ok);
  const std::vector<unsigned char> warming_before = image(warming);
  EXPECT_EQ(into.merge(warming), status::not_ready);
  EXPECT_EQ(warming.merge(into), status::not_ready);
  EXPECT_TRUE(unchanged());
  EXPECT_EQ(image(warming), warming_before);

  // A model's storage overlapping the other's (a copy placed inside it is not a model of its
  // own): rejected before anything is read as a model.
  AlignedStorage overlap(into_before.size() * 2);
  std::memcpy(overlap.data, into_before.data(), into_before.size());
  std::memcpy(overlap.data + 64 * ((into_before.size() / 2) / 64), into_before.data(), into_before.size());
  const std::vector<unsigned char> overlap_before = overlap.image();
  auto* outer = reinterpret_cast<smx_model*>(overlap.data);
  auto* inner = reinterpret_cast<smx_model*>(overlap.data + 64 * ((into_before.size() / 2) / 64));
  EXPECT_EQ(smx_model_merge(outer, inner, 1.0f), SMX_ERR_ARGUMENT);
  EXPECT_EQ(overlap.image(), overlap_before);

  EXPECT_EQ(into.merge(from, 1.0f), status::ok);  // the same models merge when asked right
  EXPECT_NE(image(into), into_before);
  EXPECT_EQ(image(from), from_before);  // from is only read
}

// Merged states are reachable states: they save to snapshots that load, and the loaded copy
// continues bit for bit like the original (with averaging, and during the hold).
TEST(Merge, AMergedModelSavesLoadsAndContinuesAlike) {
  for (const uint32_t average_from : {0u, 1u}) {
    for (const int learned : {5, 200}) {  // into still in its hold (20 samples), or past it
      SCOPED_TRACE(std::to_string(average_from) + " " + std::to_string(learned));
      std::mt19937 rng(average_from * 1000 + learned);
      std::normal_distribution<float> g(0.0f, 1.0f);
      const streamix::config cfg = streamix::config(2, 3).average_from(average_from);
      streamix::model into, from;
      ASSERT_EQ(streamix::model::create(cfg, into), status::ok);
      float x[3];
      auto draw = [&] {
        const float c = rng() % 2 ? 6.0f : -6.0f;
        for (float& v : x) v = c + g(rng);
      };
      for (int i = 0; i < 60 + learned; ++i) draw(), (void)into.observe(x);
      ASSERT_TRUE(into.ready());
      std::vector<unsigned char> snapshot(8192);
      size_t written = 0;
      ASSERT_EQ(into.save(snapshot, written), status::ok);
      ASSERT_EQ(streamix::model::load({snapshot.data(), written}, from), status::ok);
      for (int i = 0; i < 300; ++i) draw(), (void)from.observe(x);
      ASSERT_EQ(into.merge(from, 0.7f), status::ok);
      ASSERT_EQ(into.save(snapshot, written), status::ok);
      streamix::model copy;
      ASSERT_EQ(streamix::model::load({snapshot.data(), written}, copy), status::ok);
      for (int i = 0; i < 50; ++i) {
        draw();
        float a = 0.0f, b = 0.0f;
        ASSERT_EQ(into.observe(x, &a), status::ok);
        ASSERT_EQ(copy.observe(x, &b), status::ok);
        ASSERT_EQ(std::memcmp(&a, &b, sizeof a), 0) << i;
      }
      EXPECT_EQ(image(into), image(copy));
    }
  }
}

}  // namespace
