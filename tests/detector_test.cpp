// The anomaly detector: score before learning, warm-up and calibration, the learning gate,
// the adaptive threshold, top_feature, scaling, validation, snapshots. Runs on every backend.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <initializer_list>
#include <random>
#include <vector>

#include "reference.h"
#include "snapshot_forge.h"
#include "streamix/streamix.hpp"

namespace {

// A detector in owned, 64-byte-aligned storage, with helpers the tests share.
struct Harness {
  smx_detector_config cfg;
  std::vector<unsigned char> bytes;
  unsigned char* storage = nullptr;
  size_t size = 0;
  smx_detector* det = nullptr;

  explicit Harness(const smx_detector_config& c) : cfg(c) {
    EXPECT_EQ(smx_detector_size(&cfg, &size), SMX_OK);
    bytes.resize(size + 64);
    storage = bytes.data() + (64 - reinterpret_cast<uintptr_t>(bytes.data()) % 64) % 64;
    EXPECT_EQ(smx_detector_create(&cfg, storage, size, &det), SMX_OK);
  }
  smx_detection detect(const float* x) {
    smx_detection d{};
    EXPECT_EQ(smx_detect(det, x, &d), SMX_OK);
    return d;
  }
  std::vector<unsigned char> image() const { return {storage, storage + size}; }
  reference::Mixture params() const {
    const smx_model* m = smx_detector_model(det);
    smx_config mc;
    EXPECT_EQ(smx_model_config(m, &mc), SMX_OK);
    std::vector<float> w(mc.components), mu(mc.components * mc.features),
        var(mc.components * mc.features);
    EXPECT_EQ(smx_model_get_params(m, w.data(), mu.data(), var.data()), SMX_OK);
    return reference::from_float(int(mc.components), int(mc.features), w, mu, var);
  }
};

// Plain settings: readings used as given (no scaling, no smoothing), so the model's input
// is the reading itself.
smx_detector_config plain_config(uint32_t k, uint32_t d) {
  smx_detector_config c;
  smx_detector_config_init(&c, k, d);
  c.scaling = SMX_SCALING_NONE;
  c.smoothing = 1.0f;
  c.model.init_samples = 50;
  c.calibration_samples = 50;
  return c;
}

reference::Mixture two_clusters(int d) {
  reference::Mixture m{2, d, {0.6, 0.4}, {}, {}};
  for (int k = 0; k < 2; ++k) {
    for (int j = 0; j < d; ++j) {
      m.mean.push_back(k == 0 ? 0.0 : 6.0 + j);
      m.variance.push_back(k == 0 ? 1.0 : 0.5);
    }
  }
  return m;
}

TEST(Detector, SizeMacroMatchesSizeFunction) {
  smx_detector_config c;
  smx_detector_config_init(&c, 3, 5);
  c.views = SMX_VIEW_LEVEL | SMX_VIEW_RESIDUAL;
  c.model.features = 10;
  size_t bytes = 0;
  ASSERT_EQ(smx_detector_size(&c, &bytes), SMX_OK);
  EXPECT_EQ(bytes, SMX_DETECTOR_BYTES(3, 5, 2, c.model.init_samples, 0));
  c.model.batch_size = 32;
  ASSERT_EQ(smx_detector_size(&c, &bytes), SMX_OK);
  EXPECT_EQ(bytes, SMX_DETECTOR_BATCH_BYTES(3, 5, 2, c.model.init_samples, 0, 32));
  EXPECT_GT(bytes, SMX_DETECTOR_BYTES(3, 5, 2, c.model.init_samples, 0));
}

TEST(Detector, ScoresBeforeLearning) {
  Harness h(plain_config(2, 3));
  reference::Sampler sampler(two_clusters(3), 7);
  float x[3];
  for (int i = 0; i < 400; ++i) sampler.draw(x), h.detect(x);
  for (int i = 0; i < 50; ++i) {
    sampler.draw(x);
    const reference::Mixture before = h.params();
    const smx_detection d = h.detect(x);
    // Float E-step against the double formula: rounding of ~D + K terms of size |score|
    // each, bounded generously by 1e-5 (1 + |score|) (float epsilon is 1.2e-7).
    const double expected = -reference::log_density(before, x);
    EXPECT_NEAR(d.score, expected, 1e-5 * (1.0 + std::fabs(expected)));
    // and the model did learn from x afterwards
    const reference::Mixture after = h.params();
    EXPECT_NE(before.mean, after.mean);
  }
}

TEST(Detector, NoAlarmsDuringWarmUpAndCalibration) {
  smx_detector_config c = plain_config(1, 2);
  Harness h(c);
  std::mt19937 rng(3);
  std::normal_distribution<float> n(0.0f, 1.0f);
  for (uint32_t i = 0; i < c.model.init_samples + c.calibration_samples; ++i) {
    float x[2] = {n(rng), n(rng)};
    if (i % 10 == 9) x[0] = 50.0f;  // blatant outliers (learned: they are 10 % of the data)
    const smx_detection d = h.detect(x);
    EXPECT_EQ(d.is_anomaly, 0) << i;
    if (i < c.model.init_samples) {
      EXPECT_TRUE(std::isnan(d.score) && std::isnan(d.threshold)) << i;
      EXPECT_EQ(d.probability, 0.0f);
      EXPECT_EQ(d.top_feature, -1);
    } else {
      EXPECT_TRUE(std::isfinite(d.score)) << i;
    }
  }
  const float outlier[2] = {1e4f, 0.0f};  // ~600 standard deviations out
  EXPECT_EQ(h.detect(outlier).is_anomaly, 1);  // the calibration is over
}

// Runs a stationary stream into a detector with the given gate and returns it.
void train(Harness& h, int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (int i = 0; i < n; ++i) {
    const float x[2] = {g(rng), g(rng)};
    h.detect(x);
  }
}

TEST(Detector, LearningGate) {
  // 4.5 sigma: flagged, and within the influence limit (threshold + 100 tail scales: about
  // 16.5 sigma here), so learned as it is, with the gate's weight.
  const float outlier[2] = {4.5f, 0.0f};
  for (float weight : {0.0f, 0.5f, 1.0f}) {
    smx_detector_config c = plain_config(1, 2);
    c.anomaly_weight = weight;
    Harness h(c);
    train(h, 1000, 5);
    const reference::Mixture before = h.params();
    const smx_detection d = h.detect(outlier);
    ASSERT_EQ(d.is_anomaly, 1);
    const reference::Mixture after = h.params();
    const double moved = after.mean[0] - before.mean[0];
    if (weight == 0.0f) {
      EXPECT_EQ(before.mean, after.mean);  // skipped: the model is untouched
      EXPECT_EQ(before.variance, after.variance);
    } else {
      // K = 1: the mean moves by exactly weight * gamma_t * (x - mean), gamma_t = 1 / (t + t0)
      // with step exponent 1 (t = 950 steps after the 50-sample initialization, t0 = 2).
      const double gamma = 1.0 / (1000.0 + 1.0 + 2.0);
      const double expected = weight * gamma * (4.5 - before.mean[0]);
      EXPECT_NEAR(moved, expected, 1e-4 * std::fabs(expected)) << weight;
    }
  }
}

TEST(Detector, OneReadingHasBoundedInfluence) {
  // Beyond the influence limit a reading is learned as the point at the limit on its way to
  // the component: 30 sigma, 1e10 and the largest valid feature leave nearly the same state
  // (their directions from the mean differ by up to 0.03 rad: 3e-4 on means that move by
  // up to 1.6e-2), whatever the gate's weight (1 = every reading learned fully), and the
  // model moves by what a reading at the limit's radius (about 16.5 sigma here) moves it: mean
  // by weight * gamma * r, variance by a factor 1 + weight * gamma * r^2 at most
  // (gamma = 1/1003, r < 18).
  for (float weight : {0.01f, 1.0f}) {
    smx_detector_config c = plain_config(1, 2);
    c.anomaly_weight = weight;
    std::vector<reference::Mixture> models;
    std::vector<smx_detection> detections, next_detections;
    for (float far : {30.0f, 1e10f, SMX_MAX_ABS_FEATURE}) {
      Harness h(c);
      train(h, 1000, 5);
      const reference::Mixture before = h.params();
      const float x[2] = {far, 0.0f};
      detections.push_back(h.detect(x));
      EXPECT_EQ(detections.back().is_anomaly, 1);
      const reference::Mixture after = h.params();
      const double gamma = weight / 1003.0;
      EXPECT_LT(after.mean[0] - before.mean[0], gamma * 18.0) << far;
      EXPECT_LT(after.variance[0] / before.variance[0], 1.0 + gamma * 18.0 * 18.0) << far;
      EXPECT_GT(after.mean[0] - before.mean[0], gamma * 10.0) << far;  // it did learn
      const float next[2] = {0.5f, 0.5f};
      next_detections.push_back(h.detect(next));
      models.push_back(h.params());
    }
    for (size_t i = 1; i < models.size(); ++i) {
      for (size_t j = 0; j < models[0].mean.size(); ++j) {
        EXPECT_NEAR(models[i].mean[j], models[0].mean[j], 3e-4) << i;
        EXPECT_NEAR(models[i].variance[j], models[0].variance[j], 3e-4 * models[0].variance[j]) << i;
      }
      EXPECT_NEAR(next_detections[i].threshold, next_detections[0].threshold,
                  3e-4 * next_detections[0].threshold);
    }
    // What is reported about the reading still says how far it is.
    EXPECT_LT(detections[0].score, detections[1].score);
    EXPECT_LT(detections[0].surprise, detections[1].surprise);
  }
}

// The glitch scenario: two noisy columns, 12,000 rows, faults of +6 sigma on the first at
// rows 3001-3100 and 8001-8100, default settings; one reading of the first column replaced
// by a glitch. Returns the flags in each fault and the threshold at row `probe`.
struct GlitchRun {
  int fault_flags[2] = {0, 0};
  float threshold_at_probe = 0.0f;
};
GlitchRun run_glitch_scenario(float glitch, int glitch_row, int probe) {
  smx_detector_config c;
  smx_detector_config_init(&c, 2, 2);
  Harness h(c);
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0.0f, 1.0f);
  GlitchRun run;
  for (int row = 1; row <= 12000; ++row) {
    float x[2] = {g(rng), g(rng)};
    const int fault = row >= 3001 && row <= 3100 ? 0 : (row >= 8001 && row <= 8100 ? 1 : -1);
    if (fault >= 0) x[0] += 6.0f;
    if (row == glitch_row) x[0] = glitch;
    const smx_detection d = h.detect(x);
    if (fault >= 0) run.fault_flags[fault] += d.is_anomaly;
    if (row == probe) run.threshold_at_probe = d.threshold;
  }
  return run;
}

