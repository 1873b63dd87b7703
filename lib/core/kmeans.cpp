// Self-initialization: k-means++ seeding and Lloyd iterations on the warm-up buffer, in
// distances scaled by each feature's variance (sensors mix units). Runs once, so it favours
// accuracy (double and compensated sums) over speed. It needs no memory beyond the model's
// storage: the iterate's arrays serve as scratch, since start_from_stats rewrites them.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/model.h"

namespace streamix::core {

namespace {

constexpr int kMaxLloydIterations = 25;

// splitmix64: small, fast, and the same sequence on every platform.
struct Random {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  uint32_t below(uint32_t n) { return static_cast<uint32_t>(uniform() * n); }
};

struct Warmup {
  const float* rows;         // N x D
  uint32_t n;
  kernels::Shape shape;
  float* centers;            // stats.mean, D x P
  const float* inv_scale;    // D floats, stride P (column 0 of a scratch array)

  const float* row(uint32_t i) const { return rows + size_t{i} * shape.features; }
  float distance(const float* x, uint32_t k) const {
    float sum = 0.0f;
    for (uint32_t d = 0; d < shape.features; ++d) {
      const float delta = x[d] - centers[size_t{d} * shape.stride + k];
      sum += delta * delta * inv_scale[size_t{d} * shape.stride];
    }
    return sum;
  }
  uint32_t nearest(const float* x) const {
    uint32_t best = 0;
    float best_distance = distance(x, 0);
    for (uint32_t k = 1; k < shape.components; ++k) {
      const float dist = distance(x, k);
      if (dist < best_distance) best = k, best_distance = dist;
    }
    return best;
  }
  void set_center(uint32_t k, const float* x) const {
    for (uint32_t d = 0; d < shape.features; ++d) centers[size_t{d} * shape.stride + k] = x[d];
  }
};

// Variance of feature d over the buffer (two-pass, double): the distance scale.
double feature_variance(const float* rows, uint32_t n, uint32_t features, uint32_t d) {
  double sum = 0.0;
  for (uint32_t i = 0; i < n; ++i) sum += rows[size_t{i} * features + d];
  const double mean = sum / n;
  double squares = 0.0;
  for (uint32_t i = 0; i < n; ++i) {
    const double delta = rows[size_t{i} * features + d] - mean;
    squares += delta * delta;
  }
  return squares / n;
}

// Index drawn with probability proportional to distance[i] (D^2 sampling).
uint32_t draw_by_distance(const float* distance, uint32_t n, double total, Random& random) {
  if (!(total > 0.0)) return random.below(n);  // every sample sits on a center
  const double target = random.uniform() * total;
  double cumulative = 0.0;
  uint32_t last_positive = 0;
  for (uint32_t i = 0; i < n; ++i) {
    if (distance[i] <= 0.0f) continue;
    last_positive = i;
    cumulative += distance[i];
    if (cumulative > target) return i;
  }
  return last_positive;  // rounding left the target just above the sum
}

// Greedy k-means++ (as in scikit-learn): each new center is the best, by the potential
// sum_i min(distance_i, |x_i - c|^2) it leaves, of 2 + floor(ln K) D^2-sampled candidates.
void seed_kmeanspp(const Warmup& w, float* distance, Random& random) {
  const uint32_t k_count = w.shape.components;
  const uint32_t trials = 2 + static_cast<uint32_t>(std::log(static_cast<double>(k_count)));
  w.set_center(0, w.row(random.below(w.n)));
  double total = 0.0;
  for (uint32_t i = 0; i < w.n; ++i) total += distance[i] = w.distance(w.row(i), 0);
  for (uint32_t k = 1; k < k_count; ++k) {
    uint32_t best = 0;
    double best_potential = -1.0;
    for (uint32_t trial = 0; trial < trials; ++trial) {
      const uint32_t candidate = draw_by_distance(distance, w.n, total, random);
      w.set_center(k, w.row(candidate));
      double potential = 0.0;
      for (uint32_t i = 0; i < w.n; ++i) {
        potential += std::min(distance[i], w.distance(w.row(i), k));
      }
      if (best_potential < 0.0 || potential < best_potential) best = candidate, best_potential = potential;
    }
    w.set_center(k, w.row(best));
    total = 0.0;
    for (uint32_t i = 0; i < w.n; ++i) total += distance[i] = std::min(distance[i], w.distance(w.row(i), k));
  }
}

// Lloyd iterations with compensated (Kahan) sums, until no center moves.
void lloyd(const Warmup& w, float* count, float* sum, float* compensation) {
  const kernels::Shape s = w.shape;
  const size_t matrix = size_t{s.stride} * s.features;
  for (int iteration = 0; iteration < kMaxLloydIterations; ++iteration) {
    std::memset(count, 0, sizeof(float) * s.stride);
    std::memset(sum, 0, sizeof(float) * matrix);
    std::memset(compensation, 0, sizeof(float) * matrix);
    for (uint32_t i = 0; i < w.n; ++i) {
      const float* x = w.row(i);
      const uint32_t k = w.nearest(x);
      count[k] += 1.0f;
      for (uint32_t d = 0; d < s.features; ++d) {
        const size_t at = size_t{d} * s.stride + k;
        const float y = x[d] - compensation[at];
        const float t = sum[at] + y;
        compensation[at] = (t - sum[at]) - y;
        sum[at] = t;
      }
    }
    bool moved = false;
    for (uint32_t k = 0; k < s.components; ++k) {
      if (count[k] == 0.0f) continue;  // an empty cluster keeps its seed
      for (uint32_t d = 0; d < s.features; ++d) {
        const size_t at = size_t{d} * s.stride + k;
        const float center = sum[at] / count[k];
        moved = moved || center != w.centers[at];
        w.centers[at] = center;
      }
    }
    if (!moved) return;
  }
}

}  // namespace

void initialize_from_warmup(smx_model* m) {
  const ModelArrays a = arrays_of(m);
  const smx_config& c = m->config;
  const kernels::Shape s = a.stats.shape;
  // Scratch columns: 0 = 1 / feature variance, 1 = pooled within-cluster variance.
  float* feature_scratch = a.iterate.half_precision;
  float* inv_scale = feature_scratch;
  float* pooled = feature_scratch + 1;
  for (uint32_t d = 0; d < s.features; ++d) {
    const double variance = feature_variance(a.warmup, m->buffered, s.features, d);
    inv_scale[size_t{d} * s.stride] = variance > 0.0 ? static_cast<float>(1.0 / variance) : 0.0f;
  }
  const Warmup w{a.warmup, m->buffered, s, a.stats.mean, inv_scale};
  Random random{c.seed};
  seed_kmeanspp(w, a.seeding, random);
  float* count = a.iterate.weight;
  lloyd(w, count, a.iterate.mean, a.iterate.variance);

  // Final assignment: counts and within-cluster sums of squares.
  float* squares = a.iterate.variance;
  std::memset(count, 0, sizeof(float) * s.stride);
  std::memset(squares, 0, sizeof(float) * s.stride * s.features);
  for (uint32_t d = 0; d < s.features; ++d) pooled[size_t{d} * s.stride] = 0.0f;
  for (uint32_t i = 0; i < w.n; ++i) {
    const float* x = w.row(i);
    const uint32_t k = w.nearest(x);
    count[k] += 1.0f;
    for (uint32_t d = 0; d < s.features; ++d) {
      const float delta = x[d] - w.centers[size_t{d} * s.stride + k];
      squares[size_t{d} * s.stride + k] += delta * delta;
      pooled[size_t{d} * s.stride] += delta * delta;
    }
  }
  const float n = static_cast<float>(w.n);
  for (uint32_t k = 0; k < s.components; ++k) {
    const float weight = count[k] / n;
    a.stats.weight[k] = weight > c.weight_floor ? weight : c.weight_floor;
    for (uint32_t d = 0; d < s.features; ++d) {
      const size_t at = size_t{d} * s.stride + k;
      a.stats.mean_residual[at] = 0.0f;
      const float variance =
          count[k] >= 2.0f ? squares[at] / count[k] : pooled[size_t{d} * s.stride] / n;
      a.stats.variance[at] = clamp_variance(variance, c.variance_floor);
    }
  }
}

}  // namespace streamix::core
