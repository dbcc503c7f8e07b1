/*
 * Backoff with jitter, a token-bucket rate limiter and a circuit breaker.
 * Pure logic on caller-supplied times (ms from d2ev_clock_now_ms, or a test's
 * fake time), so they are deterministic to test. Not thread-safe: each value
 * is owned and used by one thread (or guarded by its owner).
 */
#ifndef D2EV_RESILIENCE_H
#define D2EV_RESILIENCE_H

#include <stdbool.h>
#include <stdint.h>

/* ---------------------------------------------------------------- backoff */

/* Exponential backoff: the un-jittered delay of attempt k (k >= 1) is
 * min(max_ms, base_ms * factor^(k-1)). With jitter j in [0, 1], the delay is
 * drawn uniformly from [d*(1-j), d]: j = 1 is "full jitter", j = 0 none. */
struct d2ev_backoff {
    int64_t base_ms;
    int64_t max_ms;
    double factor;
    double jitter;
};

/* Delay before retry number attempt (1 = first retry). rng is the caller's
 * splitmix64 state (d2ev/util.h). */
int64_t d2ev_backoff_delay_ms(const struct d2ev_backoff *b, unsigned attempt, uint64_t *rng);

/* ----------------------------------------------------------- token bucket */

struct d2ev_token_bucket {
    double rate;  /* tokens per second */
    double burst; /* capacity */
    double tokens;
    int64_t last_ms;
    int64_t blocked_until_ms; /* e.g. from Retry-After: no tokens before this */
};

/* Start full. rate > 0, burst >= 1. */
void d2ev_token_bucket_init(struct d2ev_token_bucket *tb, double rate, double burst,
                            int64_t now_ms);

/* Take n tokens if available now; returns true on success. */
bool d2ev_token_bucket_take(struct d2ev_token_bucket *tb, int64_t now_ms, double n);

/* Milliseconds until n tokens will be available (0 if now). */
int64_t d2ev_token_bucket_wait_ms(struct d2ev_token_bucket *tb, int64_t now_ms, double n);

/* Honour a server's Retry-After: empty the bucket and allow nothing until
 * until_ms. A later call with an earlier time does not shorten the block. */
void d2ev_token_bucket_block_until(struct d2ev_token_bucket *tb, int64_t until_ms);

/* --------------------------------------------------------- circuit breaker */

enum d2ev_breaker_state { D2EV_BREAKER_CLOSED = 0, D2EV_BREAKER_OPEN, D2EV_BREAKER_HALF_OPEN };

/* Opens when, within the rolling window, at least min_requests were made and
 * the failure ratio reached failure_ratio. Stays open for open_ms, then lets
 * up to half_open_probes requests through: all succeeding closes it, one
 * failing re-opens it. */
struct d2ev_breaker {
    /* configuration */
    int64_t window_ms;
    uint32_t min_requests;
    double failure_ratio;
    int64_t open_ms;
    uint32_t half_open_probes;
    /* state */
    enum d2ev_breaker_state state;
    int64_t window_start_ms;
    uint32_t requests, failures;
    int64_t opened_at_ms;
    uint32_t probes_in_flight, probes_ok;
    uint64_t times_opened;
};

/* Defaults: 30 s window, 20 requests, 50 % failures, open 30 s, 3 probes. */
void d2ev_breaker_init(struct d2ev_breaker *b);

/* May a request be made now? In half-open, counts the probe. */
bool d2ev_breaker_allow(struct d2ev_breaker *b, int64_t now_ms);

/* Report the outcome of an allowed request. */
void d2ev_breaker_record(struct d2ev_breaker *b, int64_t now_ms, bool success);

const char *d2ev_breaker_state_name(enum d2ev_breaker_state s);

#endif
