/* breaker.c: a rolling-window circuit breaker with half-open probes. */
#include "d2ev/resilience.h"

void d2ev_breaker_init(struct d2ev_breaker *b)
{
    *b = (struct d2ev_breaker){
        .window_ms = 30000,
        .min_requests = 20,
        .failure_ratio = 0.5,
        .open_ms = 30000,
        .half_open_probes = 3,
        .state = D2EV_BREAKER_CLOSED,
    };
}

static void roll_window(struct d2ev_breaker *b, int64_t now_ms)
{
    if (now_ms - b->window_start_ms >= b->window_ms) {
        b->window_start_ms = now_ms;
        b->requests = b->failures = 0;
    }
}

static void open_now(struct d2ev_breaker *b, int64_t now_ms)
{
    b->state = D2EV_BREAKER_OPEN;
    b->opened_at_ms = now_ms;
    b->probes_in_flight = b->probes_ok = 0;
    b->times_opened++;
}

bool d2ev_breaker_allow(struct d2ev_breaker *b, int64_t now_ms)
{
    switch (b->state) {
    case D2EV_BREAKER_CLOSED:
        return true;
    case D2EV_BREAKER_OPEN:
        if (now_ms - b->opened_at_ms < b->open_ms)
            return false;
        b->state = D2EV_BREAKER_HALF_OPEN;
        b->probes_in_flight = b->probes_ok = 0;
        /* fall through */
    case D2EV_BREAKER_HALF_OPEN:
        if (b->probes_in_flight + b->probes_ok >= b->half_open_probes)
            return false;
        b->probes_in_flight++;
        return true;
    }
    return false;
}

void d2ev_breaker_record(struct d2ev_breaker *b, int64_t now_ms, bool success)
{
    if (b->state == D2EV_BREAKER_HALF_OPEN) {
        if (b->probes_in_flight)
            b->probes_in_flight--;
        if (!success) {
            open_now(b, now_ms);
            return;
        }
        if (++b->probes_ok >= b->half_open_probes) {
            b->state = D2EV_BREAKER_CLOSED;
            b->window_start_ms = now_ms;
            b->requests = b->failures = 0;
        }
        return;
    }
    if (b->state == D2EV_BREAKER_OPEN)
        return; /* a late result of a request made before opening */
    roll_window(b, now_ms);
    b->requests++;
    if (!success)
        b->failures++;
    if (b->requests >= b->min_requests &&
        (double)b->failures >= b->failure_ratio * (double)b->requests)
        open_now(b, now_ms);
}

const char *d2ev_breaker_state_name(enum d2ev_breaker_state s)
{
    switch (s) {
    case D2EV_BREAKER_OPEN:
        return "open";
    case D2EV_BREAKER_HALF_OPEN:
        return "half_open";
    default:
        return "closed";
    }
}
