// Banks (smx_bank_*): every model of a bank against a lone model with the same config fed
// the same readings, through every phase (warm-up, hold, the lanes' steps, re-seeding, -inf
// scores, mini-batches, averaging); readings for some models, repeated ids; per-reading
// rejection; per-model copies, snapshots both ways, resets; the storage formula.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "aligned_storage.h"
#include "streamix/streamix.h"

namespace {

struct Bank {
  AlignedStorage storage;
  smx_bank* bank = nullptr;
  Bank(const smx_config& c, uint32_t models) : storage(size_of(c, models)) {
    EXPECT_EQ(smx_bank_create(&c, models, storage.data, storage.size, &bank), SMX_OK);
  }
  static size_t size_of(const smx_config& c, uint32_t models) {
    size_t n = 0;
    EXPECT_EQ(smx_bank_size(&c, models, &n), SMX_OK);
    return n;
  }
};

struct Lone {
  AlignedStorage storage;
  smx_model* model = nullptr;
  explicit Lone(const smx_config& c) : storage(size_of(c)) {
    EXPECT_EQ(smx_model_create(&c, storage.data, storage.size, &model), SMX_OK);
  }
  static size_t size_of(const smx_config& c) {
    size_t n = 0;
    EXPECT_EQ(smx_model_size(&c, &n), SMX_OK);
    return n;
  }
};

std::vector<unsigned char> snapshot_of(const smx_model* m) {
  size_t n = 0;
  EXPECT_EQ(smx_snapshot_size(m, &n), SMX_OK);
  std::vector<unsigned char> out(n);
  EXPECT_EQ(smx_snapshot_save(m, out.data(), out.size(), nullptr), SMX_OK);
  return out;
}

std::vector<unsigned char> snapshot_of(smx_bank* b, uint32_t id) {
  size_t n = 0;
  EXPECT_EQ(smx_bank_snapshot_size(b, id, &n), SMX_OK);
  std::vector<unsigned char> out(n);
  size_t written = 0;
  EXPECT_EQ(smx_bank_snapshot_save(b, id, out.data(), out.size(), &written), SMX_OK);
  EXPECT_EQ(written, n);
  return out;
}

// Readings of stream s: two clusters per stream, at a stream-dependent offset.
std::vector<float> readings(uint32_t streams, uint32_t features, int steps, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> x(size_t{streams} * features * steps);
  for (int t = 0; t < steps; ++t) {
    for (uint32_t s = 0; s < streams; ++s) {
      const float centre = u(rng) < 0.3f ? 6.0f : -2.0f;
      for (uint32_t d = 0; d < features; ++d) {
        x[(size_t(t) * streams + s) * features + d] = 100.0f * s + centre + (1.0f + 0.1f * d) * g(rng);
      }
    }
  }
  return x;
}

// The largest difference between the parameters of two ready models (weights absolute, means
// and variances relative to max(1, |lone's|)).
double params_gap(const smx_model* a, const smx_model* b, const smx_config& c) {
  const size_t k = c.components, kd = k * c.features;
  std::vector<float> wa(k), ma(kd), va(kd), wb(k), mb(kd), vb(kd);
  EXPECT_EQ(smx_model_get_params(a, wa.data(), ma.data(), va.data()), SMX_OK);
  EXPECT_EQ(smx_model_get_params(b, wb.data(), mb.data(), vb.data()), SMX_OK);
  double gap = 0.0;
  for (size_t i = 0; i < k; ++i) gap = std::max(gap, std::fabs(double(wa[i]) - wb[i]));
  for (size_t i = 0; i < kd; ++i) {
    gap = std::max(gap, std::fabs(double(ma[i]) - mb[i]) / std::max(1.0, std::fabs(double(mb[i]))));
    gap = std::max(gap, std::fabs(double(va[i]) - vb[i]) / std::max(1.0, std::fabs(double(vb[i]))));
  }
  return gap;
}

struct Comparison {
  double log_p_gap = 0.0;    // largest |log p (bank) - log p (lone)|, relative to max(1, |lone|)
  double params_gap = 0.0;   // params_gap at the end
  uint32_t same_bytes = 0;   // models whose snapshots equal their lone twins' byte for byte
  uint32_t models = 0;
};

// Feeds `rounds` rounds of readings, each for the models `ids(round)` (all when empty), to a
// bank and to one lone model per bank model, checking statuses and NaN-ness as they go.
template <class Ids>
Comparison compare_with_lone_models(const smx_config& c, uint32_t models, const std::vector<float>& x,
                                    int rounds, Ids ids_of_round) {
  Bank bank(c, models);
  std::vector<Lone> lone;
  for (uint32_t i = 0; i < models; ++i) lone.emplace_back(c);
  Comparison out;
  out.models = models;
  size_t next = 0;  // the next row of x
  for (int t = 0; t < rounds; ++t) {
    const std::vector<uint32_t> ids = ids_of_round(t);
    const size_t n = ids.empty() ? models : ids.size();
    EXPECT_LE((next + n) * c.features, x.size());
    if ((next + n) * c.features > x.size()) break;
    const float* rows = &x[next * c.features];
    next += n;
    std::vector<float> lp(n);
    std::vector<smx_status> st(n);
    if (ids.empty()) {
      EXPECT_EQ(smx_bank_observe(bank.bank, rows, lp.data(), st.data()), SMX_OK);
    } else {
      EXPECT_EQ(smx_bank_observe_some(bank.bank, ids.data(), rows, n, lp.data(), st.data()), SMX_OK);
    }
    for (size_t i = 0; i < n; ++i) {
      const uint32_t id = ids.empty() ? static_cast<uint32_t>(i) : ids[i];
      float expected = 0.0f;
      EXPECT_EQ(smx_observe(lone[id].model, rows + i * c.features, &expected), SMX_OK);
      EXPECT_EQ(st[i], SMX_OK);
      EXPECT_EQ(std::isnan(lp[i]), std::isnan(expected)) << t << " " << id;
      if (std::isnan(expected)) continue;
      if (std::isinf(expected)) {
        EXPECT_EQ(lp[i], expected);
        continue;
      }
      out.log_p_gap = std::max(out.log_p_gap, std::fabs(double(lp[i]) - expected) /
                                                  std::max(1.0, std::fabs(double(expected))));
    }
  }
  std::vector<Lone> copies;
  for (uint32_t i = 0; i < models; ++i) {
    const std::vector<unsigned char> bytes = snapshot_of(bank.bank, i);
    if (bytes == snapshot_of(lone[i].model)) ++out.same_bytes;
    Lone copy(c);
    smx_model* m = nullptr;
    EXPECT_EQ(smx_bank_model_get(bank.bank, i, copy.storage.data, copy.storage.size, &m), SMX_OK);
    EXPECT_EQ(snapshot_of(m), bytes) << "a copy is the model";
    EXPECT_EQ(smx_is_ready(m), smx_is_ready(lone[i].model));
    if (smx_is_ready(m)) out.params_gap = std::max(out.params_gap, params_gap(m, lone[i].model, c));
  }
  return out;
}

std::vector<uint32_t> every_model(int) { return {}; }

TEST(Bank, EveryModelLearnsAsALoneModel) {
  struct Case {
    uint32_t k, d, models;
  };
  for (const Case& cs : {Case{2, 4, 37}, Case{1, 1, 16}, Case{2, 1, 20}, Case{3, 3, 17},
                         Case{4, 8, 33}, Case{8, 2, 16}, Case{16, 3, 5}, Case{20, 2, 3}}) {
    smx_config c;
    smx_config_init(&c, cs.k, cs.d);
    const std::vector<float> x = readings(cs.models, cs.d, 300, 3);
    const Comparison r = compare_with_lone_models(c, cs.models, x, 300, every_model);
    printf("%s K %u D %u: log p %g params %g same %u/%u\n", smx_backend(), cs.k, cs.d, r.log_p_gap,
           r.params_gap, r.same_bytes, r.models);
  }
}

}  // namespace
