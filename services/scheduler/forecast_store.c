/* forecast_store.c: validate forecasts and keep the newest per region and kind. */
#include "forecast_store.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/tz.h"

#define DAY_MS 86400000LL

struct forecast_store {
    struct forecast_limits lim;
    struct sched_forecast *items;
    size_t n, cap;
};

int64_t sched_forecast_end(const struct sched_forecast *f)
{
    return f->start + (int64_t)f->n * f->slot_minutes * 60000LL;
}

double sched_forecast_at(const struct sched_forecast *f, int64_t t, bool *estimated)
{
    int64_t slot = (int64_t)f->slot_minutes * 60000LL;
    int64_t end = sched_forecast_end(f);
    if (t >= end) {
        int64_t days = (t - end) / DAY_MS + 1;
        t -= days * DAY_MS;
        if (estimated)
            *estimated = true;
        if (t < f->start)
            return f->values[f->n - 1];
    } else if (t < f->start) {
        if (estimated)
            *estimated = true;
        return f->values[0];
    }
    return f->values[(t - f->start) / slot];
}

static bool currency_code(const char *unit, char cur[D2EV_CURRENCY_MAX + 1])
{
    if (strlen(unit) != 7 || strcmp(unit + 3, "/kWh") != 0)
        return false;
    for (int i = 0; i < 3; i++) {
        if (unit[i] < 'A' || unit[i] > 'Z')
            return false;
        cur[i] = unit[i];
    }
    cur[3] = '\0';
    return true;
}

int forecast_validate(const struct d2ev_forecast *f, const struct forecast_limits *lim,
                      struct d2ev_err *err)
{
    char cur[D2EV_CURRENCY_MAX + 1];
    if (!f->region[0])
        return d2ev_err_set(err, D2EV_ERR_INVALID, "forecast.region: must not be empty");
    if (f->kind == D2EV_FORECAST_PRICE && !currency_code(f->unit, cur))
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "forecast.unit: a price forecast needs \"<CUR>/kWh\" (e.g. GBP/kWh), "
                            "got \"%s\"",
                            f->unit);
    if (f->kind == D2EV_FORECAST_CARBON && strcmp(f->unit, "gCO2/kWh") != 0)
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "forecast.unit: a carbon forecast needs \"gCO2/kWh\", got \"%s\"",
                            f->unit);
    if (f->slot_minutes != 15 && f->slot_minutes != 30 && f->slot_minutes != 60)
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "forecast.slot_minutes: must be 15, 30 or 60, got %d",
                            (int)f->slot_minutes);
    int64_t slot = (int64_t)f->slot_minutes * 60000LL;
    if (d2ev_floor_div(f->start, slot) * slot != f->start)
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "forecast.start: must be aligned to the %d-minute slot",
                            (int)f->slot_minutes);
    if (f->n == 0 || f->n > D2EV_FORECAST_MAX_SLOTS || !f->values)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "forecast.values: must have 1..%d entries",
                            D2EV_FORECAST_MAX_SLOTS);
    for (size_t i = 0; i < f->n; i++) {
        double v = f->values[i];
        if (!isfinite(v))
            return d2ev_err_set(err, D2EV_ERR_INVALID, "forecast.values[%zu]: not a number", i);
        if (f->kind == D2EV_FORECAST_CARBON && (v < 0 || v > lim->max_carbon))
            return d2ev_err_set(err, D2EV_ERR_INVALID,
                                "forecast.values[%zu]: carbon intensity must be between 0 and "
                                "%g gCO2/kWh, got %g",
                                i, lim->max_carbon, v);
        if (f->kind == D2EV_FORECAST_PRICE && fabs(v) > lim->max_abs_price)
            return d2ev_err_set(err, D2EV_ERR_INVALID,
                                "forecast.values[%zu]: %g %s is implausible (limit %g); is it in "
                                "pence or per MWh?",
                                i, v, f->unit, lim->max_abs_price);
    }
    return D2EV_OK;
}

int sched_forecast_copy(struct sched_forecast *dst, const struct d2ev_forecast *f)
{
    memset(dst, 0, sizeof(*dst));
    dst->values = malloc(f->n * sizeof(double));
    if (!dst->values)
        return D2EV_ERR_NOMEM;
    memcpy(dst->values, f->values, f->n * sizeof(double));
    snprintf(dst->id, sizeof(dst->id), "%s", f->env.id);
    snprintf(dst->region, sizeof(dst->region), "%s", f->region);
    snprintf(dst->unit, sizeof(dst->unit), "%s", f->unit);
    if (f->kind == D2EV_FORECAST_PRICE)
        currency_code(f->unit, dst->currency);
    dst->kind = f->kind;
    dst->issued_at = f->issued_at;
    dst->start = f->start;
    dst->slot_minutes = f->slot_minutes;
    dst->n = f->n;
    return D2EV_OK;
}

void sched_forecast_clear(struct sched_forecast *f)
{
    free(f->values);
    f->values = NULL;
    f->n = 0;
}

struct forecast_store *forecast_store_create(const struct forecast_limits *lim)
{
    struct forecast_store *s = calloc(1, sizeof(*s));
    if (s)
        s->lim = *lim;
    return s;
}

void forecast_store_destroy(struct forecast_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        sched_forecast_clear(&s->items[i]);
    free(s->items);
    free(s);
}

static struct sched_forecast *find(const struct forecast_store *s, const char *region,
                                   enum d2ev_forecast_kind kind)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->items[i].kind == kind && !strcmp(s->items[i].region, region))
            return &s->items[i];
    }
    return NULL;
}

static bool covers(const struct sched_forecast *f, int64_t now)
{
    return f->start <= now && now < sched_forecast_end(f);
}

int forecast_store_offer(struct forecast_store *s, const struct d2ev_forecast *f, int64_t now,
                         struct d2ev_err *err)
{
    int rc = forecast_validate(f, &s->lim, err);
    if (rc)
        return rc;
    struct sched_forecast *cur = find(s, f->region, f->kind);
    if (cur) {
        if (!strcmp(cur->id, f->env.id))
            return FORECAST_DUPLICATE;
        if (f->issued_at < cur->issued_at)
            return FORECAST_OLDER;
        char c[D2EV_CURRENCY_MAX + 1] = "";
        if (f->kind == D2EV_FORECAST_PRICE && currency_code(f->unit, c) && covers(cur, now) &&
            strcmp(c, cur->currency) != 0)
            return d2ev_err_set(err, D2EV_ERR_INVALID,
                                "forecast.unit: %s does not match the current %s forecast of "
                                "region %s",
                                f->unit, cur->unit, f->region);
    }
    struct sched_forecast copy;
    if (sched_forecast_copy(&copy, f))
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    if (cur) {
        sched_forecast_clear(cur);
        *cur = copy;
        return FORECAST_STORED;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        struct sched_forecast *ni = realloc(s->items, cap * sizeof(*ni));
        if (!ni) {
            sched_forecast_clear(&copy);
            return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        }
        s->items = ni;
        s->cap = cap;
    }
    s->items[s->n++] = copy;
    return FORECAST_STORED;
}

const struct sched_forecast *forecast_store_get(const struct forecast_store *s, const char *region,
                                                enum d2ev_forecast_kind kind, int64_t now,
                                                bool *stale)
{
    const struct sched_forecast *f = find(s, region, kind);
    if (stale)
        *stale = f && !covers(f, now);
    return f && covers(f, now) ? f : NULL;
}

size_t forecast_store_count(const struct forecast_store *s)
{
    return s->n;
}
