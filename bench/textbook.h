// The baseline every speed-up is quoted against: per-sample online EM written the
// straightforward way a competent user writes it in an afternoon. Component-major arrays,
// std::exp / std::log per element, plain (s0, s1, s2) statistics, a full M-step after every
// sample. Deliberately not optimized; numerically it has the s2/s0 - mu^2 cancellation.
#ifndef STREAMIX_BENCH_TEXTBOOK_H
#define STREAMIX_BENCH_TEXTBOOK_H

#include <algorithm>
#include <cmath>
#include <vector>

class TextbookGmm {
 public:
  TextbookGmm(int k, int d, const std::vector<float>& w, const std::vector<float>& mean,
              const std::vector<float>& var)
      : k_(k), d_(d), w_(w), mean_(mean), var_(var), s0_(w), s1_(k * d), s2_(k * d), l_(k) {
    for (int c = 0; c < k; ++c) {
      for (int j = 0; j < d; ++j) {
        s1_[c * d + j] = w[c] * mean[c * d + j];
        s2_[c * d + j] = w[c] * (var[c * d + j] + mean[c * d + j] * mean[c * d + j]);
      }
    }
  }

  float score(const float* x) {
    float top = -INFINITY;
    for (int c = 0; c < k_; ++c) {
      float l = std::log(w_[c]);
      for (int j = 0; j < d_; ++j) {
        const float v = var_[c * d_ + j], delta = x[j] - mean_[c * d_ + j];
        l -= 0.5f * (std::log(2.0f * 3.14159265f * v) + delta * delta / v);
      }
      l_[c] = l;
      top = std::max(top, l);
    }
    float sum = 0.0f;
    for (int c = 0; c < k_; ++c) sum += std::exp(l_[c] - top);
    return top + std::log(sum);
  }

  float observe(const float* x) {
    const float log_p = score(x);
    ++t_;
    const float gamma = std::pow(float(t_) + 2.0f, -0.6f);
    for (int c = 0; c < k_; ++c) {
      const float r = std::exp(l_[c] - log_p);
      s0_[c] = (1 - gamma) * s0_[c] + gamma * r;
      for (int j = 0; j < d_; ++j) {
        s1_[c * d_ + j] = (1 - gamma) * s1_[c * d_ + j] + gamma * r * x[j];
        s2_[c * d_ + j] = (1 - gamma) * s2_[c * d_ + j] + gamma * r * x[j] * x[j];
      }
    }
    float total = 0.0f;
    for (int c = 0; c < k_; ++c) total += s0_[c];
    for (int c = 0; c < k_; ++c) {
      w_[c] = s0_[c] / total;
      for (int j = 0; j < d_; ++j) {
        const float m = s1_[c * d_ + j] / s0_[c];
        mean_[c * d_ + j] = m;
        var_[c * d_ + j] = std::max(s2_[c * d_ + j] / s0_[c] - m * m, 1e-6f);
      }
    }
    return log_p;
  }

 private:
  int k_, d_;
  std::vector<float> w_, mean_, var_, s0_, s1_, s2_, l_;
  long t_ = 0;
};

#endif  // STREAMIX_BENCH_TEXTBOOK_H
