/*
 * forecasts.h: the price and carbon forecasts telemetry prices sessions with
 * (pure: no Kafka). Per region and kind it keeps the newest forecast and the
 * one before it, so an interval that started before the newest forecast's
 * first slot can still be priced.
 *
 * Ownership: the store owns copies of what it is offered. Not thread-safe.
 */
#ifndef D2EV_TEL_FORECASTS_H
#define D2EV_TEL_FORECASTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/events.h"

struct tel_forecasts;

struct tel_forecasts *tel_forecasts_create(void);
void tel_forecasts_destroy(struct tel_forecasts *s);

/* Keep f (copied; decoded, so already validated) when it is the newest of
 * its region and kind by issued_at (a tie goes to the later arrival); the
 * one it replaces becomes the previous one. Returns 1 when stored, 0 when
 * ignored (older, or the same event id again), D2EV_ERR_INVALID for a price
 * unit that names no currency, or D2EV_ERR_NOMEM. */
int tel_forecasts_offer(struct tel_forecasts *s, const struct d2ev_forecast *f);

/* The time-weighted mean of region's kind over [a, b) (the value at a when
 * b <= a), each instant taken from the newest forecast that covers it, else
 * the previous one. Returns false when some instant is covered by neither.
 * For prices, currency (4 bytes, may be NULL) receives the ISO 4217 code. */
bool tel_forecasts_mean(const struct tel_forecasts *s, const char *region,
                        enum d2ev_forecast_kind kind, int64_t a, int64_t b, double *mean,
                        char *currency);

/* Number of (region, kind) pairs held. */
size_t tel_forecasts_count(const struct tel_forecasts *s);

#endif
