# Bare-metal Cortex-M4F (hard float), Debian's gcc-arm-none-eabi with newlib-nano. The
# library builds with the scalar backend only (no Highway, no xsimd on bare metal), and the
# firmware example under platforms/cortex-m4/ runs in qemu-system-arm (MPS2 AN386 board,
# semihosting for output and exit status): ctest uses it as the emulator.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_CXX_COMPILER arm-none-eabi-g++)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(STREAMIX_CORTEX_M4_FLAGS "-mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard -mthumb -ffunction-sections -fdata-sections")
set(CMAKE_C_FLAGS_INIT "${STREAMIX_CORTEX_M4_FLAGS}")
set(CMAKE_CXX_FLAGS_INIT "${STREAMIX_CORTEX_M4_FLAGS} -fno-exceptions -fno-rtti -fno-threadsafe-statics")
set(CMAKE_EXE_LINKER_FLAGS_INIT "--specs=nano.specs --specs=nosys.specs -nostartfiles -Wl,--gc-sections")

set(CMAKE_CROSSCOMPILING_EMULATOR qemu-system-arm -M mps2-an386 -nographic -monitor none
    -serial none -semihosting-config enable=on,target=native -kernel)

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
