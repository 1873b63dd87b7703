// streamix_bench: per-sample throughput of every backend against the textbook baseline and
// the peers, and the fraction of the CPU's FMA peak the kernels reach.
//
//   observe/<backend>/K:<K>/D:<D>      smx_observe (score, E-step, M-step, refresh)
//   score/<backend>/K:<K>/D:<D>        smx_score
//   score_batch/<backend>/K:<K>/D:<D>  smx_score_batch over 4,096 samples, per sample
//   observe_batch/<backend>/K:<K>/D:<D> smx_observe_batch over 4,096 samples in mini-batches
//                                      of 64 (mini-batch stepwise EM), per sample
//   observe/<backend>/far/K:16/D:16    14 of 16 components 100 sigma from the data
//   bank_observe/<backend>/K:<K>/D:<D>/M:<M>   smx_bank_observe: one reading for each of M
//                                      models of a bank, per model update
//   bank_observe_some/<backend>/K:<K>/D:<D>/M:<M>  smx_bank_observe_some: M / 4 readings for
//                                      models drawn at random (repeats included), per update
//   observe/<backend>/K:<K>/D:<D>/M:<M> smx_observe on M lone models in turn, per update
//   detector_bank_detect[_some]/<backend>/K:<K>/D:<D>/M:<M>  the same for a detector bank
//                                      (smx_detector_bank_detect, _detect_some), per reading
//   detect/<backend>/K:<K>/D:<D>/M:<M> smx_detect on M lone detectors in turn, per reading
//   em_iteration/armadillo/K:<K>/D:<D> fgmm_diag, one EM iteration over 4,096 samples, per sample
//   observe/floor/K:<K>/D:<D>          the method with nothing else (method_floor.h)
//   observe/specialized/K:<K>/D:<D>    the library's step, K and D fixed at compile time
//                                      (specialized_floor.h; 2 x 4 and 8 x 8)
//   peak/fma/<target>                  independent FMAs in registers: the peak rate
//   peak/fma_add/<target>              FMAs and adds together: what separate add pipes add
//   <op>/highway:AVX2/...              Highway held to AVX2, beside xsimd on the same ISA
// <backend> is highway, xsimd, scalar (the library, via smx_select_kernels) or textbook.
// items_per_second = samples per second. After the run it prints the hardware-limit table.
//   streamix_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "hardware_limit.h"
#include "streamix/streamix.hpp"
#include "method_floor.h"
#include "specialized_floor.h"
#include "textbook.h"
#if STREAMIX_BENCH_ARMADILLO
#include <armadillo>
#endif

namespace {

constexpr size_t kStreamLength = 4096;  // samples cycled through; fits in L2 for D <= 64
const char* const kBackends[] = {"highway", "xsimd", "scalar"};

// A model with K unit-variance components spread over the data (or, `far`, all but two of
// them 100 sigma away), and a stream drawn around the near ones.
struct Setup {
  uint32_t k, d;
  std::vector<float> w, means, vars, stream;
  Setup(uint32_t k_, uint32_t d_, bool far = false)
      : k(k_), d(d_), w(k_, 1.0f), means(size_t{k_} * d_), vars(size_t{k_} * d_, 1.0f),
        stream(kStreamLength * d_) {
    std::mt19937 rng(42);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& m : means) m = 3.0f * normal(rng);
    const uint32_t near = far ? 2 : k;
    for (uint32_t c = near; c < k; ++c) {
      for (uint32_t j = 0; j < d; ++j) means[c * d + j] = 100.0f;
    }
    for (size_t i = 0; i < kStreamLength; ++i) {
      const size_t c = i % near;
      for (uint32_t j = 0; j < d; ++j) stream[i * d + j] = means[c * d + j] + normal(rng);
    }
  }
  const float* sample(size_t i) const { return &stream[(i % kStreamLength) * d]; }
  bool make(streamix::model& model, uint32_t batch_size = 1) const {
    const auto cfg = streamix::config(k, d).init_samples(0).hold_samples(0).batch_size(batch_size);
    return streamix::model::create(cfg, model) == streamix::status::ok &&
           model.set_params(w, means, vars) == streamix::status::ok;
  }
};

bool use_backend(benchmark::State& state, const char* backend) {
  if (smx_select_kernels(backend) == SMX_OK) return true;
  state.SkipWithError("backend not available on this machine");
  return false;
}

