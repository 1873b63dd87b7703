/* The method with nothing else: one observe of the library's stepwise EM on a diagonal
 * mixture (the same E-step, the same update of weight, mean and variance statistics, the same
 * (t + 2)^-0.6 step as exp(-0.6 log b), the same derived terms), written as plain loops with
 * none of what the library adds: no validation, no padding, no compensated mean, no floors or
 * ceilings, no hold, schedule bookkeeping, dead-component check or array table, and one
 * logarithm per component for its weight and normalizer together. Beside the library it shows
 * what those additions cost; it is not a lower bound (unrolled or vectorized code does
 * better: on x86-64 it is slower than the library's SIMD backends). It uses the library's
 * portable exp and log (18 and 41 instructions on the Cortex-M4). */
#ifndef STREAMIX_BENCH_METHOD_FLOOR_H
#define STREAMIX_BENCH_METHOD_FLOOR_H

#ifdef __cplusplus
extern "C" {
#endif

/* Floats of storage for K components over D features. */
#define METHOD_FLOOR_FLOATS(K, D) (3 * (K) + 3 * (K) * (D))

typedef struct method_floor {
  int k, d;
  unsigned t;
  float *weight, *log_constant, *scratch;           /* K each */
  float *mean, *variance, *half_precision;          /* K x D each, row k = component k */
} method_floor;

/* Starts from weights w (K, summing to 1), means and variances (K x D). */
void method_floor_init(method_floor* m, int k, int d, float* storage, const float* w,
                       const float* mean, const float* var);
/* log p(x), then one step. */
float method_floor_observe(method_floor* m, const float* x);

#ifdef __cplusplus
}
#endif

#endif /* STREAMIX_BENCH_METHOD_FLOOR_H */
