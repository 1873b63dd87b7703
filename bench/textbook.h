/* The baseline every speed-up is quoted against: per-sample online EM written the
 * straightforward way a competent user writes it in an afternoon. Component-major arrays,
 * logf / expf per element, plain (s0, s1, s2) statistics, a powf step size and a full M-step
 * after every sample. Deliberately not optimized; numerically it has the s2/s0 - mu^2
 * cancellation. Plain C99 in caller storage, so that the host benchmark and the Cortex-M4
 * instruction count (platforms/cortex-m4/count.c) run the same code with their own flags. */
#ifndef STREAMIX_BENCH_TEXTBOOK_H
#define STREAMIX_BENCH_TEXTBOOK_H

#ifdef __cplusplus
extern "C" {
#endif

/* Floats of storage for K components over D features. */
#define TEXTBOOK_FLOATS(K, D) (3 * (K) + 4 * (K) * (D))

typedef struct textbook_gmm {
  int k, d;
  long t;
  float *w, *s0, *l;          /* K each */
  float *mean, *var, *s1, *s2; /* K x D each, row k = component k */
} textbook_gmm;

/* Starts from weights w (K), means and variances (K x D) in TEXTBOOK_FLOATS(k, d) floats. */
void textbook_init(textbook_gmm* g, int k, int d, float* storage, const float* w,
                   const float* mean, const float* var);
/* log p(x) under the current parameters. */
float textbook_score(textbook_gmm* g, const float* x);
/* log p(x), then one stepwise-EM update with step (t + 2)^-0.6. */
float textbook_observe(textbook_gmm* g, const float* x);

#ifdef __cplusplus
}
#endif

#endif /* STREAMIX_BENCH_TEXTBOOK_H */
