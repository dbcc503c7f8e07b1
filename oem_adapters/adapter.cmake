# d2ev_oem_adapter(<name> SOURCES <files...> [OUTPUT_DIR <dir>])
#
# Builds d2ev_oem_<name>.so, an OEM adapter plugin (see include/d2ev/oem_adapter.h):
#   - only the entry function is exported (-fvisibility=hidden);
#   - every symbol must resolve at link time (-Wl,-z,defs): the adapter reaches the
#     host through the function table it is handed, never through host symbols;
#   - it links the adapter kit (statically), jansson and libc, nothing of d2ev_common.
# The .so lands in OUTPUT_DIR, by default ${D2EV_ADAPTER_OUTPUT_DIR} (build/adapters).
include_guard(GLOBAL)

function(d2ev_oem_adapter name)
  cmake_parse_arguments(A "" "OUTPUT_DIR" "SOURCES" ${ARGN})
  if(NOT A_OUTPUT_DIR)
    set(A_OUTPUT_DIR ${D2EV_ADAPTER_OUTPUT_DIR})
  endif()
  set(target d2ev_oem_${name})
  add_library(${target} MODULE ${A_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME d2ev_oem_${name}
    LIBRARY_OUTPUT_DIRECTORY ${A_OUTPUT_DIR}
    C_VISIBILITY_PRESET hidden)
  target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR}/include)
  target_link_options(${target} PRIVATE -Wl,-z,defs)
  target_link_libraries(${target} PRIVATE d2ev_oem_kit PkgConfig::JANSSON m)
endfunction()
