// The CPU's peak FMA rate, measured: 12 independent chains of vector fused multiply-adds
// in registers (enough to cover a 4-cycle latency on 2 pipes plus margin), on the same
// Highway target the library dispatches to. Compiled per target like the library kernels.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "peak_fma.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"

#include <cstddef>
#include <cstdint>

HWY_BEFORE_NAMESPACE();
namespace streamix_bench {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Runs `rounds` rounds of 12 independent FMA chains per lane and, with kAdds, 8 independent
// add chains beside them: whether adds issue on pipes of their own (the kernels' arithmetic
// is largely adds, subtracts, min and max) or take FMA slots. Returns the lanes per vector
// (the result sum is written to *sink so nothing is optimized away).
template <bool kAdds>
HWY_INLINE size_t Rounds(uint64_t rounds, float* sink) {
  const hn::ScalableTag<float> d;
  const auto a = hn::Set(d, 0.999999f), b = hn::Set(d, 1e-7f);
  auto v0 = hn::Set(d, 1.0f), v1 = hn::Set(d, 1.1f), v2 = hn::Set(d, 1.2f), v3 = hn::Set(d, 1.3f);
  auto v4 = hn::Set(d, 1.4f), v5 = hn::Set(d, 1.5f), v6 = hn::Set(d, 1.6f), v7 = hn::Set(d, 1.7f);
  auto v8 = hn::Set(d, 1.8f), v9 = hn::Set(d, 1.9f), v10 = hn::Set(d, 2.0f), v11 = hn::Set(d, 2.1f);
  auto w0 = v0, w1 = v1, w2 = v2, w3 = v3, w4 = v4, w5 = v5, w6 = v6, w7 = v7;
  for (uint64_t i = 0; i < rounds; ++i) {
    v0 = hn::MulAdd(v0, a, b), v1 = hn::MulAdd(v1, a, b), v2 = hn::MulAdd(v2, a, b);
    v3 = hn::MulAdd(v3, a, b), v4 = hn::MulAdd(v4, a, b), v5 = hn::MulAdd(v5, a, b);
    v6 = hn::MulAdd(v6, a, b), v7 = hn::MulAdd(v7, a, b), v8 = hn::MulAdd(v8, a, b);
    v9 = hn::MulAdd(v9, a, b), v10 = hn::MulAdd(v10, a, b), v11 = hn::MulAdd(v11, a, b);
    if constexpr (kAdds) {
      w0 = hn::Add(w0, b), w1 = hn::Add(w1, b), w2 = hn::Add(w2, b), w3 = hn::Add(w3, b);
      w4 = hn::Add(w4, b), w5 = hn::Add(w5, b), w6 = hn::Add(w6, b), w7 = hn::Add(w7, b);
    }
  }
  auto sum = hn::Add(hn::Add(hn::Add(v0, v1), hn::Add(v2, v3)),
                     hn::Add(hn::Add(hn::Add(v4, v5), hn::Add(v6, v7)),
                             hn::Add(hn::Add(v8, v9), hn::Add(v10, v11))));
  if constexpr (kAdds) {
    sum = hn::Add(sum, hn::Add(hn::Add(hn::Add(w0, w1), hn::Add(w2, w3)),
                               hn::Add(hn::Add(w4, w5), hn::Add(w6, w7))));
  }
  *sink = hn::GetLane(hn::SumOfLanes(d, sum));
  return hn::Lanes(d);
}

// 12 lane-FMAs per round and lane.
size_t FmaRounds(uint64_t rounds, float* sink) { return Rounds<false>(rounds, sink); }
// 12 lane-FMAs and 8 lane-adds per round and lane.
size_t FmaAddRounds(uint64_t rounds, float* sink) { return Rounds<true>(rounds, sink); }

}  // namespace HWY_NAMESPACE
}  // namespace streamix_bench
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <benchmark/benchmark.h>

#include "hardware_limit.h"
#include "streamix/streamix.h"

namespace streamix_bench {
HWY_EXPORT(FmaRounds);
HWY_EXPORT(FmaAddRounds);

namespace {
// mix = false: 12 FMAs per round; true: 12 FMAs and 8 adds per round.
void peak_fma(benchmark::State& state, bool mix) {
  // Highway's target mask is process-wide: lift any restriction an earlier benchmark left
  // (through the library, which keeps its own record of it), so the peak is the best target's.
  if (smx_select_kernels("highway") != SMX_OK) return state.SkipWithError("no Highway");
  constexpr uint64_t kRounds = 1 << 16;
  float sink = 0.0f;
  size_t lanes = 1;
  for (auto _ : state) {
    lanes = mix ? HWY_DYNAMIC_DISPATCH(FmaAddRounds)(kRounds, &sink)
                : HWY_DYNAMIC_DISPATCH(FmaRounds)(kRounds, &sink);
    benchmark::DoNotOptimize(sink);
  }
  // items = lane operations, so items_per_second is the peak rate in lane operations.
  const uint64_t per_round = mix ? 20 : 12;
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kRounds * per_round * lanes));
  state.counters["lanes"] = static_cast<double>(lanes);
}
}  // namespace

void register_peak() {
#if defined(HWY_COMPILE_ONLY_STATIC)  // ARM: the one static target, as in the library
  const int64_t best = HWY_STATIC_TARGET;
#else
  const int64_t best = hwy::SupportedTargets() & HWY_TARGETS & -(hwy::SupportedTargets() & HWY_TARGETS);
#endif
  benchmark::RegisterBenchmark((std::string("peak/fma/") + hwy::TargetName(best)).c_str(), peak_fma,
                               false);
  benchmark::RegisterBenchmark((std::string("peak/fma_add/") + hwy::TargetName(best)).c_str(),
                               peak_fma, true);
}

}  // namespace streamix_bench
#endif  // HWY_ONCE
