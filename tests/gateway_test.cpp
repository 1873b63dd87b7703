// The gateway of `streamix serve` without the network (platforms/host/gateway.h): payloads,
// outcomes, the stream table, checkpoints. The broker tests are tests/serve/test_serve.py.
#include "gateway.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace streamix::host {
namespace {

GatewaySettings settings(GatewaySettings::Format format, std::vector<std::string> columns) {
  GatewaySettings s;
  s.format = format;
  s.columns = std::move(columns);
  s.max_streams = 8;
  s.max_payload = 256;
  std::string error;
  EXPECT_TRUE(record_detector_option("init-samples", "20", s.detector, error));
  EXPECT_TRUE(record_detector_option("calibration", "10", s.detector, error));
  return s;
}

std::string temp_dir() {
  char name[] = "/tmp/streamix-gateway-XXXXXX";
  const char* made = ::mkdtemp(name);
  EXPECT_NE(made, nullptr);
  return made ? made : "";
}

std::vector<unsigned char> stream_bytes(Gateway& g, const std::string& topic) {
  std::vector<unsigned char> bytes;
  const int64_t id = g.stream_of(topic);
  EXPECT_GE(id, 0);
  if (id >= 0) {
    EXPECT_TRUE(g.stream_file(static_cast<uint32_t>(id), bytes));
  }
  return bytes;
}

bool submit(Gateway& g, const std::string& topic, const std::string& payload, Rejection* why = nullptr) {
  Rejection ignored;
  return g.submit(topic, payload.data(), payload.size(), why ? why : &ignored);
}

// A CSV reading of stream s at step t (time in field 1, features in fields 2 and 4).
std::string csv_reading(std::mt19937& rng, int s, int t) {
  std::normal_distribution<float> n(0.0f, 1.0f);
  return std::to_string(t) + "," + std::to_string(s + n(rng)) + ",x," + std::to_string(2 * s + n(rng));
}

TEST(Gateway, EachPayloadIsScoredOrRejectedWithItsReason) {
  Gateway g;
  std::string error;
  GatewaySettings s = settings(GatewaySettings::Format::csv, {"2", "4"});
  s.time = "1";
  ASSERT_TRUE(g.start(s, error)) << error;
  Rejection why;
  EXPECT_TRUE(submit(g, "a", "1,0.5,x,2\n"));
  EXPECT_TRUE(submit(g, "a", "2,0.5,\"x\",2\r\n"));
  EXPECT_FALSE(submit(g, "a", "3,0.5,x", &why));  // no field 4
  EXPECT_EQ(why, Rejection::malformed);
  EXPECT_FALSE(submit(g, "a", "3,nan,x,1", &why));
  EXPECT_EQ(why, Rejection::malformed);
  EXPECT_FALSE(submit(g, "a", "3,1e39,x,1", &why));  // beyond float
  EXPECT_EQ(why, Rejection::malformed);
  EXPECT_FALSE(submit(g, "a", "3,1,x,1\n4,1,x,1", &why));  // two lines
  EXPECT_EQ(why, Rejection::malformed);
  EXPECT_FALSE(submit(g, "a", std::string(257, '1'), &why));
  EXPECT_EQ(why, Rejection::oversized);
  EXPECT_TRUE(submit(g, "a", "5,3e30,x,1"));  // a float, but its square overflows: the detector refuses it
  for (int i = 0; i < 7; ++i) EXPECT_TRUE(submit(g, "t" + std::to_string(i), "1,1,x,1"));
  EXPECT_FALSE(submit(g, "one too many", "1,1,x,1", &why));
  EXPECT_EQ(why, Rejection::too_many_streams);
  EXPECT_FALSE(submit(g, "one too many", "garbage", &why));  // malformed first: no stream made
  EXPECT_EQ(why, Rejection::malformed);
  std::vector<Scored> out;
  g.flush(out);
  EXPECT_EQ(g.queued(), 0u);
  const GatewayCounts& c = g.counts();
  EXPECT_EQ(c.received, 17u);
  EXPECT_EQ(c.scored, 9u);  // a twice, t0..t6
  ASSERT_EQ(out.size(), 9u);
  EXPECT_EQ(out[0].topic, "a");
  EXPECT_EQ(out[0].time, "\"1\"");
  EXPECT_EQ(out[0].reading, (std::vector<float>{0.5f, 2.0f}));
  EXPECT_EQ(c.rejected[int(Rejection::malformed)], 5u);
  EXPECT_EQ(c.rejected[int(Rejection::oversized)], 1u);
  EXPECT_EQ(c.rejected[int(Rejection::bad_reading)], 1u);
  EXPECT_EQ(c.rejected[int(Rejection::too_many_streams)], 1u);
  EXPECT_EQ(c.scored + c.rejected_total(), c.received);
  EXPECT_EQ(g.streams(), 8u);
}

TEST(Gateway, JsonPayloadsAndResults) {
  Gateway g;
  std::string error;
  GatewaySettings s = settings(GatewaySettings::Format::json, {"temp", "rpm"});
  s.time = "ts";
  ASSERT_TRUE(g.start(s, error)) << error;
  Rejection why;
  EXPECT_TRUE(submit(g, "m/1", R"({"ts": "2026-12-02T10:00:00Z", "temp": 21.5, "rpm": 1200, "x": [1]})"));
  EXPECT_TRUE(submit(g, "m/1", R"({"rpm": 1e3, "temp": -4})"));  // no time: none copied
  for (const char* bad : {R"({"temp": 1})", R"({"temp": "1", "rpm": 2})", R"([1, 2])", R"({"temp": 1, "rpm": 2)",
                          "", "null", R"({"temp": 1e39, "rpm": 2})", R"({"temp": NaN, "rpm": 2})"}) {
    EXPECT_FALSE(submit(g, "m/1", bad, &why)) << bad;
    EXPECT_EQ(why, Rejection::malformed) << bad;
  }
  std::vector<Scored> out;
  g.flush(out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].time, "\"2026-12-02T10:00:00Z\"");
  EXPECT_EQ(out[1].time, "");
  EXPECT_EQ(out[1].reading, (std::vector<float>{-4.0f, 1000.0f}));
  // Warm-up: no score yet (null), the reading by name, floats with their shortest digits.
  EXPECT_EQ(g.result_json(out[0]),
            R"({"anomaly":false,"anomaly_score":0.0,"probability":0.0,"reading":{"rpm":1200.0,"temp":21.5},)"
            R"("score":null,"surprise":0.0,"threshold":null,"time":"2026-12-02T10:00:00Z","top_feature":null,"topic":"m/1"})");
}

