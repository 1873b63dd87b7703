// Test main: runs the suite on the kernels named by STREAMIX_KERNELS ("scalar", "xsimd",
// "highway", "highway:AVX2", ...; unset: the build's default). Kernels this machine cannot
// run make every test skip, with a line ctest recognizes as a skip.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "streamix/streamix.h"

namespace {

class SkipEverything : public ::testing::Environment {
 public:
  explicit SkipEverything(std::string why) : why_(std::move(why)) {}
  void SetUp() override { GTEST_SKIP() << why_; }

 private:
  std::string why_;
};

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const char* kernels = std::getenv("STREAMIX_KERNELS");
  if (kernels != nullptr && *kernels != '\0' && smx_select_kernels(kernels) != SMX_OK) {
    const std::string why = std::string("kernels '") + kernels + "' not available here";
    std::printf("streamix: %s: skipping\n", why.c_str());
    ::testing::AddGlobalTestEnvironment(new SkipEverything(why));
  } else {
    std::printf("streamix kernels: %s (%s)\n", smx_backend(), smx_backend_target());
  }
  return RUN_ALL_TESTS();
}
