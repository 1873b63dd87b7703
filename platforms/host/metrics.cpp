#include "metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace streamix::host {

namespace {
double ratio(size_t num, size_t den) {
  return den ? static_cast<double>(num) / static_cast<double>(den)
             : std::numeric_limits<double>::quiet_NaN();
}
}  // namespace

double Confusion::precision() const { return ratio(tp, tp + fp); }
double Confusion::recall() const { return ratio(tp, tp + fn); }
double Confusion::f1() const { return ratio(2 * tp, 2 * tp + fp + fn); }
double Confusion::false_alarm_rate() const { return ratio(fp, fp + tn); }
double Confusion::missed_alarm_rate() const { return ratio(fn, fn + tp); }

double roc_auc(const std::vector<float>& score, const std::vector<bool>& label) {
  const size_t n = std::min(score.size(), label.size());
  auto key = [&](size_t i) {
    return std::isnan(score[i]) ? -std::numeric_limits<float>::infinity() : score[i];
  };
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) < key(b); });
  // Sum of the positives' ranks, ties sharing their average rank.
  double positive_rank_sum = 0.0;
  size_t positives = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && key(order[j]) == key(order[i])) ++j;
    const double average_rank = 0.5 * static_cast<double>(i + 1 + j);
    for (size_t t = i; t < j; ++t) {
      if (label[order[t]]) positive_rank_sum += average_rank, ++positives;
    }
    i = j;
  }
  const size_t negatives = n - positives;
  if (positives == 0 || negatives == 0) return std::numeric_limits<double>::quiet_NaN();
  const double p = static_cast<double>(positives);
  return (positive_rank_sum - p * (p + 1.0) / 2.0) / (p * static_cast<double>(negatives));
}

}  // namespace streamix::host
