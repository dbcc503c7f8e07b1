/* forecast_gen.c: deterministic synthetic price and carbon forecasts. */
#include "forecast_gen.h"

#include <math.h>
#include <string.h>

#include "d2ev/timefmt.h"

#define DAY_MS 86400000LL

void fgen_options_default(struct fgen_options *o)
{
    memset(o, 0, sizeof(*o));
    o->seed = 1;
    o->slot_minutes = 30;
    o->price_level = 0.22;
    o->carbon_level = 150;
}

static uint64_t mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static uint64_t region_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Uniform [0, 1) from (seed, region, stream, index). */
static double unit(const struct fgen_options *o, uint64_t stream, int64_t idx)
{
    uint64_t h = mix(o->seed ^ mix(region_hash(o->region) ^ mix(stream ^ mix((uint64_t)idx))));
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

/* Wind on local day d, 0..1, persistent over a few days (an AR(1) over a
 * finite window, so it stays a pure function of d). */
static double wind(const struct fgen_options *o, int64_t d)
{
    double w = 0, k = 1, norm = 0;
    for (int i = 0; i < 8; i++, k *= 0.55) {
        w += k * unit(o, 11, d - i);
        norm += k;
    }
    w /= norm; /* ~0.5 with less spread than a single draw: stretch it */
    w = 0.5 + (w - 0.5) * 1.6;
    return w < 0 ? 0 : w > 1 ? 1 : w;
}

/* Piecewise-linear daily shape over local hours. */
static double shape(const double *knots, int n, double h)
{
    for (int i = 0; i + 2 < 2 * n; i += 2) {
        double h0 = knots[i], v0 = knots[i + 1], h1 = knots[i + 2], v1 = knots[i + 3];
        if (h >= h0 && h <= h1)
            return v0 + (v1 - v0) * (h - h0) / (h1 - h0);
    }
    return knots[1];
}

static const double price_shape[] = { 0,    0.80, 2,  0.62, 4,    0.55, 6,    0.72,
                                      7.5,  0.98, 10, 0.88, 13,   0.72, 15.5, 1.00,
                                      16.5, 1.65, 19, 1.55, 20.5, 1.05, 24,   0.80 };
static const double demand_shape[] = { 0,  0.70, 4,  0.60, 7,  0.95, 12, 0.90,
                                       17, 1.15, 19, 1.10, 22, 0.85, 24, 0.70 };

double fgen_value(const struct fgen_options *o, enum d2ev_forecast_kind kind, int64_t t)
{
    int64_t local = d2ev_tz_to_local(o->tz, t);
    int64_t day = d2ev_floor_div(local, DAY_MS);
    double h = (double)(local - day * DAY_MS) / 3600000.0;
    int64_t y;
    unsigned m, dd;
    d2ev_civil_from_days(day, &y, &m, &dd);
    double doy = (double)(day - d2ev_days_from_civil(y, 1, 1));
    double summer = 0.5 - 0.5 * cos(2 * M_PI * (doy - 10) / 365.0); /* 0 in Jan, 1 in Jul */
    double w = wind(o, day);
    bool weekend = d2ev_weekday(day) >= 5;
    int64_t slot_idx = d2ev_floor_div(t, (int64_t)o->slot_minutes * 60000);
    double noise = unit(o, kind == D2EV_FORECAST_PRICE ? 21 : 22, slot_idx) - 0.5;
    /* solar: a midday bump, stronger in summer */
    double sun = h > 6 && h < 20 ? sin(M_PI * (h - 6) / 14.0) : 0;
    sun *= 0.3 + 0.7 * summer;
    if (kind == D2EV_FORECAST_PRICE) {
        double dayf = (1.0 + 0.25 * (unit(o, 12, day) - 0.5)) * (weekend ? 0.85 : 1.0);
        double v = 1.1 * shape(price_shape, 12, h) * dayf;
        v -= 0.35 * sun; /* solar depresses midday prices */
        double gust = w > 0.65 ? (w - 0.65) / 0.35 : 0;
        v -= 1.1 * gust * gust * (h > 16 && h < 19 ? 0.6 : 1.0); /* wind, least at the peak */
        v += 0.08 * noise;
        v *= o->price_level;
        double floor = -0.4 * o->price_level;
        return round((v < floor ? floor : v) * 100000.0) / 100000.0;
    }
    double v = o->carbon_level * (0.55 + 0.55 * shape(demand_shape, 8, h));
    v *= 1.0 - 0.6 * w;
    v *= 1.0 - 0.35 * sun;
    v *= 1.0 + 0.15 * (0.5 - summer);
    v += 0.06 * o->carbon_level * noise;
    return round((v < 15 ? 15 : v) * 10.0) / 10.0;
}

void fgen_series(const struct fgen_options *o, enum d2ev_forecast_kind kind, int64_t start,
                 size_t n, double *out)
{
    int64_t slot = (int64_t)o->slot_minutes * 60000;
    for (size_t i = 0; i < n; i++)
        out[i] = fgen_value(o, kind, start + (int64_t)i * slot);
}
