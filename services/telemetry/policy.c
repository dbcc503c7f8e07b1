/* policy.c: poll classes, intervals, backoff and the per-vehicle budget (see policy.h). */
#include "policy.h"

#include <math.h>
#include <string.h>

#include "d2ev/util.h"
#include "sched_view.h"

const char *tel_class_name(enum tel_class c)
{
    static const char *const n[TEL_CLASS_COUNT] = {
        "new",     "charging",       "boundary", "plugged",     "unplugged", "asleep",
        "backoff", "no_credentials", "stopped",  "unknown_oem", "idle",
    };
    return (unsigned)c < TEL_CLASS_COUNT ? n[c] : "unknown";
}

void tel_policy_default(struct tel_policy *p)
{
    memset(p, 0, sizeof(*p));
    p->charging_ms = 3 * 60000;
    p->boundary_ms = 2 * 60000;
    p->plugged_ms = 15 * 60000;
    p->unplugged_ms = 30 * 60000;
    p->asleep_ms = 60 * 60000;
    p->boundary_lead_ms = 10 * 60000;
    p->boundary_after_ms = 90000;
    p->initial_spread_ms = 60000;
    p->backoff_base_ms = 60000;
    p->backoff_max_ms = 30 * 60000;
    p->jitter = 0.1;
    p->vehicle_per_hour = 40;
    p->vehicle_burst = 4;
    p->min_gap_ms = 10000;
}

static bool near_boundary(const struct tel_policy *p, const struct tel_poll_input *in, int64_t now)
{
    return (in->next_boundary != TEL_NO_TIME_AFTER &&
            in->next_boundary - now <= p->boundary_lead_ms) ||
           (in->prev_boundary != TEL_NO_TIME_BEFORE &&
            now - in->prev_boundary <= p->boundary_lead_ms);
}

enum tel_class tel_policy_class(const struct tel_policy *p, const struct tel_poll_input *in,
                                int64_t now)
{
    if (!in->has_sample)
        return TEL_CLASS_NEW;
    if (in->charging && !in->asleep)
        return p->boundary_ms < p->charging_ms && near_boundary(p, in, now) ? TEL_CLASS_BOUNDARY
                                                                            : TEL_CLASS_CHARGING;
    if (in->plugged && (near_boundary(p, in, now) || in->sched_says_charge))
        return TEL_CLASS_BOUNDARY;
    if (in->asleep)
        return TEL_CLASS_ASLEEP;
    return in->plugged ? TEL_CLASS_PLUGGED : TEL_CLASS_UNPLUGGED;
}

static int64_t jittered(const struct tel_policy *p, int64_t interval, uint64_t *rng)
{
    double f = 1.0 + p->jitter * (2.0 * d2ev_rand_unit(rng) - 1.0);
    return (int64_t)((double)interval * f);
}

int64_t tel_policy_next(const struct tel_policy *p, enum tel_class cls,
                        const struct tel_poll_input *in, int64_t now, uint64_t *rng)
{
    int64_t interval;
    switch (cls) {
    case TEL_CLASS_NEW:
        return now + (int64_t)(d2ev_rand_unit(rng) * (double)p->initial_spread_ms);
    case TEL_CLASS_CHARGING:
        interval = p->charging_ms;
        break;
    case TEL_CLASS_BOUNDARY:
        interval = p->boundary_ms;
        break;
    case TEL_CLASS_PLUGGED:
        interval = p->plugged_ms;
        break;
    case TEL_CLASS_ASLEEP:
        interval = p->asleep_ms;
        break;
    default:
        interval = p->unplugged_ms;
        break;
    }
    int64_t due = now + jittered(p, interval, rng);
    /* a plugged-in car: fresh state when its next window boundary comes near,
     * and a look just after it to see the car obey */
    if (in->plugged && in->next_boundary != TEL_NO_TIME_AFTER) {
        int64_t near = in->next_boundary - p->boundary_lead_ms;
        if (near > now && near < due)
            due = near;
        if (in->next_boundary + p->boundary_after_ms < due)
            due = in->next_boundary + p->boundary_after_ms;
    }
    return due < now + p->min_gap_ms ? now + p->min_gap_ms : due;
}

int64_t tel_policy_backoff(const struct tel_policy *p, unsigned errors, int64_t retry_after_ms,
                           int64_t now, uint64_t *rng)
{
    double d = (double)p->backoff_base_ms * pow(2.0, errors > 1 ? errors - 1 : 0);
    if (d > (double)p->backoff_max_ms)
        d = (double)p->backoff_max_ms;
    d *= 0.5 + 0.5 * d2ev_rand_unit(rng); /* jitter down to half */
    int64_t delay = (int64_t)d;
    if (retry_after_ms > delay)
        delay = retry_after_ms;
    return now + (delay < p->min_gap_ms ? p->min_gap_ms : delay);
}

static double rate_per_ms(const struct tel_policy *p)
{
    return p->vehicle_per_hour / 3600000.0;
}

static double tokens_at(const struct tel_budget *b, const struct tel_policy *p, int64_t now)
{
    double t = b->tokens + (double)(now > b->at ? now - b->at : 0) * rate_per_ms(p);
    return t > p->vehicle_burst ? p->vehicle_burst : t;
}

void tel_budget_init(struct tel_budget *b, const struct tel_policy *p, int64_t now)
{
    b->tokens = (float)p->vehicle_burst;
    b->at = now;
}

bool tel_budget_take(struct tel_budget *b, const struct tel_policy *p, int64_t now)
{
    if (p->vehicle_per_hour <= 0)
        return true;
    double t = tokens_at(b, p, now);
    if (t < 1.0 - 1e-6)
        return false;
    b->tokens = (float)(t - 1.0);
    b->at = now;
    return true;
}

int64_t tel_budget_ready(const struct tel_budget *b, const struct tel_policy *p, int64_t when)
{
    if (p->vehicle_per_hour <= 0)
        return when;
    double t = tokens_at(b, p, when);
    if (t >= 1.0 - 1e-6)
        return when;
    return when + (int64_t)ceil((1.0 - t) / rate_per_ms(p));
}
