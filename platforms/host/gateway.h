// The stream-scoring gateway behind `streamix serve`, without the network: payloads in, one
// outcome per reading out, one detector per topic in a detector bank, checkpoints in a
// directory. serve.cpp binds it to an MQTT client; the tests and the fuzz target drive it
// directly. Nothing here throws on any input.
//
// Payloads: CSV (a header-less line of numbers; --columns picks fields by 1-based index) or
// JSON (an object; --columns names its keys). A time field (--time), if given, is copied to
// the result as it came. A payload that cannot be read is rejected with a reason and changes
// no detector.
//
// Checkpoint files (one per stream, in the state directory): <16 hex digits>.stream, the
// digits the FNV-1a 64-bit hash of the topic, holding u32 magic "SMXG", u32 version 1, u32
// topic length, the topic's bytes, u32 snapshot length and an ordinary detector snapshot
// (with its own CRC-32); little-endian, nothing after. A file whose topic does not hash to its
// name, or whose snapshot does not load, is reported and skipped.
#ifndef STREAMIX_HOST_GATEWAY_H
#define STREAMIX_HOST_GATEWAY_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "detector_options.h"
#include "streamix/streamix.hpp"

namespace streamix::host {

struct GatewaySettings {
  enum class Format { csv, json };
  Format format = Format::csv;
  std::vector<std::string> columns;  // CSV: 1-based field indexes; JSON: keys
  std::string time;                  // the time field (index or key), copied through; optional
  uint32_t max_streams = 1000;
  size_t max_payload = 65536;        // bytes; a longer payload is rejected unread
  DetectorSettings detector;
};

// Why a reading was not scored. Every reading gets exactly one outcome: scored, or one of these.
enum class Rejection : int {
  oversized,       // payload longer than max_payload
  malformed,       // not a line of numbers / not a JSON object, a column missing, not a number
  bad_reading,     // a number the detector refuses (beyond its range): SMX_ERR_INPUT
  too_many_streams,  // a new topic past max_streams
  count
};
const char* rejection_name(Rejection r);

// A scored reading: its topic, detection, the reading itself and its time field (the JSON
// text of the value as it came; empty if none).
struct Scored {
  std::string topic;
  std::string time;
  std::vector<float> reading;
  smx_detection detection;
};

struct GatewayCounts {
  uint64_t received = 0, scored = 0, alerts = 0;
  uint64_t rejected[static_cast<int>(Rejection::count)] = {};
  uint64_t rejected_total() const;
};

class Gateway {
 public:
  // false with error for settings that make no detector (see build_detector_config).
  bool start(const GatewaySettings& settings, std::string& error);

  // One payload from `topic`. Returns true if the reading was queued for scoring (it is
  // scored at the next flush); false with *why set if it was rejected (and counted).
  bool submit(const std::string& topic, const char* payload, size_t length, Rejection* why,
              std::string* detail = nullptr);
  // Scores every queued reading (one bank call) and appends the results in arrival order;
  // a reading the detector refuses is counted as bad_reading and left out.
  void flush(std::vector<Scored>& out);
  size_t queued() const { return queued_ids_.size(); }

  const GatewayCounts& counts() const { return counts_; }
  size_t streams() const { return topics_.size(); }
  const std::vector<std::string>& feature_names() const { return settings_.columns; }
  // The JSON of a scored reading (alert or result) and of the status.
  std::string result_json(const Scored& s) const;
  std::string status_json(double uptime_seconds, double last_checkpoint_age) const;

  // Writes every stream that changed since the last checkpoint to dir (a temporary file each,
  // one syncfs, then renames and an fsync of the directory). false with error; the files
  // already renamed stay valid checkpoints.
  bool checkpoint(const std::string& dir, size_t* written, std::string& error);
  // Restores every stream from dir's checkpoint files; each file that cannot be used is
  // described in `skipped` and left out (its stream starts fresh on its next reading).
  // Call before the first submit. false with error only if dir cannot be read or created.
  bool restore(const std::string& dir, size_t* restored, std::vector<std::string>& skipped,
               std::string& error);

  // The checkpoint file name of a topic, and a file's bytes for a stream (exposed for tests).
  static std::string checkpoint_name(const std::string& topic);
  bool stream_file(uint32_t id, std::vector<unsigned char>& bytes);
  // The stream id of a topic, or -1.
  int64_t stream_of(const std::string& topic) const;
  detector_bank& bank() { return bank_; }

 private:
  bool parse_csv(const char* p, size_t n, float* row, std::string& time, std::string& detail) const;
  bool parse_json(const char* p, size_t n, float* row, std::string& time, std::string& detail) const;
  bool stream_for(const std::string& topic, uint32_t& id);

  GatewaySettings settings_;
  uint32_t features_ = 0;
  std::vector<int> csv_fields_;  // 0-based field of each feature (CSV)
  int csv_time_ = -1;
  detector_bank bank_;
  std::unordered_map<std::string, uint32_t> ids_;
  std::vector<std::string> topics_;
  std::vector<bool> dirty_;
  std::vector<uint32_t> queued_ids_;
  std::vector<float> queued_rows_;
  std::vector<std::string> queued_times_;
  std::vector<smx_detection> detections_;
  std::vector<smx_status> statuses_;
  GatewayCounts counts_;
};

}  // namespace streamix::host

#endif  // STREAMIX_HOST_GATEWAY_H
