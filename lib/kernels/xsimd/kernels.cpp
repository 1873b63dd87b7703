// xsimd backend: the primitives of generic/kernels-inl.h over xsimd batches, and the kernel
// table. The architecture is fixed at compile time (this file alone is compiled with -mavx2
// -mfma on x86-64, NEON is baseline on ARM) and checked against the CPU at run time before
// the backend can be selected. Exp and log are xsimd's own; xsimd 8.1 has no horizontal
// max, so the lanes' maximum goes through a small array.
#include <xsimd/xsimd.hpp>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/exact_division.h"
#include "kernels/kernels.h"

namespace streamix::kernels {
namespace xsimd_backend {
namespace {

// Vectors of at most B lanes: the compile-time architecture, or on x86-64 SSE4.2 for blocks
// of 4 (an AVX2 vector holds 8). NEON's 4 lanes fit every block.
#if defined(__x86_64__) || defined(__i386__)
template <uint32_t B>
using ArchFor = std::conditional_t<(B >= xsimd::batch<float>::size), xsimd::default_arch, xsimd::sse4_2>;
#else
template <uint32_t B>
using ArchFor = xsimd::default_arch;
#endif

template <uint32_t B>
struct Simd {
  static constexpr uint32_t kWidth = B;
  using V = xsimd::batch<float, ArchFor<B>>;
  using VI = xsimd::batch<int32_t, ArchFor<B>>;
  using M = typename V::batch_bool_type;
  static_assert(B % V::size == 0, "a block is a whole number of vectors");
  // (Parentheses, not braces: xsimd's brace constructor takes one value per lane.)
  static size_t lanes() { return V::size; }
  static V zero() { return V(0.0f); }
  static V set(float f) { return V(f); }
  static VI set_int(int32_t i) { return VI(i); }
  static V load(const float* p) { return V::load_aligned(p); }
  static V loadu(const float* p) { return V::load_unaligned(p); }
  static void store(const V& v, float* p) { v.store_aligned(p); }
  static void storeu(const V& v, float* p) { v.store_unaligned(p); }
  static V add(const V& a, const V& b) { return a + b; }
  static V sub(const V& a, const V& b) { return a - b; }
  static V mul(const V& a, const V& b) { return a * b; }
  // IEEE division (exact_division.h): xsimd 8.1.0's float division on ARM is a refined
  // reciprocal estimate.
  static V div(const V& a, const V& b) {
#if defined(__aarch64__)
    return V(vdivq_f32(a, b));
#elif defined(__arm__)
    return divide_lane_by_lane<Simd>(a, b);
#else
    return a / b;
#endif
  }
  static V min(const V& a, const V& b) { return xsimd::min(a, b); }
  static V max(const V& a, const V& b) { return xsimd::max(a, b); }
  static V mul_add(const V& a, const V& b, const V& c) { return xsimd::fma(a, b, c); }
  static M ge(const V& a, const V& b) { return a >= b; }
  static M gt(const V& a, const V& b) { return a > b; }
  static M eq(const V& a, const V& b) { return a == b; }
  static V select(const M& m, const V& a, const V& b) { return xsimd::select(m, a, b); }
  static V zero_unless(const M& m, const V& a) { return xsimd::select(m, a, V(0.0f)); }
  static bool all_true(const M& m) { return xsimd::all(m); }
  static V exp(const V& v) { return xsimd::exp(v); }
  static V log(const V& v) { return xsimd::log(v); }
  static float sum_of_lanes(const V& v) { return xsimd::hadd(v); }
  static float max_of_lanes(const V& v) {
    alignas(64) float lanes[V::size];
    v.store_aligned(lanes);
    float m = lanes[0];
    for (size_t i = 1; i < V::size; ++i) m = lanes[i] > m ? lanes[i] : m;
    return m;
  }
  static VI bits(const V& v) { return xsimd::bitwise_cast<VI>(v); }
  static V from_bits(const VI& v) { return xsimd::bitwise_cast<V>(v); }
  static VI int_add(const VI& a, const VI& b) { return a + b; }
  static VI int_sub(const VI& a, const VI& b) { return a - b; }
  static VI int_and(const VI& a, int32_t b) { return a & VI(b); }
  static VI int_or(const VI& a, int32_t b) { return a | VI(b); }
  static VI shift_right_23(const VI& v) { return v >> 23; }
  static V to_float(const VI& v) { return xsimd::to_float(v); }
};

#include "kernels/generic/kernels-inl.h"
#include "kernels/generic/bank-inl.h"

void BankObserve(const BankGroup& g, const float* x, const float* gamma, float variance_floor,
                 float weight_floor, float* log_p) {
  generic::BankObserve<Simd<kBankLanes>>(g, x, gamma, variance_floor, weight_floor, log_p);
}

void BankScore(const BankGroup& g, const float* x, float* log_joint, float* top, float* total) {
  generic::BankScore<Simd<kBankLanes>>(g, x, log_joint, top, total);
}

bool supported() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return true;  // ARM: NEON is part of the compile-time target
#endif
}

const char* target() { return xsimd::default_arch::name(); }

}  // namespace
}  // namespace xsimd_backend

const KernelTable kXsimdTable = {"xsimd",
                                 xsimd_backend::LogJointBlock,
                                 xsimd_backend::LseAdd,
                                 xsimd_backend::Responsibilities,
                                 xsimd_backend::MstepUpdate,
                                 xsimd_backend::DeriveEstepTerms,
                                 xsimd_backend::MstepRefresh,
                                 xsimd_backend::RunningMean,
                                 xsimd_backend::EStep,
                                 xsimd_backend::ScoreBatch,
                                 xsimd_backend::BatchEStep,
                                 xsimd_backend::BatchAccumulate,
                                 xsimd_backend::BatchUpdate,
                                 xsimd_backend::BankObserve,
                                 xsimd_backend::BankScore,
                                 xsimd_backend::supported,
                                 nullptr,
                                 xsimd_backend::target,
                                 nullptr};

}  // namespace streamix::kernels
