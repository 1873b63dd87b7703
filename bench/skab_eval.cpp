// The SKAB evaluation (Skoltech Anomaly Benchmark), following its published protocol: per
// file a fresh detector; the first 400 rows are learning-only, the rest are scored; F1, FAR
// and MAR over all scored rows of the 34 labelled files pooled. One configuration for every
// file: the defaults of `streamix detect` plus the options given here.
//
// usage: skab_eval SKAB_DATA_DIR [streamix detect model/detector options]
//   e.g. skab_eval ../shared/data/skab/data
// Prints the default run's table beside SKAB's leaderboard, then a sweep of the alarm
// rate (each a full run) with the best F1 at FAR <= 15 %.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "csv.h"
#include "detector_options.h"
#include "metrics.h"
#include "streamix/streamix.hpp"

namespace {

using namespace streamix;
using namespace streamix::host;

constexpr size_t kTrainingRows = 400;  // SKAB core/utils.py: the first 400 rows of each file
const char* const kSensors[] = {"Accelerometer1RMS", "Accelerometer2RMS", "Current",
                                "Pressure", "Temperature", "Thermocouple", "Voltage",
                                "Volume Flow RateRMS"};
constexpr uint32_t kFeatures = 8;

struct Series {
  std::string name;
  std::vector<float> x;  // rows x 8
  std::vector<bool> anomaly;
};

bool load(const std::filesystem::path& path, Series& s, std::string& error) {
  std::ifstream in(path);
  CsvReader csv(in);
  if (!csv.start()) return error = csv.error(), false;
  int cols[kFeatures];
  for (uint32_t j = 0; j < kFeatures; ++j) {
    if ((cols[j] = csv.column(kSensors[j])) < 0) return error = csv.error(), false;
  }
  const int label = csv.column("anomaly");
  if (label < 0) return error = csv.error(), false;
  while (csv.next()) {
    float v;
    for (int c : cols) {
      if (!parse_number(csv.fields()[c], v)) return error = "bad value", false;
      s.x.push_back(v);
    }
    if (!parse_number(csv.fields()[label], v)) return error = "bad label", false;
    s.anomaly.push_back(v != 0.0f);
  }
  if (!csv.error().empty()) return error = csv.error(), false;
  return true;
}

struct Result {
  Confusion confusion;
  std::vector<float> surprise;  // scored rows, pooled (probability would tie at 1 in the tail)
  std::vector<bool> label;
  double seconds = 0.0;
};

bool evaluate(const std::vector<Series>& data, const DetectorSettings& settings, Result& r,
              std::string& error) {
  smx_detector_config cfg;
  if (!build_detector_config(settings, kFeatures, cfg, error)) return false;
  const auto start = std::chrono::steady_clock::now();
  for (const Series& s : data) {
    detector det;
    if (detector::create(detector_config(cfg), det) != status::ok) return error = "create", false;
    for (size_t i = 0; i < s.anomaly.size(); ++i) {
      smx_detection d{};
      if (det.detect(span<const float>(s.x.data() + i * kFeatures, kFeatures), d) != status::ok)
        return error = s.name + ": a reading was rejected", false;
      if (i < kTrainingRows) continue;
      r.confusion.add(d.is_anomaly != 0, s.anomaly[i]);
      r.surprise.push_back(d.surprise);
      r.label.push_back(s.anomaly[i]);
    }
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return true;
}

void print_row(const char* name, const Confusion& c, double auc, const char* note) {
  std::printf("  %-34s %5.2f  %6.2f %%  %6.2f %%  %5s  %s\n", name, c.f1(),
              100.0 * c.false_alarm_rate(), 100.0 * c.missed_alarm_rate(),
              std::isnan(auc) ? "" : (std::to_string(auc).substr(0, 4)).c_str(), note);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: skab_eval SKAB_DATA_DIR [streamix detect options]\n";
    return 2;
  }
  DetectorSettings settings;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    std::string value, error;
    if (arg.compare(0, 2, "--") != 0) return std::cerr << "unexpected " << arg << "\n", 2;
    const std::string name = option_name(arg);
    if (!option_value(argc, argv, i, value)) return std::cerr << "--" << name << " needs a value\n", 2;
    if (!record_detector_option(name, value, settings, error))
      return std::cerr << "skab_eval: " << error << "\n", 2;
  }
  if (!settings.kernels.empty() && select_kernels(settings.kernels.c_str()) != status::ok)
    return std::cerr << "skab_eval: kernels not available\n", 1;