// Each glitch at each row against the glitch-free run: both faults flagged as often, to
// within 3 of their 100 rows, and the threshold at row probe(glitch row) within 10 %.
template <class Probe>
void expect_glitches_bounded(std::initializer_list<int> rows, std::initializer_list<float> glitches,
                             Probe probe) {
  for (int glitch_row : rows) {
    const GlitchRun clean = run_glitch_scenario(0.0f, -1, probe(glitch_row));
    for (float glitch : glitches) {
      const GlitchRun run = run_glitch_scenario(glitch, glitch_row, probe(glitch_row));
      for (int f = 0; f < 2; ++f)
        EXPECT_GE(run.fault_flags[f], clean.fault_flags[f] - 3) << glitch << " at " << glitch_row;
      EXPECT_NEAR(run.threshold_at_probe, clean.threshold_at_probe, 0.1f * clean.threshold_at_probe)
          << glitch << " at " << glitch_row;
    }
  }
}

TEST(Detector, AGlitchNeitherBlindsItNorMovesItsThreshold) {
  // Each fault is flagged as often as without the glitch, to within 3 of its 100 rows, and
  // 500 rows after the glitch the threshold is within 10 % of the glitch-free run's (before
  // bounded influence, a 1e4 glitch left the threshold at 1,236 instead of 7.4 and the first
  // fault unflagged; 1e10 blinded it to both faults). Rows 40 to 200 are in the warm-up
  // (200 readings), where a glitch is held: before, one of 1e2 there left the first fault
  // unflagged.
  expect_glitches_bounded({40, 100, 199, 200, 1001, 2400, 6000}, {1e2f, 1e4f, 1e10f, 1.8e19f},
                          [](int row) { return row + 500; });
}

