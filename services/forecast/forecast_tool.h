/*
 * forecast_tool.h: d2ev-forecast, which loads price and carbon forecasts into
 * d2ev.forecasts:
 *   d2ev-forecast publish  --csv FILE --format agile|agile-e|carbon|nordpool|eu --region R
 *   d2ev-forecast generate --region R [--days N] [--seed S] [--follow]
 *   d2ev-forecast check    --csv FILE --format F     (validate only, no Kafka)
 */
#ifndef D2EV_FORECAST_TOOL_H
#define D2EV_FORECAST_TOOL_H

#include "d2ev/service.h"

extern const struct d2ev_service_def d2ev_forecast_publish_def;
extern const struct d2ev_service_def d2ev_forecast_generate_def;
extern const struct d2ev_service_def d2ev_forecast_check_def;

/* Dispatch on argv[1] (publish, generate, check) to d2ev_service_main.
 * Returns the exit status. */
int d2ev_forecast_main(int argc, char **argv);

#endif
