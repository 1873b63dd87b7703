// The float exponential and logarithm of the scalar path, the log-sum-exp helpers and the
// step size. With glibc (hosts, ARM Linux) they are glibc's expf and logf, within 1 ulp and
// the shorter there (x86-64, callgrind: a scalar observe at K = 2, D = 4 takes 1,813
// instructions with them, 1,901 with the portable ones). Elsewhere (newlib on the
// Cortex-M4, whose expf costs ~55 executed instructions and logf ~85 with its error-handling
// wrapper: a third of an observe at K = 2, D = 4) they are the portable ones below, 18 and
// 41 instructions there. Against double precision, over every positive float (an exhaustive
// run, see tests/float_math_test.cpp): exp within 1.22 ulp, log within 1.00 ulp (correct
// rounding: 0.5). The SIMD backends use their libraries' Exp and Log.
#pragma once

namespace streamix::kernels {

// ln 2 split so that n * kLn2Hi is exact for |n| < 2^8 (kLn2Hi has 16 significant bits).
inline constexpr float kLn2Hi = 0.693145751953125f;
inline constexpr float kLn2Lo = 1.428606765330187e-06f;

// exp(x) for x <= 0 (and -inf): 0 below -87 (the result would be below FLT_MIN; every
// caller drops terms below 2^-64 anyway).
float exp_nonpositive(float x);

// log(x) for finite x > 0 (subnormals included).
float log_positive(float x);

// The portable implementations (always compiled: the tests check them on every build).
float portable_exp_nonpositive(float x);
float portable_log_positive(float x);

}  // namespace streamix::kernels
