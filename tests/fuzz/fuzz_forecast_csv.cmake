# The forecast CSV reader (fuzz_forecast_csv.c), every format. forecast_csv.c is
# compiled into the harness so the libFuzzer build instruments it; d2ev_forecast
# gives its header (its own copy of the reader is then never pulled in).
d2ev_fuzz_target(forecast_csv
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_forecast_csv.c
          ${CMAKE_SOURCE_DIR}/services/forecast/forecast_csv.c
  LIBS d2ev_forecast)
