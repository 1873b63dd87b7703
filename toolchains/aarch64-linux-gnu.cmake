# 64-bit ARM Linux (ARMv8-A, NEON), Debian's g++-aarch64-linux-gnu. Target libraries come from
# Debian's multiarch packages (libgtest-dev:arm64, libbenchmark-dev:arm64 in
# /usr/lib/aarch64-linux-gnu); Highway is used header-only with static dispatch (NEON), xsimd
# is header-only. ctest runs every test under qemu-aarch64 with the cross C library; set
# QEMU_CPU (cortex-a53: NEON only; default: a CPU with SVE2) to choose the emulated CPU.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# The programs run on Debian's multiarch C library (libc6:arm64, loader in /lib), not on the cross
# toolchain's copy under /usr/aarch64-linux-gnu: with that one (`-L /usr/aarch64-linux-gnu`), QEMU 7.2
# hung in pthread_create (glibc 2.36-8cross1; the multiarch 2.36-9+deb12u14 works).
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