TEST(Detector, AnAstronomicalGlitchInTheSeedIsHeld) {
  // Among the first 32 readings, whose innovations seed the scale of the warm-up's hold, a
  // reading is held only beyond 1,000 root-mean-square innovations (from the 3rd reading on,
  // one innovation in): glitches of 1e4 and more at rows 3, 4, 12 and 30 leave both faults
  // flagged (within 3 of 100) and the threshold at row 5,000 within 10 % of the clean run's
  // (measured: 99 and 99, 7.3 % at row 4). Without the seed's hold none of the 200 fault
  // readings was flagged.
  expect_glitches_bounded({3, 4, 12, 30}, {1e4f, 1e10f, 1.8e19f}, [](int) { return 5000; });
}

TEST(Detector, AGlitchInTheFirstTwoReadingsRestartsTheStream) {
  // A glitch in reading 1 or 2 is told at reading 3, as the one far from both others: the
  // stream restarts there (samples_seen counts from it), both faults are flagged as without
  // the glitch (within 3 of 100) and the threshold at row 5,000 is within 10 % of the clean
  // run's (measured: 99 and 99). Without the restart none of the 200 fault readings was
  // flagged after a 1e10 first or second reading, the threshold 3.2 instead of 8.5.
  expect_glitches_bounded({1, 2}, {1e4f, 1e10f, 1.8e19f}, [](int) { return 5000; });
  smx_detector_config c;
  smx_detector_config_init(&c, 2, 1);
  Harness h(c);
  for (float x : {1e10f, 0.3f, -0.2f}) h.detect(&x);
  EXPECT_EQ(smx_detector_samples_seen(h.det), 1u);
}

TEST(Detector, TheStreamRestartsOnceAndNotOnRepeatedValues) {
  // An alternating stream (0, 1e6, 0, ... plus a drift) shows a far second reading at every
  // third one: it restarts once, then warms up (ready 2 readings later than the warm-up's
  // 200). Two equal readings give no distance: a quantized sensor's step between repeats
  // (5, 6, 5) restarts nothing.
  smx_detector_config c;
  smx_detector_config_init(&c, 2, 1);
  Harness alternating(c);
  for (int row = 1; row <= 201; ++row) {
    const float x = (row % 2 == 0 ? 1e6f : 0.0f) + 0.001f * row;
    alternating.detect(&x);
    EXPECT_EQ(smx_detector_samples_seen(alternating.det), static_cast<uint64_t>(row <= 2 ? row : row - 2)) << row;
  }
  EXPECT_EQ(smx_is_ready(smx_detector_model(alternating.det)), 0);
  const float next = 1.0f;
  alternating.detect(&next);
  EXPECT_EQ(smx_is_ready(smx_detector_model(alternating.det)), 1);
  Harness quantized(c);
  for (float x : {5.0f, 6.0f, 5.0f, 5.0f, 6.0f, 5.0f}) quantized.detect(&x);
  EXPECT_EQ(smx_detector_samples_seen(quantized.det), 6u);
}

TEST(Detector, AStepInTheWarmupIsFollowedNotHeld) {
  // The warm-up holds a reading far beyond the level, but not a change: a step of 50 sigma
  // at reading 100 of the 200-reading warm-up is followed (the next reading beyond the limit
  // confirms it), so the model initializes with the new level in it and the first scored
  // reading, at the new level, scores as ordinary: below 5 nats (measured 0.21; with every
  // far reading held and none confirming, 27).
  smx_detector_config c;
  smx_detector_config_init(&c, 2, 1);
  Harness h(c);
  std::mt19937 rng(23);
  std::normal_distribution<float> g(0.0f, 1.0f);
  smx_detection d{};
  for (int row = 1; row <= 201; ++row) {
    const float x = g(rng) + (row >= 100 ? 50.0f : 0.0f);
    d = h.detect(&x);
  }
  EXPECT_LT(d.score, 5.0f);
}

