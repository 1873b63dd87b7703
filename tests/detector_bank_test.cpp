// Detector banks (smx_detector_bank_*): every detector of a bank against a lone detector with
// the same config fed the same readings (detections and snapshots), through the warm-up, the
// calibration, flagged readings (learned at anomaly_weight), winsorized ones and spikes, with
// several views, a fixed scaling and mini-batches; readings for some detectors with repeated
// ids; per-reading rejection; per-detector copies, snapshots both ways, resets; the storage
// formula.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "bank_arithmetic.h"
#include "c_objects.h"
#include "streamix/streamix.h"

namespace {

struct DetectorBank : Created<smx_detector_bank> {
  DetectorBank(const smx_detector_config& c, uint32_t detectors)
      : Created(smx_detector_bank_size, smx_detector_bank_create, &c, detectors) {}
};

struct Lone : Created<smx_detector> {
  explicit Lone(const smx_detector_config& c) : Created(smx_detector_size, smx_detector_create, &c) {}
};

// Readings of stream s at step t: two regimes around a stream-dependent level, with faults:
// from step 450 to 520 streams s % 3 == 0 drift off by 8 standard deviations in feature
// s % D (flagged, learned at anomaly_weight), a 1e6 glitch in stream s at step 300 + s
// (winsorized), and a single 40-sigma spike at step 600 in streams s % 4 == 1.
std::vector<float> readings(uint32_t streams, uint32_t features, int steps, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> x(size_t{streams} * features * steps);
  for (int t = 0; t < steps; ++t) {
    for (uint32_t s = 0; s < streams; ++s) {
      const float centre = u(rng) < 0.3f ? 4.0f : -1.0f;
      for (uint32_t d = 0; d < features; ++d) {
        float v = 10.0f * s + centre + (1.0f + 0.1f * d) * g(rng);
        if (s % 3 == 0 && d == s % features && t >= 450 && t < 520) v += 8.0f * (t - 449) / 10.0f;
        if (t == 300 + int(s) && d == 0) v = 1e6f;
        if (s % 4 == 1 && t == 600 && d == features - 1) v += 40.0f;
        x[(size_t(t) * streams + s) * features + d] = v;
      }
    }
  }
  return x;
}

struct Comparison {
  double score_gap = 0.0;      // largest |score (bank) - score (lone)| / max(1, |lone|)
  uint32_t same_detections = 0, detections = 0;  // detections equal field for field
  uint32_t decisions_differ = 0;                 // is_anomaly differs
  uint32_t flagged = 0;                          // flagged readings (lone)
  uint32_t same_bytes = 0, detectors = 0;        // snapshots equal byte for byte
};

bool same_detection(const smx_detection& a, const smx_detection& b) {
  return std::memcmp(&a, &b, sizeof a) == 0 ||
         (std::isnan(a.score) && std::isnan(b.score) && a.top_feature == b.top_feature &&
          a.is_anomaly == b.is_anomaly);
}

// Feeds `rounds` rounds, each for the detectors ids_of_round(t) (all when empty), to a bank
// and to one lone detector per bank detector.
template <class Ids>
Comparison compare_with_lone_detectors(const smx_detector_config& c, uint32_t detectors,
                                       const std::vector<float>& x, int rounds, Ids ids_of_round) {
  DetectorBank bank(c, detectors);
  std::vector<Lone> lone;
  for (uint32_t i = 0; i < detectors; ++i) lone.emplace_back(c);
  Comparison out;
  out.detectors = detectors;
  size_t next = 0;
  for (int t = 0; t < rounds; ++t) {
    const std::vector<uint32_t> ids = ids_of_round(t);
    const size_t n = ids.empty() ? detectors : ids.size();
    if ((next + n) * c.features > x.size()) break;
    const float* rows = &x[next * c.features];
    next += n;
    std::vector<smx_detection> got(n);
    std::vector<smx_status> st(n);
    if (ids.empty()) {
      EXPECT_EQ(smx_detector_bank_detect(bank.handle, rows, got.data(), st.data()), SMX_OK);
    } else {
      EXPECT_EQ(smx_detector_bank_detect_some(bank.handle, ids.data(), rows, n, got.data(), st.data()), SMX_OK);
    }
    for (size_t i = 0; i < n; ++i) {
      const uint32_t id = ids.empty() ? static_cast<uint32_t>(i) : ids[i];
      smx_detection expected;
      EXPECT_EQ(smx_detect(lone[id].handle, rows + i * c.features, &expected), SMX_OK);
      EXPECT_EQ(st[i], SMX_OK);
      ++out.detections;
      out.same_detections += same_detection(got[i], expected);
      out.flagged += expected.is_anomaly;
      out.decisions_differ += got[i].is_anomaly != expected.is_anomaly;
      if (std::isfinite(expected.score)) {
        out.score_gap = std::max(out.score_gap, std::fabs(double(got[i].score) - expected.score) /
                                                    std::max(1.0, std::fabs(double(expected.score))));
      }
    }
  }
  for (uint32_t i = 0; i < detectors; ++i) {
    const std::vector<unsigned char> bytes = snapshot_of(bank.handle, i);
    out.same_bytes += bytes == snapshot_of(lone[i].handle);
    Lone copy(c);
    smx_detector* d = nullptr;
    EXPECT_EQ(smx_detector_bank_get(bank.handle, i, copy.storage.data, copy.storage.size, &d), SMX_OK);
    EXPECT_EQ(snapshot_of(d), bytes) << "a copy is the detector";
    Lone loaded(c);
    smx_detector* from_bytes = nullptr;
    EXPECT_EQ(smx_detector_snapshot_load(bytes.data(), bytes.size(), loaded.storage.data,
                                         loaded.storage.size, &from_bytes), SMX_OK)
        << "detector " << i << "'s snapshot loads";
    EXPECT_EQ(smx_detector_bank_samples_seen(bank.handle, i), smx_detector_samples_seen(lone[i].handle));
  }
  return out;
}

std::vector<uint32_t> every_detector(int) { return {}; }

// Where the lanes' arithmetic is the lone model's (bank_arithmetic.h), every detection and
// every snapshot is the lone detector's. Elsewhere the models differ by rounding
// (bank_test.cpp: log p within 1e-3), which reaches the scores, the score tracker and the
// decisions of readings near the threshold: scores held to 1e-3 relative, and decisions to
// 1 in 200 of the flagged readings.
void expect_like_lone_detectors(const smx_detector_config& c, const Comparison& r) {
  EXPECT_GT(r.flagged, 0u) << "the faults were flagged: flagged readings learned at anomaly_weight";
  if (same_arithmetic(c.model)) {
    EXPECT_EQ(r.same_detections, r.detections);
    EXPECT_EQ(r.same_bytes, r.detectors) << "every detector's snapshot equals its lone twin's";
  }
  EXPECT_LE(r.score_gap, 1e-3);
  EXPECT_LE(r.decisions_differ, r.flagged / 200 + 1);
}

smx_detector_config config(uint32_t k, uint32_t d, uint32_t views) {
  smx_detector_config c;
  smx_detector_config_init(&c, k, d);
  c.views = views;
  c.model.features = d * SMX_VIEW_COUNT(views);
  c.calibration_samples = 50;
  return c;
}

TEST(DetectorBank, EveryDetectorDetectsAsALoneDetector) {
  struct Case {
    uint32_t k, d, views, detectors;
  };
  for (const Case& cs : {Case{2, 4, SMX_VIEW_LEVEL, 37}, Case{1, 1, SMX_VIEW_LEVEL, 16},
                         Case{2, 2, SMX_VIEW_LEVEL | SMX_VIEW_RESIDUAL, 20},
                         Case{3, 3, SMX_VIEW_LEVEL | SMX_VIEW_DELTA | SMX_VIEW_RESIDUAL, 17},
                         Case{20, 1, SMX_VIEW_LEVEL, 3}}) {
    SCOPED_TRACE(testing::Message() << "K " << cs.k << " D " << cs.d << " views " << cs.views
                                    << " M " << cs.detectors);
    const smx_detector_config c = config(cs.k, cs.d, cs.views);
    const std::vector<float> x = readings(cs.detectors, cs.d, 700, 5);
    expect_like_lone_detectors(c, compare_with_lone_detectors(c, cs.detectors, x, 700, every_detector));
  }
}

// The options that keep a detector out of the lanes (mini-batches, averaging) or change its
// arithmetic (no smoothing, no scaling, a full learning gate).
TEST(DetectorBank, EveryOptionAsALoneDetector) {
  for (int option = 0; option < 5; ++option) {
    SCOPED_TRACE(testing::Message() << "option " << option);
    smx_detector_config c = config(2, 3, SMX_VIEW_LEVEL);
    if (option == 0) c.model.batch_size = 4;
    if (option == 1) c.model.average_from = 20;
    if (option == 2) c.smoothing = 1.0f;
    if (option == 3) c.scaling = SMX_SCALING_NONE;
    if (option == 4) c.anomaly_weight = 1.0f;
    const std::vector<float> x = readings(18, 3, 700, 11);
    expect_like_lone_detectors(c, compare_with_lone_detectors(c, 18, x, 700, every_detector));
  }
}

TEST(DetectorBank, ReadingsForSomeDetectorsAsALoneDetector) {
  const smx_detector_config c = config(2, 2, SMX_VIEW_LEVEL);
  const uint32_t detectors = 40;
  std::mt19937 rng(17);
  // Every round: readings for a random third of the detectors, some twice (in order), so
  // that detectors advance at different rates and groups step sparse and packed.
  std::vector<std::vector<uint32_t>> rounds;
  size_t rows = 0;
  for (int t = 0; t < 1500; ++t) {
    std::vector<uint32_t> ids;
    for (uint32_t i = 0; i < detectors; ++i) {
      if (rng() % 3 == 0) ids.push_back(i);
      if (rng() % 11 == 0) ids.push_back(i);
    }
    std::shuffle(ids.begin(), ids.end(), rng);
    if (ids.empty()) ids.push_back(0);
    rows += ids.size();
    rounds.push_back(ids);
  }
  // (the readings of one row-stream, reused: row r is some detector's)
  const std::vector<float> x = readings(1, c.features, static_cast<int>(rows), 23);
  const Comparison r = compare_with_lone_detectors(c, detectors, x, 1500, [&](int t) { return rounds[t]; });
  expect_like_lone_detectors(c, r);
}

TEST(DetectorBank, BadReadingsAreRejectedForTheirDetectorAlone) {
  const smx_detector_config c = config(2, 2, SMX_VIEW_LEVEL);
  const uint32_t detectors = 20;
  DetectorBank bank(c, detectors);
  const std::vector<float> x = readings(detectors, 2, 400, 29);
  for (int t = 0; t < 400; ++t) {
    ASSERT_EQ(smx_detector_bank_detect(bank.handle, &x[size_t(t) * detectors * 2], nullptr, nullptr), SMX_OK);
  }
  // Detector 5 (in the lanes) and 17 get a NaN and an overflowing reading.
  std::vector<float> row(&x[0], &x[size_t(detectors) * 2]);
  row[5 * 2 + 1] = std::numeric_limits<float>::quiet_NaN();
  row[17 * 2] = 3e38f;
  const std::vector<unsigned char> before5 = snapshot_of(bank.handle, 5), before17 = snapshot_of(bank.handle, 17);
  const std::vector<unsigned char> before6 = snapshot_of(bank.handle, 6);
  std::vector<smx_detection> out(detectors);
  std::vector<smx_status> st(detectors);
  EXPECT_EQ(smx_detector_bank_detect(bank.handle, row.data(), out.data(), st.data()), SMX_ERR_INPUT);
  for (uint32_t i = 0; i < detectors; ++i) {
    EXPECT_EQ(st[i], i == 5 || i == 17 ? SMX_ERR_INPUT : SMX_OK) << i;
    EXPECT_EQ(std::isnan(out[i].score), i == 5 || i == 17) << i;
  }
  EXPECT_EQ(out[5].top_feature, -1);
  EXPECT_EQ(snapshot_of(bank.handle, 5), before5);
  EXPECT_EQ(snapshot_of(bank.handle, 17), before17);
  EXPECT_NE(snapshot_of(bank.handle, 6), before6) << "the others proceed";
  // An id past the bank is rejected for its reading alone.
  const uint32_t ids[3] = {3, detectors, 4};
  smx_status st3[3];
  smx_detection out3[3];
  EXPECT_EQ(smx_detector_bank_detect_some(bank.handle, ids, row.data(), 3, out3, st3), SMX_ERR_ARGUMENT);
  EXPECT_EQ(st3[0], SMX_OK);
  EXPECT_EQ(st3[1], SMX_ERR_ARGUMENT);
  EXPECT_EQ(st3[2], SMX_OK);
  // A call without a bank, readings or ids changes nothing at all.
  const std::vector<unsigned char> image = bank.storage.image();
  EXPECT_EQ(smx_detector_bank_detect(nullptr, row.data(), nullptr, nullptr), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_detector_bank_detect(bank.handle, nullptr, nullptr, nullptr), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_detector_bank_detect_some(bank.handle, nullptr, row.data(), 3, nullptr, nullptr), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_detector_bank_detect_some(bank.handle, ids, nullptr, 3, nullptr, nullptr), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_detector_bank_set(bank.handle, 0, nullptr), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_detector_bank_reset(bank.handle, detectors), SMX_ERR_ARGUMENT);
  EXPECT_EQ(bank.storage.image(), image);
}

TEST(DetectorBank, DetectorsMoveBetweenBanksAndLoneDetectors) {
  const smx_detector_config c = config(2, 3, SMX_VIEW_LEVEL | SMX_VIEW_RESIDUAL);
  const uint32_t detectors = 19;
  DetectorBank bank(c, detectors);
  const std::vector<float> x = readings(detectors, 3, 500, 31);
  for (int t = 0; t < 400; ++t) {
    ASSERT_EQ(smx_detector_bank_detect(bank.handle, &x[size_t(t) * detectors * 3], nullptr, nullptr), SMX_OK);
  }
  // Detector 7's snapshot loads as a lone detector, which then detects as detector 7 does.
  const std::vector<unsigned char> bytes = snapshot_of(bank.handle, 7);
  Lone lone(c);
  smx_detector* moved = nullptr;
  ASSERT_EQ(smx_detector_snapshot_load(bytes.data(), bytes.size(), lone.storage.data, lone.storage.size, &moved), SMX_OK);
  // Detector 3 becomes a copy of detector 7 (set), detector 4 loads its snapshot.
  Lone copy(c);
  smx_detector* seven = nullptr;
  ASSERT_EQ(smx_detector_bank_get(bank.handle, 7, copy.storage.data, copy.storage.size, &seven), SMX_OK);
  ASSERT_EQ(smx_detector_bank_set(bank.handle, 3, seven), SMX_OK);
  ASSERT_EQ(smx_detector_bank_snapshot_load(bank.handle, 4, bytes.data(), bytes.size()), SMX_OK);
  for (int t = 400; t < 500; ++t) {
    std::vector<float> row(&x[size_t(t) * detectors * 3], &x[size_t(t + 1) * detectors * 3]);
    for (uint32_t id : {3u, 4u}) std::memcpy(&row[id * 3], &row[7 * 3], 3 * sizeof(float));
    std::vector<smx_detection> out(detectors);
    ASSERT_EQ(smx_detector_bank_detect(bank.handle, row.data(), out.data(), nullptr), SMX_OK);
    smx_detection expected;
    ASSERT_EQ(smx_detect(moved, &row[7 * 3], &expected), SMX_OK);
    for (uint32_t id : {3u, 4u, 7u}) EXPECT_TRUE(same_detection(out[id], out[7])) << t << " " << id;
    if (same_arithmetic(c.model)) {
      EXPECT_TRUE(same_detection(out[7], expected)) << t;
    }
  }
  EXPECT_EQ(snapshot_of(bank.handle, 3), snapshot_of(bank.handle, 7));
  EXPECT_EQ(snapshot_of(bank.handle, 4), snapshot_of(bank.handle, 7));
  // A reset detector is a fresh one.
  ASSERT_EQ(smx_detector_bank_reset(bank.handle, 7), SMX_OK);
  EXPECT_EQ(snapshot_of(bank.handle, 7), snapshot_of(Lone(c).handle));
  EXPECT_EQ(smx_detector_bank_samples_seen(bank.handle, 7), 0u);
  // Foreign configs and damaged snapshots are refused, the bank unchanged.
  const std::vector<unsigned char> image = bank.storage.image();
  smx_detector_config other = c;
  other.alarm_rate = 0.05f;
  Lone foreign(other);
  EXPECT_EQ(smx_detector_bank_set(bank.handle, 1, foreign.handle), SMX_ERR_ARGUMENT);
  const std::vector<unsigned char> foreign_bytes = snapshot_of(foreign.handle);
  EXPECT_EQ(smx_detector_bank_snapshot_load(bank.handle, 1, foreign_bytes.data(), foreign_bytes.size()), SMX_ERR_ARGUMENT);
  std::vector<unsigned char> damaged = bytes;
  damaged[damaged.size() / 2] ^= 0x40;
  EXPECT_EQ(smx_detector_bank_snapshot_load(bank.handle, 1, damaged.data(), damaged.size()), SMX_ERR_SNAPSHOT);
  EXPECT_EQ(smx_detector_bank_snapshot_load(bank.handle, 1, bytes.data(), bytes.size() - 1), SMX_ERR_SNAPSHOT);
  EXPECT_EQ(bank.storage.image(), image);
}

TEST(DetectorBank, FixedScalingPerDetector) {
  smx_detector_config c = config(2, 2, SMX_VIEW_LEVEL);
  c.scaling = SMX_SCALING_FIXED;
  DetectorBank bank(c, 3);
  Lone lone(c);
  const float offsets[2] = {10.0f, 10.0f}, scales[2] = {2.0f, 3.0f}, bad[2] = {1.0f, 0.0f};
  ASSERT_EQ(smx_detector_bank_set_scaling(bank.handle, 1, offsets, scales), SMX_OK);
  ASSERT_EQ(smx_detector_set_scaling(lone.handle, offsets, scales), SMX_OK);
  EXPECT_EQ(smx_detector_bank_set_scaling(bank.handle, 1, offsets, bad), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_detector_bank_set_scaling(bank.handle, 3, offsets, scales), SMX_ERR_ARGUMENT);
  EXPECT_EQ(snapshot_of(bank.handle, 1), snapshot_of(lone.handle));
  EXPECT_NE(snapshot_of(bank.handle, 0), snapshot_of(lone.handle));
}

TEST(DetectorBank, StorageIsTheFormula) {
  size_t n = 0;
  smx_detector_config c = config(2, 4, SMX_VIEW_LEVEL);
  ASSERT_EQ(smx_detector_bank_size(&c, 4096, &n), SMX_OK);
  EXPECT_EQ(n, SMX_DETECTOR_BANK_BYTES(2, 4, 1, 200, 0, 1, 4096));
  c = config(3, 5, SMX_VIEW_LEVEL | SMX_VIEW_DELTA);
  c.model.average_from = 10;
  c.model.batch_size = 8;
  ASSERT_EQ(smx_detector_bank_size(&c, 33, &n), SMX_OK);
  EXPECT_EQ(n, SMX_DETECTOR_BANK_BYTES(3, 5, 2, 200, 1, 8, 33));
  EXPECT_EQ(smx_detector_bank_size(&c, 0, &n), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_detector_bank_size(&c, SMX_MAX_BANK_MODELS + 1, &n), SMX_ERR_ARGUMENT);
  c.views = 0;
  EXPECT_EQ(smx_detector_bank_size(&c, 3, &n), SMX_ERR_ARGUMENT);
  // Too little or misaligned storage.
  c = config(2, 2, SMX_VIEW_LEVEL);
  ASSERT_EQ(smx_detector_bank_size(&c, 5, &n), SMX_OK);
  AlignedStorage s(n + 64);
  smx_detector_bank* b = nullptr;
  EXPECT_EQ(smx_detector_bank_create(&c, 5, s.data, n - 1, &b), SMX_ERR_STORAGE);
  EXPECT_EQ(smx_detector_bank_create(&c, 5, s.data + 4, n, &b), SMX_ERR_STORAGE);
  EXPECT_EQ(smx_detector_bank_create(&c, 5, s.data, n, &b), SMX_OK);
  EXPECT_EQ(smx_detector_bank_detectors(b), 5u);
  smx_detector_config got;
  ASSERT_EQ(smx_detector_bank_config(b, &got), SMX_OK);
  EXPECT_EQ(std::memcmp(&got, &c, sizeof c), 0);
}

}  // namespace