enum class Op { observe, score };

// One sample per iteration through the library (the branch on op is perfectly predictable).
void per_sample(benchmark::State& state, const char* backend, Op op, uint32_t k, uint32_t d,
                bool far) {
  if (!use_backend(state, backend)) return;
  const Setup s(k, d, far);
  streamix::model model;
  if (!s.make(model)) return state.SkipWithError("setup failed");
  size_t i = 0;
  for (auto _ : state) {
    float log_p;
    const float* x = s.sample(i++);
    benchmark::DoNotOptimize(op == Op::observe ? smx_observe(model.c_model(), x, &log_p)
                                               : smx_score(model.c_model(), x, &log_p));
    benchmark::DoNotOptimize(log_p);
  }
  state.SetItemsProcessed(state.iterations());
}

void score_batch(benchmark::State& state, const char* backend, uint32_t k, uint32_t d) {
  if (!use_backend(state, backend)) return;
  const Setup s(k, d);
  streamix::model model;
  if (!s.make(model)) return state.SkipWithError("setup failed");
  std::vector<float> out(kStreamLength);
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        smx_score_batch(model.c_model(), s.stream.data(), kStreamLength, out.data()));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kStreamLength);
}

constexpr uint32_t kMiniBatch = 64;

void observe_batch(benchmark::State& state, const char* backend, uint32_t k, uint32_t d) {
  if (!use_backend(state, backend)) return;
  const Setup s(k, d);
  streamix::model model;
  if (!s.make(model, kMiniBatch)) return state.SkipWithError("setup failed");
  std::vector<float> out(kStreamLength);
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        smx_observe_batch(model.c_model(), s.stream.data(), kStreamLength, out.data()));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kStreamLength);
}

// The textbook loop (textbook.h) started from the setup's parameters, in its own storage.
struct Textbook {
  std::vector<float> storage;
  textbook_gmm gmm;
  explicit Textbook(const Setup& s) : storage(TEXTBOOK_FLOATS(s.k, s.d)) {
    const std::vector<float> w(s.k, 1.0f / static_cast<float>(s.k));
    textbook_init(&gmm, int(s.k), int(s.d), storage.data(), w.data(), s.means.data(),
                  s.vars.data());
  }
};

void per_sample_textbook(benchmark::State& state, Op op, uint32_t k, uint32_t d, bool far) {
  const Setup s(k, d, far);
  Textbook t(s);
  size_t i = 0;
  for (auto _ : state) {
    const float* x = s.sample(i++);
    benchmark::DoNotOptimize(op == Op::observe ? textbook_observe(&t.gmm, x)
                                               : textbook_score(&t.gmm, x));
  }
  state.SetItemsProcessed(state.iterations());
}

void per_sample_floor(benchmark::State& state, uint32_t k, uint32_t d) {
  const Setup s(k, d);
  const std::vector<float> w(k, 1.0f / static_cast<float>(k));
  std::vector<float> storage(METHOD_FLOOR_FLOATS(k, d));
  method_floor m;
  method_floor_init(&m, int(k), int(d), storage.data(), w.data(), s.means.data(), s.vars.data());
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(method_floor_observe(&m, s.sample(i++)));
  state.SetItemsProcessed(state.iterations());
}

void per_sample_specialized(benchmark::State& state, uint32_t k, uint32_t d) {
  const Setup s(k, d);
  const std::vector<float> w(k, 1.0f / static_cast<float>(k));
  if (!specialized_floor_init(int(k), int(d), w.data(), s.means.data(), s.vars.data()))
    return state.SkipWithError("shape not compiled");
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(specialized_floor_observe(s.sample(i++)));
  state.SetItemsProcessed(state.iterations());
}

void score_batch_textbook(benchmark::State& state, uint32_t k, uint32_t d) {
  const Setup s(k, d);
  std::vector<float> out(kStreamLength);
  Textbook t(s);
  for (auto _ : state) {
    for (size_t i = 0; i < kStreamLength; ++i) out[i] = textbook_score(&t.gmm, s.sample(i));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kStreamLength);
}

