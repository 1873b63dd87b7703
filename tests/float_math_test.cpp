// The portable exp and log (lib/kernels/float_math.h: the scalar path's where the C library
// has no fast ones, as newlib) against double precision, over their domains: every 1,021st
// positive float (about 2.1 M values, every binade densely) and
// every float in [0.5, 2], where log's relative error is largest. The bounds are the
// maxima over every positive float (2^31 values, 23 s on two cores: too long for every test
// run), rounded up: exp 1.2122 ulp at -71.0456, log 0.9955 ulp at 1.6e-28 (correct rounding
// is 0.5 ulp).
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>

#include "kernels/float_math.h"

namespace {

using streamix::kernels::exp_nonpositive;
using streamix::kernels::log_positive;
using streamix::kernels::portable_exp_nonpositive;
using streamix::kernels::portable_log_positive;

float from_bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// |got - want| in units of the last place of the float nearest `want`.
double ulps(float got, double want) {
  const float nearest = static_cast<float>(want);
  const double ulp = std::nextafter(nearest, INFINITY) - static_cast<double>(nearest);
  return std::fabs(static_cast<double>(got) - want) / ulp;
}

struct Worst {
  double ulps = 0.0;
  float at = 0.0f;
  void see(double e, float x) {
    if (e > ulps) ulps = e, at = x;
  }
};

void check(float x, Worst& exp_worst, Worst& log_worst) {
  log_worst.see(ulps(portable_log_positive(x), std::log(static_cast<double>(x))), x);
  const double e = std::exp(-static_cast<double>(x));
  if (-x >= -87.0f && e >= FLT_MIN) exp_worst.see(ulps(portable_exp_nonpositive(-x), e), -x);
}

TEST(FloatMath, ExpAndLogWithinTheirStatedUlps) {
  Worst exp_worst, log_worst;
  for (uint32_t bits = 1; bits < 0x7F800000u; bits += 1021) check(from_bits(bits), exp_worst, log_worst);
  for (uint32_t bits = 0x3F000000u; bits <= 0x40000000u; ++bits)
    check(from_bits(bits), exp_worst, log_worst);
  EXPECT_LE(exp_worst.ulps, 1.22) << "at " << exp_worst.at;
  EXPECT_LE(log_worst.ulps, 1.0) << "at " << log_worst.at;
  EXPECT_GT(exp_worst.ulps, 0.5);  // a sweep that found no rounding at all tested nothing
}

TEST(FloatMath, EdgesOfTheDomains) {
  // Both implementations: the portable one and the one the library uses on this build.
  for (auto exp : {portable_exp_nonpositive, exp_nonpositive}) {
    EXPECT_EQ(exp(0.0f), 1.0f);
    EXPECT_EQ(exp(-0.0f), 1.0f);
    EXPECT_EQ(exp(-INFINITY), 0.0f);
    EXPECT_EQ(exp(-87.5f), 0.0f);  // below FLT_MIN: flushed
    EXPECT_GE(exp(-87.0f), FLT_MIN);
  }
  for (auto log : {portable_log_positive, log_positive}) {
    EXPECT_EQ(log(1.0f), 0.0f);
    EXPECT_EQ(log(FLT_MAX), std::log(FLT_MAX));
    EXPECT_NEAR(log(from_bits(1)), std::log(static_cast<double>(from_bits(1))), 1e-5);
  }
}

// The learner's step size exp(-alpha log b) against pow in double precision, for steps
// t up to 2^64 and every exponent of the schedule's range: within 4e-6 relative (alpha log b
// <= 44.4, and an absolute error of ~1.5 ulp of it becomes exp's relative error).
TEST(FloatMath, StepSizeWithinFourMillionthsOfPow) {
  double worst = 0.0;
  for (float alpha = 0.5f; alpha <= 1.0f; alpha += 0.03125f) {
    for (double b = 1.0; b < 0x1p64; b *= 1.37) {
      const float base = static_cast<float>(b);
      const float got = portable_exp_nonpositive(-alpha * portable_log_positive(base));
      const double want = std::pow(static_cast<double>(base), -static_cast<double>(alpha));
      worst = std::max(worst, std::fabs(got - want) / want);
    }
  }
  EXPECT_LE(worst, 4e-6);
  EXPECT_GT(worst, 1e-8);
}

}  // namespace