// Random mutations of valid payloads (bytes flipped, cut, repeated, inserted): each gets
// exactly one outcome, and a rejected one leaves its stream's detector unchanged bit for bit.
TEST(Gateway, FuzzedPayloadsNeverChangeADetectorWhenRejected) {
  for (const auto format : {GatewaySettings::Format::csv, GatewaySettings::Format::json}) {
    Gateway g;
    std::string error;
    const bool csv = format == GatewaySettings::Format::csv;
    ASSERT_TRUE(g.start(settings(format, csv ? std::vector<std::string>{"2", "4"}
                                             : std::vector<std::string>{"a", "b"}), error));
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> pick(0, 255);
    std::vector<Scored> out;
    const std::string alphabet = ",.-+e0123456789\"{}[]:nul \n\r\\ab";
    uint64_t rejected = 0, scored = 0;
    for (int i = 0; i < 4000; ++i) {
      const int stream = i % 3;
      const std::string topic = "s" + std::to_string(stream);
      std::string p = csv_reading(rng, stream, i);
      if (!csv) {
        std::normal_distribution<float> n(0.0f, 1.0f);
        p = "{\"a\": " + std::to_string(stream + n(rng)) + ", \"b\": " + std::to_string(n(rng)) + "}";
      }
      const int edits = i < 200 ? 0 : pick(rng) % 4;  // the first readings warm the detectors up
      for (int e = 0; e < edits && !p.empty(); ++e) {
        const size_t at = static_cast<size_t>(pick(rng)) % p.size();
        switch (pick(rng) % 4) {
          case 0: p[at] = alphabet[static_cast<size_t>(pick(rng)) % alphabet.size()]; break;
          case 1: p.resize(at); break;
          case 2: p.insert(at, p.substr(at, 8)); break;
          default: p[at] = static_cast<char>(pick(rng)); break;
        }
      }
      if (g.stream_of(topic) < 0) {
        ASSERT_TRUE(submit(g, topic, p)) << "the first reading of a stream is valid";
        ++scored;
        continue;
      }
      const std::vector<unsigned char> before = stream_bytes(g, topic);
      Rejection why;
      if (submit(g, topic, p, &why)) {
        const uint64_t scored_before = g.counts().scored;
        g.flush(out);
        if (g.counts().scored == scored_before) {  // refused by the detector
          EXPECT_EQ(stream_bytes(g, topic), before) << p;
          ++rejected;
        } else {
          ++scored;
        }
      } else {
        EXPECT_EQ(stream_bytes(g, topic), before) << p;
        ++rejected;
      }
    }
    g.flush(out);
    const GatewayCounts& c = g.counts();
    EXPECT_EQ(c.received, 4000u);
    EXPECT_EQ(c.scored, scored);
    EXPECT_EQ(c.rejected_total(), rejected);
    EXPECT_GT(rejected, 1000u) << "the mutations reach the parser's rejections";
    EXPECT_GT(scored, 1000u);
  }
}