// M models of the setup's shape, past their hold, each with its own reading per step (the
// setup's stream, model i reading sample i + step): as a bank, and as M lone models.
// (steps: the rounds before they repeat; a detector fed a cycle of 8 readings ends with a
// collapsed component, which leaves the lanes, so detectors get 256)
struct Streams {
  const Setup& s;
  uint32_t models;
  size_t steps;
  std::vector<float> rows;  // `steps` rounds of M readings
  Streams(const Setup& setup, uint32_t m, size_t steps_ = 8)
      : s(setup), models(m), steps(steps_), rows(steps_ * m * setup.d) {
    for (size_t t = 0; t < steps; ++t) {
      for (uint32_t i = 0; i < m; ++i) {
        std::memcpy(&rows[(t * m + i) * s.d], s.sample(i * 7 + t), sizeof(float) * s.d);
      }
    }
  }
  const float* round(size_t t) const { return &rows[(t % steps) * models * s.d]; }
};

void bank_observe(benchmark::State& state, const char* backend, uint32_t k, uint32_t d,
                  uint32_t m, bool some) {
  if (!use_backend(state, backend)) return;
  const Setup s(k, d);
  const Streams streams(s, m);
  streamix::model lone;
  if (!s.make(lone)) return state.SkipWithError("setup failed");
  const smx_config c = streamix::config(k, d).init_samples(0).hold_samples(0).c_config();
  size_t bytes = 0;
  if (smx_bank_size(&c, m, &bytes) != SMX_OK) return state.SkipWithError("setup failed");
  std::vector<unsigned char> storage(bytes + 64);
  void* aligned = storage.data() + (64 - reinterpret_cast<uintptr_t>(storage.data()) % 64) % 64;
  smx_bank* bank = nullptr;
  if (smx_bank_create(&c, m, aligned, bytes, &bank) != SMX_OK) return state.SkipWithError("setup failed");
  for (uint32_t i = 0; i < m; ++i) smx_bank_model_set(bank, i, lone.c_model());
  smx_bank_observe(bank, streams.round(0), nullptr, nullptr);  // (past the hold of 0 steps)
  // Readings for M / 4 models at random, the rows of as many models' first round.
  const size_t n = some ? m / 4 : m;
  std::vector<uint32_t> ids(n);
  std::mt19937 rng(7);
  for (uint32_t& id : ids) id = std::uniform_int_distribution<uint32_t>(0, m - 1)(rng);
  std::vector<float> log_p(m);
  size_t t = 1;
  for (auto _ : state) {
    const float* x = streams.round(t++);
    benchmark::DoNotOptimize(some ? smx_bank_observe_some(bank, ids.data(), x, n, log_p.data(), nullptr)
                                  : smx_bank_observe(bank, x, log_p.data(), nullptr));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * int64_t(n));
}

void observe_lone_models(benchmark::State& state, const char* backend, uint32_t k, uint32_t d,
                         uint32_t m) {
  if (!use_backend(state, backend)) return;
  const Setup s(k, d);
  const Streams streams(s, m);
  std::vector<streamix::model> models(m);
  for (auto& model : models) {
    if (!s.make(model)) return state.SkipWithError("setup failed");
  }
  size_t t = 0;
  for (auto _ : state) {
    const float* x = streams.round(t++);
    for (uint32_t i = 0; i < m; ++i) {
      float log_p;
      benchmark::DoNotOptimize(smx_observe(models[i].c_model(), x + size_t{i} * d, &log_p));
      benchmark::DoNotOptimize(log_p);
    }
  }
  state.SetItemsProcessed(state.iterations() * int64_t(m));
}

// A detector of the setup's shape (the defaults of detector_config) past its warm-up, hold
// and calibration on the setup's stream: every benchmarked detector starts as a copy of it.
bool warmed_detector(const Setup& s, streamix::detector& det) {
  if (streamix::detector::create(streamix::detector_config(s.k, s.d), det) != streamix::status::ok)
    return false;
  smx_detection out;
  for (size_t i = 0; i < 400; ++i) {
    if (det.detect({s.sample(i), s.d}, out) != streamix::status::ok) return false;
  }
  return true;
}

