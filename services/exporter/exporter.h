/*
 * exporter.h: d2ev-exporter, the analytics export (see docs/analytics.md).
 *
 *   d2ev-exporter                      consume d2ev.sessions, d2ev.dispatch,
 *                                      d2ev.schedules and d2ev.telemetry and
 *                                      write day-partitioned gzip NDJSON files
 *   d2ev-exporter report --date=D      write <dir>/yyyy/mm/dd/report.json from
 *                                      the exported files and print it
 */
#ifndef D2EV_EXPORTER_H
#define D2EV_EXPORTER_H

#include "d2ev/service.h"

extern const struct d2ev_service_def d2ev_exporter_def;
extern const struct d2ev_service_def d2ev_exporter_report_def;

/* Dispatch on argv[1] ("report", or the service) to d2ev_service_main.
 * Returns the exit status. */
int d2ev_exporter_main(int argc, char **argv);

#endif
