// Vector division rounded as IEEE-754 scalar division, lane for lane, on every target. Two
// SIMD libraries do not give it on ARM: ARMv7's NEON has no division instruction (Highway
// 1.0.3 and xsimd 8.1.0 both multiply by a reciprocal estimate refined by Newton steps), and
// xsimd 8.1.0 divides float vectors the same way on AArch64 too, although NEON has vdivq_f32
// there. Inexact quotients would break what the snapshot loader checks bit for bit (a model
// past its hold keeps weights = statistics x (1 / their sum), recomputed in scalar IEEE) and
// make a backend's results depend on the CPU. On ARMv7 the lanes are divided by the VFP
// unit, one at a time (4 lanes: a few cycles more per division, which the M-step takes
// once per component).
#ifndef STREAMIX_KERNELS_EXACT_DIVISION_H
#define STREAMIX_KERNELS_EXACT_DIVISION_H

#include <cstddef>

namespace streamix::kernels {

// a / b for the vectors of S (a struct of primitives with lanes, storeu and loadu), lane by
// lane in scalar arithmetic.
template <class S, class V>
inline V divide_lane_by_lane(const V& a, const V& b) {
  constexpr size_t kMaxLanes = 16;  // Simd<B> never has more (B <= 16)
  alignas(64) float num[kMaxLanes], den[kMaxLanes];
  S::storeu(a, num);
  S::storeu(b, den);
  for (size_t i = 0; i < S::lanes(); ++i) num[i] /= den[i];
  return S::loadu(num);
}

}  // namespace streamix::kernels

#endif  // STREAMIX_KERNELS_EXACT_DIVISION_H