void detector_bank_detect(benchmark::State& state, const char* backend, uint32_t k, uint32_t d,
                          uint32_t m, bool some) {
  if (!use_backend(state, backend)) return;
  const Setup s(k, d);
  const Streams streams(s, m, 256);
  streamix::detector warmed;
  streamix::detector_bank bank;
  if (!warmed_detector(s, warmed) ||
      streamix::detector_bank::create(warmed.settings(), m, bank) != streamix::status::ok)
    return state.SkipWithError("setup failed");
  for (uint32_t i = 0; i < m; ++i) {
    if (bank.set(i, warmed) != streamix::status::ok) return state.SkipWithError("setup failed");
  }
  const size_t n = some ? m / 4 : m;  // as bank_observe_some
  std::vector<uint32_t> ids(n);
  std::mt19937 rng(7);
  for (uint32_t& id : ids) id = std::uniform_int_distribution<uint32_t>(0, m - 1)(rng);
  std::vector<smx_detection> out(n);
  size_t t = 0;
  for (auto _ : state) {
    const float* x = streams.round(t++);
    benchmark::DoNotOptimize(
        some ? bank.detect_some(ids, {x, n * d}, out) : bank.detect({x, n * d}, out));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * int64_t(n));
}

void detect_lone_detectors(benchmark::State& state, const char* backend, uint32_t k, uint32_t d,
                           uint32_t m) {
  if (!use_backend(state, backend)) return;
  const Setup s(k, d);
  const Streams streams(s, m, 256);
  streamix::detector warmed;
  size_t bytes = 0, written = 0;
  if (!warmed_detector(s, warmed) || warmed.snapshot_size(bytes) != streamix::status::ok)
    return state.SkipWithError("setup failed");
  std::vector<unsigned char> snapshot(bytes);
  if (warmed.save(snapshot, written) != streamix::status::ok) return state.SkipWithError("setup failed");
  std::vector<streamix::detector> detectors(m);
  for (auto& det : detectors) {
    if (streamix::detector::load(snapshot, det) != streamix::status::ok)
      return state.SkipWithError("setup failed");
  }
  size_t t = 0;
  smx_detection out;
  for (auto _ : state) {
    const float* x = streams.round(t++);
    for (uint32_t i = 0; i < m; ++i) {
      benchmark::DoNotOptimize(smx_detect(detectors[i].c_detector(), x + size_t{i} * d, &out));
      benchmark::DoNotOptimize(out);
    }
  }
  state.SetItemsProcessed(state.iterations() * int64_t(m));
}

#if STREAMIX_BENCH_ARMADILLO
// One EM iteration of Armadillo's fgmm_diag over the stream, starting from the same
// parameters each time (keep_existing, no k-means), reported per sample.
void em_iteration_armadillo(benchmark::State& state, uint32_t k, uint32_t d) {
  const Setup s(k, d);
  arma::fmat data(const_cast<float*>(s.stream.data()), d, kStreamLength, false, true);
  arma::fmat means(d, k), dcovs(d, k, arma::fill::ones);
  for (uint32_t c = 0; c < k; ++c)
    for (uint32_t j = 0; j < d; ++j) means(j, c) = s.means[c * d + j];
  arma::frowvec hefts(k);
  hefts.fill(1.0f / k);
  arma::fgmm_diag gmm;
  for (auto _ : state) {
    state.PauseTiming();
    gmm.set_params(means, dcovs, hefts);
    state.ResumeTiming();
    const bool ok = gmm.learn(data, k, arma::eucl_dist, arma::keep_existing, 0, 1, 1e-6f, false);
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations() * kStreamLength);
}
#endif

std::string shape_name(uint32_t k, uint32_t d) {
  return "K:" + std::to_string(k) + "/D:" + std::to_string(d);
}

