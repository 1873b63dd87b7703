// `streamix`: the command-line tool. `streamix detect` streams CSV readings through an
// anomaly detector and writes one result row per input row; see `streamix detect --help`.
// Nothing here throws or aborts on any input: files are read through io.h, every option and
// field is checked, and every failure is a message and an exit status.
#include "cli.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "csv.h"
#include "detector_options.h"
#include "io.h"
#include "keyed_detectors.h"
#include "metrics.h"
#include "streamix/streamix.hpp"

namespace streamix::host {
namespace {

struct Options {
  std::string input = "-";
  std::string output;  // empty: stdout
  std::vector<std::string> columns;
  std::string label, time, windows;
  std::string save_model, load_model;
  std::string key;          // a column naming the stream of each row (one detector per value)
  uint64_t max_keys = 10000;
  bool summary_per_key = false;
  char delimiter = 0;
  int header = -1;
  bool skip_bad_rows = false;
  bool quiet = false;
  bool echo = false;
  bool line_buffered = false;  // flush every result row
  bool strict = false;         // exit 1 when nothing was scored
  uint64_t learn_rows = 0;
  uint64_t event_gap = 10;
  DetectorSettings detector;
};

// The streams a run reads and writes (std::cin, std::cout and std::cerr from main; strings
// in the fuzz target).
struct Console {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
};

const char kUsage[] =
    "usage: streamix detect [options] [FILE|-]\n"
    "\n"
    "Reads CSV readings from FILE (or stdin), scores each row under the model before learning\n"
    "from it, and writes one CSV row per input row:\n"
    "  row,time,score,threshold,probability,surprise,anomaly_score,anomaly,top_feature[,label]\n"
    "score = -log p(x) in nats; surprise = -log10 of the score's tail probability (2 at the\n"
    "default alarm rate, never saturating: rank and threshold by it); anomaly_score in [0, 1),\n"
    "0.5 at the threshold, for consumers of a [0, 1] score; probability saturates at 1 in the\n"
    "far tail. The README (\"Detecting anomalies\") describes the rest. Empty score/threshold\n"
    "fields: warm-up rows.\n"
    "A summary goes to stderr; with labels it ends with precision, recall, F1, FAR, MAR and\n"
    "ROC-AUC over the rows after --learn-rows.\n"
    "\n"
    "Input:\n"
    "  --columns LIST           feature columns by name or 1-based index, comma-separated\n"
    "                           [every column except --time and --label]\n"
    "  --time COL               a column copied to the output (text, e.g. a timestamp)\n"
    "  --label COL              a 0/1 column of true anomalies (nonzero = anomaly)\n"
    "  --windows FILE           labels from NAB-style windows (JSON pairs of timestamps,\n"
    "                           compared as text with the --time column)\n"
    "  --delimiter C            ',' ';' 'tab' [detected from the first line]\n"
    "  --header / --no-header   [detected: a first line with a non-number is a header]\n"
    "  --on-bad-row=fail|skip   a malformed row stops the run (exit 1), or is reported and\n"
    "                           skipped: its output row keeps its number, other fields\n"
    "                           empty [fail]\n"
    "  --learn-rows N           the first N rows are learned from but never flagged or\n"
    "                           counted in the metrics [0]\n"
    "  --key COL                long format: one detector per distinct value of COL (a\n"
    "                           sensor id), created on its first row; the result rows get a\n"
    "                           key column, --save-model/--load-model keep every key in one\n"
    "                           file, and a saved single detector starts every new key\n"
    "  --max-keys N             at most N keys [10000]; a row with a new key past them is a\n"
    "                           bad row (--on-bad-row)\n"
    "  --summary-per-key        a summary line per key on stderr (rows, flagged, events)\n"
    "  Lines end at LF, CRLF or CR; a line may hold at most 1 MiB and 65536 fields. A field\n"
    "  is a number only if all of it is (decimal: no hex, inf or nan); magnitudes below\n"
    "  1.2e-38 read as 0.\n"
    "Output:\n"
    "  --output FILE|-          the result rows [-: stdout]\n"
    "  --line-buffered          write each result row out as it is made (always for stdin,\n"
    "                           a pipe or a terminal; a file otherwise gets 64 KiB blocks)\n"
    "  --echo                   append the feature values to each result row (for plotting\n"
    "                           with streamix_plot.py)\n"
    "  --save-model FILE        save the detector (model and state) at the end\n"
    "  --load-model FILE        start from a saved detector (its settings replace the options)\n"
    "  --event-gap N            alarm events in the summary: runs of flagged rows, joined\n"
    "                           across fewer than N unflagged rows [10]\n"
    "  --quiet                  no summary or progress on stderr\n"
    "  --strict                 exit 1 if no row was scored (all warm-up, or no rows)\n"
    "Model and detector:\n";

const char kCommands[] =
    "usage: streamix <command> [options]\n"
    "\n"
    "Online Gaussian mixtures and anomaly detection on streams (streamix, the library's tool).\n"
    "Commands:\n"
    "  detect [options] [FILE|-]  score CSV readings, one result row per input row\n"
    "                             (streamix detect --help lists its options)\n"
    "  serve [options]            score readings from an MQTT broker, one detector per\n"
    "                             topic (streamix serve --help; built where libmosquitto is)\n"
    "  --version                  the version and the kernels in use\n"
    "  --help                     this list\n";

int usage_error(Console& io, const std::string& message) {
  io.err << "streamix: " << message << "\n(see streamix detect --help)\n";
  return 2;
}

// 0 on success, else the exit status (2: usage; 0 with help printed is signalled by -1).
int parse(Console& io, int argc, char** argv, Options& o) {
  bool input_given = false;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return -1;
    if (arg == "-" || arg.compare(0, 2, "--") != 0) {
      if (input_given) return usage_error(io, "more than one input file");
      o.input = arg;
      input_given = true;
      continue;
    }
    const std::string name = option_name(arg);
    if (name == "header") { o.header = 1; continue; }
    if (name == "no-header") { o.header = 0; continue; }
    if (name == "quiet") { o.quiet = true; continue; }
    if (name == "echo") { o.echo = true; continue; }
    if (name == "line-buffered") { o.line_buffered = true; continue; }
    if (name == "strict") { o.strict = true; continue; }
    if (name == "summary-per-key") { o.summary_per_key = true; continue; }
    std::string value;
    if (!option_value(argc, argv, i, value)) return usage_error(io, "--" + name + " needs a value");
    std::string error;
    if (name == "columns") {
      if (!split_list(name, value, o.columns, error)) return usage_error(io, error);
    } else if (name == "label") o.label = value;
    else if (name == "time") o.time = value;
    else if (name == "windows") o.windows = value;
    else if (name == "output") o.output = value == "-" ? std::string() : value;
    else if (name == "save-model") o.save_model = value;
    else if (name == "load-model") o.load_model = value;
    else if (name == "key") o.key = value;
    else if (name == "max-keys") {
      if (!parse_count(value, o.max_keys) || o.max_keys == 0 || o.max_keys > 10000000)
        return usage_error(io, "--max-keys takes a whole number of keys from 1 to 10000000, not '" +
                                   printable(value) + "'");
    }
    else if (name == "delimiter") {
      if (value == "tab" || value == "\\t" || value == "\t") o.delimiter = '\t';
      else if (value == "," || value == ";") o.delimiter = value[0];
      else return usage_error(io, "--delimiter must be ',', ';' or tab, not '" + printable(value) + "'");
    } else if (name == "on-bad-row") {
      if (value != "fail" && value != "skip")
        return usage_error(io, "--on-bad-row must be fail or skip, not '" + printable(value) + "'");
      o.skip_bad_rows = value == "skip";
    } else if (name == "learn-rows") {
      if (!parse_count(value, o.learn_rows))
        return usage_error(io, "--learn-rows takes a whole number of rows, not '" + printable(value) + "'");
    } else if (name == "event-gap") {
      if (!parse_count(value, o.event_gap) || o.event_gap == 0 || o.event_gap > UINT32_MAX)
        return usage_error(io, "--event-gap takes a whole number of rows from 1 to 4294967295, not '" +
                                   printable(value) + "'");
    } else if (is_detector_option(name)) {
      if (!record_detector_option(name, value, o.detector, error)) return usage_error(io, error);
    } else {
      return usage_error(io, "unknown option --" + printable(name));
    }
  }
  if (!o.label.empty() && !o.windows.empty()) return usage_error(io, "give --label or --windows, not both");
  if (!o.windows.empty() && o.time.empty()) return usage_error(io, "--windows needs --time");
  if (o.summary_per_key && o.key.empty()) return usage_error(io, "--summary-per-key needs --key");
  return 0;
}

// NAB's windows file: a JSON object of [start, end] timestamp pairs. The timestamps are the
// only quoted strings that start with a digit, in order; they are cut to 19 characters
// ("YYYY-MM-DD hh:mm:ss", NAB adds fractional seconds).
bool read_windows(const std::string& path, std::vector<std::pair<std::string, std::string>>& out,
                  std::string& error) {
  constexpr size_t kMaxWindowsBytes = size_t{64} << 20;
  std::vector<unsigned char> bytes;
  if (!read_file(path, kMaxWindowsBytes, bytes, error)) return false;
  const std::string s(bytes.begin(), bytes.end());
  std::vector<std::string> stamps;
  for (size_t open = s.find('"'); open != std::string::npos; open = s.find('"', open + 1)) {
    const size_t close = s.find('"', open + 1);
    if (close == std::string::npos) break;
    const std::string token = s.substr(open + 1, close - open - 1);
    if (!token.empty() && token[0] >= '0' && token[0] <= '9') stamps.push_back(token.substr(0, 19));
    open = close;
  }
  for (size_t i = 0; i + 1 < stamps.size(); i += 2) out.emplace_back(stamps[i], stamps[i + 1]);
  if (stamps.size() % 2 != 0) {
    error = "'" + printable(path, kShownPath) + "': an odd number of timestamps (windows are pairs)";
    return false;
  }
  return true;
}

// The result row's fields (then label, then the echoed features).
constexpr const char* kResultColumns[] = {"row",      "time",          "score",   "threshold",
                                          "probability", "surprise", "anomaly_score", "anomaly",
                                          "top_feature"};

std::string format_float(float v) {
  if (std::isnan(v)) return "";
  char buf[32];
  // 9 significant digits: every float prints distinctly and reads back to itself.
  std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
  return buf;
}

// For the summary: 4 significant digits.
std::string format_short(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", static_cast<double>(v));
  return buf;
}

std::string format_metric(double v, bool percent) {
  if (std::isnan(v)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, percent ? "%.1f %%" : "%.3f", percent ? 100.0 * v : v);
  return buf;
}

// Whether fd is a pipe, a socket or a terminal: a reader may be waiting on each row.
bool is_stream(int fd) {
  struct stat st;
  if (isatty(fd)) return true;
  return fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
}

// Why reading the input stopped early, if it did ("" at a clean end of input).
std::string read_error(const std::istream& in) {
  const auto* fd_input = dynamic_cast<const FdInput*>(in.rdbuf());
  return fd_input ? fd_input->error() : std::string();
}

int run_detect(Console& io, const Options& o) {
  std::unique_ptr<FdInput> file;
  std::istream file_stream(nullptr);
  std::istream* in = &io.in;
  std::string error;
  if (o.input != "-") {
    const int fd = open_input(o.input, error);
    if (fd < 0) {
      io.err << "streamix: " << error << "\n";
      return 1;
    }
    file = std::make_unique<FdInput>(fd, true);
    file_stream.rdbuf(file.get());
    in = &file_stream;
  }
  const std::string input_name = printable(o.input, kShownPath);
  CsvReader csv(*in, o.delimiter, o.header);
  if (!csv.start()) {
    const std::string why = read_error(*in);
    io.err << "streamix: " << input_name << ": " << (why.empty() ? csv.error() : why) << "\n";
    return 1;
  }
  auto column_of = [&](const std::string& name, int& index) {
    index = name.empty() ? -1 : csv.column(name);
    if (!name.empty() && index < 0) io.err << "streamix: " << csv.error() << "\n";
    return name.empty() || index >= 0;
  };
  int time_col, label_col, key_col;
  if (!column_of(o.time, time_col) || !column_of(o.label, label_col) || !column_of(o.key, key_col))
    return 1;
  std::vector<int> features;
  for (const std::string& item : o.columns) {
    int c;
    if (!column_of(item, c)) return 1;
    for (int earlier : features) {
      if (earlier == c)
        return usage_error(io, "--columns: column '" + printable(csv.column_names()[c]) +
                                   "' is given twice");
    }
    features.push_back(c);
  }
  if (o.columns.empty()) {
    // Every column except time, label and key.
    for (size_t c = 0; c < csv.column_names().size(); ++c) {
      const int ci = static_cast<int>(c);
      if (ci != time_col && ci != label_col && ci != key_col) features.push_back(ci);
    }
  }
  if (features.empty()) {
    io.err << "streamix: no feature columns\n";
    return 1;
  }

  std::vector<std::pair<std::string, std::string>> windows;
  if (!o.windows.empty() && !read_windows(o.windows, windows, error)) {
    io.err << "streamix: cannot read windows: " << error << "\n";
    return 1;
  }
  if (!o.detector.kernels.empty() && select_kernels(o.detector.kernels.c_str()) != status::ok) {
    io.err << "streamix: kernels '" << printable(o.detector.kernels, kShownPath) << "' are not available here\n";
    return 1;
  }

  // The detector every stream starts from (as snapshot bytes: each key loads them), and, from
  // a keyed file, the saved keys.
  const bool keyed = !o.key.empty();
  std::vector<unsigned char> start_bytes, loaded;
  if (!o.load_model.empty()) {
    if (!read_snapshot_file(o.load_model, loaded, error)) {
      io.err << "streamix: cannot load the detector: " << error << "\n";
      return 1;
    }
    if (KeyedDetectors::is_keyed_file(loaded) && !keyed) {
      io.err << "streamix: " << printable(o.load_model, kShownPath)
             << " holds one detector per key: give --key\n";
      return 1;
    }
    if (!o.quiet && !o.detector.options.empty()) {
      std::string ignored;
      for (const auto& [name, value] : o.detector.options) {
        if (name != "kernels") ignored += (ignored.empty() ? "--" : ", --") + name;
      }
      if (!ignored.empty())
        io.err << "streamix: ignored " << ignored << ": the loaded detector keeps its own settings\n";
    }
  }
  if (!loaded.empty() && !KeyedDetectors::is_keyed_file(loaded)) {
    detector saved;
    const status s = detector::load(loaded, saved);
    if (s != status::ok) {
      io.err << "streamix: " << printable(o.load_model, kShownPath) << ": " << to_string(s) << "\n";
      return 1;
    }
    if (saved.features() != features.size()) {
      io.err << "streamix: the saved detector has " << saved.features() << " features, the input "
             << features.size() << "\n";
      return 1;
    }
    start_bytes = loaded;
  } else {
    smx_detector_config cfg;
    if (!build_detector_config(o.detector, static_cast<uint32_t>(features.size()), cfg, error)) {
      io.err << "streamix: " << error << "\n";
      return 1;
    }
    detector fresh;
    if (detector::create(detector_config(cfg), fresh) != status::ok) {
      io.err << "streamix: out of memory\n";
      return 1;
    }
    if (cfg.scaling == SMX_SCALING_FIXED &&
        fresh.set_scaling(o.detector.offsets, o.detector.scales) != status::ok) {
      io.err << "streamix: --offsets must lie within +-1.8e19 and --scales within "
                "[5.4e-20, 1.8e19] (2^-64 .. 2^64)\n";
      return 1;
    }
    size_t bytes = 0, written = 0;
    if (fresh.snapshot_size(bytes) == status::ok) start_bytes.resize(bytes);
    if (start_bytes.empty() || fresh.save(start_bytes, written) != status::ok) {
      io.err << "streamix: out of memory\n";
      return 1;
    }
  }
  KeyedDetectors streams(start_bytes, keyed ? o.max_keys : 1);
  if (KeyedDetectors::is_keyed_file(loaded) &&
      !streams.load(loaded, static_cast<uint32_t>(features.size()), error)) {
    io.err << "streamix: " << printable(o.load_model, kShownPath) << ": " << error << "\n";
    return 1;
  }
  size_t single = 0;
  if (!keyed && !streams.find_or_add("", single, error)) {  // the one stream's, from the start
    io.err << "streamix: " << error << "\n";
    return 1;
  }

  std::unique_ptr<FdOutput> out_buffer;
  std::ostream out_file(nullptr);
  if (!o.output.empty()) {
    const int fd = open_output(o.output, error);
    if (fd < 0) {
      io.err << "streamix: " << error << "\n";
      return 1;
    }
    out_buffer = std::make_unique<FdOutput>(fd, true);
    out_file.rdbuf(out_buffer.get());
  }
  std::ostream& out = o.output.empty() ? io.out : out_file;
  // Rows as they come where someone may be waiting for them: readings from stdin, results
  // into a pipe, a socket or a terminal (`tail -f`ing a file needs --line-buffered).
  const bool flush_rows = o.line_buffered || o.input == "-" ||
                          (o.output.empty() ? &io.out == &std::cout && is_stream(1)
                                            : is_stream(out_buffer->fd()));
  const bool labelled = label_col >= 0 || !windows.empty();
  for (const char* name : kResultColumns) {
    out << (name == kResultColumns[0] ? "" : ",") << name;
    if (keyed && name == kResultColumns[0]) out << ",key";
  }
  out << (labelled ? ",label" : "");
  if (o.echo) {
    for (int c : features) out << ',' << csv.column_names()[c];
  }
  out << "\n";

  // Progress only for a file read into a terminal.
  const bool progress = !o.quiet && o.input != "-" && &io.err == &std::cerr && isatty(2);
  std::vector<float> x(features.size());
  std::vector<float> scores;
  std::vector<bool> truth;
  Confusion confusion;
  // Event view: labelled windows (runs of label 1) with at least one alarm, and runs of
  // alarms outside them.
  uint64_t labelled_windows = 0, windows_hit = 0, false_events = 0;
  bool in_window = false, window_hit = false, in_false_event = false;
  // data_row numbers every data row of the input (the output's `row`, which --learn-rows
  // counts); rows counts those scored.
  uint64_t data_row = 0, rows = 0, bad_rows = 0, warmup_rows = 0, flagged = 0;
  // Alarm events (runs of flagged rows), the first kShownEvents of them kept for the summary.
  constexpr size_t kShownEvents = 10;
  smx_alarm_events events;
  (void)smx_alarm_events_init(&events, static_cast<uint32_t>(o.event_gap));
  std::vector<smx_alarm_event> shown_events;
  uint64_t event_count = 0;
  auto record_event = [&](const smx_alarm_event& e) {
    if (shown_events.size() < kShownEvents) shown_events.push_back(e);
    ++event_count;
  };
  // Per key (index as in streams): rows scored, warm-up rows, flagged rows, alarm events.
  struct KeyTally {
    uint64_t rows = 0, warmup = 0, flagged = 0, events = 0;
    uint64_t first_row = 0, last_row = 0;  // the data rows of the open event's first and last
    smx_alarm_events tracker;
  };
  std::vector<KeyTally> tallies;
  const auto start = std::chrono::steady_clock::now();
  auto last_report = start;
  while (true) {
    if (!csv.next()) {
      if (csv.at_end()) break;
    }
    ++data_row;
    std::string reason = csv.error();
    const std::vector<std::string>& f = csv.fields();
    bool label = false;
    if (reason.empty()) {
      for (size_t j = 0; j < features.size() && reason.empty(); ++j) {
        const char* why = nullptr;
        if (!parse_number(f[features[j]], x[j], &why))
          reason = "line " + std::to_string(csv.line()) + ": column '" +
                   printable(csv.column_names()[features[j]]) + "' is " + why + ": '" +
                   printable(f[features[j]]) + "'";
      }
      float v = 0.0f;
      if (reason.empty() && label_col >= 0) {
        if (!parse_number(f[label_col], v))
          reason = "line " + std::to_string(csv.line()) + ": label '" +
                   printable(f[label_col]) + "' is not a number";
        label = v != 0.0f;
      }
    }
    smx_detection r{};
    size_t stream = 0;
    if (reason.empty()) {
      std::string why;
      // (one stream: its detector, without a lookup per row)
      const bool found = keyed ? streams.find_or_add(f[key_col], stream, why) : (stream = single, true);
      if (!found) reason = "line " + std::to_string(csv.line()) + ": " + why;
      const status s = found ? streams.at(stream).detect(x, r) : status::ok;
      if (s != status::ok)
        reason = "line " + std::to_string(csv.line()) + ": reading rejected (" + to_string(s) + ")";
    }
    if (!reason.empty()) {
      ++bad_rows;
      if (!o.skip_bad_rows) {
        io.err << "streamix: " << input_name << ": " << reason << "\n";
        return 1;
      }
      if (!o.quiet && bad_rows <= 10) io.err << "streamix: skipped " << reason << "\n";
      // The row keeps its place in the output, every other field empty.
      out << data_row << std::string(std::size(kResultColumns) - 1 + (keyed ? 1 : 0), ',')
          << (labelled ? "," : "");
      for (size_t j = 0; o.echo && j < features.size(); ++j) out << ',';
      out << '\n';
      if (flush_rows) out.flush();
      continue;
    }
    ++rows;
    const std::string time = time_col >= 0 ? f[time_col] : std::string();
    if (!windows.empty()) {
      const std::string t = time.substr(0, 19);
      for (const auto& w : windows) label = label || (t >= w.first && t <= w.second);
    }
    const bool counted = data_row > o.learn_rows;
    const bool anomaly = counted && r.is_anomaly;
    if (std::isnan(r.score)) ++warmup_rows;
    flagged += anomaly;
    smx_detection as_printed = r;
    as_printed.is_anomaly = anomaly;
    smx_alarm_event ended_event;
    int ended = 0;
    if (keyed) {
      // Events per key, their gaps counted in the key's own readings; reported in data rows.
      if (tallies.size() <= stream) {
        tallies.resize(stream + 1);
        (void)smx_alarm_events_init(&tallies[stream].tracker, static_cast<uint32_t>(o.event_gap));
      }
      KeyTally& tally = tallies[stream];
      const uint64_t reading = ++tally.rows;
      tally.warmup += std::isnan(r.score);
      tally.flagged += anomaly;
      const uint64_t open_first = tally.first_row, open_last = tally.last_row;
      if (smx_alarm_events_feed(&tally.tracker, reading, &as_printed, &ended_event, &ended) == SMX_OK && ended) {
        ended_event.first = open_first, ended_event.last = open_last;
        record_event(ended_event), ++tally.events;
      }
      if (anomaly) {
        if (tally.tracker.event.first == reading) tally.first_row = data_row;
        tally.last_row = data_row;
      }
    } else if (smx_alarm_events_feed(&events, data_row, &as_printed, &ended_event, &ended) == SMX_OK && ended) {
      record_event(ended_event);
    }
    if (labelled && counted) {
      confusion.add(anomaly, label);
      scores.push_back(r.score);
      truth.push_back(label);
      if (label && !in_window) ++labelled_windows, window_hit = false;
      if (label && anomaly && !window_hit) ++windows_hit, window_hit = true;
      in_window = label;
      const bool false_alarm = anomaly && !label;
      false_events += false_alarm && !in_false_event;
      in_false_event = false_alarm;
    }
    out << data_row << ',';
    if (keyed) out << f[key_col] << ',';
    out << time << ',' << format_float(r.score) << ','
        << format_float(r.threshold) << ',' << format_float(r.probability) << ','
        << format_float(r.surprise) << ',' << format_float(r.anomaly_score) << ','
        << (anomaly ? 1 : 0) << ','
        << (r.top_feature >= 0 ? csv.column_names()[features[r.top_feature]] : std::string());
    if (labelled) out << ',' << (label ? 1 : 0);
    if (o.echo) {
      for (float v : x) out << ',' << format_float(v);
    }
    out << '\n';
    if (flush_rows) out.flush();
    if (progress && (rows & 1023) == 0) {
      const auto now = std::chrono::steady_clock::now();
      if (now - last_report > std::chrono::milliseconds(500)) {
        io.err << "\rstreamix: " << rows << " rows" << std::flush;
        last_report = now;
      }
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::string why = read_error(*in);
  if (!why.empty()) {
    io.err << "streamix: cannot read " << input_name << ": " << why << "\n";
    return 1;
  }
  out.flush();
  if (!out) {
    const auto* fd_output = dynamic_cast<const FdOutput*>(out.rdbuf());
    io.err << "streamix: cannot write "
           << (o.output.empty() ? std::string("the output") : "'" + printable(o.output, kShownPath) + "'")
           << ": " << (fd_output ? fd_output->error() : std::string("write error")) << "\n";
    return 1;
  }

  if (!o.save_model.empty()) {
    std::vector<unsigned char> buf;
    bool saved = false;
    if (keyed) {
      saved = streams.save(buf);
    } else {
      size_t bytes = 0, written = 0;
      const detector& det = streams.at(0);
      if (det.snapshot_size(bytes) == status::ok) buf.resize(bytes);
      saved = !buf.empty() && det.save(buf, written) == status::ok;
    }
    if (!saved) {
      io.err << "streamix: cannot save the detector" << (keyed ? "s" : "") << "\n";
      return 1;
    }
    if (!write_file(o.save_model, buf, error)) {
      io.err << "streamix: cannot save the detector" << (keyed ? "s" : "") << ": " << error << "\n";
      return 1;
    }
  }

  {
    smx_alarm_event last_event;
    int ended = 0;
    if (smx_alarm_events_flush(&events, &last_event, &ended) == SMX_OK && ended) record_event(last_event);
    for (KeyTally& tally : tallies) {
      if (smx_alarm_events_flush(&tally.tracker, &last_event, &ended) == SMX_OK && ended) {
        last_event.first = tally.first_row, last_event.last = tally.last_row;
        record_event(last_event), ++tally.events;
      }
    }
  }
  smx_detector_config cfg{};
  (void)smx_detector_snapshot_config(start_bytes.data(), start_bytes.size(), &cfg);
  if (!o.quiet) {
    if (progress) io.err << "\r";
    io.err << "streamix: " << rows << " rows (" << warmup_rows << " warm-up, " << bad_rows
              << " skipped), " << flagged << " flagged; K = " << cfg.model.components
              << ", views " << view_names(cfg.views)
              << (cfg.model.batch_size > 1 ? ", mini-batches of " + std::to_string(cfg.model.batch_size) : "")
              << (cfg.smoothing < 1.0f ? ", rows as a time series (smoothing " + format_short(cfg.smoothing) +
                                             "; --rows independent for unordered records)"
                                       : ", rows independent (no smoothing)")
              << (keyed ? ", " + std::to_string(streams.size()) + " keys" : "")
              << ", kernels " << smx_backend() << ":"
              << smx_backend_target() << "; " << static_cast<uint64_t>(rows / (seconds > 0 ? seconds : 1e-9))
              << " rows/s\n";
    io.err << "streamix: " << event_count << " alarm event" << (event_count == 1 ? "" : "s")
           << " (runs of flagged rows, gaps under " << o.event_gap << " rows joined)"
           << (event_count > shown_events.size() ? ", the first " + std::to_string(kShownEvents) : "")
           << (event_count > 0 ? ":" : "") << "\n";
    for (const smx_alarm_event& e : shown_events) {  // (in the order they ended)
      io.err << "streamix:   rows " << e.first << "-" << e.last << " (" << e.flagged
             << " flagged), peak surprise " << format_short(e.peak_surprise) << " (score "
             << format_short(e.peak_score) << ")"
             << (e.top_feature >= 0 ? ", top feature " + csv.column_names()[features[e.top_feature]] : "")
             << "\n";
    }
    for (size_t i = 0; o.summary_per_key && i < tallies.size(); ++i) {
      const KeyTally& t = tallies[i];
      io.err << "streamix:   key '" << printable(streams.key(i)) << "': " << t.rows << " rows (" << t.warmup
             << " warm-up), " << t.flagged << " flagged, " << t.events << " alarm event"
             << (t.events == 1 ? "" : "s") << "\n";
    }
    if (labelled) {
      io.err << "streamix: over " << confusion.tp + confusion.fp + confusion.tn + confusion.fn
                << " labelled rows (" << confusion.tp + confusion.fn << " anomalous): precision "
                << format_metric(confusion.precision(), false) << ", recall "
                << format_metric(confusion.recall(), false) << ", F1 "
                << format_metric(confusion.f1(), false) << ", FAR "
                << format_metric(confusion.false_alarm_rate(), true) << ", MAR "
                << format_metric(confusion.missed_alarm_rate(), true) << ", ROC-AUC "
                << format_metric(roc_auc(scores, truth), false) << "\n";
      io.err << "streamix: labelled windows with an alarm: " << windows_hit << " of " << labelled_windows
                << "; alarm runs outside them: " << false_events << "\n";
    }
  }
  if (rows == warmup_rows) {
    if (!o.quiet || o.strict)
      io.err << "streamix: no row was scored: " << rows << " row" << (rows == 1 ? "" : "s")
             << " read, the warm-up takes " << cfg.model.init_samples
             << " (fewer with --init-samples, or start from a saved detector with --load-model)\n";
    if (o.strict) return 1;
  }
  return 0;
}

}  // namespace

int run_cli(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err) {
  Console io{in, out, err};
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    (argc < 2 ? io.err : io.out) << kCommands;
    return argc < 2 ? 2 : 0;
  }
  if (std::strcmp(argv[1], "--version") == 0) {
    io.out << "streamix " << smx_version() << " (kernels " << smx_backend() << ":" << smx_backend_target()
           << ")\n";
    return 0;
  }
  if (std::strcmp(argv[1], "serve") == 0) {  // (main() runs it where it is built)
    io.err << "streamix: this build has no `serve`: it was built without libmosquitto\n";
    return 2;
  }
  if (std::strcmp(argv[1], "detect") != 0)
    return usage_error(io, std::string("unknown command '") + printable(argv[1]) + "'");
  Options o;
  const int parsed = parse(io, argc, argv, o);
  if (parsed == -1) {
    io.out << kUsage;
    print_detector_options(io.out);
    return 0;
  }
  if (parsed != 0) return parsed;
  return run_detect(io, o);
}

}  // namespace streamix::host
