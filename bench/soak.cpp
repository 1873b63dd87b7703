// Soak: a long stream through smx_observe on a drifting mixture with outliers. Every
// million samples it checks that the parameters are finite, that nothing was lost (samples
// seen, a snapshot round trip that scores the next sample identically), and how far the
// learned means are from the moving truth; it prints one line per checkpoint and exits 1 on
// any failure.
//   streamix_soak [samples = 100000000] [checkpoint = 1000000] [outlier rate = 0.01]
//
// Stream: 4 components in D = 8, 12 sigma apart, each mean swinging 2 sigma (a sine with a
// period of 10 million samples, a different phase per feature); 1 % of samples are outliers
// uniform in a box of +-50 sigma. Model: K = 5 (a spare component that the dead-component
// rule turns into a broad background for the outliers), step floor 0.002 (a forgetting
// tracker), defaults otherwise. Tracking error: for each true component, the learned mean
// nearest to it, as the largest per-feature distance in sigma; bound 0.5 sigma.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "streamix/streamix.hpp"

namespace {

constexpr int kTrue = 4, kModel = 5, kD = 8;
constexpr double kPeriod = 1e7, kSwing = 2.0, kSpacing = 12.0;
constexpr double kBound = 0.5;  // tracking error, in sigma, checked after the first checkpoint
constexpr double kPi = 3.14159265358979323846;

double true_mean(int k, int d, uint64_t t) {
  return kSpacing * ((k + d) % kTrue) + kSwing * std::sin(2 * kPi * t / kPeriod + 0.7 * d + k);
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t samples = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000000ull;
  const uint64_t checkpoint = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1000000ull;
  const double outlier_rate = argc > 3 ? std::strtod(argv[3], nullptr) : 0.01;
  streamix::model model, copy;
  const auto cfg = streamix::config(kModel, kD).step_floor(0.002f);
  if (streamix::model::create(cfg, model) != streamix::status::ok) return 1;
  std::mt19937_64 rng(2026);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0), box(-50.0, 50.0);
  std::vector<unsigned char> snapshot;
  float x[kD], w[kModel], mean[kModel * kD], var[kModel * kD];
  double log_p_sum = 0.0, worst_tracking = 0.0;
  uint64_t scored = 0, failures = 0;
  std::printf("%12s %14s %12s %10s %9s\n", "samples", "tracking (sd)", "mean log p", "outliers", "snapshot");
  uint64_t outliers = 0;
  for (uint64_t t = 1; t <= samples; ++t) {
    if (unit(rng) < outlier_rate) {
      for (int d = 0; d < kD; ++d) x[d] = static_cast<float>(box(rng));
      ++outliers;
    } else {
      const int k = static_cast<int>(unit(rng) * kTrue);
      for (int d = 0; d < kD; ++d) x[d] = static_cast<float>(true_mean(k, d, t) + normal(rng));
    }
    float log_p = 0.0f;
    if (model.observe(x, &log_p) != streamix::status::ok) ++failures;
    if (std::isfinite(log_p)) log_p_sum += log_p, ++scored;
    if (t % checkpoint != 0) continue;

    bool finite = model.get_params(w, mean, var) == streamix::status::ok;
    for (int i = 0; i < kModel * kD; ++i) finite = finite && std::isfinite(mean[i]) && std::isfinite(var[i]) && var[i] > 0;
    double tracking = 0.0;
    for (int k = 0; k < kTrue; ++k) {
      double best = 1e300;
      for (int j = 0; j < kModel; ++j) {
        double worst = 0.0;
        for (int d = 0; d < kD; ++d) worst = std::max(worst, std::fabs(mean[j * kD + d] - true_mean(k, d, t)));
        best = std::min(best, worst);
      }
      tracking = std::max(tracking, best);
    }
    // Nothing lost: a snapshot loads into a model that scores the next sample identically.
    size_t bytes = 0, written = 0;
    bool snapshot_ok = model.snapshot_size(bytes) == streamix::status::ok;
    snapshot.resize(bytes);
    snapshot_ok = snapshot_ok && model.save(snapshot, written) == streamix::status::ok &&
                  streamix::model::load(snapshot, copy) == streamix::status::ok;
    float a = 0.0f, b = 0.0f;
    snapshot_ok = snapshot_ok && model.score(x, a) == streamix::status::ok &&
                  copy.score(x, b) == streamix::status::ok && std::memcmp(&a, &b, 4) == 0;
    const bool lost = model.samples_seen() != t;
    if (t > checkpoint) worst_tracking = std::max(worst_tracking, tracking);
    if (!finite || !snapshot_ok || lost || (t > checkpoint && tracking > kBound)) ++failures;
    std::printf("%12llu %14.4f %12.4f %10llu %9s%s\n", static_cast<unsigned long long>(t), tracking,
                scored ? log_p_sum / scored : 0.0, static_cast<unsigned long long>(outliers),
                snapshot_ok ? "ok" : "FAILED", finite && !lost ? "" : "  NON-FINITE OR LOST");
    std::fflush(stdout);
    log_p_sum = 0.0, scored = 0;
  }
  std::printf("soak: %llu samples, %llu outliers, worst tracking error after the first checkpoint "
              "%.4f sd (bound %.1f), %llu failures\n",
              static_cast<unsigned long long>(samples), static_cast<unsigned long long>(outliers),
              worst_tracking, kBound, static_cast<unsigned long long>(failures));
  return failures == 0 ? 0 : 1;
}
