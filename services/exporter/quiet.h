/*
 * quiet.h: when the exporter writes files.
 *
 * A flush writes every row held in memory. It happens
 *   - "full":  at once when the rows or bytes held reach the batch limits;
 *   - "quiet": when the platform is quiet, that is all of
 *       * the local time (in the configured zone) is inside the quiet-hours
 *         window, e.g. 01:00-05:00;
 *       * the exporter's lag on its inputs (high watermark minus position,
 *         summed over its partitions) is at most quiet-max-lag: it has
 *         caught up, so the files hold everything produced so far;
 *       * the inputs grow by at most quiet-max-rate records a second (the
 *         high watermarks' growth over quiet-rate-window): the producers are
 *         idle. Lag alone cannot say this: an exporter that keeps up has no
 *         lag at the busiest hour;
 *   - "age":   when the oldest row held is older than max-age, whatever the
 *     time and load, so nothing is held for ever; but only once the exporter
 *     has caught up (lag at most quiet-max-lag). While it is behind (after
 *     downtime, reading old records) reading on fills the batch, and "full"
 *     writes large files; an exporter that can never catch up fills batches
 *     the same way, since quiet-max-lag is far below batch-rows.
 * Quiet and age flushes are at least flush-interval apart, so a quiet night
 * gives one large flush rather than one per poll; full flushes are not
 * limited.
 *
 * Everything here is a pure function of its inputs (time comes in as
 * arguments), so the rules are unit-tested on a manual clock.
 */
#ifndef D2EV_EXPORT_QUIET_H
#define D2EV_EXPORT_QUIET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/error.h"
#include "d2ev/tz.h"

/* Local minutes [start, end) of every day; end < start wraps past midnight. */
struct exp_window {
    int start, end; /* 0..1439, 1..1440 */
};

/* Parse "HH:MM-HH:MM" (24:00 is allowed as an end; "00:00-24:00" is all
 * day). Start and end must differ. Returns 0 or D2EV_ERR_INVALID. */
int exp_window_parse(const char *s, struct exp_window *w, struct d2ev_err *err);

/* True when the wall-clock time at utc_ms in tz falls inside w. On the day
 * clocks go back the repeated hour counts twice; on the day they go forward
 * the skipped hour does not exist, so a window inside it is empty that day. */
bool exp_window_contains(const struct exp_window *w, const struct d2ev_tz *tz, int64_t utc_ms);

/* Growth rate of a counter (the sum of the inputs' high watermarks). */
#define EXP_RATE_SAMPLES 512
struct exp_rate {
    int64_t t[EXP_RATE_SAMPLES];
    int64_t v[EXP_RATE_SAMPLES];
    size_t head, n; /* ring: the oldest sample is at head */
};

/* Forget every sample (the set of partitions changed). */
void exp_rate_reset(struct exp_rate *r);
/* Record value v at time t_ms (samples closer than 100 ms to the last one
 * replace it). A value below the last one resets the history. */
void exp_rate_sample(struct exp_rate *r, int64_t t_ms, int64_t v);
/* Average growth per second over the last window_ms before now_ms. Returns
 * false when the samples do not yet span the window. */
bool exp_rate_get(const struct exp_rate *r, int64_t now_ms, int64_t window_ms, double *per_s);

enum exp_flush_reason { EXP_FLUSH_NONE = 0, EXP_FLUSH_FULL, EXP_FLUSH_QUIET, EXP_FLUSH_AGE };

/* "none", "full", "quiet", "age". */
const char *exp_flush_reason_name(enum exp_flush_reason r);

struct exp_policy {
    uint64_t batch_rows, batch_bytes;
    int64_t max_age_ms;
    int64_t interval_ms; /* between quiet or age flushes */
    struct exp_window window;
    const struct d2ev_tz *tz; /* borrowed */
    int64_t max_lag;
    double max_rate; /* records per second */
};

/* What the exporter sees at one moment. */
struct exp_signals {
    int64_t now;
    uint64_t rows, bytes; /* held */
    int64_t oldest;       /* held_since of the oldest row; INT64_MAX when none */
    int64_t last_timed;   /* the last quiet or age flush; INT64_MIN when none */
    int64_t lag;          /* -1 when unknown */
    bool rate_known;
    double rate;
};

/* True when the platform is quiet (window, lag and rate; see above). */
bool exp_policy_quiet(const struct exp_policy *p, const struct exp_signals *s);

/* Whether to flush now, and why. */
enum exp_flush_reason exp_policy_decide(const struct exp_policy *p, const struct exp_signals *s);

#endif
