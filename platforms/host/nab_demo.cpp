// Streams the NAB machine-temperature series through a streamix model, one reading at a
// time, and prints a summary: samples, mean prequential log-likelihood, and the readings
// the model found least likely, with whether they fall in a labelled anomaly window.
//
// usage: nab_demo [CSV [WINDOWS_JSON]]   (defaults: the copy under data/nab/)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "streamix/streamix.hpp"

namespace {

struct Reading {
  std::string time;
  float value;
};

struct Scored {
  size_t row;
  float log_likelihood;
};

bool read_series(const std::string& path, std::vector<Reading>& out) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return false;  // header: timestamp,value
  while (std::getline(in, line)) {
    const size_t comma = line.find(',');
    if (comma == std::string::npos) continue;
    out.push_back({line.substr(0, comma), std::stof(line.substr(comma + 1))});
  }
  return !out.empty();
}

// The windows file is a JSON object of [start, end] timestamp pairs; the timestamps are the
// only quoted strings that start with a digit, in order, so a scan for them suffices.
std::vector<std::pair<std::string, std::string>> read_windows(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  std::vector<std::string> stamps;
  for (size_t open = s.find('"'); open != std::string::npos; open = s.find('"', open + 1)) {
    const size_t close = s.find('"', open + 1);
    if (close == std::string::npos) break;
    const std::string token = s.substr(open + 1, close - open - 1);
    if (!token.empty() && token[0] >= '0' && token[0] <= '9') stamps.push_back(token.substr(0, 19));
    open = close;
  }
  std::vector<std::pair<std::string, std::string>> windows;
  for (size_t i = 0; i + 1 < stamps.size(); i += 2) windows.emplace_back(stamps[i], stamps[i + 1]);
  return windows;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string csv = argc > 1 ? argv[1] : STREAMIX_NAB_DIR "/machine_temperature_system_failure.csv";
  const std::string json = argc > 2 ? argv[2] : STREAMIX_NAB_DIR "/anomaly_windows.json";
  std::vector<Reading> series;
  if (!read_series(csv, series)) {
    std::cerr << "nab_demo: cannot read " << csv << "\n";
    return 1;
  }
  const auto windows = read_windows(json);

  // Features: the temperature and its change since the previous reading (a sudden jump is
  // as telling as an unusual level). Four components for the machine's operating regimes.
  constexpr uint32_t kComponents = 4, kFeatures = 2;
  streamix::fixed_model<kComponents, kFeatures> model;
  std::vector<Scored> scored;
  double sum = 0.0;
  float previous = series.front().value;
  for (size_t row = 0; row < series.size(); ++row) {
    const float x[kFeatures] = {series[row].value, series[row].value - previous};
    previous = series[row].value;
    float log_likelihood = 0.0f;
    if (model.observe(x, &log_likelihood) != streamix::status::ok) {
      std::cerr << "nab_demo: row " << row + 2 << " rejected\n";
      return 1;
    }
    if (std::isnan(log_likelihood)) continue;  // still warming up
    sum += log_likelihood;
    scored.push_back({row, log_likelihood});
  }

  const size_t kShown = 10;
  std::partial_sort(scored.begin(), scored.begin() + std::min(kShown, scored.size()), scored.end(),
                    [](const Scored& a, const Scored& b) { return a.log_likelihood < b.log_likelihood; });
  size_t warmup = series.size() - scored.size();
  std::printf("streamix NAB demo: %s\n", csv.c_str());
  std::printf("samples: %zu (%zu warm-up, %zu scored), K = %u, D = %u\n", series.size(), warmup,
              scored.size(), kComponents, kFeatures);
  std::printf("mean log-likelihood (prequential): %.4f nats\n",
              scored.empty() ? 0.0 : sum / static_cast<double>(scored.size()));
  std::printf("\nleast likely readings:\n  %-19s  %9s  %14s  %s\n", "timestamp", "value",
              "log p(x)", "labelled window");
  size_t in_window = 0;
  for (size_t i = 0; i < std::min(kShown, scored.size()); ++i) {
    const Reading& r = series[scored[i].row];
    bool inside = false;
    for (const auto& w : windows) inside = inside || (r.time >= w.first && r.time <= w.second);
    in_window += inside;
    std::printf("  %-19s  %9.3f  %14.4f  %s\n", r.time.c_str(), r.value, scored[i].log_likelihood,
                inside ? "yes" : "-");
  }
  std::printf("%zu of the %zu least likely readings fall in NAB's %zu labelled windows.\n",
              in_window, std::min(kShown, scored.size()), windows.size());
  return 0;
}
