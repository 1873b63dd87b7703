# 32-bit ARM Linux, ARMv7-A with NEON (VFPv4), hard float: Debian's g++-arm-linux-gnueabihf.
# Target libraries come from Debian's multiarch packages (libgtest-dev:armhf,
# libbenchmark-dev:armhf in /usr/lib/arm-linux-gnueabihf); Highway is used header-only with
# static dispatch (NEON), xsimd is header-only. ctest runs every test under qemu-arm.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)
set(CMAKE_LIBRARY_ARCHITECTURE arm-linux-gnueabihf)

# Debian's armhf baseline is ARMv7 + VFPv3-D16 without NEON; these flags make NEON the
# baseline, which Highway's static target and xsimd both need (DESIGN.md).
set(STREAMIX_ARMV7_FLAGS "-march=armv7-a -mfpu=neon-vfpv4 -mfloat-abi=hard -mfp16-format=ieee")
set(CMAKE_C_FLAGS_INIT "${STREAMIX_ARMV7_FLAGS}")
set(CMAKE_CXX_FLAGS_INIT "${STREAMIX_ARMV7_FLAGS}")

# The programs run on Debian's multiarch C library (libc6:armhf, loader in /lib), not on the cross
# toolchain's copy under /usr/arm-linux-gnueabihf: with that one (`-L /usr/arm-linux-gnueabihf`), QEMU 7.2
# crashed in pthread_create (glibc 2.36-8cross1; the multiarch 2.36-9+deb12u14 works).
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-arm)

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
