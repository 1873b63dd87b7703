// The snapshot loaders accept exactly the states the library reaches:
//  - every state reached through accepted calls (random sequences with extreme but valid
//    values, on every backend) saves to a snapshot that loads and then behaves bit for bit
//    like the original;
//  - CRC-valid snapshots of states no call sequence reaches are rejected, storage untouched;
//  - the cases a review found (warm-up spreads of 3e10 and 1.8e19, a negative tail variance,
//    a scale of 1e-38, ...) as regression tests;
// and responsibilities sum to 1 for far samples, on the reporting and the learning path.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <limits>
#include <cstring>
#include <functional>
#include <random>
#include <vector>

#include "aligned_storage.h"
#include "c_objects.h"
#include "snapshot_forge.h"
#include "streamix/streamix.h"

namespace {

using Storage = AlignedStorage;

size_t detector_bytes(const smx_detector_config& c) {
  size_t bytes = 0;
  EXPECT_EQ(smx_detector_size(&c, &bytes), SMX_OK);
  return bytes;
}

// A detector created in storage of its own, beside a second storage of the same size to
// load its snapshots into.
struct DetectorPair {
  Storage a, b;
  smx_detector* det = nullptr;
  explicit DetectorPair(const smx_detector_config& c) : a(detector_bytes(c)), b(detector_bytes(c)) {
    EXPECT_EQ(smx_detector_create(&c, a.data, a.size, &det), SMX_OK);
  }
};

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Loads snap into the pair's second storage and runs n more readings (reading(i) gives the
// i-th) through the pair's detector and the copy: every detection and the final snapshots
// bit for bit alike.
template <class Reading>
void expect_loaded_copy_continues_alike(DetectorPair& pair, const std::vector<unsigned char>& snap,
                                        int n, Reading reading) {
  smx_detector* copy = nullptr;
  ASSERT_EQ(smx_detector_snapshot_load(snap.data(), snap.size(), pair.b.data, pair.b.size, &copy), SMX_OK);
  for (int i = 0; i < n; ++i) {
    const float x[1] = {reading(i)};
    smx_detection da{}, db{};
    ASSERT_EQ(smx_detect(pair.det, x, &da), SMX_OK);
    ASSERT_EQ(smx_detect(copy, x, &db), SMX_OK);
    ASSERT_EQ(std::memcmp(&da, &db, sizeof da), 0) << i;
  }
  EXPECT_EQ(snapshot_of(pair.det), snapshot_of(copy));
}

// Values a hostile but valid stream contains: ordinary ones, large offsets with tiny spread,
// the feature limit and its neighbour, zero, tiny normal and subnormal values.
float extreme_value(std::mt19937& rng) {
  std::normal_distribution<float> g(0.0f, 1.0f);
  const float limit = SMX_MAX_ABS_FEATURE;
  switch (rng() % 12) {
    case 0: return limit;
    case 1: return -limit;
    case 2: return std::nextafter(limit, 0.0f);
    case 3: return 0.0f;
    case 4: return 1e-30f * g(rng);
    case 5: return 1e-40f;  // subnormal: a valid feature value
    case 6: return 79.3f + 0.01f * g(rng);
    case 7: return 1e10f * g(rng);
    case 8: return 1e18f * g(rng);
    default: return g(rng);
  }
}

smx_config random_model_config(std::mt19937& rng) {
  const uint32_t ks[] = {1, 2, 3, 17};
  const uint32_t ds[] = {1, 2, 5};
  smx_config c;
  smx_config_init(&c, ks[rng() % 4], ds[rng() % 3]);
  const float floors[] = {FLT_MIN, c.weight_floor, 0.3f / static_cast<float>(c.components)};
  c.weight_floor = floors[rng() % 3];
  const float variance_floors[] = {FLT_MIN, 1e-6f, 1e30f};
  c.variance_floor = variance_floors[rng() % 3];
  const uint32_t holds[] = {0, 3, 20};
  c.hold_samples = holds[rng() % 3];
  c.init_samples = rng() % 2 ? c.components : 4 * c.components + 3;
  const uint32_t averages[] = {0, 0, 1, 7};
  c.average_from = averages[rng() % 4];
  const float floors_step[] = {0.0f, 0.0f, 0.5f};
  c.step_floor = floors_step[rng() % 3];
  const float exponents[] = {0.51f, 0.6f, 1.0f};
  c.step_exponent = exponents[rng() % 3];
  const uint32_t batch_sizes[] = {1, 1, 3, 8};
  c.batch_size = batch_sizes[rng() % 4];
  return c;
}

// Random accepted calls on a model (observe, observe_batch, set_params, merge); after each, the model's snapshot loads, saves the same
// bytes, and the loaded copy answers the next call with the same bits.
void check_model_sequence(uint32_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const smx_config c = random_model_config(rng);
  size_t bytes = 0;
  ASSERT_EQ(smx_model_size(&c, &bytes), SMX_OK);
  Storage a(bytes), b(bytes);
  smx_model* m = nullptr;
  ASSERT_EQ(smx_model_create(&c, a.data, a.size, &m), SMX_OK);
  std::vector<float> x(c.features), w(c.components), mu(size_t{c.components} * c.features),
      var(mu.size());
  auto draw_params = [&] {  // extreme but valid parameters into w, mu, var
    for (float& v : w) v = std::fabs(extreme_value(rng)) + 1e-3f;
    for (float& v : mu) v = extreme_value(rng);
    for (float& v : var) v = std::fabs(extreme_value(rng)) + FLT_MIN;
  };
  // A second model of the shape, with extreme parameters, to merge in.
  smx_config other = c;
  other.init_samples = 0;
  size_t other_bytes = 0;
  ASSERT_EQ(smx_model_size(&other, &other_bytes), SMX_OK);
  Storage o(other_bytes);
  smx_model* from = nullptr;
  ASSERT_EQ(smx_model_create(&other, o.data, o.size, &from), SMX_OK);
  draw_params();
  ASSERT_EQ(smx_model_set_params(from, w.data(), mu.data(), var.data()), SMX_OK);
  for (int step = 0; step < 160; ++step) {
    const std::vector<unsigned char> snapshot = snapshot_of(m);
    smx_model* copy = nullptr;
    ASSERT_EQ(smx_snapshot_load(snapshot.data(), snapshot.size(), b.data, b.size, &copy), SMX_OK)
        << "the model's own snapshot was rejected at step " << step;
    ASSERT_EQ(snapshot_of(copy), snapshot) << "step " << step;
    const uint32_t op = rng() % 40;
    if (op == 0 || (c.init_samples == 0 && !smx_is_ready(m))) {
      draw_params();
      ASSERT_EQ(smx_model_set_params(m, w.data(), mu.data(), var.data()), SMX_OK);
      ASSERT_EQ(smx_model_set_params(copy, w.data(), mu.data(), var.data()), SMX_OK);
    } else if (op <= 4) {  // a run of rows in one call (mini-batches straight from it)
      const size_t rows = 1 + rng() % 20;
      std::vector<float> xs(rows * c.features), la(rows), lb(rows);
      for (float& v : xs) v = extreme_value(rng);
      ASSERT_EQ(smx_observe_batch(m, xs.data(), rows, la.data()), SMX_OK);
      ASSERT_EQ(smx_observe_batch(copy, xs.data(), rows, lb.data()), SMX_OK);
      ASSERT_EQ(std::memcmp(la.data(), lb.data(), sizeof(float) * rows), 0) << "step " << step;
    } else if (op <= 6 && smx_is_ready(m)) {
      const float weights[] = {1.0f, 0.3f, FLT_MIN};
      const float weight = weights[rng() % 3];
      ASSERT_EQ(smx_model_merge(m, from, weight), SMX_OK);
      ASSERT_EQ(smx_model_merge(copy, from, weight), SMX_OK);
      for (float& v : x) v = extreme_value(rng);
      ASSERT_EQ(smx_observe(from, x.data(), nullptr), SMX_OK);
    } else {
      for (float& v : x) v = extreme_value(rng);
      float la = 0.0f, lb = 0.0f;
      const bool was_ready = smx_is_ready(m);
      ASSERT_EQ(smx_observe(m, x.data(), &la), SMX_OK);
      ASSERT_EQ(smx_observe(copy, x.data(), &lb), SMX_OK);
      ASSERT_TRUE(same_bits(la, lb)) << "step " << step;
      ASSERT_FALSE(was_ready && std::isnan(la)) << "step " << step;  // NaN only in the warm-up
    }
    ASSERT_EQ(snapshot_of(m), snapshot_of(copy)) << "step " << step;
  }
}

// Seed 28 (K = 2, D = 5, weight_floor = variance_floor = FLT_MIN) is the review's case of a
// statistics' mean rounding past SMX_MAX_ABS_FEATURE: before the location bound, its own
// snapshot was rejected at step 37.
TEST(ReachableStates, EveryModelStateSavesAndLoadsWithIdenticalBehaviour) {
  for (uint32_t seed = 1; seed <= 60; ++seed) check_model_sequence(seed);
}

smx_detector_config random_detector_config(std::mt19937& rng, uint32_t features) {
  smx_detector_config c;
  smx_detector_config_init(&c, 1 + rng() % 3, features);
  const uint32_t views[] = {SMX_VIEW_LEVEL, SMX_VIEW_LEVEL | SMX_VIEW_DELTA | SMX_VIEW_RESIDUAL,
                            SMX_VIEW_RESIDUAL};
  c.views = views[rng() % 3];
  c.model.features = features * SMX_VIEW_COUNT(c.views);
  c.scaling = rng() % 3;
  c.model.init_samples = 12 + rng() % 10;
  c.calibration_samples = rng() % 20;
  const float smoothing[] = {0.1f, 1.0f};
  c.smoothing = smoothing[rng() % 2];
  const float alarm[] = {FLT_MIN, 0.01f, 0.1f};
  c.alarm_rate = alarm[rng() % 3];
  const float gate[] = {0.0f, 0.01f, 1.0f};
  c.anomaly_weight = gate[rng() % 3];
  const float tail[] = {1e-30f, 0.002f, 1.0f};
  c.tail_rate = tail[rng() % 3];
  if (rng() % 2) c.model.weight_floor = FLT_MIN;
  const uint32_t batch_sizes[] = {1, 1, 4};
  c.model.batch_size = batch_sizes[rng() % 3];
  return c;
}

void check_detector_sequence(uint32_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const uint32_t features = 1 + rng() % 3;
  const smx_detector_config c = random_detector_config(rng, features);
  DetectorPair pair(c);
  smx_detector* det = pair.det;
  ASSERT_NE(det, nullptr);
  Storage& b = pair.b;
  if (c.scaling == SMX_SCALING_FIXED) {
    std::vector<float> offsets(features), scales(features);
    const float scale_choices[] = {SMX_MIN_SCALE, 1.0f, 1e10f, SMX_MAX_SCALE};
    for (uint32_t d = 0; d < features; ++d) {
      offsets[d] = extreme_value(rng);
      scales[d] = scale_choices[rng() % 4];
    }
    ASSERT_EQ(smx_detector_set_scaling(det, offsets.data(), scales.data()), SMX_OK);
  }
  std::vector<float> x(features);
  const float spread = rng() % 2 ? 1.0f : 0.0f;  // half the runs: extreme values only
  for (int step = 0; step < 160; ++step) {
    const std::vector<unsigned char> snapshot = snapshot_of(det);
    smx_detector* copy = nullptr;
    ASSERT_EQ(smx_detector_snapshot_load(snapshot.data(), snapshot.size(), b.data, b.size, &copy),
              SMX_OK)
        << "the detector's own snapshot was rejected at step " << step;
    ASSERT_EQ(snapshot_of(copy), snapshot) << "step " << step;
    std::normal_distribution<float> g(0.0f, 1.0f);
    for (float& v : x) v = spread > 0.0f && rng() % 4 ? 5.0f + g(rng) : extreme_value(rng);
    smx_detection da{}, db{};
    const smx_status sa = smx_detect(det, x.data(), &da);
    ASSERT_EQ(smx_detect(copy, x.data(), &db), sa) << "step " << step;
    ASSERT_TRUE(sa == SMX_OK || sa == SMX_ERR_INPUT);
    if (sa == SMX_OK) {
      ASSERT_TRUE(same_bits(da.score, db.score) && same_bits(da.threshold, db.threshold) &&
                  same_bits(da.probability, db.probability) && same_bits(da.surprise, db.surprise) &&
                  same_bits(da.anomaly_score, db.anomaly_score) && da.is_anomaly == db.is_anomaly)
          << "step " << step;
      ASSERT_TRUE(da.probability >= 0.0f && da.probability <= 1.0f) << "step " << step;
      ASSERT_TRUE(da.surprise >= 0.0f) << "step " << step;  // not NaN either
      ASSERT_TRUE(da.anomaly_score >= 0.0f && da.anomaly_score <= 1.0f) << "step " << step;
      ASSERT_FALSE(std::isinf(da.threshold)) << "step " << step;  // NaN before the first score
    }
    ASSERT_EQ(snapshot_of(det), snapshot_of(copy)) << "step " << step;
  }
}

TEST(ReachableStates, EveryDetectorStateSavesAndLoadsWithIdenticalBehaviour) {
  for (uint32_t seed = 1; seed <= 60; ++seed) check_detector_sequence(seed);
}

// --- Ordinary use that used to produce snapshots the loader rejected ---------------------

// A detector with a warm-up scaling fed readings spread over `spread`, saved at `at`
// readings; returns the status of loading its snapshot, and checks that the next readings
// are not all scored alike.
void warmup_spread_case(float spread, int at) {
  SCOPED_TRACE("spread " + std::to_string(spread));
  smx_detector_config c;
  smx_detector_config_init(&c, 2, 1);
  DetectorPair pair(c);
  smx_detector* det = pair.det;
  ASSERT_NE(det, nullptr);
  Storage& b = pair.b;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  smx_detection d{};
  std::vector<float> scores;
  for (int i = 0; i < 400; ++i) {
    const float x[1] = {spread * u(rng)};
    ASSERT_EQ(smx_detect(det, x, &d), SMX_OK);
    if (!std::isnan(d.score)) scores.push_back(d.score);
    if (i + 1 == at) {
      const std::vector<unsigned char> s = snapshot_of(det);
      smx_detector* copy = nullptr;
      EXPECT_EQ(smx_detector_snapshot_load(s.data(), s.size(), b.data, b.size, &copy), SMX_OK)
          << "saved after " << at << " readings";
    }
  }
  // The scaled views are not all zero: scores differ between readings.
  ASSERT_GT(scores.size(), 100u);
  size_t distinct = 0;
  for (size_t i = 1; i < scores.size(); ++i) distinct += scores[i] != scores[i - 1];
  EXPECT_GT(distinct, scores.size() / 2);
}

TEST(ReachableStates, WarmupScalingOfWidelySpreadReadingsSavesAndLoads) {
  warmup_spread_case(3e10f, 50);                 // the running sum of squares exceeds 1.8e19
  warmup_spread_case(SMX_MAX_ABS_FEATURE, 50);   // ... and float (it overflowed to +inf)
  warmup_spread_case(SMX_MAX_ABS_FEATURE, 300);  // after the warm-up, too
}

// --- Forged, CRC-valid snapshots of impossible states -------------------------------------

// A ready detector (K = 2, D = 1, no averaging) past its calibration, and its snapshot.
struct ReadyDetector {
  smx_detector_config cfg;
  Storage storage{0};
  smx_detector* det = nullptr;
  std::vector<unsigned char> snapshot;
  ReadyDetector() {
    smx_detector_config_init(&cfg, 2, 1);
    cfg.model.init_samples = 50;
    cfg.calibration_samples = 20;
    storage = Storage(detector_bytes(cfg));
    EXPECT_EQ(smx_detector_create(&cfg, storage.data, storage.size, &det), SMX_OK);
    std::mt19937 rng(3);
    std::normal_distribution<float> g(20.0f, 2.0f);
    smx_detection d{};
    for (int i = 0; i < 300; ++i) {
      const float x[1] = {g(rng)};
      EXPECT_EQ(smx_detect(det, x, &d), SMX_OK);
    }
    snapshot = snapshot_of(det);
  }
};

// True if `load` (a snapshot loader bound to its arguments) rejects the forged bytes, once
// repaired, with SMX_ERR_SNAPSHOT, leaving `bytes` of painted target storage as they were.
template <class Load>
bool rejects(std::vector<unsigned char> forged, size_t bytes, Load load) {
  forge::repair(forged);
  Storage target(bytes, 0xA5);
  const std::vector<unsigned char> before = target.image();
  const smx_status s = load(forged, target);
  return s == SMX_ERR_SNAPSHOT && target.image() == before;
}

bool detector_rejects(const std::vector<unsigned char>& forged, const smx_detector_config& cfg) {
  return rejects(forged, detector_bytes(cfg), [](const std::vector<unsigned char>& s, Storage& target) {
    smx_detector* det = nullptr;
    return smx_detector_snapshot_load(s.data(), s.size(), target.data, target.size, &det);
  });
}

bool model_rejects(const std::vector<unsigned char>& forged, const smx_config& c) {
  size_t bytes = 0;
  EXPECT_EQ(smx_model_size(&c, &bytes), SMX_OK);
  return rejects(forged, bytes, [](const std::vector<unsigned char>& s, Storage& target) {
    smx_model* m = nullptr;
    return smx_snapshot_load(s.data(), s.size(), target.data, target.size, &m);
  });
}

TEST(ReachableStates, ForgedDetectorTailStatesAreRejected) {
  ReadyDetector r;
  auto with_tail = [&](size_t field, float v) {
    std::vector<unsigned char> s = r.snapshot;
    forge::put_f32(s.data() + forge::kDetectorTail + 4 * field, v);
    return s;
  };
  // The repaired original loads: the forgery tool itself changes nothing.
  std::vector<unsigned char> same = r.snapshot;
  forge::repair(same);
  EXPECT_EQ(same, r.snapshot);
  EXPECT_TRUE(detector_rejects(with_tail(1, -1.0f), r.cfg));    // negative variance
  EXPECT_TRUE(detector_rejects(with_tail(4, -0.5f), r.cfg));    // negative mean excess
  EXPECT_TRUE(detector_rejects(with_tail(0, -3e38f), r.cfg));   // mean beyond any score
  EXPECT_TRUE(detector_rejects(with_tail(1, 3e38f), r.cfg));    // variance beyond any score
  const float median = forge::get_f32(r.snapshot.data() + forge::kDetectorTail + 8);
  EXPECT_TRUE(detector_rejects(with_tail(3, median - 1.0f), r.cfg));  // upper below median
  EXPECT_TRUE(detector_rejects(with_tail(2, 1e30f), r.cfg));    // median beyond any score
  // counters that contradict each other
  std::vector<unsigned char> s = r.snapshot;
  forge::put_u64(s.data() + forge::kDetectorTailUpdates, 1000);  // more updates than scores
  EXPECT_TRUE(detector_rejects(s, r.cfg));
  s = r.snapshot;
  forge::put_u64(s.data() + forge::kDetectorSeen + 8, 7);  // scored != seen - warm-up
  EXPECT_TRUE(detector_rejects(s, r.cfg));
}

TEST(ReachableStates, ForgedDetectorScalingAndModelStatesAreRejected) {
  ReadyDetector r;
  const size_t scale = forge::kDetectorArrays + 4;  // D = 1: offset, scale, level, slow, innovation
  for (float bad : {0.0f, 1e-38f, -1.0f, 1e30f}) {
    std::vector<unsigned char> s = r.snapshot;
    forge::put_f32(s.data() + scale, bad);
    EXPECT_TRUE(detector_rejects(s, r.cfg)) << "scale " << bad;
  }
  const size_t innovation = forge::kDetectorArrays + 16;
  // (-1: a held reading's mark, which only a warm-up has; -0 never exists)
  for (float bad : {-1.0f, -0.0f, 5e37f, std::numeric_limits<float>::quiet_NaN()}) {
    std::vector<unsigned char> s = r.snapshot;
    forge::put_f32(s.data() + innovation, bad);
    EXPECT_TRUE(detector_rejects(s, r.cfg)) << "innovation " << bad;
  }
  // The model inside: its mean residual unconstrained, an iterate weight 0 past the hold.
  const size_t model = forge::detector_model_offset(r.snapshot.data());
  const uint32_t k = 2, d = 1;
  const size_t residual = model + forge::kModelArrays + 4 * (2 * (k + 2 * k * d));
  std::vector<unsigned char> s = r.snapshot;
  forge::put_f32(s.data() + residual, 1.0f);
  EXPECT_TRUE(detector_rejects(s, r.cfg));
  s = r.snapshot;
  const size_t iterate_weight = model + forge::kModelArrays + 4 * (k + 2 * k * d);
  forge::put_f32(s.data() + iterate_weight, 0.0f);
  EXPECT_TRUE(detector_rejects(s, r.cfg));
  // A schedule position only a merge reaches (a lone model's snapshot may hold it; a
  // detector's model is never merged).
  s = r.snapshot;
  forge::put_u64(s.data() + model + forge::kModelSteps + 8, r.cfg.model.init_samples - 1);
  EXPECT_TRUE(detector_rejects(s, r.cfg));
}

TEST(ReachableStates, AHeldWarmupReadingSavesAndLoads) {
  // A detector in its warm-up holds a glitch (the sign bit of the feature's innovation mean
  // square marks it): that state saves, loads and continues bit for bit alike, whether the
  // next reading confirms the glitch (a change) or not; the mark on a 0 is forged.
  for (const float next : {20.0f, 1e6f}) {
    smx_detector_config cfg;
    smx_detector_config_init(&cfg, 2, 1);
    DetectorPair pair(cfg);
    smx_detector* det = pair.det;
    ASSERT_NE(det, nullptr);
    std::mt19937 rng(5);
    std::normal_distribution<float> g(20.0f, 2.0f);
    smx_detection d{};
    for (int i = 0; i < 100; ++i) {
      const float x[1] = {i == 99 ? 1e6f : g(rng)};
      ASSERT_EQ(smx_detect(det, x, &d), SMX_OK);
    }
    const std::vector<unsigned char> snap = snapshot_of(det);
    const size_t innovation = forge::kDetectorArrays + 16;  // D = 1
    ASSERT_LT(forge::get_f32(snap.data() + innovation), 0.0f);  // held
    expect_loaded_copy_continues_alike(pair, snap, 300, [&](int i) { return i == 0 ? next : g(rng); });
    std::vector<unsigned char> forged = snap;
    forge::put_f32(forged.data() + innovation, -0.0f);
    EXPECT_TRUE(detector_rejects(forged, cfg));
  }
}

TEST(ReachableStates, ARestartedStreamSavesAndLoads) {
  // A glitch in the first reading restarts the stream at the third (the restarted flag, the
  // seed of the new first reading): that state saves, loads and continues bit for bit alike.
  // Forged: the flag other than 0 or 1, the flag before any reading, a seed row written
  // before its reading.
  smx_detector_config cfg;
  smx_detector_config_init(&cfg, 2, 1);
  DetectorPair pair(cfg);
  smx_detector* det = pair.det;
  ASSERT_NE(det, nullptr);
  std::mt19937 rng(9);
  std::normal_distribution<float> g(0.0f, 1.0f);
  smx_detection d{};
  for (float x : {1e10f, g(rng), g(rng)}) ASSERT_EQ(smx_detect(det, &x, &d), SMX_OK);
  ASSERT_EQ(smx_detector_samples_seen(det), 1u);
  const std::vector<unsigned char> snap = snapshot_of(det);
  EXPECT_EQ(forge::get_u32(snap.data() + forge::kDetectorRestarted), 1u);
  expect_loaded_copy_continues_alike(pair, snap, 300, [&](int) { return g(rng); });
  std::vector<unsigned char> forged = snap;
  forge::put_u32(forged.data() + forge::kDetectorRestarted, 2);
  EXPECT_TRUE(detector_rejects(forged, cfg));
  const size_t second_seed = forge::kDetectorArrays + 4 * 6;  // D = 1: the seed's second row
  forged = snap;
  forge::put_f32(forged.data() + second_seed, 0.5f);
  EXPECT_TRUE(detector_rejects(forged, cfg));
  forged = snap;
  forge::put_f32(forged.data() + second_seed, -0.0f);
  EXPECT_TRUE(detector_rejects(forged, cfg));
  DetectorPair fresh(cfg);
  forged = snapshot_of(fresh.det);
  forge::put_u32(forged.data() + forge::kDetectorRestarted, 1);
  EXPECT_TRUE(detector_rejects(forged, cfg));
}

// A model in its warm-up (K = 2, D = 1, 5 of 20 samples buffered) and its snapshot.
std::vector<unsigned char> warming_model(smx_config* c) {
  smx_config_init(c, 2, 1);
  size_t bytes = 0;
  EXPECT_EQ(smx_model_size(c, &bytes), SMX_OK);
  Storage a(bytes);
  smx_model* m = nullptr;
  EXPECT_EQ(smx_model_create(c, a.data, a.size, &m), SMX_OK);
  for (int i = 0; i < 5; ++i) {
    const float x[1] = {static_cast<float>(i)};
    EXPECT_EQ(smx_observe(m, x, nullptr), SMX_OK);
  }
  return snapshot_of(m);
}

TEST(ReachableStates, CountsStopAtTheirEndInsteadOfWrapping) {
  // A model (and a detector) loaded with its sample count 5 below UINT64_MAX, a reachable
  // state, takes 20 more samples: the count stays at UINT64_MAX and the state saves to a
  // snapshot that loads. Before, the count wrapped to 14 and the snapshot was rejected
  // (step_origin + steps > samples_seen; found by fuzz_snapshot_repaired).
  smx_config c;
  smx_config_init(&c, 2, 1);
  c.init_samples = 0;
  size_t bytes = 0;
  ASSERT_EQ(smx_model_size(&c, &bytes), SMX_OK);
  Storage a(bytes), b(bytes);
  smx_model* m = nullptr;
  ASSERT_EQ(smx_model_create(&c, a.data, a.size, &m), SMX_OK);
  const float w[2] = {0.5f, 0.5f}, mu[2] = {-1.0f, 1.0f}, var[2] = {1.0f, 1.0f};
  ASSERT_EQ(smx_model_set_params(m, w, mu, var), SMX_OK);
  for (int i = 0; i < 30; ++i) {
    const float x[1] = {static_cast<float>(i % 5) - 2.0f};
    ASSERT_EQ(smx_observe(m, x, nullptr), SMX_OK);
  }
  std::vector<unsigned char> s = snapshot_of(m);
  forge::put_u64(s.data() + forge::kModelReady + 8, UINT64_MAX - 5);  // samples_seen
  forge::repair(s);
  smx_model* loaded = nullptr;
  ASSERT_EQ(smx_snapshot_load(s.data(), s.size(), b.data, b.size, &loaded), SMX_OK);
  for (int i = 0; i < 20; ++i) {
    const float x[1] = {static_cast<float>(i % 5) - 2.0f};
    ASSERT_EQ(smx_observe(loaded, x, nullptr), SMX_OK);
  }
  EXPECT_EQ(smx_samples_seen(loaded), UINT64_MAX);
  const std::vector<unsigned char> after = snapshot_of(loaded);
  smx_model* again = nullptr;
  EXPECT_EQ(smx_snapshot_load(after.data(), after.size(), a.data, a.size, &again), SMX_OK);

  // The detector: its count, its scored count and its model's count, moved together.
  ReadyDetector r;
  std::vector<unsigned char> d = r.snapshot;
  const uint64_t seen = 300, scored = 250;  // (init_samples 50)
  const uint64_t end = UINT64_MAX - 5;
  forge::put_u64(d.data() + forge::kDetectorSeen, end);
  forge::put_u64(d.data() + forge::kDetectorSeen + 8, end - (seen - scored));
  const size_t model = forge::detector_model_offset(d.data());
  forge::put_u64(d.data() + model + forge::kModelReady + 8, end);
  forge::repair(d);
  Storage da(detector_bytes(r.cfg)), db(detector_bytes(r.cfg));
  smx_detector* det = nullptr;
  ASSERT_EQ(smx_detector_snapshot_load(d.data(), d.size(), da.data, da.size, &det), SMX_OK);
  std::mt19937 rng(9);
  std::normal_distribution<float> g(20.0f, 2.0f);
  smx_detection out{};
  for (int i = 0; i < 20; ++i) {
    const float x[1] = {g(rng)};
    ASSERT_EQ(smx_detect(det, x, &out), SMX_OK);
  }
  const std::vector<unsigned char> dsaved = snapshot_of(det);
  smx_detector* dagain = nullptr;
  EXPECT_EQ(smx_detector_snapshot_load(dsaved.data(), dsaved.size(), db.data, db.size, &dagain),
            SMX_OK);
}

TEST(ReachableStates, ForgedModelStatesAreRejected) {
  smx_config c;
  const std::vector<unsigned char> warm = warming_model(&c);
  std::vector<unsigned char> s = warm;
  forge::put_u32(s.data() + forge::kModelReady, 1);  // "ready" with the warm-up's arrays
  EXPECT_TRUE(model_rejects(s, c));
  s = warm;
  forge::put_u64(s.data() + forge::kModelSteps, 3);  // steps during the warm-up
  EXPECT_TRUE(model_rejects(s, c));
  s = warm;
  forge::put_f32(s.data() + forge::kModelArrays + 8, 1.0f);  // a mean set during the warm-up
  EXPECT_TRUE(model_rejects(s, c));
  s = warm;
  forge::put_u64(s.data() + forge::kModelReady + 8, 9);  // samples_seen != buffered
  EXPECT_TRUE(model_rejects(s, c));
  s = warm;
  forge::repair(s);
  EXPECT_FALSE(model_rejects(s, c));  // the original still loads
}

// --- Overlapping buffers -----------------------------------------------------------------

TEST(ReachableStates, LoadingASnapshotIntoItsOwnBufferIsRefused) {
  smx_config c;
  const std::vector<unsigned char> warm = warming_model(&c);
  size_t bytes = 0;
  ASSERT_EQ(smx_model_size(&c, &bytes), SMX_OK);
  Storage target(bytes + warm.size());
  std::memcpy(target.data, warm.data(), warm.size());
  const std::vector<unsigned char> before = target.image();
  smx_model* m = nullptr;
  EXPECT_EQ(smx_snapshot_load(target.data, warm.size(), target.data, target.size, &m),
            SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_snapshot_load(target.data, warm.size(), target.data + 64, target.size - 64, &m),
            SMX_ERR_ARGUMENT);
  EXPECT_EQ(target.image(), before);
  ReadyDetector r;
  Storage both(r.storage.size + r.snapshot.size());
  std::memcpy(both.data + r.storage.size - 8, r.snapshot.data(), r.snapshot.size());
  const std::vector<unsigned char> image = both.image();
  smx_detector* det = nullptr;
  EXPECT_EQ(smx_detector_snapshot_load(both.data + r.storage.size - 8, r.snapshot.size(),
                                       both.data, r.storage.size, &det),
            SMX_ERR_ARGUMENT);
  EXPECT_EQ(both.image(), image);
}

// --- Responsibilities far from the model --------------------------------------------------

// K = 2 components N(0, 1) with weights 0.25 and 0.75. Far out the log joint densities are
// ~ -x^2/2, where one float step is already a nat or more, so the responsibilities can no
// longer be the weights; but they must still sum to 1. Each r_k is exp (1 ulp in every
// backend) times the reciprocal of the rounded sum of the K terms, so the sum of the r_k is
// within (K + 2) float epsilons of 1; 8 eps is the bound asserted.
smx_model* two_components(Storage& a, uint32_t hold) {
  smx_config c;
  smx_config_init(&c, 2, 1);
  c.init_samples = 0;
  c.hold_samples = hold;
  size_t bytes = 0;
  EXPECT_EQ(smx_model_size(&c, &bytes), SMX_OK);
  a = Storage(bytes);
  smx_model* m = nullptr;
  EXPECT_EQ(smx_model_create(&c, a.data, a.size, &m), SMX_OK);
  const float w[2] = {0.25f, 0.75f}, mu[2] = {0.0f, 0.0f}, var[2] = {1.0f, 1.0f};
  EXPECT_EQ(smx_model_set_params(m, w, mu, var), SMX_OK);
  return m;
}

const float kFarSamples[] = {0.0f, 3.0f, 3000.0f, 4123.0f, 1e4f, -1e6f, 1e9f, 1e18f};

TEST(Responsibilities, SumToOneForFarSamples) {
  Storage a(0);
  smx_model* m = two_components(a, 20);
  for (float x0 : kFarSamples) {
    const float x[1] = {x0};
    float r[2];
    ASSERT_EQ(smx_responsibilities(m, x, r), SMX_OK);
    EXPECT_NEAR(double{r[0]} + r[1], 1.0, 8.0 * FLT_EPSILON) << "x = " << x0;
  }
  const float near[1] = {0.5f};  // near the model they are the weights
  float r[2];
  ASSERT_EQ(smx_responsibilities(m, near, r), SMX_OK);
  EXPECT_NEAR(r[0], 0.25, 4.0 * FLT_EPSILON);
}

// The learner's E-step: the weight statistics move as s0' = (1 - gamma) s0 + gamma r, so from
// statistics summing to 1 (set_params normalizes) their sum stays 1 exactly when sum r = 1.
// Read from the snapshot (the statistics' weights are its first K floats), the sum must stay
// within 8 eps (the responsibilities' bound plus the update's rounding).
TEST(Responsibilities, TheLearnersSumToOneForFarSamples) {
  for (float x0 : kFarSamples) {
    Storage a(0);
    smx_model* m = two_components(a, 0);
    const float x[1] = {x0};
    ASSERT_EQ(smx_observe(m, x, nullptr), SMX_OK);
    const std::vector<unsigned char> s = snapshot_of(m);
    const double total = double{forge::get_f32(s.data() + forge::kModelArrays)} +
                         forge::get_f32(s.data() + forge::kModelArrays + 4);
    EXPECT_NEAR(total, 1.0, 8.0 * FLT_EPSILON) << "x = " << x0;
  }
}

}  // namespace
