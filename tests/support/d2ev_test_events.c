/* d2ev_test_events.c: known-good sample events (see d2ev_test_events.h). */
#include "d2ev_test_events.h"

#include <stdlib.h>
#include <string.h>

#include "d2ev_test.h"
#include "d2ev/topics.h"

#define HOUR_MS 3600000LL

static void *dup_or_fail(const void *src, size_t size)
{
    void *p = malloc(size);
    if (!p)
        fail_msg("out of memory");
    memcpy(p, src, size);
    return p;
}

void d2ev_test_sample_prefs(struct d2ev_prefs *p)
{
    d2ev_prefs_default(p);
    p->ready_by[0] = 7 * 60 + 30; /* mon 07:30 */
    p->ready_by[5] = -1;          /* sat: no deadline */
    p->ready_by[6] = 9 * 60;
    p->noverrides = 2;
    p->overrides[0] = (struct d2ev_ready_override){ 20781, 6 * 60 }; /* 2026-11-24 06:00 */
    p->overrides[1] = (struct d2ev_ready_override){ 20790, 5 * 60 + 45 };
    p->target_soc = 85.5;
    p->min_soc = 20;
    p->mode = D2EV_MODE_MIX;
    p->carbon_weight = 0.3;
    p->has_price_cap = true;
    p->price_cap = 0.3;
    p->max_windows = 3;
    p->min_window_minutes = 30;
    p->has_boost = true;
    p->boost_until = D2EV_TEST_T0 + HOUR_MS;
}

void d2ev_test_sample_vehicle(struct d2ev_vehicle *v)
{
    memset(v, 0, sizeof(*v));
    strcpy(v->vehicle_id, "v-1");
    strcpy(v->user_id, "u-42");
    strcpy(v->oem, "oemsim");
    strcpy(v->oem_vehicle_id, "5YJ3E1EA7KF000001");
    v->has_battery_kwh = true;
    v->battery_kwh = 75.5;
    v->has_max_power_kw = true;
    v->max_power_kw = 11;
    strcpy(v->timezone, "Europe/London");
    strcpy(v->region, "GB-LON");
    strcpy(v->site_id, "depot-7");
    d2ev_test_sample_prefs(&v->prefs);
    v->prefs_version = 3;
    v->status = D2EV_VEHICLE_ACTIVE;
    v->registered_at = D2EV_TEST_T0 - 48 * HOUR_MS;
    v->updated_at = D2EV_TEST_T0;
}

void d2ev_test_sample_credentials(struct d2ev_credentials *c)
{
    static const char sealed[] = "k1.bm9uY2UxMjM0NTY3ODkwY2lwaGVydGV4dHRhZw==";
    memset(c, 0, sizeof(*c));
    strcpy(c->vehicle_id, "v-1");
    strcpy(c->oem, "oemsim");
    strcpy(c->key_id, "k1");
    c->sealed = dup_or_fail(sealed, sizeof(sealed));
    c->access_expires_at = D2EV_TEST_T0 + HOUR_MS;
    c->version = 2;
    c->updated_at = D2EV_TEST_T0;
}

void d2ev_test_sample_reg_request(struct d2ev_reg_request *r)
{
    static const char sealed[] = "k1.YXV0aGNvZGVzZWFsZWQ=";
    memset(r, 0, sizeof(*r));
    strcpy(r->request_id, "req-1");
    r->action = D2EV_REG_REGISTER;
    strcpy(r->vehicle_id, "v-1");
    strcpy(r->user_id, "u-42");
    strcpy(r->oem, "oemsim");
    strcpy(r->oem_vehicle_id, "5YJ3E1EA7KF000001");
    strcpy(r->timezone, "Europe/London");
    strcpy(r->region, "GB-LON");
    r->has_battery_kwh = true;
    r->battery_kwh = 75.5;
    r->sealed_auth = dup_or_fail(sealed, sizeof(sealed));
    r->prefs_patch = json_pack("{s:f, s:{s:s}}", "target_soc", 90.0, "ready_by", "mon", "06:30");
    if (!r->prefs_patch)
        fail_msg("out of memory");
    strcpy(r->idempotency_key, "idem-1");
    strcpy(r->source, "bridge");
}

void d2ev_test_sample_reg_result(struct d2ev_reg_result *r)
{
    memset(r, 0, sizeof(*r));
    strcpy(r->request_id, "req-1");
    strcpy(r->vehicle_id, "v-1");
    r->action = D2EV_REG_REGISTER;
    r->accepted = false;
    strcpy(r->code, "unknown_oem");
    strcpy(r->reason, "OEM \"acme\" is not supported \xe2\x80\x94 see docs");
}

