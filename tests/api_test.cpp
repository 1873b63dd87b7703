// The API's contract: validation of every argument, bad input leaving the storage
// bit-for-bit unchanged, the storage-size formula, and the C++ handles.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <limits>
#include <algorithm>
#include <vector>

#include "aligned_storage.h"
#include "streamix/streamix.hpp"

namespace {

using streamix::status;

using Storage = AlignedStorage;

// A ready model with K = 3, D = 4 that has learned from a few samples.
struct Trained {
  smx_config cfg;
  size_t bytes = 0;
  Storage storage;
  smx_model* m = nullptr;
  Trained() : cfg(make_config()), storage(size_of(cfg)) {
    EXPECT_EQ(smx_model_create(&cfg, storage.data, storage.size, &m), SMX_OK);
    for (int i = 0; i < 100; ++i) {
      const float x[4] = {float(i % 7), float(i % 3) * 2.0f, -1.0f * float(i % 5), 0.5f};
      EXPECT_EQ(smx_observe(m, x, nullptr), SMX_OK);
    }
    EXPECT_EQ(smx_is_ready(m), 1);
  }
  static smx_config make_config() {
    smx_config c;
    smx_config_init(&c, 3, 4);
    return c;
  }
  static size_t size_of(const smx_config& c) {
    size_t n = 0;
    EXPECT_EQ(smx_model_size(&c, &n), SMX_OK);
    return n;
  }
};

TEST(Api, BadFeatureValuesAreRejectedAndChangeNothing) {
  Trained t;
  // Validation compares float bits: the first value past the limit and a NaN with its sign
  // bit set must fail it as surely as the plain cases.
  const float bad[] = {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN(),
                       INFINITY, -INFINITY, std::nextafter(SMX_MAX_ABS_FEATURE, INFINITY),
                       -std::nextafter(SMX_MAX_ABS_FEATURE, INFINITY), SMX_MAX_ABS_FEATURE * 1.01f,
                       -3e38f};
  for (float value : bad) {
    for (int d = 0; d < 4; ++d) {
      float x[4] = {1, 2, 3, 4};
      x[d] = value;
      const auto before = t.storage.image();
      float out = 12345.0f;
      std::vector<float> resp(3, 7.0f);
      EXPECT_EQ(smx_observe(t.m, x, &out), SMX_ERR_INPUT) << value << " at " << d;
      EXPECT_EQ(smx_score(t.m, x, &out), SMX_ERR_INPUT);
      EXPECT_EQ(smx_responsibilities(t.m, x, resp.data()), SMX_ERR_INPUT);
      EXPECT_TRUE((t.storage.image() == before)) << value << " at " << d;
      EXPECT_EQ(out, 12345.0f);
      EXPECT_EQ(resp[0], 7.0f);
    }
  }
  // The largest accepted magnitude is fine.
  const float edge[4] = {SMX_MAX_ABS_FEATURE, 0, 0, -SMX_MAX_ABS_FEATURE};
  float out = 0.0f;
  EXPECT_EQ(smx_score(t.m, edge, &out), SMX_OK);
}

TEST(Api, NullPointersAreArgumentErrors) {
  Trained t;
  const auto before = t.storage.image();
  const float x[4] = {0, 0, 0, 0};
  float out = 0.0f, w[3], mv[12];
  size_t n = 0;
  smx_model* m = nullptr;
  EXPECT_EQ(smx_model_size(nullptr, &n), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_model_size(&t.cfg, nullptr), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_model_create(nullptr, t.storage.data, t.storage.size, &m), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_model_create(&t.cfg, nullptr, t.storage.size, &m), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_model_create(&t.cfg, t.storage.data, t.storage.size, nullptr), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_observe(nullptr, x, &out), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_observe(t.m, nullptr, &out), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_score(t.m, x, nullptr), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_score(nullptr, x, &out), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_responsibilities(t.m, x, nullptr), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_model_set_params(t.m, nullptr, mv, mv), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_model_set_params(t.m, w, nullptr, mv), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_model_set_params(t.m, w, mv, nullptr), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_model_get_params(nullptr, w, mv, mv), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_snapshot_size(nullptr, &n), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_snapshot_save(t.m, nullptr, 100, &n), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_snapshot_load(nullptr, 10, t.storage.data, t.storage.size, &m), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_samples_seen(nullptr), 0u);
  EXPECT_EQ(smx_is_ready(nullptr), 0);
  EXPECT_TRUE((t.storage.image() == before));
  // Storage that never held a model is not a model.
  Storage blank(t.storage.size);
  EXPECT_EQ(smx_observe(reinterpret_cast<smx_model*>(blank.data), x, &out), SMX_ERR_ARGUMENT);
}

TEST(Api, InvalidConfigsAreRejected) {
  // Each rejected, with smx_config_problem naming the field first (field: its name).
  auto expect_invalid = [](void (*edit)(smx_config&), const char* what, const char* field) {
    smx_config c;
    smx_config_init(&c, 4, 3);
    EXPECT_EQ(smx_config_problem(&c), nullptr);
    edit(c);
    size_t n = 0;
    EXPECT_EQ(smx_model_size(&c, &n), SMX_ERR_ARGUMENT) << what;
    const char* problem = smx_config_problem(&c);
    ASSERT_NE(problem, nullptr) << what;
    EXPECT_EQ(std::string(problem).rfind(std::string(field) + " must be", 0), 0u) << what << ": " << problem;
    Storage s(1 << 16);
    smx_model* m = nullptr;
    EXPECT_EQ(smx_model_create(&c, s.data, s.size, &m), SMX_ERR_ARGUMENT) << what;
  };
  expect_invalid([](smx_config& c) { c.components = 0; }, "K = 0", "components");
  expect_invalid([](smx_config& c) { c.features = 0; }, "D = 0", "features");
  expect_invalid([](smx_config& c) { c.components = SMX_MAX_COMPONENTS + 1; }, "K too large", "components");
  expect_invalid([](smx_config& c) { c.features = SMX_MAX_FEATURES + 1; }, "D too large", "features");
  expect_invalid([](smx_config& c) { c.step_exponent = 0.5f; }, "alpha = 0.5", "step_exponent");
  expect_invalid([](smx_config& c) { c.step_exponent = 1.01f; }, "alpha > 1", "step_exponent");
  expect_invalid([](smx_config& c) { c.step_exponent = NAN; }, "alpha NaN", "step_exponent");
  expect_invalid([](smx_config& c) { c.step_offset = 0.5f; }, "t0 < 1", "step_offset");
  expect_invalid([](smx_config& c) { c.step_offset = INFINITY; }, "t0 inf", "step_offset");
  expect_invalid([](smx_config& c) { c.step_floor = 1.0f; }, "gamma_min = 1", "step_floor");
  expect_invalid([](smx_config& c) { c.step_floor = -0.1f; }, "gamma_min < 0", "step_floor");
  expect_invalid([](smx_config& c) { c.init_samples = 3; }, "init_samples < K", "init_samples");
  expect_invalid([](smx_config& c) { c.init_samples = SMX_MAX_INIT_SAMPLES + 1; }, "N too large", "init_samples");
  expect_invalid([](smx_config& c) { c.variance_floor = 0.0f; }, "variance floor 0", "variance_floor");
  expect_invalid([](smx_config& c) { c.variance_floor = 1e-40f; }, "variance floor denormal", "variance_floor");
  expect_invalid([](smx_config& c) { c.weight_floor = 0.0f; }, "weight floor 0", "weight_floor");
  expect_invalid([](smx_config& c) { c.weight_floor = 0.25f; }, "weight floor K * w >= 1", "weight_floor");
  smx_config_init(nullptr, 1, 1);  // tolerated: does nothing
  EXPECT_EQ(smx_config_problem(nullptr), nullptr);
  smx_detector_config d;
  smx_detector_config_init(&d, 2, 3);
  EXPECT_EQ(smx_detector_config_problem(&d), nullptr);
  d.alarm_rate = 0.5f;
  EXPECT_STREQ(smx_detector_config_problem(&d), "alarm_rate must be in [1.2e-38, 0.1]");
  d.alarm_rate = 0.01f;
  d.model.step_exponent = 2.0f;  // the model's rules, named as in smx_config
  EXPECT_STREQ(smx_detector_config_problem(&d), "step_exponent must be in (0.5, 1]");
}

TEST(Api, StorageTooSmallOrMisaligned) {
  smx_config c;
  smx_config_init(&c, 5, 3);
  size_t n = 0;
  ASSERT_EQ(smx_model_size(&c, &n), SMX_OK);
  Storage s(n + 64);
  smx_model* m = nullptr;
  EXPECT_EQ(smx_model_create(&c, s.data, n - 1, &m), SMX_ERR_STORAGE);
  EXPECT_EQ(smx_model_create(&c, s.data + 4, n, &m), SMX_ERR_STORAGE);
  EXPECT_EQ(m, nullptr);
  EXPECT_EQ(smx_model_create(&c, s.data, n, &m), SMX_OK);
}

TEST(Api, StorageSizeFollowsTheDocumentedFormula) {
  for (uint32_t k : {1u, 2u, 4u, 5u, 8u, 9u, 15u, 16u, 17u, 100u, 1024u}) {
    for (uint32_t d : {1u, 3u, 64u, 4096u}) {
      for (uint32_t n : {0u, 1024u}) {
        for (uint32_t avg : {0u, 5u}) {
          for (uint32_t m : {1u, 7u, 64u}) {
            smx_config c;
            smx_config_init(&c, k, d);
            c.init_samples = n == 0 ? 0 : std::max(n, k);
            c.average_from = avg;
            c.batch_size = m;
            size_t bytes = 0;
            ASSERT_EQ(smx_model_size(&c, &bytes), SMX_OK);
            const size_t p = k <= 4 ? 4 : k <= 8 ? 8 : (k + 15) / 16 * 16;
            const size_t a = avg ? 1 : 0, N = c.init_samples;
            const size_t batch = m > 1 ? 4 * p * (1 + 2 * d) + (4 * m * (p + d + 2) + 63) / 64 * 64 : 0;
            const size_t formula = 256 + 4 * p * (6 + 3 * a) + 4 * p * d * (6 + 3 * a) +
                                   (4 * N * (d + 1) + 63) / 64 * 64 + batch;
            EXPECT_EQ(bytes, formula) << k << " " << d << " " << n << " " << avg << " " << m;
            EXPECT_EQ(bytes, SMX_MODEL_BATCH_BYTES(k, d, N, avg, m));
            if (m == 1) {
              EXPECT_EQ(bytes, SMX_MODEL_BYTES(k, d, N, avg));
            }
          }
        }
      }
    }
  }
}

TEST(Api, InvalidParametersAreRejectedAndChangeNothing) {
  Trained t;
  const auto before = t.storage.image();
  std::vector<float> w(3, 1.0f), mean(12, 0.0f), var(12, 1.0f);
  auto expect_rejected = [&](const char* what) {
    EXPECT_EQ(smx_model_set_params(t.m, w.data(), mean.data(), var.data()), SMX_ERR_ARGUMENT) << what;
    EXPECT_TRUE((t.storage.image() == before)) << what;
    w.assign(3, 1.0f), mean.assign(12, 0.0f), var.assign(12, 1.0f);
  };
  w[1] = -0.1f, expect_rejected("negative weight");
  w[2] = NAN, expect_rejected("NaN weight");
  w.assign(3, 0.0f), expect_rejected("zero weights");
  w[0] = INFINITY, expect_rejected("infinite weight");
  mean[5] = NAN, expect_rejected("NaN mean");
  mean[11] = 2e19f, expect_rejected("mean beyond sqrt(FLT_MAX)");
  var[3] = 0.0f, expect_rejected("zero variance");
  var[4] = -1.0f, expect_rejected("negative variance");
  var[0] = INFINITY, expect_rejected("infinite variance");
}

TEST(Api, SetThenGetRoundTripsWithFloorsApplied) {
  Trained t;
  const std::vector<float> w = {0.25f, 0.25f, 0.5f};
  std::vector<float> mean(12), var(12);
  for (int i = 0; i < 12; ++i) mean[i] = 0.5f * i - 3.0f, var[i] = 0.25f + i;
  var[7] = 1e-9f;  // below the default floor 1e-6
  ASSERT_EQ(smx_model_set_params(t.m, w.data(), mean.data(), var.data()), SMX_OK);
  std::vector<float> w2(3), mean2(12), var2(12);
  ASSERT_EQ(smx_model_get_params(t.m, w2.data(), mean2.data(), var2.data()), SMX_OK);
  EXPECT_EQ(w2, w);
  EXPECT_EQ(mean2, mean);
  var[7] = 1e-6f;
  EXPECT_EQ(var2, var);
  // Any output may be skipped.
  EXPECT_EQ(smx_model_get_params(t.m, nullptr, mean2.data(), nullptr), SMX_OK);
}

// Regression (fuzz_api, tests/fuzz/regressions/api/observe-without-warmup-buffer): with
// init_samples = 0 and no parameters, observe appended to a zero-length warm-up buffer.
TEST(Api, ObserveWithoutParametersOrWarmUpIsNotReady) {
  smx_config c;
  smx_config_init(&c, 1, 1);
  c.init_samples = 0;
  size_t n = 0;
  ASSERT_EQ(smx_model_size(&c, &n), SMX_OK);
  Storage s(n);
  smx_model* m = nullptr;
  ASSERT_EQ(smx_model_create(&c, s.data, s.size, &m), SMX_OK);
  const auto before = s.image();
  const float x[1] = {1.0f};
  float log_p = 7.0f;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(smx_observe(m, x, &log_p), SMX_ERR_NOT_READY);
  EXPECT_TRUE((s.image() == before));
  EXPECT_EQ(log_p, 7.0f);
  EXPECT_EQ(smx_samples_seen(m), 0u);
}

// Regression (fuzz_api, tests/fuzz/regressions/api/variance-overflow-*): samples the full
// accepted range apart made (x - mean)^2 overflow and variances became +inf.
TEST(Api, ExtremeButValidSamplesKeepVariancesFinite) {
  streamix::model model;
  ASSERT_EQ(streamix::model::create(streamix::config(2, 2).init_samples(0).hold_samples(0), model),
            streamix::status::ok);
  const std::vector<float> w = {0.5f, 0.5f}, m = {0, 0, 1, 1}, v = {1, 1, 1, 1};
  ASSERT_EQ(model.set_params(w, m, v), streamix::status::ok);
  std::vector<float> wt(2), mean(4), var(4);
  for (int i = 0; i < 200; ++i) {
    const float s = (i % 2 ? 1.0f : -1.0f) * SMX_MAX_ABS_FEATURE;
    const float x[2] = {s, -s};
    float log_p = 0.0f;
    ASSERT_EQ(model.observe(x, &log_p), streamix::status::ok);
    ASSERT_FALSE(std::isnan(log_p)) << i;
    ASSERT_EQ(model.get_params(wt, mean, var), streamix::status::ok);
    for (int j = 0; j < 4; ++j) {
      ASSERT_TRUE(std::isfinite(mean[j]) && std::isfinite(var[j])) << i;
      ASSERT_LE(var[j], SMX_MAX_VARIANCE);
    }
  }
  EXPECT_EQ(*std::max_element(var.begin(), var.end()), SMX_MAX_VARIANCE);
  // Variances above the ceiling are lowered to it on the way in, too.
  const std::vector<float> huge = {1, 1, 1e38f, 3e38f};
  ASSERT_EQ(model.set_params(w, m, huge), streamix::status::ok);
  ASSERT_EQ(model.get_params(wt, mean, var), streamix::status::ok);
  EXPECT_EQ(var[2], SMX_MAX_VARIANCE);
  EXPECT_EQ(var[3], SMX_MAX_VARIANCE);
  float log_p = 0.0f;
  const float x[2] = {0.0f, 0.0f};
  ASSERT_EQ(model.score(x, log_p), streamix::status::ok);
  EXPECT_TRUE(std::isfinite(log_p));
}

TEST(Api, StatusStringsAreDistinct) {
  const smx_status all[] = {SMX_OK, SMX_ERR_ARGUMENT, SMX_ERR_STORAGE, SMX_ERR_INPUT,
                            SMX_ERR_NOT_READY, SMX_ERR_SNAPSHOT};
  for (smx_status a : all) {
    ASSERT_NE(smx_status_string(a), nullptr);
    for (smx_status b : all) {
      if (a != b) {
        EXPECT_STRNE(smx_status_string(a), smx_status_string(b));
      }
    }
  }
  EXPECT_STREQ(smx_status_string(static_cast<smx_status>(99)), "unknown status");
  EXPECT_STREQ(streamix::to_string(status::input), smx_status_string(SMX_ERR_INPUT));
}

TEST(CppApi, SpansAreCheckedAgainstTheShape) {
  streamix::model model;
  ASSERT_EQ(streamix::model::create(streamix::config(2, 3).init_samples(0), model), status::ok);
  EXPECT_EQ(model.components(), 2u);
  EXPECT_EQ(model.features(), 3u);
  const std::vector<float> w = {1, 1}, m(6, 0.0f), v(6, 1.0f);
  EXPECT_EQ(model.set_params(w, m, v), status::ok);
  const float short_x[2] = {0, 0};
  float out = 0.0f;
  EXPECT_EQ(model.observe(short_x), status::argument);
  EXPECT_EQ(model.score(short_x, out), status::argument);
  std::vector<float> resp(3);
  const float x[3] = {0, 0, 0};
  EXPECT_EQ(model.responsibilities(x, resp), status::argument);
  EXPECT_EQ(model.set_params(w, v, std::vector<float>(5, 1.0f)), status::argument);
  // A default-constructed handle holds no model and says so.
  streamix::model empty;
  EXPECT_EQ(empty.observe(x), status::argument);
  EXPECT_FALSE(empty.ready());
  // Invalid config.
  EXPECT_EQ(streamix::model::create(streamix::config(0, 3), empty), status::argument);
}

TEST(CppApi, FixedModelIsReadyToWarmUpAndRelocatable) {
  static streamix::fixed_model<3, 2> model;  // static storage, as in firmware
  static_assert(sizeof(model) >= SMX_MODEL_BYTES(3, 2, 30, 0));
  EXPECT_EQ(model.components(), 3u);
  EXPECT_FALSE(model.ready());
  for (int i = 0; i < 60; ++i) {
    const float x[2] = {float(i % 3) * 10.0f, float(i % 2)};
    ASSERT_EQ(model.observe(x), status::ok);
  }
  EXPECT_TRUE(model.ready());
  // A copy is an independent, working model (the storage holds no pointers).
  streamix::fixed_model<3, 2> copy = model;
  const float x[2] = {10.0f, 1.0f};
  float a = 0.0f, b = 0.0f;
  ASSERT_EQ(model.score(x, a), status::ok);
  ASSERT_EQ(copy.score(x, b), status::ok);
  EXPECT_EQ(a, b);
  // reset() with another shape is refused; with the same shape it restarts the model.
  EXPECT_EQ(copy.reset(streamix::config(4, 2)), status::argument);
  EXPECT_EQ(copy.reset(streamix::config(3, 2).seed(7)), status::ok);
  EXPECT_FALSE(copy.ready());
}

// The active kernel table follows a restriction of Highway's targets. SSE4 has no FMA and
// AVX2 has, so the same scores round differently in some samples; if the resolved table kept
// running one target's code after the switch, every score would be equal. (x86-64 only:
// elsewhere Highway has one static target and the test skips.)
TEST(Kernels, HighwayTargetRestrictionSwitchesTheCodeInUse) {
  const std::string active_at_start = smx_backend();
  if (smx_select_kernels("highway:SSE4") != SMX_OK || smx_select_kernels("highway:AVX2") != SMX_OK) {
    GTEST_SKIP() << "Highway's SSE4 and AVX2 targets are not both available here";
  }
  const uint32_t k = 16, d = 16;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> w(k, 1.0f), mean(k * d), var(k * d), x(256 * d);
  for (float& v : mean) v = normal(rng);
  for (float& v : var) v = std::exp(0.5f * normal(rng));
  for (float& v : x) v = normal(rng);
  streamix::model model;
  ASSERT_EQ(streamix::model::create(streamix::config(k, d).init_samples(0), model), status::ok);
  ASSERT_EQ(model.set_params(w, mean, var), status::ok);
  auto score_all = [&](const char* kernels) {
    EXPECT_EQ(smx_select_kernels(kernels), SMX_OK);
    EXPECT_STREQ(smx_backend_target(), std::strchr(kernels, ':') + 1);
    std::vector<float> out(256);
    for (size_t i = 0; i < 256; ++i) EXPECT_EQ(smx_score(model.c_model(), &x[i * d], &out[i]), SMX_OK);
    return out;
  };
  const std::vector<float> sse4 = score_all("highway:SSE4"), avx2 = score_all("highway:AVX2");
  size_t differing = 0;
  for (size_t i = 0; i < 256; ++i) {
    differing += sse4[i] != avx2[i];
    // Both are within the E-step's rounding bound of each other (estep_test.cpp): a few ulps
    // of terms of magnitude ~ D (x, mean ~ N(0, 1), variances ~ 1).
    EXPECT_NEAR(sse4[i], avx2[i], 64 * std::numeric_limits<float>::epsilon() * (std::fabs(avx2[i]) + d));
  }
  EXPECT_GT(differing, 0u);
  // Back to the kernels the run started with (STREAMIX_KERNELS, or the build's default).
  const char* env = std::getenv("STREAMIX_KERNELS");
  EXPECT_EQ(smx_select_kernels(env != nullptr && *env != '\0' ? env : active_at_start.c_str()), SMX_OK);
}

}  // namespace
