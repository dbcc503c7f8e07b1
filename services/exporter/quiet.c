/* quiet.c: the flush rules (see quiet.h). */
#include "quiet.h"

#include <stdio.h>
#include <string.h>

#define MIN_MS 60000LL

static bool parse_hhmm(const char *s, int *minutes)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] != ':' || s[3] < '0' ||
        s[3] > '9' || s[4] < '0' || s[4] > '9')
        return false;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0))
        return false;
    *minutes = h * 60 + m;
    return true;
}

int exp_window_parse(const char *s, struct exp_window *w, struct d2ev_err *err)
{
    int a, b;
    if (!s || strlen(s) != 11 || s[5] != '-' || !parse_hhmm(s, &a) || !parse_hhmm(s + 6, &b))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "quiet-hours: want HH:MM-HH:MM, got \"%.40s\"",
                            s ? s : "");
    if (a == 1440)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "quiet-hours: 24:00 can only end a window");
    if (a == b || (a == 0 && b == 0))
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "quiet-hours: start and end are the same; use 00:00-24:00 for all day");
    w->start = a;
    w->end = b == 0 ? 1440 : b;
    return D2EV_OK;
}

bool exp_window_contains(const struct exp_window *w, const struct d2ev_tz *tz, int64_t utc_ms)
{
    int64_t local = tz ? d2ev_tz_to_local(tz, utc_ms) : utc_ms;
    int m = (int)(d2ev_floor_div(local, MIN_MS) - d2ev_floor_div(local, 86400000LL) * 1440);
    if (w->start < w->end)
        return m >= w->start && m < w->end;
    return m >= w->start || m < w->end;
}

void exp_rate_reset(struct exp_rate *r)
{
    r->head = r->n = 0;
}

void exp_rate_sample(struct exp_rate *r, int64_t t_ms, int64_t v)
{
    if (r->n) {
        size_t last = (r->head + r->n - 1) % EXP_RATE_SAMPLES;
        if (v < r->v[last] || t_ms < r->t[last]) {
            exp_rate_reset(r);
        } else if (t_ms - r->t[last] < 100 && r->n > 1) {
            r->t[last] = t_ms;
            r->v[last] = v;
            return;
        }
    }
    if (r->n == EXP_RATE_SAMPLES) {
        r->head = (r->head + 1) % EXP_RATE_SAMPLES;
        r->n--;
    }
    size_t at = (r->head + r->n) % EXP_RATE_SAMPLES;
    r->t[at] = t_ms;
    r->v[at] = v;
    r->n++;
}

bool exp_rate_get(const struct exp_rate *r, int64_t now_ms, int64_t window_ms, double *per_s)
{
    if (r->n < 2)
        return false;
    size_t last = (r->head + r->n - 1) % EXP_RATE_SAMPLES;
    /* the newest sample at or before the start of the window is the base */
    int64_t from = now_ms - window_ms;
    size_t base = r->n;
    for (size_t i = 0; i < r->n; i++) {
        size_t k = (r->head + i) % EXP_RATE_SAMPLES;
        if (r->t[k] <= from)
            base = k;
    }
    if (base == r->n || r->t[last] <= r->t[base])
        return false;
    *per_s = (double)(r->v[last] - r->v[base]) * 1000.0 / (double)(r->t[last] - r->t[base]);
    return true;
}

const char *exp_flush_reason_name(enum exp_flush_reason r)
{
    static const char *const names[] = { "none", "full", "quiet", "age" };
    return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "none";
}

bool exp_policy_quiet(const struct exp_policy *p, const struct exp_signals *s)
{
    return exp_window_contains(&p->window, p->tz, s->now) && s->lag >= 0 && s->lag <= p->max_lag &&
           s->rate_known && s->rate <= p->max_rate;
}

enum exp_flush_reason exp_policy_decide(const struct exp_policy *p, const struct exp_signals *s)
{
    if (s->rows == 0)
        return EXP_FLUSH_NONE;
    if (s->rows >= p->batch_rows || s->bytes >= p->batch_bytes)
        return EXP_FLUSH_FULL;
    if (s->last_timed != INT64_MIN && s->now - s->last_timed < p->interval_ms)
        return EXP_FLUSH_NONE;
    if (exp_policy_quiet(p, s))
        return EXP_FLUSH_QUIET;
    /* old rows, but only once caught up: behind, reading on fills the batch */
    if (s->oldest != INT64_MAX && s->now - s->oldest >= p->max_age_ms && s->lag >= 0 &&
        s->lag <= p->max_lag)
        return EXP_FLUSH_AGE;
    return EXP_FLUSH_NONE;
}
