/*
 * The one clock every d2ev process reads time through.
 *
 * Three modes:
 *  - real:   wall-clock UTC (the default);
 *  - scaled: sim = start + (real_now - origin) * speed. Every process started
 *            with the same D2EV_CLOCK_ORIGIN / D2EV_CLOCK_START / D2EV_CLOCK_SPEED
 *            agrees on the simulated time, so a night passes in minutes in the
 *            demo and the tests (the OEM simulator included);
 *  - manual: time only moves when a test calls d2ev_clock_set / _advance.
 *
 * All times are milliseconds since the Unix epoch (UTC), as int64_t.
 * The clock is process-global and thread-safe; configure it once at start-up.
 */
#ifndef D2EV_CLOCK_H
#define D2EV_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "d2ev/error.h"

enum d2ev_clock_mode { D2EV_CLOCK_REAL, D2EV_CLOCK_SCALED, D2EV_CLOCK_MANUAL };

/* Current time in ms since the epoch, on the configured clock. */
int64_t d2ev_clock_now_ms(void);

/* Real monotonic milliseconds, for timeouts and latency measurement only.
 * Never scaled. */
int64_t d2ev_clock_mono_ms(void);

/* Real wall-clock milliseconds since the epoch. Never scaled. */
int64_t d2ev_clock_real_ms(void);

/* Use the real clock. */
void d2ev_clock_use_real(void);

/* Use a scaled clock: at real time origin_ms the simulated time is start_ms,
 * and it runs speed times faster than real time. speed must be in (0, 100000].
 * Returns 0 or D2EV_ERR_INVALID. */
int d2ev_clock_use_scaled(int64_t origin_ms, int64_t start_ms, double speed, struct d2ev_err *err);

/* Configure from text values, as given by the environment:
 *   speed  "1" means real time; NULL or empty = 1.
 *   origin RFC 3339 time or integer epoch ms; NULL = now (this process only!).
 *   start  RFC 3339 time or integer epoch ms; NULL = origin.
 * speed == 1 and start == origin selects the real clock. */
int d2ev_clock_configure(const char *speed, const char *origin, const char *start,
                         struct d2ev_err *err);

/* Freeze the clock at now_ms (tests). */
void d2ev_clock_set_manual(int64_t now_ms);

/* Move a manual clock forward by delta_ms (tests). No effect in other modes. */
void d2ev_clock_advance_ms(int64_t delta_ms);

enum d2ev_clock_mode d2ev_clock_mode(void);

/* Speed factor (1 for real and manual). */
double d2ev_clock_speed(void);

/* Convert a simulated duration to real milliseconds (rounded up, >= 0). */
int64_t d2ev_clock_to_real_ms(int64_t sim_ms);

/* Sleep until simulated time reaches until_ms, or at most max_real_ms of real
 * time, whichever is first. Returns early (false) if *stop becomes true
 * (checked every 50 ms). Returns true if the deadline was reached.
 * In manual mode it returns at once whether or not the time was reached. */
bool d2ev_clock_sleep_until(int64_t until_ms, int64_t max_real_ms, const volatile int *stop);

#endif
