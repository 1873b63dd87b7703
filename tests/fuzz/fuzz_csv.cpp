// libFuzzer target: `streamix detect`'s input path on arbitrary bytes. The CSV reader splits
// every line (quotes, any delimiter, header or not), every field goes through the strict
// number parser, and every row that parses feeds a detector. Nothing may crash; a malformed
// row is reported with its line number; every detection is in range.
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "csv.h"
#include "fuzz_require.h"
#include "streamix/streamix.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace streamix::host;
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  CsvReader csv(in);
  if (!csv.start()) return 0;
  const size_t columns = csv.column_names().size();
  if (columns == 0 || columns > 16) return 0;
  for (size_t c = 0; c < columns; ++c) require(csv.column(std::to_string(c + 1)) >= 0);

  smx_detector_config cfg;
  smx_detector_config_init(&cfg, 2, static_cast<uint32_t>(columns));
  cfg.model.init_samples = 8;  // short warm-up and calibration: reach the scoring path
  cfg.calibration_samples = 4;
  streamix::detector det;
  require(streamix::detector::create(streamix::detector_config(cfg), det) == streamix::status::ok);
  std::vector<float> x(columns);
  size_t rows = 0;
  while (rows < 4096) {
    if (!csv.next()) {
      if (csv.at_end()) break;
      require(csv.error().compare(0, 5, "line ") == 0);
      continue;
    }
    require(csv.fields().size() == columns);
    bool numeric = true;
    for (size_t c = 0; c < columns && numeric; ++c) numeric = parse_number(csv.fields()[c], x[c]);
    if (!numeric) continue;
    ++rows;
    smx_detection d{};
    const streamix::status s = det.detect(x, d);
    require(s == streamix::status::ok || s == streamix::status::input);
    if (s != streamix::status::ok) continue;
    require(d.probability >= 0.0f && d.probability <= 1.0f);
    require(d.top_feature >= -1 && d.top_feature < static_cast<int32_t>(columns));
    require(std::isnan(d.score) || d.score == INFINITY || std::isfinite(d.score));
    require(d.surprise >= 0.0f && d.anomaly_score >= 0.0f && d.anomaly_score <= 1.0f);
    // An alarm is the model's (score past the threshold) or a spike's (then its surprise is
    // at least the alarm's, -log10(alarm_rate)).
    require(!d.is_anomaly || d.score > d.threshold || d.surprise >= -std::log10(cfg.alarm_rate));
  }
  return 0;
}
