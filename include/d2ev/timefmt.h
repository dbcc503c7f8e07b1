/*
 * RFC 3339 formatting and parsing for timestamps in events and logs.
 * Pure functions, thread-safe, no allocation.
 */
#ifndef D2EV_TIMEFMT_H
#define D2EV_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#include "d2ev/error.h"

#define D2EV_TIME_STR_MAX 32

/* Write ms since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC) into buf
 * (at least D2EV_TIME_STR_MAX bytes). Returns buf. */
char *d2ev_time_format(int64_t ms, char *buf);

/* Parse an RFC 3339 date-time ("2026-11-21T07:30:00Z",
 * "2026-11-21T07:30:00.250+01:00", lower-case t/z and a space separator are
 * accepted). Fractions beyond milliseconds are truncated. Years 1970..9999.
 * Returns 0 and sets *ms, or D2EV_ERR_INVALID with a message. */
int d2ev_time_parse(const char *s, int64_t *ms, struct d2ev_err *err);

/* Days since 1970-01-01 for a proleptic Gregorian civil date (any year). */
int64_t d2ev_days_from_civil(int64_t y, unsigned m, unsigned d);

/* Inverse of d2ev_days_from_civil. */
void d2ev_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif
