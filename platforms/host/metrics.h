// Detection metrics over labelled rows: the confusion counts and what SKAB and NAB users
// read from them, and ROC-AUC of a score.
#ifndef STREAMIX_HOST_METRICS_H
#define STREAMIX_HOST_METRICS_H

#include <cstddef>
#include <vector>

namespace streamix::host {

struct Confusion {
  size_t tp = 0, fp = 0, tn = 0, fn = 0;
  void add(bool predicted, bool actual) {
    (predicted ? (actual ? tp : fp) : (actual ? fn : tn)) += 1;
  }
  // Each is NaN when its denominator is 0.
  double precision() const;
  double recall() const;
  double f1() const;
  double false_alarm_rate() const;  // FAR = FP / (FP + TN)
  double missed_alarm_rate() const; // MAR = FN / (FN + TP)
};

// Area under the ROC curve of score (higher = more anomalous) against labels: the
// Mann-Whitney statistic with tied scores counted one half. NaN scores rank lowest. NaN
// without both classes.
double roc_auc(const std::vector<float>& score, const std::vector<bool>& label);

}  // namespace streamix::host

#endif  // STREAMIX_HOST_METRICS_H
