/* The library's per-sample step with K and D fixed at compile time, for issue 13's small
 * shapes (2 x 4, 3 x 3, 8 x 8): what this method costs with the library's safeguards when
 * nothing is general. One function per shape, loops of constant trip count, component-major
 * arrays at constant offsets, no call boundary, no array table, no hold, averaging, warm-up,
 * mini-batch or re-seed branches. It keeps what a reading must pass through: the input
 * check (finite, |x| <= SMX_MAX_ABS_FEATURE), the E-step (responsibilities cut at 2^-64),
 * the dead-component test, the step (t + 2)^-0.6 as exp(-0.6 log b), the weight floor, the
 * compensated (TwoSum) mean, the variance floor and ceiling, one log per component for its
 * weight and one for the normalizer of each component the step moved (the scalar backend's
 * refresh), with the library's portable exp and log (lib/kernels/float_math.h).
 * Beside the library it bounds what specialization could gain (bench/README.md,
 * platforms/cortex-m4/README.md); the library does not use it. */
#ifndef STREAMIX_BENCH_SPECIALIZED_FLOOR_H
#define STREAMIX_BENCH_SPECIALIZED_FLOOR_H

#ifdef __cplusplus
extern "C" {
#endif

/* Starts the shape's model from weights w (K, summing to 1), means and variances (K x D,
 * row k = component k). 1 if K x D is one of the compiled shapes, 0 otherwise. */
int specialized_floor_init(int k, int d, const float* w, const float* mean, const float* var);
/* log p(x) under the model started last, then one step (NaN for an invalid x). */
float specialized_floor_observe(const float* x);

#ifdef __cplusplus
}
#endif

#endif /* STREAMIX_BENCH_SPECIALIZED_FLOOR_H */