void d2ev_test_sample_telemetry(struct d2ev_telemetry *t)
{
    memset(t, 0, sizeof(*t));
    strcpy(t->vehicle_id, "v-1");
    strcpy(t->oem, "oemsim");
    t->observed_at = D2EV_TEST_T0;
    t->reported_at = D2EV_TEST_T0 - 60000;
    t->soc = 55.5;
    t->plugged_in = true;
    t->charging_state = D2EV_CHG_CHARGING;
    t->has_power_kw = true;
    t->power_kw = 7.2;
    t->has_charge_limit = true;
    t->charge_limit = 90;
    t->has_range_km = true;
    t->range_km = 250.3;
    t->has_energy_added_kwh = true;
    t->energy_added_kwh = 3.25;
}

void d2ev_test_sample_session(struct d2ev_session *s)
{
    memset(s, 0, sizeof(*s));
    strcpy(s->vehicle_id, "v-1");
    strcpy(s->session_id, "s-1");
    s->event = D2EV_SESSION_UPDATE;
    s->started_at = D2EV_TEST_T0 - HOUR_MS;
    s->at = D2EV_TEST_T0;
    s->soc_start = 40;
    s->soc_now = 55.5;
    s->energy_kwh = 7.1;
    s->charging_s = 3000;
    s->idle_s = 600;
    s->cost = 1.234;
    s->carbon_g = 812.5;
    strcpy(s->currency, "GBP");
}

void d2ev_test_sample_forecast(struct d2ev_forecast *f)
{
    static const double values[] = { 0.25, -0.01, 0.1, 0.33 };
    memset(f, 0, sizeof(*f));
    strcpy(f->region, "GB-LON");
    f->kind = D2EV_FORECAST_PRICE;
    strcpy(f->unit, "GBP/kWh");
    f->issued_at = D2EV_TEST_T0;
    f->start = D2EV_TEST_SLOT0;
    f->slot_minutes = 30;
    f->n = 4;
    f->values = dup_or_fail(values, sizeof(values));
    strcpy(f->source, "generator");
}

void d2ev_test_sample_capacity(struct d2ev_capacity *c)
{
    static const double limits[] = { 22, 11.5, 0 };
    memset(c, 0, sizeof(*c));
    strcpy(c->site_id, "depot-7");
    c->start = D2EV_TEST_SLOT0;
    c->slot_minutes = 15;
    c->n = 3;
    c->limits_kw = dup_or_fail(limits, sizeof(limits));
}

void d2ev_test_sample_schedule(struct d2ev_schedule *s)
{
    const struct d2ev_window windows[] = {
        { D2EV_TEST_SLOT0 + 2 * HOUR_MS, D2EV_TEST_SLOT0 + 3 * HOUR_MS, 7.2 },
        { D2EV_TEST_SLOT0 + 4 * HOUR_MS, D2EV_TEST_SLOT0 + 4 * HOUR_MS + 1200000, 2.4 },
    };
    memset(s, 0, sizeof(*s));
    strcpy(s->vehicle_id, "v-1");
    s->version = 7;
    s->created_at = D2EV_TEST_T0;
    s->status = D2EV_SCHED_OPTIMAL;
    strcpy(s->reason, "cheapest 2 windows before 07:30");
    strcpy(s->price_forecast_id, "9b2f4c1e-3d5a-4e6f-8a7b-0c1d2e3f4a5b");
    strcpy(s->telemetry_id, "t-1");
    s->prefs_version = 3;
    s->ready_by = D2EV_TEST_SLOT0 + 24 * HOUR_MS;
    s->target_soc = 80;
    s->soc_at_plan = 55.5;
    s->expected_soc = 80;
    s->nwindows = 2;
    s->windows = dup_or_fail(windows, sizeof(windows));
    s->expected_cost = 1.1;
    s->expected_carbon_g = 900;
    s->baseline_cost = 2.9;
    s->baseline_carbon_g = 2100.5;
    strcpy(s->currency, "GBP");
    strcpy(s->method, "milp");
    s->solve_ms = 12.5;
}

void d2ev_test_sample_dispatch(struct d2ev_dispatch *d)
{
    memset(d, 0, sizeof(*d));
    strcpy(d->vehicle_id, "v-1");
    strcpy(d->command_id, "c-1");
    d->command = D2EV_CMD_START;
    d->schedule_version = 7;
    d->window = 0;
    d->attempt = 1;
    d->result = D2EV_DISPATCH_RETRY;
    d->latency_ms = 850;
    strcpy(d->error_class, "asleep");
    strcpy(d->detail, "car asleep, woke it");
    d->at = D2EV_TEST_T0;
}

void d2ev_test_sample_notification(struct d2ev_notification *n)
{
    memset(n, 0, sizeof(*n));
    strcpy(n->vehicle_id, "v-1");
    strcpy(n->user_id, "u-42");
    strcpy(n->kind, "charge_start_estimate");
    strcpy(n->message, "Charging starts at 09:30 \xe2\x80\x94 the cheapest hour");
    n->has_time = true;
    n->time = D2EV_TEST_SLOT0 + 2 * HOUR_MS;
}

