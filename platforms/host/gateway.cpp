// The gateway (gateway.h): payload parsing, the stream table over one detector bank, the
// result and status JSON, checkpoints.
#include "gateway.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include <nlohmann/json.hpp>

#include "csv.h"
#include "io.h"

namespace streamix::host {

namespace {

constexpr uint32_t kCheckpointMagic = 0x47584D53u;  // bytes "SMXG"
constexpr uint32_t kCheckpointVersion = 1;
constexpr size_t kMaxCheckpointBytes = size_t{64} << 20;

// A float as the double that prints with the float's shortest digits (0.1f as 0.1, not
// 0.10000000149011612); null for NaN and infinities, which JSON cannot carry.
nlohmann::json number(float v) {
  if (!std::isfinite(v)) return nullptr;
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf - 1, v);
  *r.ptr = '\0';
  return std::strtod(buf, nullptr);
}

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

}  // namespace

const char* rejection_name(Rejection r) {
  switch (r) {
    case Rejection::oversized: return "oversized";
    case Rejection::malformed: return "malformed";
    case Rejection::bad_reading: return "bad_reading";
    case Rejection::too_many_streams: return "too_many_streams";
    case Rejection::count: break;
  }
  return "?";
}

uint64_t GatewayCounts::rejected_total() const {
  uint64_t total = 0;
  for (uint64_t r : rejected) total += r;
  return total;
}

bool Gateway::start(const GatewaySettings& settings, std::string& error) {
  settings_ = settings;
  if (settings_.columns.empty()) {
    error = "--columns is required (the reading's fields)";
    return false;
  }
  if (settings_.max_streams == 0 || settings_.max_streams > SMX_MAX_BANK_MODELS) {
    error = "--max-streams takes 1 to " + std::to_string(SMX_MAX_BANK_MODELS) + " streams";
    return false;
  }
  features_ = static_cast<uint32_t>(settings_.columns.size());
  if (settings_.format == GatewaySettings::Format::csv) {
    auto field = [&error](const std::string& s, int& out) {
      uint64_t v = 0;
      if (!parse_count(s, v) || v == 0 || v > kMaxFields) {
        error = "with --format csv, --columns and --time take 1-based field numbers, not '" +
                printable(s) + "'";
        return false;
      }
      out = static_cast<int>(v - 1);
      return true;
    };
    csv_fields_.resize(features_);
    for (uint32_t f = 0; f < features_; ++f) {
      if (!field(settings_.columns[f], csv_fields_[f])) return false;
    }
    if (!settings_.time.empty() && !field(settings_.time, csv_time_)) return false;
  }
  smx_detector_config cfg;
  if (!build_detector_config(settings_.detector, features_, cfg, error)) return false;
  const status s = detector_bank::create(detector_config(cfg), settings_.max_streams, bank_);
  if (s != status::ok) {
    error = std::string("cannot create the detectors: ") + to_string(s);
    return false;
  }
  if (cfg.scaling == SMX_SCALING_FIXED) {
    for (uint32_t id = 0; id < settings_.max_streams; ++id) {
      if (bank_.set_scaling(id, settings_.detector.offsets, settings_.detector.scales) != status::ok) {
        error = "--offsets must lie within +-1.8e19 and --scales within [5.4e-20, 1.8e19]";
        return false;
      }
    }
  }
  detections_.reserve(256);
  return true;
}

bool Gateway::parse_csv(const char* p, size_t n, float* row, std::string& time,
                        std::string& detail) const {
  std::string line(p, n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.find_first_of("\r\n") != std::string::npos) {
    detail = "more than one line";
    return false;
  }
  std::vector<std::string> fields;
  if (!split_fields(line, ',', fields, detail)) return false;
  for (uint32_t f = 0; f < features_; ++f) {
    const size_t at = static_cast<size_t>(csv_fields_[f]);
    if (at >= fields.size()) {
      detail = "no field " + std::to_string(at + 1) + " (the line has " +
               std::to_string(fields.size()) + ")";
      return false;
    }
    const char* why = nullptr;
    if (!parse_number(fields[at], row[f], &why)) {
      detail = "field " + std::to_string(at + 1) + " '" + printable(fields[at]) + "': " + why;
      return false;
    }
  }
  if (csv_time_ >= 0) {
    if (static_cast<size_t>(csv_time_) >= fields.size()) {
      detail = "no time field " + std::to_string(csv_time_ + 1);
      return false;
    }
    time = nlohmann::json(fields[csv_time_]).dump(-1, ' ', false,
                                                   nlohmann::json::error_handler_t::replace);
  }
  return true;
}

