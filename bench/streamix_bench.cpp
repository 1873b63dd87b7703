// Google Benchmark suite: per-sample throughput of smx_observe and smx_score over a grid of
// K and D, for the backend compiled in. items_per_second = samples per second. Example:
//   streamix_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//   --benchmark_format=json
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "streamix/streamix.hpp"

namespace {

constexpr size_t kStreamLength = 4096;  // samples cycled through; fits in L2 for D <= 64

// A ready model with K components spread over the data, and a stream drawn around them.
struct Setup {
  streamix::model model;
  std::vector<float> stream;
  Setup(uint32_t k, uint32_t d) : stream(kStreamLength * d) {
    std::mt19937 rng(42);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> w(k, 1.0f), means(size_t{k} * d), vars(size_t{k} * d, 1.0f);
    for (float& m : means) m = 3.0f * normal(rng);
    for (size_t i = 0; i < kStreamLength; ++i) {
      const size_t c = i % k;
      for (uint32_t j = 0; j < d; ++j) stream[i * d + j] = means[c * d + j] + normal(rng);
    }
    const auto cfg = streamix::config(k, d).init_samples(0).hold_samples(0);
    if (streamix::model::create(cfg, model) != streamix::status::ok ||
        model.set_params(w, means, vars) != streamix::status::ok) {
      std::abort();
    }
  }
  streamix::span<const float> sample(size_t i) const {
    const uint32_t d = model.features();
    return {&stream[(i % kStreamLength) * d], d};
  }
};

void observe(benchmark::State& state, uint32_t k, uint32_t d) {
  Setup s(k, d);
  size_t i = 0;
  for (auto _ : state) {
    float log_p;
    benchmark::DoNotOptimize(s.model.observe(s.sample(i++), &log_p));
    benchmark::DoNotOptimize(log_p);
  }
  state.SetItemsProcessed(state.iterations());
}

void score(benchmark::State& state, uint32_t k, uint32_t d) {
  Setup s(k, d);
  size_t i = 0;
  for (auto _ : state) {
    float log_p;
    benchmark::DoNotOptimize(s.model.score(s.sample(i++), log_p));
    benchmark::DoNotOptimize(log_p);
  }
  state.SetItemsProcessed(state.iterations());
}

int register_all() {
  const std::string backend = smx_backend();
  for (uint32_t k : {2u, 4u, 8u, 16u, 32u, 64u}) {
    for (uint32_t d : {1u, 4u, 8u, 16u, 32u, 64u}) {
      const std::string shape = "/K:" + std::to_string(k) + "/D:" + std::to_string(d);
      benchmark::RegisterBenchmark(("observe/" + backend + shape).c_str(), observe, k, d);
      benchmark::RegisterBenchmark(("score/" + backend + shape).c_str(), score, k, d);
    }
  }
  return 0;
}

const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
