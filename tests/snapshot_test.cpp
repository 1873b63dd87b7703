// Snapshots: round trip with identical behaviour, rejection of truncated or corrupted
// buffers without touching the target, saving into a buffer that is too small.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "aligned_storage.h"
#include "reference.h"
#include "streamix/streamix.hpp"

namespace {

using streamix::status;

using Aligned = AlignedStorage;

reference::Mixture source() {
  return reference::Mixture{3, 4, {0.2, 0.3, 0.5},
                            {0, 0, 0, 0, 5, 5, 5, 5, -5, 5, -5, 5},
                            std::vector<double>(12, 1.0)};
}

// A model config with averaging on, so that every part of the format is exercised.
streamix::config averaged_config() { return streamix::config(3, 4).average_from(50); }

std::vector<unsigned char> save(const streamix::model& model) {
  size_t n = 0;
  EXPECT_EQ(model.snapshot_size(n), status::ok);
  std::vector<unsigned char> buffer(n);
  size_t written = 0;
  EXPECT_EQ(model.save(buffer, written), status::ok);
  EXPECT_EQ(written, n);
  return buffer;
}

void expect_identical_futures(streamix::model& a, streamix::model& b, uint64_t seed) {
  reference::Sampler sampler(source(), seed);
  float x[4];
  for (int i = 0; i < 1000; ++i) {
    sampler.draw(x);
    float la = 0.0f, lb = 0.0f;
    ASSERT_EQ(a.observe(x, &la), status::ok);
    ASSERT_EQ(b.observe(x, &lb), status::ok);
    ASSERT_EQ(std::memcmp(&la, &lb, sizeof la), 0) << "sample " << i;  // bits, NaN included
  }
  size_t n = 0;
  ASSERT_EQ(smx_model_size(&a.settings().c_config(), &n), SMX_OK);
  EXPECT_EQ(std::memcmp(a.c_model(), b.c_model(), n), 0) << "storage differs after 1,000 samples";
}

// Saves a model (averaging on) after `samples` observes, loads it, and checks that the
// snapshot of the loaded model is the same bytes and that both behave identically after.
void expect_round_trip_after(int samples, uint64_t seed) {
  streamix::model original;
  ASSERT_EQ(streamix::model::create(averaged_config(), original), status::ok);
  reference::Sampler sampler(source(), seed);
  float x[4];
  for (int i = 0; i < samples; ++i) {
    sampler.draw(x);
    ASSERT_EQ(original.observe(x), status::ok);
  }
  const std::vector<unsigned char> bytes = save(original);
  streamix::model loaded;
  ASSERT_EQ(streamix::model::load(bytes, loaded), status::ok);
  EXPECT_EQ(loaded.samples_seen(), static_cast<uint64_t>(samples));
  EXPECT_EQ(save(loaded), bytes) << "save(load(s)) == s";
  expect_identical_futures(original, loaded, seed + 1);
}

TEST(Snapshot, RoundTripBehavesIdentically) { expect_round_trip_after(500, 3); }

// Saved during the hold (20 samples after the 30 of the warm-up): the iterate is held in its
// own arrays, and both models end the hold during the shared future.
TEST(Snapshot, ModelInItsHoldRoundTrips) { expect_round_trip_after(40, 12); }

TEST(Snapshot, WarmingUpModelRoundTrips) {
  streamix::model original;
  ASSERT_EQ(streamix::model::create(averaged_config(), original), status::ok);
  reference::Sampler sampler(source(), 8);
  float x[4];
  for (int i = 0; i < 10; ++i) {  // 10 of the 30 warm-up samples
    sampler.draw(x);
    ASSERT_EQ(original.observe(x), status::ok);
  }
  streamix::model loaded;
  ASSERT_EQ(streamix::model::load(save(original), loaded), status::ok);
  EXPECT_FALSE(loaded.ready());
  expect_identical_futures(original, loaded, 9);
}

TEST(Snapshot, EveryTruncationAndBitFlipIsRejectedWithoutTouchingTheTarget) {
  streamix::model original;
  ASSERT_EQ(streamix::model::create(streamix::config(2, 3), original), status::ok);
  reference::Sampler sampler(reference::Mixture{2, 3, {0.5, 0.5}, {0, 0, 0, 3, 3, 3},
                                                std::vector<double>(6, 1.0)},
                             12);
  float x[3];
  for (int i = 0; i < 100; ++i) {
    sampler.draw(x);
    ASSERT_EQ(original.observe(x), status::ok);
  }
  const std::vector<unsigned char> bytes = save(original);
  size_t storage_bytes = 0;
  ASSERT_EQ(streamix::config(2, 3).storage_bytes(storage_bytes), status::ok);
  Aligned target(storage_bytes, 0xA5);
  const std::vector<unsigned char> pristine(target.data, target.data + target.size);
  smx_model* m = nullptr;
  for (size_t len = 0; len < bytes.size(); ++len) {
    ASSERT_EQ(smx_snapshot_load(bytes.data(), len, target.data, target.size, &m), SMX_ERR_SNAPSHOT)
        << "truncated to " << len;
  }
  std::vector<unsigned char> corrupt = bytes;
  for (size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    corrupt[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
    ASSERT_EQ(smx_snapshot_load(corrupt.data(), corrupt.size(), target.data, target.size, &m),
              SMX_ERR_SNAPSHOT)
        << "bit " << bit;
    corrupt[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
  }
  EXPECT_EQ(std::memcmp(target.data, pristine.data(), target.size), 0);
  EXPECT_EQ(m, nullptr);
  // The intact buffer loads; storage too small or misaligned is a storage error.
  EXPECT_EQ(smx_snapshot_load(bytes.data(), bytes.size(), target.data, target.size - 1, &m),
            SMX_ERR_STORAGE);
  EXPECT_EQ(smx_snapshot_load(bytes.data(), bytes.size(), target.data + 8, target.size - 8, &m),
            SMX_ERR_STORAGE);
  EXPECT_EQ(std::memcmp(target.data, pristine.data(), target.size), 0);
  EXPECT_EQ(smx_snapshot_load(bytes.data(), bytes.size(), target.data, target.size, &m), SMX_OK);
}

TEST(Snapshot, SavingIntoATooSmallBufferWritesNothing) {
  streamix::model model;
  ASSERT_EQ(streamix::model::create(streamix::config(2, 2), model), status::ok);
  size_t n = 0;
  ASSERT_EQ(model.snapshot_size(n), status::ok);
  std::vector<unsigned char> buffer(n + 16, 0xEE);  // n - 1 usable bytes, then guard bytes
  size_t written = 12345;
  EXPECT_EQ(smx_snapshot_save(model.c_model(), buffer.data(), n - 1, &written), SMX_ERR_STORAGE);
  EXPECT_EQ(written, 12345u);
  for (unsigned char b : buffer) ASSERT_EQ(b, 0xEE);
}

// CRC-32 (IEEE 802.3, reflected 0xEDB88320), written plainly, to forge valid snapshots.
uint32_t crc32(const unsigned char* p, size_t n) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int b = 0; b < 8; ++b) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void set_crc(std::vector<unsigned char>& s) {
  const uint32_t c = crc32(s.data(), s.size() - 4);
  for (int i = 0; i < 4; ++i) s[s.size() - 4 + i] = static_cast<unsigned char>(c >> (8 * i));
}

// Version 1 is the only format so far; a snapshot of any other version, older (0) or newer,
// is rejected with SMX_ERR_SNAPSHOT even with a valid CRC, and the target stays untouched.
TEST(Snapshot, OtherFormatVersionsAreRejectedCleanly) {
  streamix::model model;
  ASSERT_EQ(streamix::model::create(streamix::config(2, 2), model), status::ok);
  const std::vector<unsigned char> bytes = save(model);
  std::vector<unsigned char> check = bytes;
  set_crc(check);
  ASSERT_EQ(check, bytes) << "the test's CRC-32 matches the library's";
  size_t storage_bytes = 0;
  ASSERT_EQ(streamix::config(2, 2).storage_bytes(storage_bytes), status::ok);
  Aligned target(storage_bytes, 0x5A);
  const std::vector<unsigned char> pristine(target.data, target.data + target.size);
  for (unsigned char version : {0, 2, 255}) {
    std::vector<unsigned char> other = bytes;
    other[4] = version;
    set_crc(other);
    smx_model* m = nullptr;
    EXPECT_EQ(smx_snapshot_load(other.data(), other.size(), target.data, target.size, &m),
              SMX_ERR_SNAPSHOT) << "version " << int(version);
    EXPECT_EQ(std::memcmp(target.data, pristine.data(), target.size), 0);
  }
}

// Past the hold the iterate's means and variances are the statistics' (the model stores them
// once), so a snapshot whose iterate says otherwise is forged: rejected even with a valid CRC.
// During the hold they may differ, and the same edit loads.
TEST(Snapshot, IterateThatIsNotTheStatisticsRefreshIsRejectedPastTheHold) {
  const auto cfg = streamix::config(2, 3).init_samples(0).hold_samples(5);
  const std::vector<float> w = {0.5f, 0.5f}, m0 = {0, 0, 0, 3, 3, 3}, v0(6, 1.0f);
  const float x[3] = {0.5f, 0.0f, -0.5f};
  // Byte offset of the iterate's first mean: preamble 12, config 44, state 40, stats
  // 4 (K + 2 K D), iterate weights 4 K.
  const size_t iterate_mean = 12 + 44 + 40 + 4 * (2 + 2 * 6) + 4 * 2;
  for (int observes : {3, 10}) {  // in the hold, past it
    streamix::model model;
    ASSERT_EQ(streamix::model::create(cfg, model), status::ok);
    ASSERT_EQ(model.set_params(w, m0, v0), status::ok);
    for (int i = 0; i < observes; ++i) ASSERT_EQ(model.observe(x), status::ok);
    std::vector<unsigned char> forged = save(model);
    forged[iterate_mean + 2] ^= 0x01;  // a low mantissa bit of the iterate's mean[0][0]
    set_crc(forged);
    size_t storage_bytes = 0;
    ASSERT_EQ(cfg.storage_bytes(storage_bytes), status::ok);
    Aligned target(storage_bytes, 0x5A);
    smx_model* m = nullptr;
    const smx_status loaded =
        smx_snapshot_load(forged.data(), forged.size(), target.data, target.size, &m);
    EXPECT_EQ(loaded, observes > 5 ? SMX_ERR_SNAPSHOT : SMX_OK) << observes << " observes";
  }
}

TEST(Snapshot, FormatIsLittleEndianAndVersioned) {
  streamix::model model;
  ASSERT_EQ(streamix::model::create(streamix::config(2, 2), model), status::ok);
  const std::vector<unsigned char> bytes = save(model);
  ASSERT_GE(bytes.size(), 20u);
  EXPECT_EQ(std::memcmp(bytes.data(), "SMXS", 4), 0);
  EXPECT_EQ(bytes[4], 1);  // version 1, little-endian
  EXPECT_EQ(bytes[5] | bytes[6] | bytes[7], 0);
  EXPECT_EQ(size_t(bytes[8]) | size_t(bytes[9]) << 8, bytes.size());
  EXPECT_EQ(bytes[12], 2);  // K
  // A future version is refused, even with a correct CRC.
  std::vector<unsigned char> future = bytes;
  future[4] = 2;
  smx_config cfg;
  EXPECT_EQ(smx_snapshot_config(future.data(), future.size(), &cfg), SMX_ERR_SNAPSHOT);
  EXPECT_EQ(smx_snapshot_config(bytes.data(), bytes.size(), &cfg), SMX_OK);
  EXPECT_EQ(cfg.components, 2u);
}

}  // namespace

namespace {

std::vector<unsigned char> read_fixture(const std::string& name) {
  std::ifstream in(std::string(STREAMIX_FIXTURES) + "/snapshot/" + name, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Snapshots made on x86-64 (tests/make_snapshot_fixture.cpp) load on every architecture the
// tests run on (the aarch64 and armhf presets under QEMU included) with the same parameters,
// bit for bit, and save back to the same bytes.
TEST(CrossArchSnapshot, LoadsTheX86ModelBitForBit) {
  const std::vector<unsigned char> snap = read_fixture("model.smx");
  ASSERT_FALSE(snap.empty());
  streamix::model m;
  ASSERT_EQ(streamix::model::load(snap, m), streamix::status::ok);
  std::vector<float> w(3), mu(12), var(12);
  ASSERT_EQ(m.get_params(w, mu, var), streamix::status::ok);
  std::ifstream text(std::string(STREAMIX_FIXTURES) + "/snapshot/model_params.txt");
  for (const std::vector<float>* a : {&w, &mu, &var}) {
    for (float v : *a) {
      std::string hex;
      ASSERT_TRUE(text >> hex);
      uint32_t bits;
      std::memcpy(&bits, &v, 4);
      EXPECT_EQ(bits, std::stoul(hex, nullptr, 16)) << hex;
    }
  }
  size_t bytes = 0, written = 0;
  ASSERT_EQ(m.snapshot_size(bytes), streamix::status::ok);
  std::vector<unsigned char> again(bytes);
  ASSERT_EQ(m.save(again, written), streamix::status::ok);
  EXPECT_EQ(again, snap);
}

TEST(CrossArchSnapshot, LoadsTheX86DetectorAndSavesTheSameBytes) {
  const std::vector<unsigned char> snap = read_fixture("detector.smx");
  ASSERT_FALSE(snap.empty());
  streamix::detector d;
  ASSERT_EQ(streamix::detector::load(snap, d), streamix::status::ok);
  EXPECT_EQ(d.samples_seen(), 1000u);
  size_t bytes = 0, written = 0;
  ASSERT_EQ(d.snapshot_size(bytes), streamix::status::ok);
  std::vector<unsigned char> again(bytes);
  ASSERT_EQ(d.save(again, written), streamix::status::ok);
  EXPECT_EQ(again, snap);
  const float x[4] = {0.0f, 0.1f, 0.2f, 0.3f};
  smx_detection r{};
  ASSERT_EQ(d.detect(x, r), streamix::status::ok);
  EXPECT_TRUE(std::isfinite(r.score) && std::isfinite(r.threshold));
}

// An older detector format loads and saves as the current one, `grown` bytes longer (D = 4).
void expect_older_detector_loads(const char* fixture, unsigned char version, size_t grown) {
  const std::vector<unsigned char> old = read_fixture(fixture);
  ASSERT_FALSE(old.empty());
  ASSERT_EQ(old[4], version);  // the format version, little-endian
  streamix::detector d;
  ASSERT_EQ(streamix::detector::load(old, d), streamix::status::ok);
  EXPECT_EQ(d.samples_seen(), 1000u);
  size_t bytes = 0, written = 0;
  ASSERT_EQ(d.snapshot_size(bytes), streamix::status::ok);
  EXPECT_EQ(bytes, old.size() + grown);
  std::vector<unsigned char> now(bytes);
  ASSERT_EQ(d.save(now, written), streamix::status::ok);
  EXPECT_EQ(now[4], 3);
  streamix::detector again;
  ASSERT_EQ(streamix::detector::load(now, again), streamix::status::ok);
  // (version 1) The innovations start from the next readings: the first one sets them, none
  // is a spike.
  for (int i = 0; i < 50; ++i) {
    const float x[4] = {0.01f * i, 0.1f, 0.2f, 0.3f};
    smx_detection r{};
    ASSERT_EQ(d.detect(x, r), streamix::status::ok);
    EXPECT_TRUE(std::isfinite(r.score) && std::isfinite(r.surprise)) << i;
  }
}

TEST(CrossArchSnapshot, LoadsVersion1And2DetectorsAndSavesVersion3) {
  // Version 2 added the innovation array (D floats), version 3 the seed (2 D floats) and the
  // restarted flag (4 bytes).
  expect_older_detector_loads("detector_v1.smx", 1, 4 * 4 + 2 * 4 * 4 + 4);
  expect_older_detector_loads("detector_v2.smx", 2, 2 * 4 * 4 + 4);
}

}  // namespace