TEST(Detector, AGlitchAmongTheFirstScoresWearsOff) {
  // The same scenario with the glitch among the first scored readings (the warm-up ends at
  // row 200), where the score tracker still takes plain averages: the faults are flagged as
  // without it (within 5 of 100); 1,800 rows later the threshold is within 2.5 times the
  // glitch-free run's and 4,800 rows later within 25 % of it. Measured: 1.94 times and 8 %
  // for a glitch at row 205; without the tracker's 90 % quantile held within Cantelli's bound
  // 2.96 times at 1,800 rows.
  for (int glitch_row : {205, 250}) {
    for (int after : {1800, 4800}) {
      const GlitchRun clean = run_glitch_scenario(0.0f, -1, glitch_row + after);
      for (float glitch : {1e4f, 1e10f, 1.8e19f}) {
        const GlitchRun run = run_glitch_scenario(glitch, glitch_row, glitch_row + after);
        for (int f = 0; f < 2; ++f)
          EXPECT_GE(run.fault_flags[f], clean.fault_flags[f] - 5) << glitch << " at " << glitch_row;
        const float factor = after == 1800 ? 2.5f : 1.25f;
        EXPECT_LT(run.threshold_at_probe, factor * clean.threshold_at_probe)
            << glitch << " at " << glitch_row << ", " << after << " rows later";
        EXPECT_GT(run.threshold_at_probe, clean.threshold_at_probe / factor)
            << glitch << " at " << glitch_row << ", " << after << " rows later";
      }
    }
  }
}

TEST(Detector, IsolatedSpikesAreFlaggedByDefault) {
  // A slow sine (period 1,000 readings, amplitude 1) with N(0, 0.1^2) noise on the first of
  // two columns, +8 (80 noise sigmas) at three single readings, default settings: the level
  // view alone averaged the spikes away (score unchanged, not flagged); the spike view flags
  // each, names its column, and its surprise says how far out it is.
  smx_detector_config c;
  smx_detector_config_init(&c, 2, 2);
  Harness h(c);
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0.0f, 0.1f);
  for (int row = 1; row <= 6000; ++row) {
    const float phase = 6.2831853f * static_cast<float>(row) / 1000.0f;
    float x[2] = {std::sin(phase) + noise(rng), noise(rng)};
    const bool spike = row == 2000 || row == 3500 || row == 5000;
    if (spike) x[0] += 8.0f;
    const smx_detection d = h.detect(x);
    if (spike) {
      EXPECT_EQ(d.is_anomaly, 1) << row;
      EXPECT_EQ(d.top_feature, 0) << row;
      EXPECT_GT(d.surprise, 100.0f) << row;
      EXPECT_GT(d.anomaly_score, 0.95f) << row;
    }
  }
}

TEST(Detector, SurpriseRanksTheFarTailWhereProbabilityIsOne) {
  // Probes 3 to 60 sigma out after training, each undone (the storage restored) so that all
  // meet the same detector: probability is 1 from about 6 sigma on (its complement is below
  // float resolution), while surprise and anomaly_score keep growing with the distance, and
  // anomaly_score > 0.5 exactly when the score is past the threshold. At the threshold
  // (found by bisection) surprise = -log10(alarm_rate) and anomaly_score = 0.5, to the
  // bisection's resolution (1e-4 sigma: 1e-3 relative).
  for (float alarm_rate : {1e-2f, 1e-6f}) {
    smx_detector_config c = plain_config(1, 2);
    c.alarm_rate = alarm_rate;
    Harness h(c);
    train(h, 2000, 3);
    const std::vector<unsigned char> trained = h.image();
    auto probe = [&](float sigma) {
      const float x[2] = {sigma, 0.0f};
      const smx_detection d = h.detect(x);
      std::memcpy(h.storage, trained.data(), trained.size());
      return d;
    };
    float last_surprise = 0.0f, last_anomaly = 0.0f;
    int saturated = 0;
    for (float sigma = 3.0f; sigma <= 60.0f; sigma += 0.5f) {
      const smx_detection d = probe(sigma);
      EXPECT_GT(d.surprise, last_surprise) << sigma;
      EXPECT_GT(d.anomaly_score, last_anomaly) << sigma;
      EXPECT_LT(d.anomaly_score, 1.0f) << sigma;
      EXPECT_EQ(d.anomaly_score > 0.5f, d.score > d.threshold) << sigma;
      EXPECT_EQ(d.is_anomaly, d.score > d.threshold ? 1 : 0) << sigma;
      saturated += d.probability == 1.0f;
      last_surprise = d.surprise, last_anomaly = d.anomaly_score;
    }
    EXPECT_GT(saturated, 90) << "probability should saturate: the test would prove nothing";
    float lo = 0.0f, hi = 60.0f;
    while (hi - lo > 1e-4f) {
      const float mid = 0.5f * (lo + hi);
      const smx_detection d = probe(mid);
      (d.score > d.threshold ? hi : lo) = mid;
    }
    const smx_detection d = probe(hi);
    const float expected = -std::log10(alarm_rate);
    EXPECT_NEAR(d.surprise, expected, 1e-3f * expected);
    EXPECT_NEAR(d.anomaly_score, 0.5f, 1e-3f);
  }
}

TEST(Detector, AlarmRateMatchesOnAStationaryStream) {
  // Calibration: on data like the training data, the fraction of alarms approaches the
  // configured alarm rate. 200,000 readings at rate 1e-2: the binomial standard deviation
  // is 2.2e-4; the fitted exponential tail is an approximation of the chi-square-like score
  // tail, so the bound is [0.5, 1.5] x the rate.
  smx_detector_config c = plain_config(1, 2);
  c.alarm_rate = 1e-2f;
  Harness h(c);
  std::mt19937 rng(11);
  std::normal_distribution<float> g(0.0f, 1.0f);
  int alarms = 0, high_probability = 0;
  const int n = 200000;
  for (int i = 0; i < 1000 + n; ++i) {
    const float x[2] = {g(rng), g(rng)};
    const smx_detection d = h.detect(x);
    if (i >= 1000) alarms += d.is_anomaly, high_probability += d.probability >= 0.99f;
  }
  EXPECT_GT(alarms, 0.5 * 1e-2 * n);
  EXPECT_LT(alarms, 1.5 * 1e-2 * n);
  // probability is the same fitted distribution: P(probability >= 0.99) ~ 1 %.
  EXPECT_GT(high_probability, 0.5 * 1e-2 * n);
  EXPECT_LT(high_probability, 1.5 * 1e-2 * n);
}

