# install.cmake: `cmake --install` rules for the d2ev runtime, used by
# deploy/build.sh and so by the container image.
#
#   <prefix>/bin/d2ev-*                      every executable target named d2ev-*
#   <prefix>/lib/d2ev/adapters/*.so          every library target under oem_adapters/
#
# Targets are found, not listed, so a new service or adapter is installed
# without editing this file. Include it from the root CMakeLists.txt:
#     include(deploy/install.cmake)
# or pass -DCMAKE_PROJECT_INCLUDE=<src>/deploy/install.cmake (what
# deploy/build.sh does, so it works before that line exists). Either way the
# rules are generated once, at the end of the top-level directory, when every
# target exists.
include_guard(GLOBAL)

set(D2EV_INSTALL_ADAPTER_DIR "lib/d2ev/adapters" CACHE STRING
    "Where adapters are installed, relative to CMAKE_INSTALL_PREFIX (the image sets D2EV_ADAPTER_DIR to match)")

function(_d2ev_collect_targets dir out)
  get_property(targets DIRECTORY "${dir}" PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY "${dir}" PROPERTY SUBDIRECTORIES)
  foreach(sub ${subdirs})
    _d2ev_collect_targets("${sub}" sub_targets)
    list(APPEND targets ${sub_targets})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

function(_d2ev_install_rules)
  _d2ev_collect_targets("${CMAKE_SOURCE_DIR}" all_targets)
  set(programs "")
  set(adapters "")
  foreach(t ${all_targets})
    get_target_property(type ${t} TYPE)
    get_target_property(src ${t} SOURCE_DIR)
    if(type STREQUAL "EXECUTABLE" AND t MATCHES "^d2ev-")
      list(APPEND programs ${t})
    elseif((type STREQUAL "MODULE_LIBRARY" OR type STREQUAL "SHARED_LIBRARY")
           AND src MATCHES "^${CMAKE_SOURCE_DIR}/oem_adapters/")
      list(APPEND adapters ${t})
    endif()
  endforeach()
  if(programs)
    install(TARGETS ${programs} RUNTIME DESTINATION bin COMPONENT runtime)
  endif()
  if(adapters)
    install(TARGETS ${adapters}
            LIBRARY DESTINATION "${D2EV_INSTALL_ADAPTER_DIR}" COMPONENT runtime
            RUNTIME DESTINATION "${D2EV_INSTALL_ADAPTER_DIR}" COMPONENT runtime)
  endif()
  list(JOIN programs " " p)
  list(JOIN adapters " " a)
  message(STATUS "d2ev install: programs: ${p}")
  message(STATUS "d2ev install: adapters: ${a}")
endfunction()

# Run after the whole top-level CMakeLists.txt, whenever this file is included.
cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL _d2ev_install_rules)
