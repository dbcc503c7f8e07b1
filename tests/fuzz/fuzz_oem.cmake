# The OEM adapters' response parsers (fuzz_oem.c), one harness per adapter. The
# adapter and the kit are compiled into the harness rather than dlopen'ed, so the
# libFuzzer build instruments them for coverage; the adapter is still reached only
# through its ABI entry, with the adapter tests' fake host table.
foreach(oem smartcar tesla enode)
  d2ev_fuzz_target(oem_${oem}
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_oem.c
            ${CMAKE_SOURCE_DIR}/oem_adapters/${oem}/${oem}.c
            ${CMAKE_SOURCE_DIR}/oem_adapters/kit/kit.c
    LIBS d2ev_adapter_fixture)
endforeach()