namespace {

// A component that dies (its cluster stops) and readings far from every live component that
// re-seed it: in the lanes, the readings a dead component does not take step there, and the
// ones that re-seed it go to the lone learner.
TEST(DetectorBank, ReseedingAsALoneDetector) {
  smx_detector_config c = config(3, 2, SMX_VIEW_LEVEL);
  c.smoothing = 1.0f;
  c.anomaly_weight = 1.0f;  // (a flagged reading re-seeds only when learned with weight 1)
  c.model.variance_floor = 1e-4f;
  c.model.step_exponent = 0.6f;  // (under 1/t steps a component takes ~1e5 readings to die)
  const uint32_t detectors = 21;
  const int rounds = 1500;
  std::mt19937 rng(9);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(size_t{rounds} * detectors * 2);
  for (int t = 0; t < rounds; ++t) {
    for (uint32_t s = 0; s < detectors; ++s) {
      float* row = &x[(size_t(t) * detectors + s) * 2];
      const int cluster = t < 300 ? t % 3 : t < 1200 ? t % 2 : 2 + (t % 2);  // 2, then 3: far
      row[0] = 10.0f * cluster + 0.01f * s + 0.3f * g(rng);
      row[1] = -5.0f * cluster + 0.3f * g(rng);
    }
  }
  expect_like_lone_detectors(c, compare_with_lone_detectors(c, detectors, x, rounds, every_detector));
}

}  // namespace
