/*
 * IANA time zones without libc time zone state.
 *
 * Drivers give ready-by times as local wall-clock times in their IANA zone
 * ("Europe/London"). setenv("TZ") + localtime() is process-global and not
 * thread-safe, so d2ev reads the compiled zone files (TZif, RFC 8536) from
 * the zoneinfo directory itself: the transition table, and the POSIX TZ rule
 * in the file's footer for instants after the table ends.
 *
 * The zoneinfo directory is $D2EV_ZONEINFO, else $TZDIR, else
 * /usr/share/zoneinfo. Leap-second ("right/...") zones are refused: d2ev time
 * is POSIX time.
 *
 * Times are ms since the epoch (UTC). A "local" time is the wall-clock reading
 * expressed as if it were UTC: local_ms = utc_ms + offset_s * 1000, so
 * d2ev_civil_from_days(floor(local_ms / 86400000)) is the local date.
 *
 * Thread-safety: a loaded struct d2ev_tz is immutable and may be read from any
 * thread. d2ev_tz_get() is thread-safe.
 */
#ifndef D2EV_TZ_H
#define D2EV_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/error.h"

#define D2EV_TZ_NAME_MAX 64

struct d2ev_tz;

/* Check a zone name's syntax only (no file access): 1..64 bytes of
 * [A-Za-z0-9_+-/], no empty, "." or ".." component, no leading "/", not a
 * "right/" or "posix/" alias tree. Returns 0 or D2EV_ERR_INVALID. */
int d2ev_tz_name_check(const char *name, struct d2ev_err *err);

/* Load zone `name` from the zoneinfo directory. Returns a new zone the caller
 * frees with d2ev_tz_destroy(), or NULL with err set (D2EV_ERR_INVALID for a
 * bad name or a file that is not a valid TZif zone, D2EV_ERR_NOT_FOUND when
 * there is no such zone). */
struct d2ev_tz *d2ev_tz_load(const char *name, struct d2ev_err *err);

/* Parse TZif bytes (borrowed for the call). name is copied. Returns a new
 * zone (free with d2ev_tz_destroy) or NULL with err set. */
struct d2ev_tz *d2ev_tz_parse(const void *buf, size_t len, const char *name, struct d2ev_err *err);

/* Build a zone from a POSIX TZ rule alone, e.g. "CET-1CEST,M3.5.0,M10.5.0/3".
 * Returns a new zone (free with d2ev_tz_destroy) or NULL with err set. */
struct d2ev_tz *d2ev_tz_from_posix(const char *rule, struct d2ev_err *err);

/* Free a zone. NULL is a no-op. */
void d2ev_tz_destroy(struct d2ev_tz *tz);

/* A process-wide cache of loaded zones: returns a BORROWED zone that stays
 * valid until process exit (never free it), or NULL with err set. Failed
 * look-ups are not cached. Thread-safe. */
const struct d2ev_tz *d2ev_tz_get(const char *name, struct d2ev_err *err);

/* True when `name` is a loadable zone (uses and fills the cache). err says
 * why not (may be NULL). */
bool d2ev_tz_valid(const char *name, struct d2ev_err *err);

/* The zone's name (borrowed from the zone). */
const char *d2ev_tz_name(const struct d2ev_tz *tz);

/* UTC offset in seconds (east positive) in force at utc_ms; *is_dst (may be
 * NULL) says whether it is daylight-saving time. */
int32_t d2ev_tz_offset(const struct d2ev_tz *tz, int64_t utc_ms, bool *is_dst);

/* Wall-clock time at utc_ms, as local ms (see above). */
int64_t d2ev_tz_to_local(const struct d2ev_tz *tz, int64_t utc_ms);

/* How a local time maps to UTC. */
enum d2ev_tz_local_kind {
    D2EV_TZ_UNIQUE = 0, /* exactly one instant */
    D2EV_TZ_FOLD,       /* two instants (clocks went back); see `later` */
    D2EV_TZ_GAP,        /* no instant (clocks went forward) */
};

/* Convert a local wall-clock time to UTC. In a fold, `later` picks the
 * second occurrence (standard time after a fall-back) instead of the first.
 * In a gap the result is the instant the clocks jumped (the first instant
 * whose wall-clock reading is later than local_ms). Returns the kind and sets
 * *utc_ms. */
enum d2ev_tz_local_kind d2ev_tz_from_local(const struct d2ev_tz *tz, int64_t local_ms, bool later,
                                           int64_t *utc_ms);

/* Number of wall-clock-independent hours in the local calendar day `days`
 * (days since 1970-01-01): 23, 24 or 25 around DST changes (as ms). */
int64_t d2ev_tz_day_length_ms(const struct d2ev_tz *tz, int64_t days);

/* Weekday of a day number: 0 = Monday ... 6 = Sunday. */
int d2ev_weekday(int64_t days);

/* floor(a / b) for b > 0. */
int64_t d2ev_floor_div(int64_t a, int64_t b);

#endif
