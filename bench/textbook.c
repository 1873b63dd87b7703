#include "textbook.h"

#include <math.h>

void textbook_init(textbook_gmm* g, int k, int d, float* storage, const float* w,
                   const float* mean, const float* var) {
  g->k = k;
  g->d = d;
  g->t = 0;
  g->w = storage;
  g->s0 = g->w + k;
  g->l = g->s0 + k;
  g->mean = g->l + k;
  g->var = g->mean + k * d;
  g->s1 = g->var + k * d;
  g->s2 = g->s1 + k * d;
  for (int c = 0; c < k; ++c) {
    g->w[c] = g->s0[c] = w[c];
    for (int j = 0; j < d; ++j) {
      const int i = c * d + j;
      g->mean[i] = mean[i];
      g->var[i] = var[i];
      g->s1[i] = w[c] * mean[i];
      g->s2[i] = w[c] * (var[i] + mean[i] * mean[i]);
    }
  }
}

float textbook_score(textbook_gmm* g, const float* x) {
  float top = -INFINITY;
  for (int c = 0; c < g->k; ++c) {
    float l = logf(g->w[c]);
    for (int j = 0; j < g->d; ++j) {
      const float v = g->var[c * g->d + j], delta = x[j] - g->mean[c * g->d + j];
      l -= 0.5f * (logf(2.0f * 3.14159265f * v) + delta * delta / v);
    }
    g->l[c] = l;
    if (l > top) top = l;
  }
  float sum = 0.0f;
  for (int c = 0; c < g->k; ++c) sum += expf(g->l[c] - top);
  return top + logf(sum);
}

float textbook_observe(textbook_gmm* g, const float* x) {
  const float log_p = textbook_score(g, x);
  const int k = g->k, d = g->d;
  ++g->t;
  const float gamma = powf((float)g->t + 2.0f, -0.6f);
  for (int c = 0; c < k; ++c) {
    const float r = expf(g->l[c] - log_p);
    g->s0[c] = (1 - gamma) * g->s0[c] + gamma * r;
    for (int j = 0; j < d; ++j) {
      g->s1[c * d + j] = (1 - gamma) * g->s1[c * d + j] + gamma * r * x[j];
      g->s2[c * d + j] = (1 - gamma) * g->s2[c * d + j] + gamma * r * x[j] * x[j];
    }
  }
  float total = 0.0f;
  for (int c = 0; c < k; ++c) total += g->s0[c];
  for (int c = 0; c < k; ++c) {
    g->w[c] = g->s0[c] / total;
    for (int j = 0; j < d; ++j) {
      const float m = g->s1[c * d + j] / g->s0[c];
      const float v = g->s2[c * d + j] / g->s0[c] - m * m;
      g->mean[c * d + j] = m;
      g->var[c * d + j] = v > 1e-6f ? v : 1e-6f;
    }
  }
  return log_p;
}
