// Zero allocations in the hot path. This binary is linked with -Wl,--wrap=malloc (and
// calloc, realloc, aligned_alloc, posix_memalign), so every call from the statically linked
// library and the test code goes through the counters below; operator new is replaced too.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "reference.h"
#include "streamix/streamix.hpp"

namespace {
std::atomic<long> g_allocations{0};
}

extern "C" {
void* __real_malloc(size_t);
void* __real_calloc(size_t, size_t);
void* __real_realloc(void*, size_t);
void* __real_aligned_alloc(size_t, size_t);
int __real_posix_memalign(void**, size_t, size_t);
void* __wrap_malloc(size_t n) { return ++g_allocations, __real_malloc(n); }
void* __wrap_calloc(size_t n, size_t s) { return ++g_allocations, __real_calloc(n, s); }
void* __wrap_realloc(void* p, size_t n) { return ++g_allocations, __real_realloc(p, n); }
void* __wrap_aligned_alloc(size_t a, size_t n) { return ++g_allocations, __real_aligned_alloc(a, n); }
int __wrap_posix_memalign(void** p, size_t a, size_t n) {
  return ++g_allocations, __real_posix_memalign(p, a, n);
}
}

void* operator new(size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace {

TEST(NoAllocation, CountersSeeAllocations) {
  // Guards against a counter that cannot fail: a vector must be counted.
  const long before = g_allocations;
  std::vector<int>* v = new std::vector<int>(100);
  delete v;
  void* p = std::malloc(16);
  std::free(p);
  EXPECT_GE(g_allocations - before, 3);
}

TEST(NoAllocation, ObserveAndScoreNeverAllocate) {
  alignas(64) static unsigned char storage[SMX_MODEL_BYTES(4, 8, 40, 1)];
  smx_config cfg;
  smx_config_init(&cfg, 4, 8);
  cfg.average_from = 100;
  smx_model* m = nullptr;
  ASSERT_EQ(smx_model_create(&cfg, storage, sizeof storage, &m), SMX_OK);
  reference::Mixture mix{4, 8, {0.25, 0.25, 0.25, 0.25}, {}, std::vector<double>(32, 1.0)};
  for (int i = 0; i < 32; ++i) mix.mean.push_back((i / 8) * 6.0);
  reference::Sampler sampler(mix, 1);
  std::vector<float> xs(10000 * 8);
  for (int i = 0; i < 10000; ++i) sampler.draw(&xs[i * 8]);
  float resp[4];
  const long before = g_allocations;
  for (int i = 0; i < 10000; ++i) {
    float log_p = 0.0f;
    if (smx_observe(m, &xs[i * 8], &log_p) != SMX_OK) break;
    if (!smx_is_ready(m)) continue;  // scoring starts once the warm-up is done
    if (smx_score(m, &xs[i * 8], &log_p) != SMX_OK) break;
    if (smx_responsibilities(m, &xs[i * 8], resp) != SMX_OK) break;
  }
  const long during = g_allocations - before;
  EXPECT_EQ(during, 0);
  EXPECT_EQ(smx_samples_seen(m), 10000u);  // warm-up, initialization and learning included
}

TEST(NoAllocation, BankObserveNeverAllocates) {
  alignas(64) static unsigned char storage[SMX_BANK_BYTES(2, 4, 20, 0, 1, 40)];
  smx_config cfg;
  smx_config_init(&cfg, 2, 4);
  smx_bank* bank = nullptr;
  ASSERT_EQ(smx_bank_create(&cfg, 40, storage, sizeof storage, &bank), SMX_OK);
  reference::Mixture mix{2, 4, {0.5, 0.5}, {0, 0, 0, 0, 6, 6, 6, 6}, std::vector<double>(8, 1.0)};
  reference::Sampler sampler(mix, 2);
  std::vector<float> xs(200 * 40 * 4);
  for (size_t i = 0; i < xs.size() / 4; ++i) sampler.draw(&xs[i * 4]);
  std::vector<uint32_t> ids(40);
  for (uint32_t i = 0; i < 40; ++i) ids[i] = (i * 7) % 13;  // some models, repeated
  std::vector<float> log_p(40);
  std::vector<smx_status> status(40);
  const long before = g_allocations;
  for (int t = 0; t < 200; ++t) {
    const float* rows = &xs[size_t(t) * 40 * 4];
    if (smx_bank_observe(bank, rows, log_p.data(), status.data()) != SMX_OK) break;
    if (smx_bank_observe_some(bank, ids.data(), rows, 40, log_p.data(), status.data()) != SMX_OK) break;
  }
  float score = 0.0f;
  EXPECT_EQ(smx_bank_score(bank, 3, &xs[0], &score), SMX_OK);
  EXPECT_EQ(g_allocations - before, 0);
  EXPECT_EQ(smx_bank_samples_seen(bank, 39), 200u);  // warm-up, initialization and learning
}

TEST(NoAllocation, DetectorBankNeverAllocates) {
  alignas(64) static unsigned char storage[SMX_DETECTOR_BANK_BYTES(2, 4, 1, 200, 0, 1, 20)];
  smx_detector_config cfg;
  smx_detector_config_init(&cfg, 2, 4);
  smx_detector_bank* bank = nullptr;
  ASSERT_EQ(smx_detector_bank_create(&cfg, 20, storage, sizeof storage, &bank), SMX_OK);
  reference::Mixture mix{2, 4, {0.5, 0.5}, {0, 0, 0, 0, 6, 6, 6, 6}, std::vector<double>(8, 1.0)};
  reference::Sampler sampler(mix, 3);
  std::vector<float> xs(500 * 20 * 4);
  for (size_t i = 0; i < xs.size() / 4; ++i) sampler.draw(&xs[i * 4]);
  for (size_t i = 450 * 20; i < 460 * 20; i += 20) xs[i * 4 + 2] += 40.0f;  // a fault: the gate
  std::vector<uint32_t> ids(20);
  for (uint32_t i = 0; i < 20; ++i) ids[i] = (i * 7) % 13;  // some detectors, repeated
  std::vector<smx_detection> out(20);
  std::vector<smx_status> status(20);
  int alarms = 0;
  const long before = g_allocations;
  for (int t = 0; t < 500; ++t) {
    const float* rows = &xs[size_t(t) * 20 * 4];
    if (smx_detector_bank_detect(bank, rows, out.data(), status.data()) != SMX_OK) break;
    alarms += out[0].is_anomaly;
    if (t % 5 == 0 && smx_detector_bank_detect_some(bank, ids.data(), rows, 20, out.data(), status.data()) != SMX_OK) break;
  }
  EXPECT_EQ(g_allocations - before, 0);
  EXPECT_EQ(smx_detector_bank_samples_seen(bank, 19), 500u);  // warm-up, lanes, the gate
  EXPECT_GT(alarms, 0);
}

TEST(NoAllocation, DetectNeverAllocates) {
  alignas(64) static unsigned char storage[SMX_DETECTOR_BYTES(2, 4, 3, 200, 0)];
  smx_detector_config cfg;
  smx_detector_config_init(&cfg, 2, 4);
  cfg.views = SMX_VIEW_LEVEL | SMX_VIEW_DELTA | SMX_VIEW_RESIDUAL;
  cfg.model.features = 12;
  smx_detector* det = nullptr;
  ASSERT_EQ(smx_detector_create(&cfg, storage, sizeof storage, &det), SMX_OK);
  std::vector<float> xs(5000 * 4);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = float((i * 7919) % 101) * 0.01f;
  for (int i = 4000; i < 4010; ++i) xs[i * 4 + 1] += 50.0f;  // a fault: alarms, the gate
  smx_detection d{};
  int alarms = 0;
  const long before = g_allocations;
  for (int i = 0; i < 5000; ++i) {
    if (smx_detect(det, &xs[i * 4], &d) != SMX_OK) break;
    alarms += d.is_anomaly;
  }
  EXPECT_EQ(g_allocations - before, 0);
  EXPECT_EQ(smx_detector_samples_seen(det), 5000u);  // warm-up, scaling, scoring, gate
  EXPECT_GT(alarms, 0);
}

}  // namespace