void register_all() {
  for (uint32_t k : {2u, 4u, 8u, 16u, 32u, 64u}) {
    for (uint32_t d : {1u, 4u, 8u, 16u, 32u, 64u}) {
      const std::string shape = shape_name(k, d);
      for (const char* b : kBackends) {
        const std::string backend = b;
        benchmark::RegisterBenchmark(("observe/" + backend + "/" + shape).c_str(), per_sample, b,
                                     Op::observe, k, d, false);
        benchmark::RegisterBenchmark(("score/" + backend + "/" + shape).c_str(), per_sample, b,
                                     Op::score, k, d, false);
        benchmark::RegisterBenchmark(("score_batch/" + backend + "/" + shape).c_str(),
                                     score_batch, b, k, d);
        benchmark::RegisterBenchmark(("observe_batch/" + backend + "/" + shape).c_str(),
                                     observe_batch, b, k, d);
      }
      benchmark::RegisterBenchmark(("observe/textbook/" + shape).c_str(), per_sample_textbook,
                                   Op::observe, k, d, false);
      if (d <= 16 && k <= 16)  // (the floor's product of variances stays in float range)
        benchmark::RegisterBenchmark(("observe/floor/" + shape).c_str(), per_sample_floor, k, d);
      if ((k == 2 && d == 4) || (k == 8 && d == 8))
        benchmark::RegisterBenchmark(("observe/specialized/" + shape).c_str(), per_sample_specialized,
                                     k, d);
      benchmark::RegisterBenchmark(("score/textbook/" + shape).c_str(), per_sample_textbook,
                                   Op::score, k, d, false);
      benchmark::RegisterBenchmark(("score_batch/textbook/" + shape).c_str(), score_batch_textbook,
                                   k, d);
#if STREAMIX_BENCH_ARMADILLO
      benchmark::RegisterBenchmark(("em_iteration/armadillo/" + shape).c_str(),
                                   em_iteration_armadillo, k, d);
#endif
    }
  }
  // Banks: many small models, beside as many lone ones.
  for (const auto& [k, d] : {std::pair{2u, 1u}, std::pair{2u, 4u}, std::pair{4u, 8u}}) {
    for (uint32_t m : {64u, 4096u}) {
      const std::string shape = shape_name(k, d) + "/M:" + std::to_string(m);
      for (const char* b : kBackends) {
        const std::string backend = b;
        benchmark::RegisterBenchmark(("bank_observe/" + backend + "/" + shape).c_str(), bank_observe,
                                     b, k, d, m, false);
        benchmark::RegisterBenchmark(("bank_observe_some/" + backend + "/" + shape).c_str(),
                                     bank_observe, b, k, d, m, true);
        benchmark::RegisterBenchmark(("observe/" + backend + "/" + shape).c_str(),
                                     observe_lone_models, b, k, d, m);
        benchmark::RegisterBenchmark(("detector_bank_detect/" + backend + "/" + shape).c_str(),
                                     detector_bank_detect, b, k, d, m, false);
        benchmark::RegisterBenchmark(("detector_bank_detect_some/" + backend + "/" + shape).c_str(),
                                     detector_bank_detect, b, k, d, m, true);
        benchmark::RegisterBenchmark(("detect/" + backend + "/" + shape).c_str(),
                                     detect_lone_detectors, b, k, d, m);
      }
    }
  }
  for (const char* b : kBackends) {
    benchmark::RegisterBenchmark(("observe/" + std::string(b) + "/far/K:16/D:16").c_str(),
                                 per_sample, b, Op::observe, 16u, 16u, true);
  }
  benchmark::RegisterBenchmark("observe/textbook/far/K:16/D:16", per_sample_textbook, Op::observe,
                               16u, 16u, true);
  // Highway held to AVX2, to compare with xsimd on the same instruction set: observe at
  // issue 13's sizes, K = 2 for the across-samples batch layout, K = 16 for the rest.
  for (const auto& [k, d] : {std::pair{2u, 4u}, std::pair{4u, 8u}, std::pair{8u, 8u},
                             std::pair{16u, 16u}, std::pair{64u, 64u}}) {
    benchmark::RegisterBenchmark(("observe/highway:AVX2/" + shape_name(k, d)).c_str(), per_sample,
                                 "highway:AVX2", Op::observe, k, d, false);
  }
  benchmark::RegisterBenchmark("score/highway:AVX2/K:16/D:16", per_sample, "highway:AVX2",
                               Op::score, 16u, 16u, false);
  for (uint32_t k : {2u, 16u}) {
    benchmark::RegisterBenchmark(("score_batch/highway:AVX2/" + shape_name(k, 16)).c_str(),
                                 score_batch, "highway:AVX2", k, 16u);
  }
#if STREAMIX_BENCH_PEAK
  streamix_bench::register_peak();
#endif
}

}  // namespace

int main(int argc, char** argv) {
  streamix_bench::Recorder recorder(streamix_bench::Recorder::wants_json(argc, argv));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  benchmark::RunSpecifiedBenchmarks(recorder.display(), recorder.file());
  recorder.print_hardware_limit(stderr);
  benchmark::Shutdown();
  return 0;
}
