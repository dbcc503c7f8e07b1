/* telemetry.h: d2ev-telemetry, the Kafka service around core.h (see telemetry.c). */
#ifndef D2EV_TELEMETRY_H
#define D2EV_TELEMETRY_H

#include "d2ev/service.h"

extern const struct d2ev_service_def d2ev_telemetry_def;

#endif