TEST(Detector, EarlyAlarmRateStaysNearNominalOnWhiteNoise) {
  // Default settings (K = 2, smoothing 0.1) on N(0, 1) white noise, 20 seeds: alarms in the
  // first 2,000 readings (1,700 of them after the warm-up of 200 and the calibration of 100
  // can alarm: 17 expected at the nominal 1 %) and per 2,000 readings over the next 18,000
  // (20 expected). The smoothed level's scores are correlated over ~19 readings, so alarms
  // come in runs: even with the exact threshold a 2,000-reading block holds 5 to 42 alarms
  // (95 % range, simulated; tests/README.md). The mean of 20 seeds then has a standard error
  // of ~2.5, and its band is [0.5, 1.5] x nominal; no seed's first block may exceed 5 x
  // nominal. Measured 20.4 (worst seed 62) and 27.4; before the tail's mean excess had its
  // fading 1-nat floor the first blocks averaged 33.9 (2.0 x), worst 117.
  double first_sum = 0.0, later_sum = 0.0;
  int first_max = 0;
  for (int seed = 1; seed <= 20; ++seed) {
    smx_detector_config c;
    smx_detector_config_init(&c, 2, 1);
    Harness h(c);
    std::mt19937 rng(static_cast<unsigned>(1000 + seed));
    std::normal_distribution<float> g(0.0f, 1.0f);
    int first = 0, later = 0;
    for (int i = 0; i < 20000; ++i) {
      const float x = g(rng);
      const int alarm = h.detect(&x).is_anomaly;
      (i < 2000 ? first : later) += alarm;
    }
    first_sum += first, later_sum += later / 9.0;
    first_max = first > first_max ? first : first_max;
  }
  EXPECT_GT(first_sum / 20.0, 0.5 * 17.0);
  EXPECT_LT(first_sum / 20.0, 1.5 * 17.0);
  EXPECT_LE(first_max, 5 * 17);
  EXPECT_GT(later_sum / 20.0, 0.5 * 20.0);
  EXPECT_LT(later_sum / 20.0, 1.5 * 20.0);
}

TEST(Detector, ThresholdAdaptsWhenTheScaleChanges) {
  // After the spread of the stream triples, alarms flood at first; with the default gate
  // (flagged readings still learned at weight 0.01) the model and the threshold adapt, and
  // the alarm rate returns to within 3x its nominal value.
  smx_detector_config c = plain_config(1, 2);
  c.anomaly_weight = 0.01f;
  Harness h(c);
  std::mt19937 rng(13);
  std::normal_distribution<float> g(0.0f, 1.0f);
  auto run = [&](int n, float spread) {
    int alarms = 0;
    for (int i = 0; i < n; ++i) {
      const float x[2] = {spread * g(rng), spread * g(rng)};
      alarms += h.detect(x).is_anomaly;
    }
    return alarms;
  };
  run(5000, 1.0f);
  const float threshold_before = h.detect(std::vector<float>{0.0f, 0.0f}.data()).threshold;
  const int first = run(1000, 3.0f);
  run(20000, 3.0f);
  const int settled = run(20000, 3.0f);
  const float threshold_after = h.detect(std::vector<float>{0.0f, 0.0f}.data()).threshold;
  EXPECT_GT(first, 100);  // the change is flagged
  EXPECT_LT(settled, 3 * 0.01 * 20000);
  // A tripled spread raises -log p of typical readings by 2 x (1/2) log 9 = 2.2 nats (D = 2)
  // once the model has adapted: the threshold must have moved up with it.
  EXPECT_GT(threshold_after, threshold_before + 1.0f);
}

TEST(Detector, AstronomicalScoresKeepEverythingInRange) {
  // Readings 1e18 away from unit-variance components score ~5e35 nats; learned at full
  // weight they used to overflow the score tracker (found by fuzz_csv: probability NaN).
  smx_detector_config c = plain_config(1, 1);
  c.anomaly_weight = 1.0f;
  Harness h(c);
  std::mt19937 rng(43);
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (int i = 0; i < 200; ++i) {
    const float x[1] = {g(rng)};
    h.detect(x);
  }
  for (int i = 0; i < 50; ++i) {
    const float x[1] = {i % 2 ? 1e18f : -1e18f};
    const smx_detection d = h.detect(x);
    ASSERT_GE(d.probability, 0.0f) << i;
    ASSERT_LE(d.probability, 1.0f) << i;
    ASSERT_FALSE(std::isnan(d.threshold)) << i;
    ASSERT_FALSE(std::isnan(d.score)) << i;
  }
}

// `normal` readings of two clusters in D = 4, then a 25-unit fault on each sensor in turn:
// each is flagged and named.
void expect_faults_flagged_and_named(Harness& h, reference::Sampler& sampler, int normal) {
  float x[4];
  for (int i = 0; i < normal; ++i) sampler.draw(x), h.detect(x);
  for (int d = 0; d < 4; ++d) {
    sampler.draw(x);
    x[d] += 25.0f;
    const smx_detection r = h.detect(x);
    EXPECT_EQ(r.is_anomaly, 1);
    EXPECT_EQ(r.top_feature, d);
  }
}

