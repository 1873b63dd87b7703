// Plain double-precision references the tests compare the library against: the E-step
// straight from the formulas, and the textbook stepwise EM on (s0, s1, s2) statistics.
#ifndef STREAMIX_TESTS_REFERENCE_H
#define STREAMIX_TESTS_REFERENCE_H

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace reference {

constexpr double kPi = 3.14159265358979323846;

// Parameters, component-major: mean[k * D + d].
struct Mixture {
  int k = 0, d = 0;
  std::vector<double> weight, mean, variance;
};

inline Mixture from_float(int k, int d, const std::vector<float>& w, const std::vector<float>& m,
                          const std::vector<float>& v) {
  Mixture r{k, d, {}, {}, {}};
  r.weight.assign(w.begin(), w.end());
  r.mean.assign(m.begin(), m.end());
  r.variance.assign(v.begin(), v.end());
  return r;
}

// log w_k + log N(x; mu_k, diag var_k)
inline double log_joint(const Mixture& m, const float* x, int k) {
  double sum = std::log(m.weight[k]);
  for (int d = 0; d < m.d; ++d) {
    const double var = m.variance[k * m.d + d];
    const double delta = double(x[d]) - m.mean[k * m.d + d];
    sum -= 0.5 * (std::log(2.0 * kPi * var) + delta * delta / var);
  }
  return sum;
}

// Sum of the magnitudes of the terms of log_joint: the scale of its rounding error.
inline double term_magnitude(const Mixture& m, const float* x, int k) {
  double sum = std::fabs(std::log(m.weight[k]));
  for (int d = 0; d < m.d; ++d) {
    const double var = m.variance[k * m.d + d];
    const double delta = double(x[d]) - m.mean[k * m.d + d];
    sum += 0.5 * (std::fabs(std::log(2.0 * kPi * var)) + delta * delta / var);
  }
  return sum;
}

inline double log_density(const Mixture& m, const float* x) {
  double top = -std::numeric_limits<double>::infinity();
  for (int k = 0; k < m.k; ++k) top = std::max(top, log_joint(m, x, k));
  if (top == -std::numeric_limits<double>::infinity()) return top;
  double sum = 0.0;
  for (int k = 0; k < m.k; ++k) sum += std::exp(log_joint(m, x, k) - top);
  return top + std::log(sum);
}

inline std::vector<double> responsibilities(const Mixture& m, const float* x) {
  const double total = log_density(m, x);
  std::vector<double> r(m.k);
  for (int k = 0; k < m.k; ++k) r[k] = std::exp(log_joint(m, x, k) - total);
  return r;
}

// Textbook stepwise EM (Cappe & Moulines 2009) on plain (s0, s1, s2), in double, with the
// library's schedule and hold period: s <- (1 - g) s + g sbar(x; theta), theta = theta(s).
struct TextbookEM {
  Mixture theta;
  std::vector<double> s0, s1, s2;
  double alpha, t0, gamma_min;
  uint64_t hold, t = 0;

  TextbookEM(const Mixture& start, double alpha_, double t0_, double gamma_min_, uint64_t hold_)
      : theta(start), alpha(alpha_), t0(t0_), gamma_min(gamma_min_), hold(hold_) {
    const int kd = start.k * start.d;
    s0 = start.weight;
    s1.resize(kd);
    s2.resize(kd);
    for (int k = 0; k < start.k; ++k) {
      for (int d = 0; d < start.d; ++d) {
        const int i = k * start.d + d;
        s1[i] = s0[k] * start.mean[i];
        s2[i] = s0[k] * (start.variance[i] + start.mean[i] * start.mean[i]);
      }
    }
  }

  // Returns log p(x) under theta before the update.
  double observe(const float* x) {
    const double log_p = log_density(theta, x);
    const std::vector<double> r = responsibilities(theta, x);
    ++t;
    const double gamma = std::max(gamma_min, std::pow(double(t) + t0, -alpha));
    for (int k = 0; k < theta.k; ++k) {
      s0[k] = (1 - gamma) * s0[k] + gamma * r[k];
      for (int d = 0; d < theta.d; ++d) {
        const int i = k * theta.d + d;
        s1[i] = (1 - gamma) * s1[i] + gamma * r[k] * x[d];
        s2[i] = (1 - gamma) * s2[i] + gamma * r[k] * double(x[d]) * x[d];
      }
    }
    if (t > hold) {
      double total = 0.0;
      for (int k = 0; k < theta.k; ++k) total += s0[k];
      for (int k = 0; k < theta.k; ++k) {
        theta.weight[k] = s0[k] / total;
        for (int d = 0; d < theta.d; ++d) {
          const int i = k * theta.d + d;
          theta.mean[i] = s1[i] / s0[k];
          theta.variance[i] = s2[i] / s0[k] - theta.mean[i] * theta.mean[i];
        }
      }
    }
    return log_p;
  }
};

// Samples from a mixture with a fixed-seed generator.
struct Sampler {
  Mixture truth;
  std::mt19937_64 rng;
  explicit Sampler(const Mixture& m, uint64_t seed) : truth(m), rng(seed) {}
  int draw(float* x) {
    std::discrete_distribution<int> pick(truth.weight.begin(), truth.weight.end());
    const int k = pick(rng);
    std::normal_distribution<double> normal(0.0, 1.0);
    for (int d = 0; d < truth.d; ++d) {
      const int i = k * truth.d + d;
      x[d] = float(truth.mean[i] + std::sqrt(truth.variance[i]) * normal(rng));
    }
    return k;
  }
};

}  // namespace reference

#endif  // STREAMIX_TESTS_REFERENCE_H
