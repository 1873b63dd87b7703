// Writes the committed seed corpora: snapshots of real models (ready, warming up, with
// averaging) and detectors for fuzz_snapshot, and call sequences for fuzz_api.
//   make_seeds <corpus dir>   (writes <dir>/snapshot/* and <dir>/api/*)
#include <cstdio>
#include <string>
#include <vector>

#include "streamix/streamix.hpp"

namespace {

void write(const std::string& path, const std::vector<unsigned char>& bytes) {
  if (std::FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  }
}

std::vector<unsigned char> snapshot_of(const streamix::config& cfg, int samples) {
  streamix::model model;
  if (streamix::model::create(cfg, model) != streamix::status::ok) return {};
  for (int i = 0; i < samples; ++i) {
    float x[3];
    for (int d = 0; d < 3; ++d) x[d] = float((i * 7 + d * 5) % 11) * (i % 2 ? 1.0f : -1.0f);
    (void)model.observe(streamix::span<const float>(x, model.features()));
  }
  size_t n = 0;
  (void)model.snapshot_size(n);
  std::vector<unsigned char> bytes(n);
  size_t written = 0;
  (void)model.save(bytes, written);
  return bytes;
}

// (glitch: the first reading, which the third restarts the stream after)
std::vector<unsigned char> detector_snapshot_of(uint32_t views, int samples, bool glitch = false) {
  streamix::detector_config cfg(2, 3);
  cfg.views(views);
  cfg.model(cfg.model().init_samples(20));
  streamix::detector det;
  if (streamix::detector::create(cfg, det) != streamix::status::ok) return {};
  smx_detection d{};
  for (int i = 0; i < samples; ++i) {
    float x[3];
    for (int j = 0; j < 3; ++j) x[j] = float((i * 7 + j * 5) % 11) * (i % 2 ? 1.0f : -1.0f);
    if (glitch && i == 0) x[0] = 1e10f;
    (void)det.detect(x, d);
  }
  size_t n = 0, written = 0;
  (void)det.snapshot_size(n);
  std::vector<unsigned char> bytes(n);
  (void)det.save(bytes, written);
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string dir = argv[1];
  write(dir + "/snapshot/ready", snapshot_of(streamix::config(2, 3), 200));
  write(dir + "/snapshot/warming_up", snapshot_of(streamix::config(3, 2), 7));
  write(dir + "/snapshot/averaged", snapshot_of(streamix::config(2, 1).average_from(5), 300));
  // format 2: mini-batches of 8, five samples pending
  write(dir + "/snapshot/minibatch_pending_v2",
        snapshot_of(streamix::config(2, 3).batch_size(8).average_from(3), 205));
  // (detector format 3; the corpus keeps seeds of formats 1, unsuffixed, and 2)
  write(dir + "/snapshot/detector_ready_v3", detector_snapshot_of(SMX_VIEW_LEVEL | SMX_VIEW_RESIDUAL, 300));
  write(dir + "/snapshot/detector_warming_up_v3", detector_snapshot_of(SMX_VIEW_LEVEL, 5));
  write(dir + "/snapshot/detector_seeded_v3", detector_snapshot_of(SMX_VIEW_LEVEL | SMX_VIEW_DELTA, 2));
  write(dir + "/snapshot/detector_restarted_v3", detector_snapshot_of(SMX_VIEW_LEVEL, 4, true));
  // fuzz_api: kernels, K, D, init_samples, average_from, raw-field mask, then calls.
  write(dir + "/api/burst_then_calls", {0, 2, 2, 8, 0, 0, 7, 3, 7, 9, 1, 10, 20, 30, 40, 5, 2, 5, 6});
  write(dir + "/api/set_params", {1, 1, 1, 0, 0, 0, 3, 50, 8, 60, 8, 10, 16, 10, 16, 10, 1, 10, 2, 4});
  write(dir + "/api/raw_config", {2, 3, 3, 5, 1, 31, 0, 0, 0, 0x3f, 0, 0, 0x80, 0x3f, 0, 0, 0, 0, 7, 1});
  return 0;
}