TEST(Gateway, CheckpointsRestoreEveryStreamAndSkipBadFiles) {
  const std::string dir = temp_dir();
  const GatewaySettings s = settings(GatewaySettings::Format::csv, {"2", "4"});
  std::string error;
  std::vector<std::string> topics;
  for (int i = 0; i < 6; ++i) topics.push_back("site/" + std::to_string(i) + "/pump");
  std::vector<std::vector<unsigned char>> saved(topics.size());
  {
    Gateway g;
    ASSERT_TRUE(g.start(s, error));
    std::mt19937 rng(3);
    std::vector<Scored> out;
    for (int t = 0; t < 40; ++t) {
      for (size_t i = 0; i < topics.size(); ++i) ASSERT_TRUE(submit(g, topics[i], csv_reading(rng, int(i), t)));
      g.flush(out);
    }
    size_t written = 0;
    ASSERT_TRUE(g.checkpoint(dir, &written, error)) << error;
    EXPECT_EQ(written, topics.size());
    ASSERT_TRUE(g.checkpoint(dir, &written, error));
    EXPECT_EQ(written, 0u) << "only streams that changed are written again";
    for (size_t i = 0; i < topics.size(); ++i) saved[i] = stream_bytes(g, topics[i]);
  }
  // Damage two files (a flipped snapshot byte, a truncation) and leave a half-written one.
  auto path = [&](size_t i) { return dir + "/" + Gateway::checkpoint_name(topics[i]); };
  {
    std::fstream f(path(1), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    f.put('\x55');
  }
  ASSERT_EQ(::truncate(path(4).c_str(), 100), 0);
  std::ofstream(path(5) + ".tmp") << "half";
  Gateway g;
  ASSERT_TRUE(g.start(s, error));
  size_t restored = 0;
  std::vector<std::string> skipped;
  ASSERT_TRUE(g.restore(dir, &restored, skipped, error)) << error;
  EXPECT_EQ(restored, 4u);
  ASSERT_EQ(skipped.size(), 2u);
  EXPECT_NE(skipped[0].find(Gateway::checkpoint_name(topics[1])), std::string::npos);
  EXPECT_NE(skipped[0].find("corrupted"), std::string::npos) << skipped[0];
  EXPECT_NE(skipped[1].find("truncated"), std::string::npos) << skipped[1];
  EXPECT_NE(::access((path(5) + ".tmp").c_str(), F_OK), 0) << "leftover removed";
  for (size_t i : {0, 2, 3, 5}) EXPECT_EQ(stream_bytes(g, topics[i]), saved[i]) << topics[i];
  EXPECT_LT(g.stream_of(topics[1]), 0) << "a skipped stream starts fresh on its next reading";
  // A directory that cannot be made is an error, not a crash.
  EXPECT_FALSE(Gateway().restore("/proc/streamix-no", &restored, skipped, error));
  std::system(("rm -rf " + dir).c_str());
}

TEST(Gateway, SettingsAreChecked) {
  std::string error;
  EXPECT_FALSE(Gateway().start(settings(GatewaySettings::Format::csv, {}), error));
  EXPECT_FALSE(Gateway().start(settings(GatewaySettings::Format::csv, {"0"}), error));
  EXPECT_FALSE(Gateway().start(settings(GatewaySettings::Format::csv, {"temp"}), error));
  GatewaySettings s = settings(GatewaySettings::Format::json, {"temp"});
  s.max_streams = 0;
  EXPECT_FALSE(Gateway().start(s, error));
}

}  // namespace
}  // namespace streamix::host
