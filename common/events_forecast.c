/* events_forecast.c: per-slot series: price and carbon forecasts, site capacity. */
#include "events_internal.h"

#include <stdlib.h>
#include <string.h>

#define SOURCE_MAX      64
#define PRICE_LIMIT     1000.0 /* currency per kWh, either sign */
#define CARBON_MAX      5000.0 /* gCO2/kWh; the dirtiest grids are near 1000 */
#define CAPACITY_MAX_KW 1e6

static const char *const kind_names[] = { "price", "carbon" };

/* The units a forecast may carry, and the kind each belongs to. */
static const struct {
    const char *unit;
    enum d2ev_forecast_kind kind;
} units[] = {
    { "GBP/kWh", D2EV_FORECAST_PRICE },
    { "EUR/kWh", D2EV_FORECAST_PRICE },
    { "USD/kWh", D2EV_FORECAST_PRICE },
    { "gCO2/kWh", D2EV_FORECAST_CARBON },
};

static int check_unit(const struct d2ev_forecast *f, struct d2ev_err *err)
{
    for (size_t i = 0; i < D2EV_EV_COUNT(units); i++) {
        if (strcmp(f->unit, units[i].unit) != 0)
            continue;
        if (units[i].kind != f->kind)
            return d2ev_err_set(err, D2EV_ERR_INVALID,
                                "unit: \"%s\" is a %s unit, but kind is \"%s\"", f->unit,
                                kind_names[units[i].kind], kind_names[f->kind]);
        return D2EV_OK;
    }
    return d2ev_err_set(err, D2EV_ERR_INVALID,
                        "unit: must be GBP/kWh, EUR/kWh or USD/kWh (price) or gCO2/kWh "
                        "(carbon), got \"%s\"",
                        f->unit);
}

/* ------------------------------------------------------------ forecast */

static void forecast_clear(void *f)
{
    d2ev_forecast_clear(f);
}

void d2ev_forecast_clear(struct d2ev_forecast *f)
{
    if (!f)
        return;
    free(f->values);
    f->values = NULL;
    f->n = 0;
}

int64_t d2ev_forecast_end(const struct d2ev_forecast *f)
{
    return f->start + (int64_t)f->n * f->slot_minutes * 60000;
}

static int forecast_read(const json_t *root, void *out, struct d2ev_err *err)
{
    struct d2ev_forecast *f = out;
    int kind = 0;
    if (d2ev_json_req_str(root, "region", f->region, D2EV_REGION_MAX, D2EV_CS_ID, err) ||
        d2ev_json_req_enum(root, "kind", kind_names, D2EV_EV_COUNT(kind_names), &kind, err) ||
        d2ev_json_req_str(root, "unit", f->unit, D2EV_UNIT_MAX, D2EV_CS_PRINTABLE, err))
        return err->code;
    f->kind = (enum d2ev_forecast_kind)kind;
    bool price = f->kind == D2EV_FORECAST_PRICE;
    if (check_unit(f, err) || d2ev_json_req_time(root, "issued_at", &f->issued_at, err) ||
        d2ev_ev_read_slots(root, &f->start, &f->slot_minutes, err) ||
        d2ev_ev_req_numbers(root, "values", price ? -PRICE_LIMIT : 0,
                            price ? PRICE_LIMIT : CARBON_MAX, D2EV_FORECAST_MAX_SLOTS, &f->values,
                            &f->n, err) ||
        d2ev_ev_opt_text(root, "source", f->source, SOURCE_MAX, D2EV_CS_PRINTABLE, err))
        return err->code;
    return D2EV_OK;
}

/* A JSON array of n numbers, or NULL. */
static json_t *numbers_json(const double *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        if (json_array_append_new(a, json_real(v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *d2ev_forecast_encode(const struct d2ev_forecast *f)
{
    json_t *o = d2ev_envelope_new("forecast");
    int failed = d2ev_ev_set_str(o, "region", f->region) ||
                 d2ev_ev_set_enum(o, "kind", kind_names, D2EV_EV_COUNT(kind_names), (int)f->kind) ||
                 d2ev_ev_set_str(o, "unit", f->unit) ||
                 d2ev_ev_set_time(o, "issued_at", f->issued_at) ||
                 d2ev_ev_set_time(o, "start", f->start) ||
                 d2ev_ev_set_int(o, "slot_minutes", f->slot_minutes) ||
                 d2ev_ev_set_new(o, "values", numbers_json(f->values, f->values ? f->n : 0)) ||
                 d2ev_ev_set_text(o, "source", f->source);
    return d2ev_ev_finish(o, failed);
}

int d2ev_forecast_decode(const void *buf, size_t len, struct d2ev_forecast *out,
                         struct d2ev_err *err)
{
    return d2ev_ev_decode(buf, len, "forecast", out, sizeof(*out), forecast_read, forecast_clear,
                          err);
}

/* ------------------------------------------------------------ capacity */

static void capacity_clear(void *c)
{
    d2ev_capacity_clear(c);
}

void d2ev_capacity_clear(struct d2ev_capacity *c)
{
    if (!c)
        return;
    free(c->limits_kw);
    c->limits_kw = NULL;
    c->n = 0;
}

static int capacity_read(const json_t *root, void *out, struct d2ev_err *err)
{
    struct d2ev_capacity *c = out;
    if (d2ev_json_req_str(root, "site_id", c->site_id, D2EV_SITE_ID_MAX, D2EV_CS_ID, err) ||
        d2ev_ev_read_slots(root, &c->start, &c->slot_minutes, err) ||
        d2ev_ev_req_numbers(root, "limits_kw", 0, CAPACITY_MAX_KW, D2EV_FORECAST_MAX_SLOTS,
                            &c->limits_kw, &c->n, err))
        return err->code;
    return D2EV_OK;
}

json_t *d2ev_capacity_encode(const struct d2ev_capacity *c)
{
    json_t *o = d2ev_envelope_new("capacity");
    int failed =
        d2ev_ev_set_str(o, "site_id", c->site_id) || d2ev_ev_set_time(o, "start", c->start) ||
        d2ev_ev_set_int(o, "slot_minutes", c->slot_minutes) ||
        d2ev_ev_set_new(o, "limits_kw", numbers_json(c->limits_kw, c->limits_kw ? c->n : 0));
    return d2ev_ev_finish(o, failed);
}

int d2ev_capacity_decode(const void *buf, size_t len, struct d2ev_capacity *out,
                         struct d2ev_err *err)
{
    return d2ev_ev_decode(buf, len, "capacity", out, sizeof(*out), capacity_read, capacity_clear,
                          err);
}
