#include "hardware_limit.h"

#include <algorithm>
#include <cstring>

namespace streamix_bench {

namespace {

// Lane operations per sample, counted from the Highway kernels' source (lib/kernels/
// highway/kernels.cpp) for P padded components and D features. The arithmetic bound counts
// each of them at the measured FMA rate (peak/fma), the yardstick. Cores with
// separate FP-add pipes (AMD Zen) issue adds, subtracts, min and max beside the FMAs:
// peak/fma_add measures that mix, and the bound is printed at its rate too (the kernels'
// mix is between the two, so the true floor lies between the two times).
//  E-step (score): per component and feature: subtract, multiply, FMA (3); per component:
//   the log-sum-exp's max, subtract, clamp, compare, Exp (~14: range reduction, degree-6
//   polynomial, scaling) and the masked add: ~20.
//  M-step (observe minus score): per component and feature: the update's 12 (two subtracts
//   for delta, FMA, TwoSum's add and 4 subtracts and add, multiply, subtract, FMA, max) and
//   the refresh's divide (0.5 / var), exponent shift and add, mantissa and/or, product
//   multiply (6) and an eighth of a Log (~18 / 8): 20; per component: the responsibility's
//   Exp (~16) and the weight statistics' 5 and Log (~18): ~40.
//  Mini-batch (observe_batch, mini-batches of m = 64), per sample: the E-step above, plus the
//   sums' 6 per component and feature (two subtracts for delta, FMA, multiply, min, FMA) and
//   2 per component (the weight's multiply and add); per mini-batch, shared by its m
//   samples: the update (the M-step's 12 per element and a divide for 1 / R, a multiply and
//   a multiply-subtract for Delta and the spread: 16) and the refresh (8, as above), and per
//   component the weight statistics and Log (~25).
constexpr double kEStepPerElement = 3, kEStepPerComponent = 20;
constexpr double kMStepPerElement = 20, kMStepPerComponent = 40;
constexpr double kSumsPerElement = 6, kSumsPerComponent = 2;
constexpr double kBatchUpdatePerElement = 24, kBatchUpdatePerComponent = 25, kMiniBatch = 64;

}  // namespace

bool Recorder::wants_json(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--benchmark_format=json") == 0) return true;
  }
  return false;
}

Recorder::Recorder(bool json) {
  if (json) {
    inner_ = std::make_unique<benchmark::JSONReporter>();
  } else {
    inner_ = std::make_unique<benchmark::ConsoleReporter>();
  }
}

void Recorder::ReportRuns(const std::vector<Run>& runs) {
  for (const Run& run : runs) {
    if (run.error_occurred) continue;
    const auto it = run.counters.find("items_per_second");
    if (it == run.counters.end()) continue;
    const std::string name = run.run_name.str();
    if (run.run_type == Run::RT_Aggregate) {
      if (run.aggregate_name == "median") median_rate_[name] = it->second.value;
    } else {
      rates_[name].push_back(it->second.value);
    }
  }
  inner_->SetOutputStream(&GetOutputStream());
  inner_->SetErrorStream(&GetErrorStream());
  inner_->ReportRuns(runs);
}

double Recorder::rate(const std::string& prefix) const {
  for (const auto& [name, value] : median_rate_) {
    if (name.rfind(prefix, 0) == 0) return value;
  }
  for (const auto& [name, values] : rates_) {
    if (name.rfind(prefix, 0) != 0 || values.empty()) continue;
    std::vector<double> v = values;
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  }
  return 0.0;
}

void Recorder::print_hardware_limit(std::FILE* out) const {
  const double peak = rate("peak/fma/");  // lane operations per second
  const double mixed_peak = rate("peak/fma_add/");
  const double score = rate("score/highway/K:16/D:16");
  const double observe = rate("observe/highway/K:16/D:16");
  if (peak <= 0.0 || score <= 0.0) return;
  const double p = 16, d = 16;
  const double estep_ops = p * d * kEStepPerElement + p * kEStepPerComponent;
  const double mstep_ops = p * d * kMStepPerElement + p * kMStepPerComponent;
  const double estep_peak_ns = estep_ops / peak * 1e9, mstep_peak_ns = mstep_ops / peak * 1e9;
  const double score_ns = 1e9 / score;
  std::fprintf(out, "\nHardware limit, K = 16, D = 16 (peak measured by peak/fma: %.1f G lane-FMA/s)\n",
               peak / 1e9);
  std::fprintf(out, "  E-step: %4.0f lane-ops -> %6.1f ns at peak; score/highway %6.1f ns: %.0f %% of peak (%.2fx the peak time)\n",
               estep_ops, estep_peak_ns, score_ns, 100.0 * estep_peak_ns / score_ns,
               score_ns / estep_peak_ns);
  if (mixed_peak > 0.0) {
    std::fprintf(out, "  FMA + add mix (peak/fma_add): %.1f G lane-ops/s, %.2fx the FMA rate: at that rate the E-step takes %.1f ns, the M-step %.1f ns\n",
                 mixed_peak / 1e9, mixed_peak / peak, estep_ops / mixed_peak * 1e9,
                 mstep_ops / mixed_peak * 1e9);
  }
  if (observe > 0.0) {
    const double mstep_ns = 1e9 / observe - score_ns;
    std::fprintf(out, "  M-step: %4.0f lane-ops -> %6.1f ns at peak; observe - score  %6.1f ns: %.0f %% of peak (%.2fx the peak time)\n",
                 mstep_ops, mstep_peak_ns, mstep_ns, 100.0 * mstep_peak_ns / mstep_ns,
                 mstep_ns / mstep_peak_ns);
  }
  // Mini-batches and batch scoring, at K = D = 16 and 64 (P = K).
  for (const int k : {16, 64}) {
    const std::string shape = "K:" + std::to_string(k) + "/D:" + std::to_string(k);
    const double kd = double(k) * k;
    const double estep = kd * kEStepPerElement + k * kEStepPerComponent;
    const double batch = estep + kd * kSumsPerElement + k * kSumsPerComponent +
                         (kd * kBatchUpdatePerElement + k * kBatchUpdatePerComponent) / kMiniBatch;
    const double batch_rate = rate("observe_batch/highway/" + shape), score_rate = rate("score_batch/highway/" + shape);
    if (batch_rate > 0.0) {
      const double at_peak = batch / peak * 1e9, measured = 1e9 / batch_rate;
      std::fprintf(out, "  Mini-batch of 64, %s: %5.0f lane-ops per sample -> %6.1f ns at peak; observe_batch/highway %6.1f ns (%.2fx the peak time)\n",
                   shape.c_str(), batch, at_peak, measured, measured / at_peak);
    }
    if (score_rate > 0.0) {
      const double at_peak = estep / peak * 1e9, measured = 1e9 / score_rate;
      std::fprintf(out, "  E-step, %s: %5.0f lane-ops per sample -> %6.1f ns at peak; score_batch/highway %6.1f ns (%.2fx the peak time)\n",
                   shape.c_str(), estep, at_peak, measured, measured / at_peak);
    }
  }
}

}  // namespace streamix_bench
