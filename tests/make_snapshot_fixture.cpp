// Writes the cross-architecture snapshot fixture (run on x86-64; the files are committed):
//   make_snapshot_fixture <dir>  ->  <dir>/model.smx, <dir>/model_params.txt, <dir>/detector.smx
// model_params.txt holds the loaded model's parameters as IEEE-754 bit patterns (hex), one
// line per array: the ARM test runs load the snapshots and must reproduce them bit for bit.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "reference.h"
#include "streamix/streamix.hpp"

namespace {

bool write(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string dir = argv[1];
  reference::Mixture truth{3, 4, {0.5, 0.3, 0.2}, {}, {}};
  for (int i = 0; i < 12; ++i) {
    truth.mean.push_back((i / 4) * 4.0 - 4.0 + 0.1 * (i % 4));
    truth.variance.push_back(0.5 + 0.1 * (i % 3));
  }
  reference::Sampler sampler(truth, 2026);
  streamix::model model;
  if (streamix::model::create(streamix::config(3, 4).average_from(10), model) != streamix::status::ok)
    return 1;
  float x[4];
  for (int i = 0; i < 3000; ++i) sampler.draw(x), (void)model.observe(x);
  size_t bytes = 0, written = 0;
  (void)model.snapshot_size(bytes);
  std::vector<unsigned char> snap(bytes);
  if (model.save(snap, written) != streamix::status::ok || !write(dir + "/model.smx", snap)) return 1;

  std::vector<float> w(3), mu(12), var(12);
  if (model.get_params(w, mu, var) != streamix::status::ok) return 1;
  std::FILE* f = std::fopen((dir + "/model_params.txt").c_str(), "w");
  if (!f) return 1;
  for (const std::vector<float>* a : {&w, &mu, &var}) {
    for (float v : *a) {
      uint32_t b;
      std::memcpy(&b, &v, 4);
      std::fprintf(f, "%08x ", b);
    }
    std::fprintf(f, "\n");
  }
  std::fclose(f);

  streamix::detector det;
  streamix::detector_config dc(2, 4);
  dc.views(SMX_VIEW_LEVEL | SMX_VIEW_RESIDUAL);
  if (streamix::detector::create(dc, det) != streamix::status::ok) return 1;
  smx_detection d{};
  for (int i = 0; i < 1000; ++i) sampler.draw(x), (void)det.detect(x, d);
  (void)det.snapshot_size(bytes);
  snap.assign(bytes, 0);
  if (det.save(snap, written) != streamix::status::ok || !write(dir + "/detector.smx", snap)) return 1;
  return 0;
}
