// Learns two clusters through the installed C++ API; exits 0 if the model became ready.
#include <cstdio>

#include "streamix/streamix.hpp"

int main() {
  streamix::fixed_model<2, 1> model;
  for (int i = 0; i < 100; ++i) {
    const float x[1] = {i % 2 ? 5.0f + 0.01f * i : -5.0f - 0.01f * i};
    if (model.observe(x) != streamix::status::ok) return 1;
  }
  std::printf("consumer: ready=%d samples=%llu\n", model.ready() ? 1 : 0,
              static_cast<unsigned long long>(model.samples_seen()));
  return model.ready() ? 0 : 1;
}
