// The float exponential and logarithm of the scalar path, the log-sum-exp helpers and the
// step size. Deliberately not libm's: on a Cortex-M4 newlib's expf costs ~55 executed
// instructions and logf ~85 (with its error-handling wrapper), which was a third of an
// observe at K = 2, D = 4; these are 18 and 41, branch-light (float_math.cpp). Against
// double precision, over every positive float (an exhaustive run, see
// tests/float_math_test.cpp): exp within 1.22 ulp, log within 1.00 ulp (correct rounding:
// 0.5). The SIMD backends use their libraries' Exp and Log.
#pragma once

namespace streamix::kernels {

// exp(x) for x <= 0 (and -inf): 0 below -87 (the result would be below FLT_MIN; every
// caller drops terms below 2^-64 anyway).
float exp_nonpositive(float x);

// log(x) for finite x > 0 (subnormals included).
float log_positive(float x);

}  // namespace streamix::kernels
