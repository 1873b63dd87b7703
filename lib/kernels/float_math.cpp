// exp and log of the scalar path: see float_math.h for why and how accurate.
#include "kernels/float_math.h"

#include <cmath>
#include <cstdint>
#include <cstring>

namespace streamix::kernels {
namespace {

float from_bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
uint32_t to_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}
}  // namespace

// exp(x) for x <= 0 (and -inf): 0 below -87 (the result would be below FLT_MIN; every
// caller drops terms below 2^-64 anyway). x = n ln2 + r with |r| <= ln2/2, exp(r) by its
// Taylor polynomial of degree 7 (truncation below 2^-27 relative), times 2^n built in the
// exponent bits.
float portable_exp_nonpositive(float x) {
  if (!(x >= -87.0f)) return 0.0f;
  // Round x log2(e) to an integer: 1.5 * 2^23 pushes the fraction out of the significand.
  constexpr float kRound = 12582912.0f;
  const float n = (x * 1.44269504088896341f + kRound) - kRound;
  const float r = (x - n * kLn2Hi) - n * kLn2Lo;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t exponent = static_cast<int32_t>(n) + 127;  // in [1, 127] here
  return p * from_bits(static_cast<uint32_t>(exponent) << 23);
}

// log(x) for finite x > 0 (subnormals included). x = 2^e m with m in [sqrt(1/2), sqrt(2)),
// log(m) = 2 atanh(s) with s = (m - 1) / (m + 1), |s| < 0.172: its odd series to s^9
// (truncation below 2^-28 relative), as fdlibm's log.
float portable_log_positive(float x) {
  uint32_t bits = to_bits(x);
  int32_t e = 0;
  if (bits < 0x00800000u) {  // subnormal: scale by 2^23 first
    bits = to_bits(x * 8388608.0f);
    e = -23;
  }
  // Subtracting the bits of sqrt(1/2) splits x at sqrt(2)-boundaries without a comparison:
  // the high bits are e (an arithmetic shift: floor), the low ones m's significand.
  const int32_t shifted = static_cast<int32_t>(bits) - 0x3F3504F3;
  e += shifted >> 23;
  const float m = from_bits(static_cast<uint32_t>(shifted & 0x007FFFFF) + 0x3F3504F3u);
  const float f = m - 1.0f;  // exact: m is within a factor of 2 of 1
  const float s = f / (2.0f + f);
  const float z = s * s;
  float p = 2.0f / 9.0f;
  p = p * z + 2.0f / 7.0f;
  p = p * z + 2.0f / 5.0f;
  p = p * z + 2.0f / 3.0f;
  const float r = z * p;
  // 2 atanh(s) = f - f^2/2 + s (f^2/2 + r), arranged as fdlibm's log: f enters last, exactly.
  const float half_f2 = 0.5f * f * f;
  const float n = static_cast<float>(e);
  return n * kLn2Hi - ((half_f2 - (s * (half_f2 + r) + n * kLn2Lo)) - f);
}

#if defined(__GLIBC__)
// glibc's (host and ARM Linux builds): within 1 ulp, and shorter than these on its targets.
float exp_nonpositive(float x) { return x >= -87.0f ? std::exp(x) : 0.0f; }
float log_positive(float x) { return std::log(x); }
#else
float exp_nonpositive(float x) { return portable_exp_nonpositive(x); }
float log_positive(float x) { return portable_log_positive(x); }
#endif

}  // namespace streamix::kernels
