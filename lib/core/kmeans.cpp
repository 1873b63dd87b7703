// Self-initialization: k-means++ seeding and Lloyd iterations on the warm-up buffer, in
// distances scaled by each feature's variance (sensors mix units). Runs once, so it favours
// accuracy (double and compensated sums) over speed. It needs no memory beyond the model's
// storage: the iterate's arrays serve as scratch, since start_from_stats rewrites them.
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

// Per-feature mean and variance of the buffer (two-pass, double): the pooled fallback for
// clusters too small to have a variance, and the distance scale.
void feature_moments(const Warmup& w, uint32_t d, double* mean, double* variance) {
  double sum = 0.0;
  for (uint32_t i = 0; i < w.n; ++i) sum += w.row(i)[d];
  *mean = sum / w.n;
  double squares = 0.0;
  for (uint32_t i = 0; i < w.n; ++i) {
    const double delta = w.row(i)[d] - *mean;
    squares += delta * delta;
  }
  *variance = squares / w.n;
}

void seed_kmeanspp(const Warmup& w, float* distance, Random& random) {
  uint32_t pick = random.below(w.n);
  w.set_center(0, w.row(pick));
  for (uint32_t i = 0; i < w.n; ++i) distance[i] = w.distance(w.row(i), 0);
  for (uint32_t k = 1; k < w.shape.components; ++k) {
    double total = 0.0;
    for (uint32_t i = 0; i < w.n; ++i) total += distance[i];
    if (total > 0.0) {  // D^2 sampling
      const double target = random.uniform() * total;
      double cumulative = 0.0;
      pick = w.n;
      for (uint32_t i = 0; i < w.n && pick == w.n; ++i) {
        cumulative += distance[i];
        if (distance[i] > 0.0f && cumulative > target) pick = i;
      }
      while (pick == w.n || distance[pick] == 0.0f) pick = (pick + w.n - 1) % w.n;  // rounding
    } else {  // every sample sits on a center: any choice is as good
      pick = random.below(w.n);
    }
    w.set_center(k, w.row(pick));
    for (uint32_t i = 0; i < w.n; ++i) {
      const float dist = w.distance(w.row(i), k);
      if (dist < distance[i]) distance[i] = dist;
    }
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
    double mean = 0.0, variance = 0.0;
    const Warmup probe{a.warmup, m->buffered, s, nullptr, nullptr};
    feature_moments(probe, d, &mean, &variance);
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
      const float variance =
          count[k] >= 2.0f ? squares[at] / count[k] : pooled[size_t{d} * s.stride] / n;
      a.stats.variance[at] = variance > c.variance_floor ? variance : c.variance_floor;
    }
  }
}

}  // namespace streamix::core
