/*
 * forecast_store.h: validated price and carbon forecasts, the newest per
 * region and kind (pure: no Kafka).
 *
 * Ownership: the store owns its forecasts; forecast_store_get() returns a
 * BORROWED pointer valid until the next forecast_store_offer() for the same
 * region and kind, or forecast_store_destroy().
 */
#ifndef D2EV_SCHED_FORECAST_STORE_H
#define D2EV_SCHED_FORECAST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/error.h"
#include "d2ev/events.h"

struct sched_forecast {
    char id[D2EV_EVENT_ID_MAX + 1];
    char region[D2EV_REGION_MAX + 1];
    enum d2ev_forecast_kind kind;
    char unit[D2EV_UNIT_MAX + 1];
    char currency[D2EV_CURRENCY_MAX + 1]; /* "" for carbon */
    int64_t issued_at;
    int64_t start;
    int32_t slot_minutes;
    size_t n;
    double *values; /* owned by the store */
};

/* End of the last slot. */
int64_t sched_forecast_end(const struct sched_forecast *f);

/* Value in force at t. Inside the forecast it is the slot's value; after the
 * end it repeats the value 24 h earlier (as many days back as needed; the
 * last value if that falls before the start), and *estimated is set. */
double sched_forecast_at(const struct sched_forecast *f, int64_t t, bool *estimated);

/* Plausibility limits beyond the wire rules. */
struct forecast_limits {
    double max_abs_price; /* per kWh; larger values are taken as a unit mistake (pence, MWh) */
    double max_carbon;    /* gCO2/kWh */
};

/* Validate a decoded forecast: unit matches kind ("<CUR>/kWh" for price with
 * an upper-case ISO 4217 code, "gCO2/kWh" for carbon), slot 15/30/60 min,
 * start aligned to the slot, 1..D2EV_FORECAST_MAX_SLOTS finite values,
 * carbon >= 0, magnitudes within limits (negative prices are legal).
 * Returns 0 or D2EV_ERR_INVALID with the reason. */
int forecast_validate(const struct d2ev_forecast *f, const struct forecast_limits *lim,
                      struct d2ev_err *err);

enum forecast_offer {
    FORECAST_STORED = 0, /* the newest for its region and kind now */
    FORECAST_DUPLICATE,  /* same id as the stored one: ignored */
    FORECAST_OLDER,      /* issued before the stored one: ignored */
};

struct forecast_store;

struct forecast_store *forecast_store_create(const struct forecast_limits *lim);
void forecast_store_destroy(struct forecast_store *s);

/* Validate and keep f (copied) if it is the newest for its region and kind
 * (by issued_at; on a tie the later arrival wins). A price forecast whose
 * currency differs from the stored, still current one of its region is a
 * unit mismatch. Returns an enum forecast_offer (>= 0), or D2EV_ERR_INVALID
 * with the reason, or D2EV_ERR_NOMEM. */
int forecast_store_offer(struct forecast_store *s, const struct d2ev_forecast *f, int64_t now,
                         struct d2ev_err *err);

/* The newest forecast of region and kind if it covers now; NULL otherwise.
 * *stale (may be NULL) is set when one exists but no longer covers now. */
const struct sched_forecast *forecast_store_get(const struct forecast_store *s, const char *region,
                                                enum d2ev_forecast_kind kind, int64_t now,
                                                bool *stale);

/* Number of stored forecasts. */
size_t forecast_store_count(const struct forecast_store *s);

/* Copy f into a standalone sched_forecast (values malloc'd; free with
 * sched_forecast_clear). Returns 0 or D2EV_ERR_NOMEM. */
int sched_forecast_copy(struct sched_forecast *dst, const struct d2ev_forecast *f);
void sched_forecast_clear(struct sched_forecast *f);

#endif