void d2ev_test_sample_control(struct d2ev_control *c)
{
    memset(c, 0, sizeof(*c));
    strcpy(c->vehicle_id, "v-1");
    c->action = D2EV_CONTROL_REPLAN;
    strcpy(c->requested_by, "ops@example.com");
    strcpy(c->reason, "price spike");
}

char *d2ev_test_dump(const json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (!s)
        fail_msg("cannot dump JSON");
    return s;
}

/* ------------------------------------------------------------ codecs */

#define CODEC_FNS(name)                                                                            \
    static void sample_##name(void *out)                                                           \
    {                                                                                              \
        d2ev_test_sample_##name(out);                                                              \
    }                                                                                              \
    static json_t *encode_##name(const void *in)                                                   \
    {                                                                                              \
        return d2ev_##name##_encode(in);                                                           \
    }                                                                                              \
    static int decode_##name(const void *b, size_t n, void *out, struct d2ev_err *e)               \
    {                                                                                              \
        return d2ev_##name##_decode(b, n, out, e);                                                 \
    }
#define CLEAR_FN(name)                                                                             \
    static void clear_##name(void *v)                                                              \
    {                                                                                              \
        d2ev_##name##_clear(v);                                                                    \
    }

CODEC_FNS(vehicle)
CODEC_FNS(credentials)
CODEC_FNS(reg_request)
CODEC_FNS(reg_result)
CODEC_FNS(telemetry)
CODEC_FNS(session)
CODEC_FNS(forecast)
CODEC_FNS(capacity)
CODEC_FNS(schedule)
CODEC_FNS(dispatch)
CODEC_FNS(notification)
CODEC_FNS(control)
CLEAR_FN(credentials)
CLEAR_FN(reg_request)
CLEAR_FN(forecast)
CLEAR_FN(capacity)
CLEAR_FN(schedule)

static void clear_none(void *v)
{
    (void)v;
}

#define CODEC(type, topic, name, clear)                                                            \
    {                                                                                              \
        type, topic, sizeof(struct d2ev_##name), sample_##name, encode_##name, decode_##name,      \
            clear                                                                                  \
    }

const struct d2ev_test_codec d2ev_test_codecs[] = {
    CODEC("vehicle", D2EV_TOPIC_VEHICLES, vehicle, clear_none),
    CODEC("credentials", D2EV_TOPIC_CREDENTIALS, credentials, clear_credentials),
    CODEC("registration.request", D2EV_TOPIC_REG_REQUESTS, reg_request, clear_reg_request),
    CODEC("registration.result", D2EV_TOPIC_REG_RESULTS, reg_result, clear_none),
    CODEC("telemetry", D2EV_TOPIC_TELEMETRY, telemetry, clear_none),
    CODEC("session", D2EV_TOPIC_SESSIONS, session, clear_none),
    CODEC("forecast", D2EV_TOPIC_FORECASTS, forecast, clear_forecast),
    CODEC("capacity", D2EV_TOPIC_CAPACITY, capacity, clear_capacity),
    CODEC("schedule", D2EV_TOPIC_SCHEDULES, schedule, clear_schedule),
    CODEC("dispatch", D2EV_TOPIC_DISPATCH, dispatch, clear_none),
    CODEC("notification", D2EV_TOPIC_NOTIFICATIONS, notification, clear_none),
    CODEC("control", D2EV_TOPIC_CONTROL, control, clear_none),
};
const size_t d2ev_test_ncodecs = sizeof(d2ev_test_codecs) / sizeof(d2ev_test_codecs[0]);

/* Big enough for any event struct. */
union any_event {
    struct d2ev_vehicle vehicle;
    struct d2ev_reg_request reg_request;
    struct d2ev_schedule schedule;
    struct d2ev_session session;
    struct d2ev_telemetry telemetry;
    struct d2ev_dispatch dispatch;
    struct d2ev_notification notification;
    struct d2ev_control control;
    struct d2ev_forecast forecast;
    struct d2ev_capacity capacity;
    struct d2ev_credentials credentials;
    struct d2ev_reg_result reg_result;
};

const struct d2ev_test_codec *d2ev_test_codec(const char *type)
{
    for (size_t i = 0; i < d2ev_test_ncodecs; i++) {
        if (strcmp(d2ev_test_codecs[i].type, type) == 0)
            return &d2ev_test_codecs[i];
    }
    fail_msg("no message type \"%s\"", type);
    return NULL;
}

json_t *d2ev_test_sample_json(const char *type)
{
    const struct d2ev_test_codec *c = d2ev_test_codec(type);
    union any_event u;
    c->sample(&u);
    json_t *j = c->encode(&u);
    c->clear(&u);
    if (!j)
        fail_msg("%s: encoding the sample failed", type);
    return j;
}

int d2ev_test_decode(const char *type, const void *buf, size_t len, struct d2ev_err *err)
{
    const struct d2ev_test_codec *c = d2ev_test_codec(type);
    union any_event u;
    int rc = c->decode(buf, len, &u, err);
    c->clear(&u);
    return rc;
}