TEST(Detector, TopFeatureNamesTheFaultySensor) {
  Harness h(plain_config(2, 4));
  reference::Sampler sampler(two_clusters(4), 17);
  expect_faults_flagged_and_named(h, sampler, 1000);
}

// Mini-batches in a detector (model.batch_size 16, for back-fills): each reading is scored
// under the model before its mini-batch is learned, flagged readings join their mini-batch
// at the gate's weight. The faults of TopFeatureNamesTheFaultySensor are flagged and named
// as by the per-reading detector, a flagged reading's pending weight saves and loads, and
// the copy continues bit for bit; a forged pending weight (neither 1 nor the gate's) is
// rejected.
TEST(Detector, MiniBatchesFlagTheFaultsAndSaveTheirPendingReadings) {
  smx_detector_config c = plain_config(2, 4);
  c.model.batch_size = 16;
  c.anomaly_weight = 0.25f;
  Harness h(c);
  reference::Sampler sampler(two_clusters(4), 17);
  expect_faults_flagged_and_named(h, sampler, 1003);  // 50 warm-up, 953 = 59 x 16 + 9
  float x[4];
  // 13 readings pending, the last four flagged (weight 0.25).
  size_t bytes = 0, written = 0;
  ASSERT_EQ(smx_detector_snapshot_size(h.det, &bytes), SMX_OK);
  std::vector<unsigned char> snap(bytes);
  ASSERT_EQ(smx_detector_snapshot_save(h.det, snap.data(), bytes, &written), SMX_OK);
  Harness copy(c);
  smx_detector* loaded = nullptr;
  ASSERT_EQ(smx_detector_snapshot_load(snap.data(), written, copy.storage, copy.size, &loaded), SMX_OK);
  for (int i = 0; i < 100; ++i) {
    sampler.draw(x);
    smx_detection a{}, b{};
    ASSERT_EQ(smx_detect(h.det, x, &a), SMX_OK);
    ASSERT_EQ(smx_detect(loaded, x, &b), SMX_OK);
    ASSERT_EQ(std::memcmp(&a, &b, sizeof a), 0) << i;
  }
  // The last pending weight is the last float before the two CRCs (the model's, the
  // detector's); forged to 0.5 with both CRCs repaired, the snapshot is rejected.
  const size_t last_weight = written - 12;
  EXPECT_EQ(forge::get_f32(snap.data() + last_weight), 0.25f);
  std::vector<unsigned char> forged = snap;
  forge::repair(forged);
  EXPECT_EQ(forged, snap);  // (the repair alone changes nothing)
  forge::put_f32(forged.data() + last_weight, 0.5f);
  forge::repair(forged);
  Harness rejected(c);
  smx_detector* none = nullptr;
  EXPECT_EQ(smx_detector_snapshot_load(forged.data(), written, rejected.storage, rejected.size, &none),
            SMX_ERR_SNAPSHOT);
}

TEST(Detector, FixedScalingEqualsScaledInput) {
  // Fixed scaling computes (x - offset) / scale in float, the same expression as the
  // caller: the detections are bit-identical to those on pre-scaled readings.
  smx_detector_config c = plain_config(2, 2);
  Harness raw(c);
  c.scaling = SMX_SCALING_FIXED;
  Harness fixed(c);
  const float offsets[2] = {233.0f, 0.03f}, scales[2] = {2.0f, 0.005f};
  ASSERT_EQ(smx_detector_set_scaling(fixed.det, offsets, scales), SMX_OK);
  std::mt19937 rng(19);
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (int i = 0; i < 500; ++i) {
    const float x[2] = {233.0f + 2.0f * g(rng), 0.03f + 0.005f * g(rng)};
    const float z[2] = {(x[0] - offsets[0]) / scales[0], (x[1] - offsets[1]) / scales[1]};
    const smx_detection a = fixed.detect(x), b = raw.detect(z);
    ASSERT_EQ(std::memcmp(&a, &b, sizeof a), 0) << i;
  }
  // Scaling can be set only before the first reading, and only in fixed mode.
  EXPECT_EQ(smx_detector_set_scaling(fixed.det, offsets, scales), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_detector_set_scaling(raw.det, offsets, scales), SMX_ERR_ARGUMENT);
}

TEST(Detector, WarmupScalingStandardizesMixedUnits) {
  // SKAB-like units: a voltage near 233 and an accelerometer near 0.03. After the warm-up
  // the model's variances are in standardized units (within [0.5, 2] of 1 for unit-normal
  // readings; 200 warm-up readings estimate a variance within ~10 %).
  smx_detector_config c;
  smx_detector_config_init(&c, 1, 2);
  c.smoothing = 1.0f;
  Harness h(c);
  std::mt19937 rng(23);
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (int i = 0; i < 1000; ++i) {
    const float x[2] = {233.0f + 2.0f * g(rng), 0.03f + 0.004f * g(rng)};
    h.detect(x);
  }
  const reference::Mixture p = h.params();
  for (int d = 0; d < 2; ++d) {
    EXPECT_NEAR(p.mean[d], 0.0, 0.3) << d;
    EXPECT_GT(p.variance[d], 0.5) << d;
    EXPECT_LT(p.variance[d], 2.0) << d;
  }
}

