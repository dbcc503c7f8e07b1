/*
 * export_report.h: the daily maintenance report, computed from the exported
 * files of one UTC day (never from Kafka), for d2ev-exporter's `report`
 * command and for d2ev-api's GET /v1/reports/daily/{date}.
 *
 * The report ranks vehicles and OEMs by commands that did not take effect
 * (dispatch `failed` and `alert`), then zombie and eternal sessions, then
 * OEM rate-limit hits, and sums the energy, cost and carbon of the day's
 * sessions and the planned savings and energy shifted of the schedules whose
 * ready-by time falls on the day. docs/analytics.md describes every field.
 *
 * Link: target_link_libraries(<target> PRIVATE d2ev_exporter).
 * Thread-safety: the functions share no state; call them from any thread.
 * They only read the export directory, except d2ev_export_report_write.
 */
#ifndef D2EV_EXPORT_REPORT_H
#define D2EV_EXPORT_REPORT_H

#include <jansson.h>

#include "d2ev/error.h"

/* Build the report of `date` ("YYYY-MM-DD") from the files under
 * export_dir/yyyy/mm/dd (and the previous day's schedule files, for plans
 * made the evening before). Strings are borrowed for the call.
 * Returns a new reference the caller json_decref()s, or NULL with err:
 * D2EV_ERR_INVALID for a malformed date, D2EV_ERR_NOT_FOUND when the day has
 * no exported data, D2EV_ERR_IO when a file cannot be read. */
json_t *d2ev_export_report_build(const char *export_dir, const char *date, struct d2ev_err *err);

/* The report to serve: <day>/report.json when it is at least as new as the
 * day's index.json (the exporter writes it after the nightly flush), else
 * built now with d2ev_export_report_build (nothing is written). Same return
 * and errors. */
json_t *d2ev_export_report_get(const char *export_dir, const char *date, struct d2ev_err *err);

/* Build the report and write it atomically to <day>/report.json. When out is
 * not NULL it receives the report (a new reference the caller json_decref()s).
 * Returns 0 or the error of the build or of the write (D2EV_ERR_IO). */
int d2ev_export_report_write(const char *export_dir, const char *date, json_t **out,
                             struct d2ev_err *err);

#endif
