/*
 * forecast_gen.h: the project's own price and carbon forecasts for the demo
 * and tests: realistic daily shapes (cheap nights, a 16:00-19:00 price peak,
 * a solar dip at midday, windy days that push prices below zero and cut
 * carbon), weekly and seasonal variation. Every value is a pure function of
 * (seed, region, slot start), so two runs with the same seed agree exactly
 * and successive day-ahead forecasts agree on the slots they share.
 *
 * Ownership: options are borrowed for each call; output arrays are the
 * caller's.
 */
#ifndef D2EV_FORECAST_GEN_H
#define D2EV_FORECAST_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "d2ev/events.h"
#include "d2ev/tz.h"

struct fgen_options {
    uint64_t seed;
    const char *region;       /* mixed into the seed: regions differ */
    const struct d2ev_tz *tz; /* the daily shape follows local time */
    int slot_minutes;         /* 15, 30 or 60 */
    double price_level;       /* typical price per kWh, e.g. 0.22 */
    double carbon_level;      /* typical gCO2/kWh, e.g. 150 */
};

/* Defaults: seed 1, slot 30, price level 0.22, carbon level 150 (region and
 * tz must still be set). */
void fgen_options_default(struct fgen_options *o);

/* The value of `kind` for the slot starting at t (UTC ms, slot-aligned). */
double fgen_value(const struct fgen_options *o, enum d2ev_forecast_kind kind, int64_t t);

/* n consecutive slots from start (aligned) into out[n]. */
void fgen_series(const struct fgen_options *o, enum d2ev_forecast_kind kind, int64_t start,
                 size_t n, double *out);

#endif
