// `streamix serve` (serve.h): one MQTT client (libmosquitto) in one thread. Each turn of the
// loop lets libmosquitto read what arrived (each message goes to Gateway::submit), scores the
// turn's readings in one bank call, publishes the results, and checkpoints or reports status
// when due. The session is persistent (clean session off, a fixed client id) so that what is
// published at QoS 1 while the gateway is away is delivered when it returns.
//
// Delivery: libmosquitto acknowledges a QoS 1 message before handing it over, so a reading
// is at least as safe as the last checkpoint: after a crash, readings taken since the last
// checkpoint are not learned again (their alerts were already published).
#include "serve.h"

#include <mosquitto.h>
#include <signal.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "detector_options.h"
#include "gateway.h"
#include "io.h"

namespace streamix::host {
namespace {

const char kServeUsage[] =
    "usage: streamix serve --subscribe FILTER --columns LIST [options]\n"
    "\n"
    "Scores readings published to an MQTT broker, one detector per topic, and publishes\n"
    "alerts to PREFIX/<topic> (JSON: topic, time, anomaly, score, threshold, probability,\n"
    "surprise, anomaly_score, top_feature, reading). Status goes to PREFIX/$status every few\n"
    "seconds; detectors are checkpointed to --state-dir and restored from it at start.\n"
    "SIGTERM or SIGINT: checkpoint and exit 0; SIGUSR1: checkpoint now.\n"
    "\n"
    "  --broker HOST:PORT       the broker (default localhost:1883)\n"
    "  --subscribe FILTER       topics to score (MQTT wildcards + and #); repeatable\n"
    "  --qos 0|1                subscription QoS (default 1: nothing lost while away)\n"
    "  --client-id ID           the persistent session's id (default streamix-serve)\n"
    "  --format csv|json        payload: a header-less line of numbers (default) or an object\n"
    "  --columns LIST           the reading's features: 1-based field numbers (csv) or keys\n"
    "                           (json), comma-separated\n"
    "  --time FIELD             a field or key copied to the results as it came\n"
    "  --alerts PREFIX          results go to PREFIX/<topic> (default streamix/alerts)\n"
    "  --every-reading          publish every scored reading, not only anomalies\n"
    "  --max-streams N          detectors (topics) at most (default 1000); a new topic past\n"
    "                           it is counted and refused\n"
    "  --max-payload BYTES      longer payloads are refused unread (default 65536)\n"
    "  --state-dir DIR          checkpoint directory (none: nothing is saved)\n"
    "  --checkpoint-every S     seconds between checkpoints (default 60)\n"
    "  --status-every S         seconds between status messages (default 5)\n"
    "  --username NAME, --password-file FILE   broker credentials (the file's first line)\n"
    "  --cafile FILE, --capath DIR, --cert FILE, --key FILE   TLS (libmosquitto)\n"
    "  --quiet                  no log on stderr but errors\n"
    "and the detector's settings as in `streamix detect` (streamix detect --help).\n";

volatile std::sig_atomic_t g_stop = 0, g_checkpoint_now = 0;
extern "C" void on_stop_signal(int) { g_stop = 1; }
extern "C" void on_checkpoint_signal(int) { g_checkpoint_now = 1; }

struct ServeOptions {
  std::string host = "localhost";
  int port = 1883;
  std::vector<std::string> filters;
  int qos = 1;
  std::string client_id = "streamix-serve";
  std::string alerts = "streamix/alerts";
  bool every_reading = false;
  std::string state_dir;
  double checkpoint_every = 60, status_every = 5;
  std::string username, password_file, cafile, capath, cert, key;
  bool quiet = false;
  GatewaySettings gateway;
};

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

bool parse_seconds(const std::string& s, double& out) {
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return !s.empty() && end == s.c_str() + s.size() && out > 0 && out <= 86400 * 365;
}

int usage(std::ostream& err, const std::string& message) {
  err << "streamix serve: " << message << "\n(see streamix serve --help)\n";
  return 2;
}

// 0, -1 for --help, or 2 after a usage message.
int parse(int argc, char** argv, ServeOptions& o, std::ostream& err) {
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return -1;
    if (arg.compare(0, 2, "--") != 0) return usage(err, "unexpected argument '" + printable(arg) + "'");
    const std::string name = option_name(arg);
    if (name == "every-reading") { o.every_reading = true; continue; }
    if (name == "quiet") { o.quiet = true; continue; }
    std::string value, error;
    if (!option_value(argc, argv, i, value)) return usage(err, "--" + name + " needs a value");
    uint64_t n = 0;
    if (name == "broker") {
      const size_t colon = value.rfind(':');
      o.host = value.substr(0, colon);
      if (colon != std::string::npos) {
        if (!parse_count(value.substr(colon + 1), n) || n == 0 || n > 65535)
          return usage(err, "--broker takes HOST:PORT, not '" + printable(value) + "'");
        o.port = static_cast<int>(n);
      }
      if (o.host.empty()) return usage(err, "--broker: no host in '" + printable(value) + "'");
    } else if (name == "subscribe") {
      o.filters.push_back(value);
    } else if (name == "qos") {
      if (value != "0" && value != "1") return usage(err, "--qos takes 0 or 1");
      o.qos = value[0] - '0';
    } else if (name == "client-id") o.client_id = value;
    else if (name == "format") {
      if (value != "csv" && value != "json") return usage(err, "--format takes csv or json");
      o.gateway.format = value == "csv" ? GatewaySettings::Format::csv : GatewaySettings::Format::json;
    } else if (name == "columns") {
      if (!split_list(name, value, o.gateway.columns, error)) return usage(err, error);
    } else if (name == "time") o.gateway.time = value;
    else if (name == "alerts") o.alerts = value;
    else if (name == "max-streams") {
      if (!parse_count(value, n) || n == 0 || n > SMX_MAX_BANK_MODELS)
        return usage(err, "--max-streams takes 1 to " + std::to_string(SMX_MAX_BANK_MODELS));
      o.gateway.max_streams = static_cast<uint32_t>(n);
    } else if (name == "max-payload") {
      if (!parse_count(value, n) || n == 0 || n > (uint64_t{256} << 20))
        return usage(err, "--max-payload takes 1 to 268435456 bytes");
      o.gateway.max_payload = n;
    } else if (name == "state-dir") o.state_dir = value;
    else if (name == "checkpoint-every") {
      if (!parse_seconds(value, o.checkpoint_every)) return usage(err, "--checkpoint-every takes seconds > 0");
    } else if (name == "status-every") {
      if (!parse_seconds(value, o.status_every)) return usage(err, "--status-every takes seconds > 0");
    } else if (name == "username") o.username = value;
    else if (name == "password-file") o.password_file = value;
    else if (name == "cafile") o.cafile = value;
    else if (name == "capath") o.capath = value;
    else if (name == "cert") o.cert = value;
    else if (name == "key") o.key = value;
    else if (is_detector_option(name)) {
      if (!record_detector_option(name, value, o.gateway.detector, error)) return usage(err, error);
    } else {
      return usage(err, "unknown option --" + printable(name));
    }
  }
  if (o.filters.empty()) return usage(err, "give at least one --subscribe FILTER");
  if (!o.password_file.empty() && o.username.empty()) return usage(err, "--password-file needs --username");
  if (o.cert.empty() != o.key.empty()) return usage(err, "--cert and --key go together");
  return 0;
}

// What the libmosquitto callbacks share with the loop.
struct Session {
  Gateway* gateway;
  const ServeOptions* options;
  std::ostream* err;
  bool connected = false;
  int refused = 0;  // CONNACK code of a refused connection (fatal)
  size_t subscribed = 0;  // filters acknowledged since the last connection
  // Rejections since the last report (reported at most once a second).
  uint64_t unreported = 0;
  std::string last_rejection;
};

extern "C" void on_connect(struct mosquitto* m, void* user, int rc) {
  Session& s = *static_cast<Session*>(user);
  if (rc != 0) {
    s.refused = rc;
    return;
  }
  s.connected = true;
  s.subscribed = 0;
  for (const std::string& f : s.options->filters) {
    if (mosquitto_subscribe(m, nullptr, f.c_str(), s.options->qos) != MOSQ_ERR_SUCCESS)
      *s.err << "streamix serve: cannot subscribe to '" << printable(f, kShownPath) << "'\n";
  }
  if (!s.options->quiet) *s.err << "streamix serve: connected to " << s.options->host << ":" << s.options->port << "\n";
}

extern "C" void on_subscribe(struct mosquitto*, void* user, int, int, const int*) {
  Session& s = *static_cast<Session*>(user);
  if (++s.subscribed == s.options->filters.size() && !s.options->quiet)
    *s.err << "streamix serve: subscribed to " << s.subscribed << " filters\n";
}

extern "C" void on_disconnect(struct mosquitto*, void* user, int) {
  static_cast<Session*>(user)->connected = false;
}

extern "C" void on_message(struct mosquitto*, void* user, const struct mosquitto_message* msg) {
  Session& s = *static_cast<Session*>(user);
  Rejection why;
  std::string detail;
  const std::string topic = msg->topic ? msg->topic : "";
  if (!s.gateway->submit(topic, static_cast<const char*>(msg->payload),
                         static_cast<size_t>(msg->payloadlen), &why, &detail)) {
    ++s.unreported;
    s.last_rejection = printable(topic, 200) + ": " + rejection_name(why) + " (" + detail + ")";
  }
}

bool read_password(const std::string& path, std::string& password, std::string& error) {
  std::vector<unsigned char> bytes;
  if (!read_file(path, 4096, bytes, error)) return false;
  password.assign(bytes.begin(), bytes.end());
  const size_t end = password.find_first_of("\r\n");
  if (end != std::string::npos) password.resize(end);
  return true;
}

}  // namespace

