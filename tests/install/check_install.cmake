# Installs the build tree into a scratch prefix, runs the installed tool, then builds and runs
# two consumers of it: a CMake project using find_package(streamix CONFIG) and a C file using
# pkg-config.
# Arguments: -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -DC_COMPILER=...
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("${out}")
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "failed (${result}): ${ARGN}\n${err}")
  endif()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
execute_process(COMMAND "${prefix}/bin/streamix" --version OUTPUT_VARIABLE version RESULT_VARIABLE result)
if(NOT result EQUAL 0 OR NOT version MATCHES "^streamix [0-9]+\\.[0-9]+\\.[0-9]+ ")
  message(FATAL_ERROR "the installed streamix --version: ${result} '${version}'")
endif()
if(NOT EXISTS "${prefix}/bin/streamix_plot.py")
  message(FATAL_ERROR "streamix_plot.py is not installed")
endif()
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/consumer" -B "${WORK_DIR}/build" -G Ninja
    "-DCMAKE_PREFIX_PATH=${prefix}")
run(${CMAKE_COMMAND} --build "${WORK_DIR}/build")
run("${WORK_DIR}/build/consumer")

file(GLOB_RECURSE pc_files "${prefix}/*/streamix.pc")
list(GET pc_files 0 pc_file)
get_filename_component(pc_dir "${pc_file}" DIRECTORY)
execute_process(COMMAND ${CMAKE_COMMAND} -E env "PKG_CONFIG_PATH=${pc_dir}"
                        pkg-config --cflags --libs --static streamix
                OUTPUT_VARIABLE flags RESULT_VARIABLE result OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "pkg-config does not find streamix in ${pc_dir}")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
run("${C_COMPILER}" -std=c99 "${SOURCE_DIR}/consumer/main.c" ${flags} -o "${WORK_DIR}/c_consumer")
run("${WORK_DIR}/c_consumer")