TEST(Detector, ViewsFeedTheModel) {
  // level + delta + residual: the model sees 3 D features, and a step change shows in the
  // residual long after the delta has returned to zero.
  smx_detector_config c = plain_config(1, 1);
  c.views = SMX_VIEW_LEVEL | SMX_VIEW_DELTA | SMX_VIEW_RESIDUAL;
  c.model.features = 3;
  c.residual_rate = 0.01f;
  Harness h(c);
  std::mt19937 rng(29);
  std::normal_distribution<float> g(0.0f, 0.1f);
  for (int i = 0; i < 2000; ++i) {
    const float x[1] = {g(rng)};
    h.detect(x);
  }
  const reference::Mixture p = h.params();
  ASSERT_EQ(p.d, 3);
  // delta of i.i.d. noise has twice its variance; the residual about the same as the level.
  EXPECT_NEAR(p.variance[1] / p.variance[0], 2.0, 0.4);
  EXPECT_NEAR(p.variance[2] / p.variance[0], 1.0, 0.3);
}

TEST(Detector, RejectsBadInputWithoutChangingAnything) {
  smx_detector_config c = plain_config(2, 2);
  Harness h(c);
  train(h, 300, 31);
  const std::vector<unsigned char> before = h.image();
  smx_detection d{};
  const float nan_reading[2] = {NAN, 0.0f}, inf_reading[2] = {0.0f, INFINITY};
  const float huge[2] = {3e19f, 0.0f};
  EXPECT_EQ(smx_detect(h.det, nan_reading, &d), SMX_ERR_INPUT);
  EXPECT_EQ(smx_detect(h.det, inf_reading, &d), SMX_ERR_INPUT);
  EXPECT_EQ(smx_detect(h.det, huge, &d), SMX_ERR_INPUT);
  EXPECT_EQ(smx_detect(h.det, nullptr, &d), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_detect(h.det, huge, nullptr), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_detect(nullptr, huge, &d), SMX_ERR_ARGUMENT);
  // the scratch input may differ; everything else must not
  EXPECT_EQ(smx_detector_samples_seen(h.det), 300u);
  const std::vector<unsigned char> after = h.image();
  size_t differing_state = 0;
  const size_t header_and_state = 256 + 64;  // header, then 4 D floats (< 64 bytes here)
  for (size_t i = 0; i < header_and_state; ++i) differing_state += before[i] != after[i];
  EXPECT_EQ(differing_state, 0u);
  // and the model (after the detector's state and scratch) is bit-identical
  const size_t model_offset = reinterpret_cast<const unsigned char*>(smx_detector_model(h.det)) - h.storage;
  EXPECT_EQ(std::memcmp(before.data() + model_offset, after.data() + model_offset,
                        h.size - model_offset), 0);

  // A reading whose scaled views overflow is rejected too.
  smx_detector_config f = plain_config(1, 1);
  f.scaling = SMX_SCALING_FIXED;
  Harness tiny(f);
  const float offset[1] = {0.0f}, scale[1] = {SMX_MIN_SCALE};
  // Scales outside [2^-64, 2^64] and offsets outside the feature range are refused (a scale
  // of 1e-38 would reject every reading not at the offset).
  const float too_small[1] = {1e-30f}, zero[1] = {0.0f}, too_large[1] = {1e20f};
  const float far_offset[1] = {3e19f};
  EXPECT_EQ(smx_detector_set_scaling(tiny.det, offset, too_small), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_detector_set_scaling(tiny.det, offset, zero), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_detector_set_scaling(tiny.det, offset, too_large), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_detector_set_scaling(tiny.det, far_offset, scale), SMX_ERR_ARGUMENT);
  ASSERT_EQ(smx_detector_set_scaling(tiny.det, offset, scale), SMX_OK);
  const float big[1] = {1e10f};
  EXPECT_EQ(smx_detect(tiny.det, big, &d), SMX_ERR_INPUT);
  EXPECT_EQ(smx_detector_samples_seen(tiny.det), 0u);
}

TEST(Detector, RejectsInvalidConfigs) {
  auto rejected = [](void (*change)(smx_detector_config&)) {
    smx_detector_config c;
    smx_detector_config_init(&c, 2, 3);
    change(c);
    size_t bytes;
    return smx_detector_size(&c, &bytes) == SMX_ERR_ARGUMENT;
  };
  EXPECT_TRUE(rejected([](smx_detector_config& c) { c.views = 0; }));
  EXPECT_TRUE(rejected([](smx_detector_config& c) { c.views = 8; }));
  EXPECT_TRUE(rejected([](smx_detector_config& c) { c.views = 3; }));  // model.features stale
  EXPECT_TRUE(rejected([](smx_detector_config& c) { c.smoothing = 0.0f; }));
  EXPECT_TRUE(rejected([](smx_detector_config& c) { c.smoothing = NAN; }));
  EXPECT_TRUE(rejected([](smx_detector_config& c) { c.residual_rate = 1.0f; }));
  EXPECT_TRUE(rejected([](smx_detector_config& c) { c.scaling = 3; }));
  EXPECT_TRUE(rejected([](smx_detector_config& c) { c.model.init_samples = 1; }));
  EXPECT_TRUE(rejected([](smx_detector_config& c) { c.tail_rate = 0.0f; }));
  EXPECT_TRUE(rejected([](smx_detector_config& c) { c.alarm_rate = 0.0f; }));
  EXPECT_TRUE(rejected([](smx_detector_config& c) { c.alarm_rate = 0.2f; }));
  EXPECT_TRUE(rejected([](smx_detector_config& c) { c.anomaly_weight = -0.1f; }));
  EXPECT_TRUE(rejected([](smx_detector_config& c) { c.anomaly_weight = 1.5f; }));
  EXPECT_TRUE(rejected([](smx_detector_config& c) { c.model.step_exponent = 2.0f; }));
  EXPECT_FALSE(rejected([](smx_detector_config&) {}));
  // storage problems
  smx_detector_config c;
  smx_detector_config_init(&c, 2, 3);
  size_t bytes;
  ASSERT_EQ(smx_detector_size(&c, &bytes), SMX_OK);
  std::vector<unsigned char> buf(bytes + 128);
  unsigned char* aligned = buf.data() + (64 - reinterpret_cast<uintptr_t>(buf.data()) % 64) % 64;
  smx_detector* det = nullptr;
  EXPECT_EQ(smx_detector_create(&c, aligned, bytes - 1, &det), SMX_ERR_STORAGE);
  EXPECT_EQ(smx_detector_create(&c, aligned + 4, bytes, &det), SMX_ERR_STORAGE);
  EXPECT_EQ(smx_detector_create(&c, aligned, bytes, nullptr), SMX_ERR_ARGUMENT);
  EXPECT_EQ(det, nullptr);
}

