/* forecasts.c: newest and previous forecast per region and kind (see forecasts.h). */
#include "forecasts.h"

#include <stdlib.h>
#include <string.h>

#include "d2ev/util.h"

struct series {
    char id[D2EV_EVENT_ID_MAX + 1];
    char currency[D2EV_CURRENCY_MAX + 1];
    int64_t issued_at, start, slot_ms;
    size_t n;
    double *values;
};

struct pair {
    char region[D2EV_REGION_MAX + 1];
    enum d2ev_forecast_kind kind;
    struct series cur, prev; /* prev.values NULL when none */
};

struct tel_forecasts {
    struct pair *items;
    size_t n, cap;
};

struct tel_forecasts *tel_forecasts_create(void)
{
    return calloc(1, sizeof(struct tel_forecasts));
}

void tel_forecasts_destroy(struct tel_forecasts *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->items[i].cur.values);
        free(s->items[i].prev.values);
    }
    free(s->items);
    free(s);
}

static struct pair *find(const struct tel_forecasts *s, const char *region,
                         enum d2ev_forecast_kind kind)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->items[i].kind == kind && !strcmp(s->items[i].region, region))
            return &s->items[i];
    }
    return NULL;
}

int tel_forecasts_offer(struct tel_forecasts *s, const struct d2ev_forecast *f)
{
    struct series copy = { 0 };
    if (f->kind == D2EV_FORECAST_PRICE) {
        const char *slash = strchr(f->unit, '/');
        if (!slash || slash - f->unit != D2EV_CURRENCY_MAX)
            return D2EV_ERR_INVALID;
        memcpy(copy.currency, f->unit, D2EV_CURRENCY_MAX);
    }
    struct pair *p = find(s, f->region, f->kind);
    if (p && (!strcmp(p->cur.id, f->env.id) || f->issued_at < p->cur.issued_at))
        return 0;
    if (!p) {
        if (s->n == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 8;
            struct pair *ni = realloc(s->items, cap * sizeof(*ni));
            if (!ni)
                return D2EV_ERR_NOMEM;
            s->items = ni;
            s->cap = cap;
        }
        p = &s->items[s->n];
        memset(p, 0, sizeof(*p));
    }
    copy.values = malloc(f->n * sizeof(double));
    if (!copy.values)
        return D2EV_ERR_NOMEM;
    memcpy(copy.values, f->values, f->n * sizeof(double));
    d2ev_strlcpy(copy.id, f->env.id, sizeof(copy.id));
    copy.issued_at = f->issued_at;
    copy.start = f->start;
    copy.slot_ms = (int64_t)f->slot_minutes * 60000;
    copy.n = f->n;
    if (p == &s->items[s->n]) {
        d2ev_strlcpy(p->region, f->region, sizeof(p->region));
        p->kind = f->kind;
        s->n++;
    }
    free(p->prev.values);
    p->prev = p->cur;
    p->cur = copy;
    return 1;
}

static bool covers(const struct series *f, int64_t t)
{
    return f->values && t >= f->start && t < f->start + (int64_t)f->n * f->slot_ms;
}

/* The value at t and the end of its constant piece (capped by `limit`). */
static bool value_at(const struct pair *p, int64_t t, int64_t limit, double *v, int64_t *until,
                     char *currency)
{
    const struct series *f = covers(&p->cur, t) ? &p->cur : covers(&p->prev, t) ? &p->prev : NULL;
    if (!f)
        return false;
    int64_t k = (t - f->start) / f->slot_ms;
    *v = f->values[k];
    *until = f->start + (k + 1) * f->slot_ms;
    /* the previous forecast only fills in until the newest one starts */
    if (f == &p->prev && p->cur.values && p->cur.start > t && p->cur.start < *until)
        *until = p->cur.start;
    if (*until > limit)
        *until = limit;
    if (currency)
        memcpy(currency, f->currency, D2EV_CURRENCY_MAX + 1);
    return true;
}

bool tel_forecasts_mean(const struct tel_forecasts *s, const char *region,
                        enum d2ev_forecast_kind kind, int64_t a, int64_t b, double *mean,
                        char *currency)
{
    const struct pair *p = s ? find(s, region, kind) : NULL;
    if (!p)
        return false;
    int64_t until;
    if (b <= a)
        return value_at(p, a, a + 1, mean, &until, currency);
    double sum = 0;
    for (int64_t t = a; t < b; t = until) {
        double v;
        if (!value_at(p, t, b, &v, &until, currency))
            return false;
        sum += v * (double)(until - t);
    }
    *mean = sum / (double)(b - a);
    return true;
}

size_t tel_forecasts_count(const struct tel_forecasts *s)
{
    return s->n;
}
