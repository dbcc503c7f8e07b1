# Regenerate docs/configuration.md into OUT and compare with the checked-in copy.
execute_process(COMMAND bash ${SRC}/scripts/gen-config-docs.sh ${BIN} ${OUT}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gen-config-docs.sh failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${OUT} ${SRC}/docs/configuration.md
                RESULT_VARIABLE diff)
if(NOT diff EQUAL 0)
  message(FATAL_ERROR "docs/configuration.md is stale: run scripts/gen-config-docs.sh <build>/bin")
endif()
