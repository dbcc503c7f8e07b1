/* sched_view.c: window lookups on a vehicle's schedule (see sched_view.h). */
#include "sched_view.h"

#include <stdlib.h>

struct tel_sched *tel_sched_from(const struct d2ev_schedule *s)
{
    struct tel_sched *v = malloc(sizeof(*v) + s->nwindows * sizeof(v->w[0]));
    if (!v)
        return NULL;
    v->version = s->version;
    v->created_at = s->created_at;
    v->n = (uint32_t)s->nwindows;
    for (size_t i = 0; i < s->nwindows; i++) {
        v->w[i].start = s->windows[i].start;
        v->w[i].end = s->windows[i].end;
    }
    return v;
}

/* Index of the first window that ends after t (n when none). */
static uint32_t first_ending_after(const struct tel_sched *s, int64_t t)
{
    uint32_t lo = 0, hi = s->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->w[mid].end <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool tel_sched_charging_at(const struct tel_sched *s, int64_t t)
{
    return tel_sched_window_start(s, t) != TEL_NO_TIME_BEFORE;
}

int64_t tel_sched_window_start(const struct tel_sched *s, int64_t t)
{
    if (!s)
        return TEL_NO_TIME_BEFORE;
    uint32_t i = first_ending_after(s, t);
    return i < s->n && s->w[i].start <= t ? s->w[i].start : TEL_NO_TIME_BEFORE;
}

int64_t tel_sched_next_boundary(const struct tel_sched *s, int64_t t)
{
    if (!s)
        return TEL_NO_TIME_AFTER;
    uint32_t i = first_ending_after(s, t);
    if (i == s->n)
        return TEL_NO_TIME_AFTER;
    return s->w[i].start > t ? s->w[i].start : s->w[i].end;
}

int64_t tel_sched_prev_boundary(const struct tel_sched *s, int64_t t)
{
    if (!s)
        return TEL_NO_TIME_BEFORE;
    uint32_t i = first_ending_after(s, t);
    if (i < s->n && s->w[i].start <= t)
        return s->w[i].start;
    return i > 0 ? s->w[i - 1].end : TEL_NO_TIME_BEFORE;
}

int64_t tel_sched_paused_since(const struct tel_sched *s, int64_t t)
{
    if (!s)
        return 0;
    uint32_t i = first_ending_after(s, t);
    if (i < s->n && s->w[i].start <= t)
        return 0;
    return i > 0 ? s->w[i - 1].end : s->created_at;
}