TEST(Detector, SnapshotRoundTripContinuesBitIdentically) {
  smx_detector_config c;
  smx_detector_config_init(&c, 2, 3);
  c.views = SMX_VIEW_LEVEL | SMX_VIEW_RESIDUAL;
  c.model.features = 6;
  Harness h(c);
  reference::Sampler sampler(two_clusters(3), 37);
  float x[3];
  for (int i = 0; i < 600; ++i) sampler.draw(x), h.detect(x);
  size_t bytes = 0, written = 0;
  ASSERT_EQ(smx_detector_snapshot_size(h.det, &bytes), SMX_OK);
  std::vector<unsigned char> snap(bytes);
  ASSERT_EQ(smx_detector_snapshot_save(h.det, snap.data(), snap.size(), &written), SMX_OK);
  ASSERT_EQ(written, bytes);
  smx_detector_config stored;
  ASSERT_EQ(smx_detector_snapshot_config(snap.data(), snap.size(), &stored), SMX_OK);
  EXPECT_EQ(std::memcmp(&stored, &c, sizeof c), 0);

  Harness copy(c);
  ASSERT_EQ(smx_detector_snapshot_load(snap.data(), snap.size(), copy.storage, copy.size, &copy.det),
            SMX_OK);
  for (int i = 0; i < 300; ++i) {
    sampler.draw(x);
    if (i % 50 == 0) x[1] += 40.0f;
    const smx_detection a = h.detect(x), b = copy.detect(x);
    ASSERT_EQ(std::memcmp(&a, &b, sizeof a), 0) << i;
  }

  // Every truncation and every single-bit flip is rejected, the target untouched.
  const std::vector<unsigned char> untouched = copy.image();
  smx_detector* out = nullptr;
  for (size_t len = 0; len < snap.size(); len += 7)
    ASSERT_EQ(smx_detector_snapshot_load(snap.data(), len, copy.storage, copy.size, &out),
              SMX_ERR_SNAPSHOT) << len;
  for (size_t i = 0; i < snap.size(); i += 3) {
    std::vector<unsigned char> bad = snap;
    bad[i] ^= static_cast<unsigned char>(1u << (i % 8));
    ASSERT_EQ(smx_detector_snapshot_load(bad.data(), bad.size(), copy.storage, copy.size, &out),
              SMX_ERR_SNAPSHOT) << i;
  }
  EXPECT_EQ(copy.image(), untouched);
  EXPECT_EQ(smx_detector_snapshot_load(snap.data(), snap.size(), copy.storage, copy.size - 1, &out),
            SMX_ERR_STORAGE);
  // A model snapshot is not a detector snapshot.
  const smx_model* m = smx_detector_model(h.det);
  ASSERT_EQ(smx_snapshot_size(m, &bytes), SMX_OK);
  std::vector<unsigned char> model_snap(bytes);
  ASSERT_EQ(smx_snapshot_save(m, model_snap.data(), bytes, &written), SMX_OK);
  EXPECT_EQ(smx_detector_snapshot_load(model_snap.data(), bytes, copy.storage, copy.size, &out),
            SMX_ERR_SNAPSHOT);
}

TEST(Detector, CxxApi) {
  streamix::detector det;
  streamix::detector_config cfg(2, 3);
  cfg.views(SMX_VIEW_LEVEL | SMX_VIEW_DELTA).smoothing(0.5f).alarm_rate(1e-3f);
  ASSERT_EQ(streamix::detector::create(cfg, det), streamix::status::ok);
  EXPECT_EQ(det.features(), 3u);
  const float wrong[2] = {0.0f, 0.0f};
  smx_detection d{};
  EXPECT_EQ(det.detect(wrong, d), streamix::status::argument);
  reference::Sampler sampler(two_clusters(3), 41);
  float x[3];
  for (int i = 0; i < 500; ++i) {
    sampler.draw(x);
    ASSERT_EQ(det.detect(x, d), streamix::status::ok);
  }
  EXPECT_EQ(det.samples_seen(), 500u);
  size_t bytes = 0, written = 0;
  ASSERT_EQ(det.snapshot_size(bytes), streamix::status::ok);
  std::vector<unsigned char> snap(bytes);
  ASSERT_EQ(det.save(snap, written), streamix::status::ok);
  streamix::detector loaded;
  ASSERT_EQ(streamix::detector::load(snap, loaded), streamix::status::ok);
  EXPECT_EQ(loaded.samples_seen(), 500u);
  EXPECT_EQ(loaded.settings().c_config().alarm_rate, 1e-3f);
  smx_detection a{}, b{};
  sampler.draw(x);
  ASSERT_EQ(det.detect(x, a), streamix::status::ok);
  ASSERT_EQ(loaded.detect(x, b), streamix::status::ok);
  EXPECT_EQ(std::memcmp(&a, &b, sizeof a), 0);
}

}  // namespace
