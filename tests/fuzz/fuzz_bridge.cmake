# The bridge's request parser: routes, signature headers, bodies (fuzz_bridge.c).
d2ev_fuzz_target(bridge SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_bridge.c LIBS d2ev_bridge)
