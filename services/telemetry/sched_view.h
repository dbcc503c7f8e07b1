/*
 * sched_view.h: the part of a vehicle's schedule telemetry needs, kept small:
 * its version, when it was made, and its charge windows (pure: no Kafka).
 * Telemetry reads d2ev.schedules to poll more often near window boundaries
 * and to tell a start that never flowed (zombie) or a car that keeps charging
 * while its schedule pauses it (eternal).
 *
 * Ownership: tel_sched_from() returns a malloc'd view the caller free()s.
 */
#ifndef D2EV_TEL_SCHED_VIEW_H
#define D2EV_TEL_SCHED_VIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "d2ev/events.h"

#define TEL_NO_TIME_AFTER  INT64_MAX
#define TEL_NO_TIME_BEFORE INT64_MIN

struct tel_window {
    int64_t start, end; /* [start, end), d2ev clock ms */
};

struct tel_sched {
    int64_t version;
    int64_t created_at;
    uint32_t n;
    struct tel_window w[]; /* sorted, not overlapping (the decoder checks) */
};

/* A compact copy of s's windows. Returns NULL when out of memory. */
struct tel_sched *tel_sched_from(const struct d2ev_schedule *s);

/* True when t is inside a window. NULL is never charging. */
bool tel_sched_charging_at(const struct tel_sched *s, int64_t t);

/* Start of the window containing t, or TEL_NO_TIME_BEFORE. */
int64_t tel_sched_window_start(const struct tel_sched *s, int64_t t);

/* The first window start or end after t (TEL_NO_TIME_AFTER when none) and
 * the last one at or before t (TEL_NO_TIME_BEFORE when none). */
int64_t tel_sched_next_boundary(const struct tel_sched *s, int64_t t);
int64_t tel_sched_prev_boundary(const struct tel_sched *s, int64_t t);

/* Since when the schedule has paused the car at t: the end of the last
 * window before t, or created_at when no window has ended yet. 0 when t is
 * inside a window (the car should charge). */
int64_t tel_sched_paused_since(const struct tel_sched *s, int64_t t);

#endif
