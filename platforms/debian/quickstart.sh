#!/usr/bin/env bash
# streamix quick start on Debian 12: installs whatever build and test dependency is missing
# (Debian packages only), then
#   quickstart.sh demo   builds and runs the NAB demo (preset host)
#   quickstart.sh test   builds and runs every test, for every preset listed below (a few
#                        minutes: the sanitizer builds and the fuzz runs take most of it)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

# Everything the build, the tests, the reliability checks and the fixture scripts use.
packages=(cmake ninja-build g++ gcc pkgconf libgtest-dev libbenchmark-dev libhwy-dev
          libxsimd-dev python3-sklearn python3-numpy python3-matplotlib clang libclang-rt-14-dev valgrind
          gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm)
# host: every backend and Highway target, memcheck, soak; host-scalar: no SIMD dependency;
# sanitize: ASan + UBSan; tsan: the concurrency contract; fuzz: libFuzzer runs;
# cortex-m4: the bare-metal firmware example under qemu-system-arm.
test_presets=(host host-scalar sanitize tsan fuzz cortex-m4)

install_missing() {
  local missing=()
  for p in "${packages[@]}"; do
    local status
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "quickstart: installing ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  # Mirrors are sometimes caught mid-sync ("File has unexpected size"): retry before failing.
  local attempt
  for attempt in 1 2 3; do
    "${sudo[@]}" apt-get update -qq && break
    [ "$attempt" -eq 3 ] && { echo "quickstart: apt-get update failed" >&2; return 1; }
    echo "quickstart: apt-get update failed, retrying in 20 s" >&2
    sleep 20
  done
  for attempt in 1 2 3; do
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" > /dev/null && return 0
    echo "quickstart: apt-get install failed, retrying in 20 s" >&2
    sleep 20
  done
  return 1
}

case "${1:-}" in
  demo)
    install_missing
    cmake --preset host > /dev/null
    cmake --build --preset host --target demo
    ;;
  test)
    install_missing
    for preset in "${test_presets[@]}"; do
      echo "== preset ${preset}"
      cmake --preset "${preset}" > /dev/null
      cmake --build --preset "${preset}"
      ctest --preset "${preset}"
    done
    ;;
  *)
    echo "usage: $0 demo|test" >&2
    exit 2
    ;;
esac