  // The labelled files: every CSV below the folder except anomaly-free/ (no faults, no labels
  // in the protocol), in a fixed order.
  std::vector<std::filesystem::path> paths;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(argv[1], ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    const auto& p = it->path();
    if (p.extension() == ".csv" && p.parent_path().filename() != "anomaly-free") paths.push_back(p);
  }
  if (ec || paths.empty()) {
    std::cerr << "skab_eval: no SKAB CSV files under '" << argv[1] << "'\n";
    return 1;
  }
  std::sort(paths.begin(), paths.end());
  const auto load_start = std::chrono::steady_clock::now();
  std::vector<Series> data(paths.size());
  size_t rows = 0, scored = 0;
  for (size_t f = 0; f < paths.size(); ++f) {
    std::string error;
    data[f].name = paths[f].string();
    if (!load(paths[f], data[f], error)) {
      std::cerr << "skab_eval: " << paths[f] << ": " << error << "\n";
      return 1;
    }
    rows += data[f].anomaly.size();
    scored += data[f].anomaly.size() > kTrainingRows ? data[f].anomaly.size() - kTrainingRows : 0;
  }
  const double load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();

  Result base;
  std::string error;
  if (!evaluate(data, settings, base, error)) return std::cerr << "skab_eval: " << error << "\n", 1;
  smx_detector_config cfg;
  build_detector_config(settings, kFeatures, cfg, error);

  std::printf("SKAB: %zu files, %zu rows, %zu scored (first %zu rows of each file learning-only)\n",
              data.size(), rows, scored, kTrainingRows);
  std::printf("streamix: K = %u, views %s, smoothing %g, residual rate %g, tail rate %g, alarm "
              "rate %g, anomaly weight %g; kernels %s:%s\n",
              cfg.model.components, view_names(cfg.views).c_str(), cfg.smoothing,
              cfg.residual_rate, cfg.tail_rate, cfg.alarm_rate, cfg.anomaly_weight,
              smx_backend(), smx_backend_target());
  std::printf("time: %.3f s detection (%.0f rows/s), %.3f s reading the CSV files\n\n",
              base.seconds, static_cast<double>(rows) / base.seconds, load_seconds);
  std::printf("  %-34s %5s  %8s  %8s  %5s\n", "method", "F1", "FAR", "MAR", "AUC");
  print_row("streamix (this run, default)", base.confusion, roc_auc(base.surprise, base.label),
            "");
  // SKAB README leaderboard (outlier detection), as quoted in ../shared/data/README.md.
  const struct { const char* name; double f1, far, mar; } published[] = {
      {"Conv-AE", 0.78, 13.55, 28.02}, {"MSET", 0.78, -1, -1}, {"T2+Q (PCA)", 0.76, -1, -1},
      {"LSTM-AE", 0.74, -1, -1},       {"T2 (Hotelling)", 0.66, 19.2, -1},
      {"LSTM-VAE", 0.56, -1, -1},      {"Isolation Forest", 0.29, -1, -1}};
  for (const auto& p : published) {
    char far[16] = "", mar[16] = "";
    if (p.far >= 0) std::snprintf(far, sizeof far, "%6.2f %%", p.far);
    if (p.mar >= 0) std::snprintf(mar, sizeof mar, "%6.2f %%", p.mar);
    std::printf("  %-34s %5.2f  %8s  %8s         (published)\n", p.name, p.f1, far, mar);
  }

  // The alarm rate swept, each a full run (the learning gate depends on the alarms).
  std::printf("\nalarm rate sweep (full runs):\n");
  const char* const sweep[] = {"5e-2", "2e-2", "1e-2", "5e-3", "2e-3", "1e-3", "5e-4", "2e-4", "1e-4",
                               "1e-5", "1e-6", "1e-8", "1e-10", "1e-15", "1e-20"};
  double best_f1 = -1.0;
  std::string best;
  for (const char* p : sweep) {
    DetectorSettings s = settings;
    Result r;
    if (!record_detector_option("alarm-rate", p, s, error) || !evaluate(data, s, r, error))
      return std::cerr << "skab_eval: " << error << "\n", 1;
    const std::string name = std::string("alarm rate ") + p;
    print_row(name.c_str(), r.confusion, std::nan(""), "");
    if (r.confusion.false_alarm_rate() <= 0.15 && r.confusion.f1() > best_f1)
      best_f1 = r.confusion.f1(), best = p;
  }
  if (best_f1 >= 0)
    std::printf("best F1 at FAR <= 15 %%: %.2f (alarm rate %s)\n", best_f1, best.c_str());
  else
    std::printf("no swept alarm rate keeps FAR <= 15 %%\n");
  return 0;
}
