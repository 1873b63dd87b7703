#!/usr/bin/env bash
# streamix quick start on Debian 12: installs whatever build and test dependency is missing
# (Debian packages only), then
#   quickstart.sh demo   builds and runs the demo: `streamix detect` over the NAB stream, and
#                        its plot (preset host)
#   quickstart.sh test   builds and runs every test, for every preset listed below (about 25
#                        minutes on 2 cores: the ARM runs under QEMU take 40 % of it,
#                        tests/README.md#test-time)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

# Everything the build, the tests, the reliability checks and the fixture scripts use.
# libarmadillo-dev: the benchmark's batch-GMM peer (Armadillo's gmm_diag), so that the
# README's performance table is reproducible from a fresh clone.
# pybind11-dev, python3-dev, python3-pytest: the Python package and its tests (preset host);
# dpkg-dev: dpkg-shlibdeps, for the Debian package's dependencies (cpack -G DEB).
# libmosquitto-dev, nlohmann-json3-dev: `streamix serve` (MQTT client, JSON payloads);
# mosquitto, python3-paho-mqtt, openssl: the broker its tests start on a loopback port,
# their publishers, the certificates of the TLS test.
packages=(cmake ninja-build g++ gcc pkgconf libgtest-dev libbenchmark-dev libhwy-dev
          libmosquitto-dev nlohmann-json3-dev mosquitto python3-paho-mqtt openssl
          libxsimd-dev libarmadillo-dev python3-sklearn python3-numpy python3-matplotlib
          pybind11-dev python3-dev python3-pytest dpkg-dev clang
          libclang-rt-14-dev valgrind gcc-arm-none-eabi libnewlib-arm-none-eabi
          libstdc++-arm-none-eabi-newlib qemu-system-arm)
# The ARM Linux builds (tests only): cross compilers, qemu-user, and Debian's multiarch
# GoogleTest, Google Benchmark and C library for arm64 and armhf.
cross_packages=(g++-aarch64-linux-gnu g++-arm-linux-gnueabihf qemu-user
                libc6:arm64 libgtest-dev:arm64 libbenchmark-dev:arm64
                libc6:armhf libgtest-dev:armhf libbenchmark-dev:armhf)
foreign_architectures=(arm64 armhf)
# host: every backend and Highway target, memcheck, soak, the CLI; host-scalar: no SIMD
# dependency; sanitize: ASan + UBSan; tsan: the concurrency contract; fuzz: libFuzzer runs;
# cortex-m4: the bare-metal firmware example under qemu-system-arm; aarch64 and armhf: the
# whole suite cross-compiled, under qemu-user.
build_presets=(host host-scalar sanitize tsan fuzz cortex-m4 aarch64 armhf)
# ctest presets per build preset (default: the preset of the same name). aarch64 runs as a
# NEON-only Cortex-A53, then its kernel, API and snapshot tests on QEMU's default CPU (SVE2).
declare -A test_presets=([aarch64]="aarch64 aarch64-max-cpu")

# install_missing [cross]: the packages above; with "cross", the ARM Linux ones too.
install_missing() {
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  local wanted=("${packages[@]}") architectures=()
  if [ "${1:-}" = cross ]; then
    wanted+=("${cross_packages[@]}")
    architectures=("${foreign_architectures[@]}")
  fi
  local added=0 arch
  for arch in "${architectures[@]}"; do
    if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
      "${sudo[@]}" dpkg --add-architecture "$arch"
      added=1
    fi
  done
  # A name without ":arch" means the native (or arch-independent) package: with arm64 and
  # armhf copies installed too, dpkg-query lists every architecture's.
  local native missing=()
  native=$(dpkg --print-architecture)
  for p in "${wanted[@]}"; do
    local wanted_arch="(${native}|all)"
    [[ "$p" == *:* ]] && wanted_arch="${p#*:}"
    local status
    status=$(dpkg-query -W -f='${Status} ${Architecture}\n' "${p%%:*}" 2>/dev/null || true)
    grep -Eqx "install ok installed ${wanted_arch}" <<< "$status" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && [ $added -eq 0 ] && return 0
  echo "quickstart: installing ${missing[*]}"
  # Mirrors are sometimes caught mid-sync ("File has unexpected size"): retry. One index may
  # stay broken for hours (seen: bookworm-security's armhf list); what is needed usually
  # installs from the others, so a failed update is a warning and the install decides.
  local attempt
  for attempt in 1 2 3; do
    "${sudo[@]}" apt-get update -qq && break
    if [ "$attempt" -eq 3 ]; then
      echo "quickstart: apt-get update reported errors; trying the install anyway" >&2
    else
      echo "quickstart: apt-get update failed, retrying in 20 s" >&2
      sleep 20
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
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
    install_missing cross
    for preset in "${build_presets[@]}"; do
      echo "== preset ${preset} (at ${SECONDS} s)"
      cmake --preset "${preset}" > /dev/null
      cmake --build --preset "${preset}"
      for tests in ${test_presets[$preset]:-$preset}; do
        ctest --preset "${tests}"
      done
    done
    echo "== every preset passed in ${SECONDS} s"
    ;;
  *)
    echo "usage: $0 demo|test" >&2
    exit 2
    ;;
esac