bool Gateway::parse_json(const char* p, size_t n, float* row, std::string& time,
                         std::string& detail) const {
  const nlohmann::json j = nlohmann::json::parse(p, p + n, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    detail = j.is_discarded() ? "not JSON" : "not a JSON object";
    return false;
  }
  for (uint32_t f = 0; f < features_; ++f) {
    const auto it = j.find(settings_.columns[f]);
    if (it == j.end() || !it->is_number()) {
      detail = "key '" + printable(settings_.columns[f]) + "' " +
               (it == j.end() ? "missing" : "is not a number");
      return false;
    }
    const double v = it->get<double>();
    if (!(std::fabs(v) <= 3.4028234663852886e38)) {
      detail = "key '" + printable(settings_.columns[f]) + "': beyond the float range";
      return false;
    }
    row[f] = static_cast<float>(v);
  }
  if (!settings_.time.empty()) {
    const auto it = j.find(settings_.time);
    if (it != j.end()) time = it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return true;
}

bool Gateway::stream_for(const std::string& topic, uint32_t& id) {
  const auto it = ids_.find(topic);
  if (it != ids_.end()) {
    id = it->second;
    return true;
  }
  if (topics_.size() >= settings_.max_streams) return false;
  id = static_cast<uint32_t>(topics_.size());
  ids_.emplace(topic, id);
  topics_.push_back(topic);
  dirty_.push_back(false);
  return true;
}

int64_t Gateway::stream_of(const std::string& topic) const {
  const auto it = ids_.find(topic);
  return it == ids_.end() ? -1 : int64_t{it->second};
}

bool Gateway::submit(const std::string& topic, const char* payload, size_t length, Rejection* why,
                     std::string* detail) {
  ++counts_.received;
  std::string reason, time;
  auto reject = [&](Rejection r) {
    ++counts_.rejected[static_cast<int>(r)];
    if (why) *why = r;
    if (detail) *detail = std::move(reason);
    return false;
  };
  if (length > settings_.max_payload) {
    reason = std::to_string(length) + " bytes (at most " + std::to_string(settings_.max_payload) + ")";
    return reject(Rejection::oversized);
  }
  const size_t at = queued_rows_.size();
  queued_rows_.resize(at + features_);
  const bool parsed = settings_.format == GatewaySettings::Format::csv
                          ? parse_csv(payload, length, &queued_rows_[at], time, reason)
                          : parse_json(payload, length, &queued_rows_[at], time, reason);
  uint32_t id = 0;
  if (!parsed || !stream_for(topic, id)) {
    queued_rows_.resize(at);
    if (parsed) reason = "already " + std::to_string(topics_.size()) + " streams";
    return reject(parsed ? Rejection::too_many_streams : Rejection::malformed);
  }
  queued_ids_.push_back(id);
  queued_times_.push_back(std::move(time));
  return true;
}

void Gateway::flush(std::vector<Scored>& out) {
  const size_t n = queued_ids_.size();
  if (n == 0) return;
  detections_.resize(n);
  statuses_.resize(n);
  (void)bank_.detect_some(queued_ids_, queued_rows_, detections_, statuses_);
  for (size_t i = 0; i < n; ++i) {
    const uint32_t id = queued_ids_[i];
    if (statuses_[i] != SMX_OK) {
      ++counts_.rejected[static_cast<int>(Rejection::bad_reading)];
      continue;
    }
    ++counts_.scored;
    counts_.alerts += detections_[i].is_anomaly != 0;
    dirty_[id] = true;
    const float* row = &queued_rows_[i * features_];
    out.push_back(Scored{topics_[id], std::move(queued_times_[i]),
                         std::vector<float>(row, row + features_), detections_[i]});
  }
  queued_ids_.clear();
  queued_rows_.clear();
  queued_times_.clear();
}

std::string Gateway::result_json(const Scored& s) const {
  nlohmann::json j;
  j["topic"] = s.topic;
  if (!s.time.empty()) j["time"] = nlohmann::json::parse(s.time, nullptr, false);
  const smx_detection& d = s.detection;
  j["anomaly"] = d.is_anomaly != 0;
  j["score"] = number(d.score);
  j["threshold"] = number(d.threshold);
  j["probability"] = number(d.probability);
  j["surprise"] = number(d.surprise);
  j["anomaly_score"] = number(d.anomaly_score);
  j["top_feature"] = d.top_feature >= 0 && static_cast<uint32_t>(d.top_feature) < features_
                         ? nlohmann::json(settings_.columns[d.top_feature])
                         : nlohmann::json(nullptr);
  nlohmann::json reading = nlohmann::json::object();
  for (uint32_t f = 0; f < features_ && f < s.reading.size(); ++f)
    reading[settings_.columns[f]] = number(s.reading[f]);
  j["reading"] = std::move(reading);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string Gateway::status_json(double uptime_seconds, double last_checkpoint_age) const {
  nlohmann::json j;
  j["readings"] = counts_.received;
  j["scored"] = counts_.scored;
  j["alerts"] = counts_.alerts;
  j["rejected"] = counts_.rejected_total();
  nlohmann::json reasons = nlohmann::json::object();
  for (int r = 0; r < static_cast<int>(Rejection::count); ++r)
    reasons[rejection_name(static_cast<Rejection>(r))] = counts_.rejected[r];
  j["rejected_by_reason"] = std::move(reasons);
  j["queued"] = queued_ids_.size();
  j["streams"] = topics_.size();
  j["uptime_s"] = uptime_seconds;
  j["last_checkpoint_age_s"] = last_checkpoint_age >= 0 ? nlohmann::json(last_checkpoint_age)
                                                        : nlohmann::json(nullptr);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string Gateway::checkpoint_name(const std::string& topic) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a, 64 bits
  for (unsigned char c : topic) h = (h ^ c) * 0x100000001b3ull;
  static const char kHex[] = "0123456789abcdef";
  std::string name(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) name[i] = kHex[h & 15];
  return name + ".stream";
}

bool Gateway::stream_file(uint32_t id, std::vector<unsigned char>& bytes) {
  size_t size = 0, written = 0;
  if (bank_.snapshot_size(id, size) != status::ok) return false;
  const std::string& topic = topics_[id];
  bytes.clear();
  put_u32_le(bytes, kCheckpointMagic);
  put_u32_le(bytes, kCheckpointVersion);
  put_u32_le(bytes, static_cast<uint32_t>(topic.size()));
  bytes.insert(bytes.end(), topic.begin(), topic.end());
  put_u32_le(bytes, static_cast<uint32_t>(size));
  const size_t at = bytes.size();
  bytes.resize(at + size);
  return bank_.save(id, span<unsigned char>(bytes.data() + at, size), written) == status::ok &&
         written == size;
}

bool Gateway::checkpoint(const std::string& dir, size_t* written, std::string& error) {
  *written = 0;
  std::vector<uint32_t> ids;
  std::vector<unsigned char> bytes;
  for (uint32_t id = 0; id < topics_.size(); ++id) {
    if (!dirty_[id]) continue;
    const std::string path = dir + "/" + checkpoint_name(topics_[id]);
    if (!stream_file(id, bytes)) {
      error = "cannot save the detector of '" + printable(topics_[id]) + "'";
      return false;
    }
    if (!write_file(path + ".tmp", bytes, error, /*durable=*/true)) {
      ::unlink((path + ".tmp").c_str());
      return false;
    }
    if (::rename((path + ".tmp").c_str(), path.c_str()) != 0) {
      error = "cannot rename to '" + printable(path, kShownPath) + "': " + std::strerror(errno);
      return false;
    }
    dirty_[id] = false;
    ++*written;
  }
  // The renames themselves are durable once the directory is.
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  const bool synced = fd >= 0 && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!synced) error = "cannot sync '" + printable(dir, kShownPath) + "': " + std::strerror(errno);
  return synced;
}

bool Gateway::restore(const std::string& dir, size_t* restored, std::vector<std::string>& skipped,
                      std::string& error) {
  *restored = 0;
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    error = "cannot create '" + printable(dir, kShownPath) + "': " + std::strerror(errno);
    return false;
  }
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    error = "cannot read '" + printable(dir, kShownPath) + "': " + std::strerror(errno);
    return false;
  }
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(d)) names.emplace_back(e->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const std::string path = dir + "/" + name;
    if (ends_with(name, ".stream.tmp")) {  // a checkpoint interrupted before its rename
      ::unlink(path.c_str());
      continue;
    }
    if (!ends_with(name, ".stream")) continue;
    std::vector<unsigned char> bytes;
    std::string why;
    auto skip = [&](const std::string& reason) { skipped.push_back(printable(name, kShownPath) + ": " + reason); };
    if (!read_file(path, kMaxCheckpointBytes, bytes, why)) {
      skip(why);
      continue;
    }
    const size_t n = bytes.size();
    if (n < 16 || u32_le(&bytes[0]) != kCheckpointMagic || u32_le(&bytes[4]) != kCheckpointVersion) {
      skip("not a streamix checkpoint file");
      continue;
    }
    const size_t topic_len = u32_le(&bytes[8]);
    if (topic_len > n - 16) {
      skip("truncated");
      continue;
    }
    const std::string topic(bytes.begin() + 12, bytes.begin() + 12 + static_cast<long>(topic_len));
    const size_t snap_len = u32_le(&bytes[12 + topic_len]);
    if (snap_len != n - 16 - topic_len) {
      skip(snap_len > n - 16 - topic_len ? "truncated" : "bytes after the snapshot");
      continue;
    }
    if (checkpoint_name(topic) != name) {
      skip("its topic does not match its name (corrupted)");
      continue;
    }
    if (ids_.count(topic)) {
      skip("topic restored twice");
      continue;
    }
    uint32_t id = 0;
    if (!stream_for(topic, id)) {
      skip("more streams than --max-streams");
      continue;
    }
    const status s =
        bank_.load(id, span<const unsigned char>(bytes.data() + 16 + topic_len, snap_len));
    if (s != status::ok) {
      // The stream is forgotten again: it starts fresh on its next reading.
      ids_.erase(topic);
      topics_.pop_back();
      dirty_.pop_back();
      skip(s == status::argument ? "saved with other detector settings" : to_string(s));
      continue;
    }
    ++*restored;
  }
  return true;
}

}  // namespace streamix::host
