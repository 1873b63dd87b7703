# Runs one command line of the CLI tests and checks its exit status and output.
#   -DCOMMAND=<arguments separated by |> -DEXPECT_EXIT=<n> -DEXPECT_OUTPUT=<regex over stdout + stderr>
#   optional -DINPUT=<file fed to stdin>
string(REPLACE "|" ";" COMMAND "${COMMAND}")
if(DEFINED INPUT)
  execute_process(COMMAND ${COMMAND} INPUT_FILE ${INPUT} RESULT_VARIABLE status
                  OUTPUT_VARIABLE out ERROR_VARIABLE err)
else()
  execute_process(COMMAND ${COMMAND} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
endif()
if(NOT status EQUAL EXPECT_EXIT)
  message(FATAL_ERROR "exit status ${status}, expected ${EXPECT_EXIT}\n${out}${err}")
endif()
if(NOT "${out}${err}" MATCHES "${EXPECT_OUTPUT}")
  message(FATAL_ERROR "output does not match '${EXPECT_OUTPUT}':\n${out}${err}")
endif()