int run_serve(int argc, char** argv, std::ostream& out, std::ostream& err) {
  ServeOptions o;
  const int parsed = parse(argc, argv, o, err);
  if (parsed == -1) {
    out << kServeUsage;
    return 0;
  }
  if (parsed != 0) return parsed;
  std::string error;
  if (!o.gateway.detector.kernels.empty() && smx_select_kernels(o.gateway.detector.kernels.c_str()) != SMX_OK) {
    err << "streamix serve: kernels '" << printable(o.gateway.detector.kernels) << "' are not available here\n";
    return 1;
  }
  Gateway gateway;
  if (!gateway.start(o.gateway, error)) return usage(err, error);
  if (!o.state_dir.empty()) {
    size_t restored = 0;
    std::vector<std::string> skipped;
    if (!gateway.restore(o.state_dir, &restored, skipped, error)) {
      err << "streamix serve: " << error << "\n";
      return 1;
    }
    for (const std::string& s : skipped) err << "streamix serve: checkpoint skipped: " << s << "\n";
    if (!o.quiet) err << "streamix serve: restored " << restored << " streams from " << printable(o.state_dir, kShownPath) << "\n";
  }
  std::string password;
  if (!o.password_file.empty() && !read_password(o.password_file, password, error)) {
    err << "streamix serve: --password-file: " << error << "\n";
    return 1;
  }

  struct sigaction stop {}, now {};
  stop.sa_handler = on_stop_signal;
  now.sa_handler = on_checkpoint_signal;
  sigaction(SIGTERM, &stop, nullptr);
  sigaction(SIGINT, &stop, nullptr);
  sigaction(SIGUSR1, &now, nullptr);
  signal(SIGPIPE, SIG_IGN);

  mosquitto_lib_init();
  Session session{&gateway, &o, &err, false, 0, 0, 0, {}};
  mosquitto* m = mosquitto_new(o.client_id.c_str(), false, &session);
  int status_code = 0;
  if (m == nullptr) {
    err << "streamix serve: cannot create the MQTT client\n";
    mosquitto_lib_cleanup();
    return 1;
  }
  mosquitto_connect_callback_set(m, on_connect);
  mosquitto_disconnect_callback_set(m, on_disconnect);
  mosquitto_subscribe_callback_set(m, on_subscribe);
  mosquitto_message_callback_set(m, on_message);
  if (!o.username.empty())
    mosquitto_username_pw_set(m, o.username.c_str(), o.password_file.empty() ? nullptr : password.c_str());
  std::fill(password.begin(), password.end(), '\0');
  if (!o.cafile.empty() || !o.capath.empty()) {
    const int rc = mosquitto_tls_set(m, o.cafile.empty() ? nullptr : o.cafile.c_str(),
                                     o.capath.empty() ? nullptr : o.capath.c_str(),
                                     o.cert.empty() ? nullptr : o.cert.c_str(),
                                     o.key.empty() ? nullptr : o.key.c_str(), nullptr);
    if (rc != MOSQ_ERR_SUCCESS) {
      err << "streamix serve: TLS: " << mosquitto_strerror(rc) << "\n";
      mosquitto_destroy(m);
      mosquitto_lib_cleanup();
      return 1;
    }
  }

  const Clock::time_point started = Clock::now();
  Clock::time_point last_checkpoint = started, last_status = started, last_report = started;
  Clock::time_point last_checkpoint_attempt = started;  // (a failed one is retried when due)
  Clock::time_point next_attempt = started;
  bool ever_checkpointed = false;
  double backoff = 0.5;  // seconds before the next connection attempt, doubling to 30
  bool socket_open = false;
  std::vector<Scored> results;
  auto publish = [&](const std::string& topic, const std::string& payload, int qos) {
    return mosquitto_publish(m, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                             payload.data(), qos, false);
  };
  // Scores the readings taken so far and publishes alerts (every result with --every-reading).
  auto publish_results = [&]() {
    results.clear();
    gateway.flush(results);
    for (const Scored& r : results) {
      if (r.detection.is_anomaly || o.every_reading)
        publish(o.alerts + "/" + r.topic, gateway.result_json(r), o.qos);
    }
  };
  auto checkpoint = [&]() {
    if (o.state_dir.empty()) return;
    size_t written = 0;
    const Clock::time_point t = Clock::now();
    if (!gateway.checkpoint(o.state_dir, &written, error)) {
      err << "streamix serve: checkpoint failed: " << error << "\n";
      return;
    }
    last_checkpoint = Clock::now();
    ever_checkpointed = true;
    if (!o.quiet)
      err << "streamix serve: checkpoint: " << written << " streams in "
          << std::chrono::duration<double>(last_checkpoint - t).count() << " s\n";
  };

  while (!g_stop) {
    if (!socket_open && Clock::now() >= next_attempt) {
      const int rc = mosquitto_connect(m, o.host.c_str(), o.port, 30);
      socket_open = rc == MOSQ_ERR_SUCCESS;
      if (!socket_open) {
        if (!o.quiet) err << "streamix serve: cannot reach " << o.host << ":" << o.port << ": "
                          << mosquitto_strerror(rc) << "; retrying in " << backoff << " s\n";
        next_attempt = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(backoff));
        backoff = std::min(backoff * 2, 30.0);
      }
    }
    if (socket_open) {
      const int rc = mosquitto_loop(m, 100, 1);
      if (session.refused != 0) {
        err << "streamix serve: the broker refused the connection: "
            << mosquitto_connack_string(session.refused)
            << (session.refused == 4 || session.refused == 5 ? " (check --username and --password-file)" : "")
            << "\n";
        status_code = 1;
        break;
      }
      if (session.connected) backoff = 0.5;
      if (rc != MOSQ_ERR_SUCCESS && !g_stop) {
        if (!o.quiet) err << "streamix serve: connection lost (" << mosquitto_strerror(rc)
                          << "); reconnecting in " << backoff << " s\n";
        session.connected = false;
        socket_open = false;
        mosquitto_disconnect(m);
        next_attempt = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(backoff));
        backoff = std::min(backoff * 2, 30.0);
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    publish_results();
    if (session.unreported > 0 && seconds_since(last_report) >= 1.0) {
      err << "streamix serve: rejected " << session.unreported << " readings; last: " << session.last_rejection << "\n";
      session.unreported = 0;
      last_report = Clock::now();
    }
    if (g_checkpoint_now || seconds_since(last_checkpoint_attempt) >= o.checkpoint_every) {
      g_checkpoint_now = 0;
      checkpoint();
      last_checkpoint_attempt = Clock::now();
    }
    if (session.connected && seconds_since(last_status) >= o.status_every) {
      publish(o.alerts + "/$status",
              gateway.status_json(seconds_since(started), ever_checkpointed ? seconds_since(last_checkpoint) : -1), 0);
      last_status = Clock::now();
    }
  }
  publish_results();
  if (status_code == 0) checkpoint();
  if (socket_open) {
    for (int i = 0; i < 10 && mosquitto_want_write(m); ++i) mosquitto_loop(m, 50, 1);
    mosquitto_disconnect(m);
    mosquitto_loop(m, 50, 1);
  }
  mosquitto_destroy(m);
  mosquitto_lib_cleanup();
  if (!o.quiet || status_code != 0) {
    const GatewayCounts& c = gateway.counts();
    err << "streamix serve: " << c.received << " readings: " << c.scored << " scored (" << c.alerts
        << " alerts), " << c.rejected_total() << " rejected; " << gateway.streams() << " streams\n";
  }
  return status_code;
}

}  // namespace streamix::host
