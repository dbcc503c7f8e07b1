/*
 * test_events.c: every message type round-trips through encode/decode, and
 * every class of bad input is rejected with an error that names the field.
 *
 * The checks that apply to all types run once per type (a cmocka test per
 * type and check); the type-specific rules are a table of one-field changes
 * applied to the known-good samples of d2ev_test_events.h.
 */
#include "d2ev_test.h"
#include "d2ev_test_events.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev/events.h"
#include "d2ev/json.h"
#include "d2ev/strbuf.h"
#include "d2ev/util.h"

union any_event {
    struct d2ev_vehicle vehicle;
    struct d2ev_credentials credentials;
    struct d2ev_reg_request reg_request;
    struct d2ev_reg_result reg_result;
    struct d2ev_telemetry telemetry;
    struct d2ev_session session;
    struct d2ev_forecast forecast;
    struct d2ev_capacity capacity;
    struct d2ev_schedule schedule;
    struct d2ev_dispatch dispatch;
    struct d2ev_notification notification;
    struct d2ev_control control;
};

/* What this suite knows about a type beyond d2ev_test_codec (its I/O). */
struct codec {
    const char *type;
    /* Compares heap members; NULL when the struct has none. */
    bool (*equal)(const union any_event *a, const union any_event *b);
    const char *const *required; /* payload members whose absence is an error */
    const char *const *optional; /* payload members that may be left out */
};
#define IO(c) d2ev_test_codec((c)->type)

/* Payload bytes after the envelope (which differs by id and ts) are equal. */
static bool same_payload(const void *a, const void *b, size_t size)
{
    size_t off = sizeof(struct d2ev_envelope);
    return memcmp((const char *)a + off, (const char *)b + off, size - off) == 0;
}

static bool equal_credentials(const union any_event *a, const union any_event *b)
{
    struct d2ev_credentials c;
    memcpy(&c, &b->credentials, sizeof(c));
    if (!a->credentials.sealed || !c.sealed || strcmp(a->credentials.sealed, c.sealed) != 0)
        return false;
    c.sealed = a->credentials.sealed;
    return same_payload(&a->credentials, &c, sizeof(c));
}

static bool equal_reg_request(const union any_event *a, const union any_event *b)
{
    struct d2ev_reg_request r;
    memcpy(&r, &b->reg_request, sizeof(r));
    const struct d2ev_reg_request *x = &a->reg_request;
    if ((x->sealed_auth == NULL) != (r.sealed_auth == NULL) ||
        (x->sealed_auth && strcmp(x->sealed_auth, r.sealed_auth) != 0) ||
        (x->prefs_patch == NULL) != (r.prefs_patch == NULL) ||
        (x->prefs_patch && !json_equal(x->prefs_patch, r.prefs_patch)))
        return false;
    r.sealed_auth = x->sealed_auth;
    r.prefs_patch = x->prefs_patch;
    return same_payload(x, &r, sizeof(r));
}

static bool equal_forecast(const union any_event *a, const union any_event *b)
{
    struct d2ev_forecast f;
    memcpy(&f, &b->forecast, sizeof(f));
    if (f.n != a->forecast.n || memcmp(f.values, a->forecast.values, f.n * sizeof(double)) != 0)
        return false;
    f.values = a->forecast.values;
    return same_payload(&a->forecast, &f, sizeof(f));
}

static bool equal_capacity(const union any_event *a, const union any_event *b)
{
    struct d2ev_capacity c;
    memcpy(&c, &b->capacity, sizeof(c));
    if (c.n != a->capacity.n ||
        memcmp(c.limits_kw, a->capacity.limits_kw, c.n * sizeof(double)) != 0)
        return false;
    c.limits_kw = a->capacity.limits_kw;
    return same_payload(&a->capacity, &c, sizeof(c));
}

static bool equal_schedule(const union any_event *a, const union any_event *b)
{
    struct d2ev_schedule s;
    memcpy(&s, &b->schedule, sizeof(s));
    if (s.nwindows != a->schedule.nwindows ||
        (s.nwindows &&
         memcmp(s.windows, a->schedule.windows, s.nwindows * sizeof(struct d2ev_window)) != 0))
        return false;
    s.windows = a->schedule.windows;
    return same_payload(&a->schedule, &s, sizeof(s));
}

#define LIST(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NONE      ((const char *const[]){ NULL })

static const struct codec codecs[] = {
    { "vehicle", NULL,
      LIST("vehicle_id", "user_id", "oem", "oem_vehicle_id", "timezone", "region", "prefs",
           "prefs_version", "status", "registered_at", "updated_at"),
      LIST("battery_kwh", "max_power_kw", "site_id", "status_reason") },
    { "credentials", equal_credentials,
      LIST("vehicle_id", "oem", "key_id", "sealed", "access_expires_at", "version", "updated_at"),
      NONE },
    { "registration.request", equal_reg_request,
      LIST("request_id", "action", "vehicle_id", "user_id", "oem", "oem_vehicle_id", "timezone",
           "region", "sealed_auth"),
      LIST("site_id", "battery_kwh", "max_power_kw", "prefs_patch", "idempotency_key", "source") },
    { "registration.result", NULL,
      LIST("request_id", "vehicle_id", "action", "accepted", "code",
           "reason"), /* reason: because accepted is false */
      NONE },
    { "telemetry", NULL,
      LIST("vehicle_id", "oem", "observed_at", "reported_at", "soc", "plugged_in",
           "charging_state"),
      LIST("power_kw", "charge_limit", "range_km", "battery_kwh", "energy_added_kwh") },
    { "session", NULL,
      LIST("vehicle_id", "session_id", "event", "started_at", "at", "soc_start", "soc_now",
           "energy_kwh", "charging_s", "idle_s", "cost", "carbon_g",
           "currency"), /* currency: because cost is not 0 */
      LIST("anomaly", "ended_at", "detail") },
    { "forecast", equal_forecast,
      LIST("region", "kind", "unit", "issued_at", "start", "slot_minutes", "values"),
      LIST("source") },
    { "capacity", equal_capacity, LIST("site_id", "start", "slot_minutes", "limits_kw"), NONE },
    { "schedule", equal_schedule,
      LIST("vehicle_id", "version", "created_at", "status", "prefs_version", "ready_by",
           "target_soc", "soc_at_plan", "expected_soc", "windows", "expected_cost",
           "expected_carbon_g", "baseline_cost", "baseline_carbon_g", "currency", "method",
           "solve_ms"),
      LIST("reason", "price_forecast_id", "carbon_forecast_id", "telemetry_id") },
    { "dispatch", NULL,
      LIST("vehicle_id", "command_id", "command", "schedule_version", "window", "attempt", "result",
           "latency_ms", "at"),
      LIST("error_class", "detail") },
    { "notification", NULL, LIST("vehicle_id", "kind", "message"), LIST("user_id", "time", "soc") },
    { "control", NULL, LIST("vehicle_id", "action", "requested_by"), LIST("reason") },
};
#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))

static const char *const envelope_keys[] = { "type", "v", "id", "ts", NULL };

static const struct codec *codec_of(const char *type)
{
    for (size_t i = 0; i < NCODECS; i++) {
        if (strcmp(codecs[i].type, type) == 0)
            return &codecs[i];
    }
    fail_msg("no codec for %s", type);
    return NULL;
}

static bool listed(const char *const *list, const char *key)
{
    for (; *list; list++) {
        if (strcmp(*list, key) == 0)
            return true;
    }
    return false;
}

/* The encoded sample of c; the caller json_decref()s it. */
static json_t *sample_json(const struct codec *c)
{
    return d2ev_test_sample_json(c->type);
}

/* The sample with obj[key] replaced by value (stolen), or removed when value
 * is NULL, as text. The caller frees it. */
static char *mutated(const struct codec *c, const char *key, json_t *value)
{
    json_t *j = sample_json(c);
    if (value)
        json_object_set_new(j, key, value);
    else
        json_object_del(j, key);
    char *text = d2ev_test_dump(j);
    json_decref(j);
    return text;
}

/* The sample with obj[key] written as the raw JSON text raw (which may be
 * something jansson would refuse to build). The caller frees it. */
static char *splice_marker(char *text, const char *raw);
static char *with_raw(const struct codec *c, const char *key, const char *raw)
{
    return splice_marker(mutated(c, key, json_string("@@MARK@@")), raw);
}

/* Replace the string "@@MARK@@" in text (freed) by raw; returns the new text. */
static char *splice_marker(char *text, const char *raw)
{
    char *at = strstr(text, "\"@@MARK@@\"");
    assert_non_null(at);
    size_t head = (size_t)(at - text), tail = strlen(at + 10);
    size_t rlen = strlen(raw);
    char *out = malloc(head + rlen + tail + 1);
    memcpy(out, text, head);
    memcpy(out + head, raw, rlen);
    memcpy(out + head + rlen, at + 10, tail + 1);
    free(text);
    return out;
}

/* Decode text with c into a scratch struct; on failure the struct must come
 * back zeroed, on success it is released. */
static int decode_text(const struct codec *c, const char *text, size_t len, struct d2ev_err *err)
{
    union any_event u;
    memset(&u, 0xa5, sizeof(u)); /* decoders must not rely on a zeroed output */
    memset(err, 0, sizeof(*err));
    int rc = IO(c)->decode(text, len, &u, err);
    if (rc != D2EV_OK) {
        static const char zero[sizeof(union any_event)];
        if (memcmp(&u, zero, IO(c)->size) != 0)
            fail_msg("%s: a failed decode left data in the output", c->type);
        if (!d2ev_utf8_valid(err->msg, strlen(err->msg)))
            fail_msg("%s: error message is not valid UTF-8", c->type);
    }
    IO(c)->clear(&u);
    return rc;
}

static int decode_str(const struct codec *c, const char *text, struct d2ev_err *err)
{
    return decode_text(c, text, strlen(text), err);
}

/* Expect the text to be rejected with code and a message containing needle. */
static void expect_reject(const struct codec *c, char *text, int code, const char *needle)
{
    struct d2ev_err err;
    int rc = decode_str(c, text, &err);
    if (rc != code || !strstr(err.msg, needle))
        fail_msg("%s: want %s containing \"%s\", got %s: %s\n  input: %.300s", c->type,
                 d2ev_rc_name(code), needle, d2ev_rc_name(rc), err.msg, text);
    free(text);
}

static void expect_accept(const struct codec *c, char *text)
{
    struct d2ev_err err;
    if (decode_str(c, text, &err) != D2EV_OK)
        fail_msg("%s: want accepted, got %s\n  input: %.300s", c->type, err.msg, text);
    free(text);
}

/* ------------------------------------------------------------ per type */

/* encode(in), check the envelope, decode, and compare with in. Releases
 * what the decode allocated; in stays the caller's. */
static void round_trip(const struct codec *c, const union any_event *in)
{
    union any_event out;
    json_t *j = IO(c)->encode(in);
    assert_non_null(j);
    /* the envelope: our type, version 1, a fresh UUID, ts from the d2ev clock */
    assert_string_equal(json_string_value(json_object_get(j, "type")), c->type);
    assert_int_equal(json_integer_value(json_object_get(j, "v")), 1);
    assert_true(d2ev_uuid_valid(json_string_value(json_object_get(j, "id"))));
    assert_string_equal(json_string_value(json_object_get(j, "ts")), "2026-11-21T07:30:00.250Z");
    /* has_* flags are not on the wire */
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (strncmp(key, "has_", 4) == 0)
            fail_msg("%s: %s is on the wire", c->type, key);
    }
    char *text = d2ev_test_dump(j);
    struct d2ev_err err = { 0 };
    int rc = IO(c)->decode(text, strlen(text), &out, &err);
    if (rc != D2EV_OK)
        fail_msg("%s: round trip failed: %s\n  %s", c->type, err.msg, text);
    assert_string_equal(out.vehicle.env.type, c->type); /* env is the first member of all */
    assert_int_equal(out.vehicle.env.v, 1);
    assert_string_equal(out.vehicle.env.id, json_string_value(json_object_get(j, "id")));
    assert_int_equal(out.vehicle.env.ts, D2EV_TEST_T0);
    bool same = c->equal ? c->equal(in, &out) : same_payload(in, &out, IO(c)->size);
    if (!same)
        fail_msg("%s: decode(encode(x)) differs from x\n  %s", c->type, text);
    /* and encoding what was decoded gives the same payload */
    json_t *again = IO(c)->encode(&out);
    json_object_del(again, "id");
    json_object_del(j, "id");
    assert_true(json_equal(j, again));
    json_decref(again);
    json_decref(j);
    free(text);
    IO(c)->clear(&out);
    IO(c)->clear(&out); /* clearing twice is safe */
}

static void test_round_trip(void **state)
{
    const struct codec *c = *state;
    union any_event in;
    IO(c)->sample(&in);
    round_trip(c, &in);
    IO(c)->clear(&in);
}

/* The other shapes each type can take: other enum values, optional members
 * left out, conditional members present. */
/* Set a char array member, zeroing its tail, so structs compare bytewise. */
#define SET_STR(dst, s)                                                                            \
    do {                                                                                           \
        memset((dst), 0, sizeof(dst));                                                             \
        strcpy((dst), (s));                                                                        \
    } while (0)

static void test_round_trip_variants(void **state)
{
    (void)state;
    union any_event u;
    const int64_t h = 3600000;

    d2ev_test_sample_vehicle(&u.vehicle);
    u.vehicle.status = D2EV_VEHICLE_SUSPENDED;
    SET_STR(u.vehicle.status_reason, "consent revoked at the OEM \xe2\x80\x94 relink the car");
    u.vehicle.has_battery_kwh = u.vehicle.has_max_power_kw = false;
    u.vehicle.battery_kwh = u.vehicle.max_power_kw = 0;
    SET_STR(u.vehicle.site_id, "");
    d2ev_prefs_default(&u.vehicle.prefs);
    round_trip(codec_of("vehicle"), &u);

    d2ev_test_sample_reg_request(&u.reg_request);
    u.reg_request.action = D2EV_REG_UPDATE_PREFERENCES;
    json_decref(u.reg_request.prefs_patch);
    u.reg_request.prefs_patch = json_pack("{s:n, s:f}", "price_cap", "min_soc", 95.0);
    round_trip(codec_of("registration.request"), &u);
    d2ev_reg_request_clear(&u.reg_request);
    memset(&u, 0, sizeof(u));
    SET_STR(u.reg_request.request_id, "req-2");
    SET_STR(u.reg_request.vehicle_id, "v-1");
    u.reg_request.action = D2EV_REG_DEREGISTER;
    round_trip(codec_of("registration.request"), &u);

    d2ev_test_sample_reg_result(&u.reg_result);
    u.reg_result.accepted = true;
    SET_STR(u.reg_result.code, "ok");
    SET_STR(u.reg_result.reason, "");
    u.reg_result.action = D2EV_REG_DEREGISTER;
    round_trip(codec_of("registration.result"), &u);

    for (int st = 0; st < D2EV_CHG_COUNT; st++) {
        d2ev_test_sample_telemetry(&u.telemetry);
        u.telemetry.charging_state = (enum d2ev_charging_state)st;
        u.telemetry.plugged_in = st != D2EV_CHG_DISCONNECTED;
        u.telemetry.has_power_kw = u.telemetry.has_charge_limit = false;
        u.telemetry.power_kw = u.telemetry.charge_limit = 0;
        u.telemetry.has_battery_kwh = true;
        u.telemetry.battery_kwh = 64;
        round_trip(codec_of("telemetry"), &u);
    }

    d2ev_test_sample_session(&u.session);
    u.session.event = D2EV_SESSION_UNPLUG;
    u.session.ended_at = D2EV_TEST_T0;
    SET_STR(u.session.detail, "unplugged at 55 %");
    round_trip(codec_of("session"), &u);
    u.session.event = D2EV_SESSION_ANOMALY;
    u.session.anomaly = D2EV_ANOMALY_ZOMBIE;
    u.session.cost = 0;
    SET_STR(u.session.currency, "");
    round_trip(codec_of("session"), &u);

    d2ev_test_sample_forecast(&u.forecast);
    u.forecast.kind = D2EV_FORECAST_CARBON;
    SET_STR(u.forecast.unit, "gCO2/kWh");
    u.forecast.slot_minutes = 60;
    u.forecast.start = D2EV_TEST_SLOT0 - h / 2;
    u.forecast.values[1] = 0; /* carbon is never negative */
    SET_STR(u.forecast.source, "");
    round_trip(codec_of("forecast"), &u);
    SET_STR(u.forecast.unit, "EUR/kWh");
    u.forecast.kind = D2EV_FORECAST_PRICE;
    u.forecast.slot_minutes = 15;
    round_trip(codec_of("forecast"), &u);
    d2ev_forecast_clear(&u.forecast);

    d2ev_test_sample_schedule(&u.schedule);
    d2ev_schedule_clear(&u.schedule); /* no windows */
    u.schedule.status = D2EV_SCHED_NOT_PLUGGED;
    SET_STR(u.schedule.method, "none");
    SET_STR(u.schedule.price_forecast_id, "");
    SET_STR(u.schedule.telemetry_id, "");
    u.schedule.expected_cost = u.schedule.baseline_cost = 0;
    SET_STR(u.schedule.currency, "");
    round_trip(codec_of("schedule"), &u);

    d2ev_test_sample_dispatch(&u.dispatch);
    u.dispatch.command = D2EV_CMD_STOP;
    u.dispatch.window = -1;
    u.dispatch.result = D2EV_DISPATCH_FAILED;
    SET_STR(u.dispatch.error_class, "permanent");
    round_trip(codec_of("dispatch"), &u);
    u.dispatch.result = D2EV_DISPATCH_CONFIRMED;
    SET_STR(u.dispatch.error_class, "");
    SET_STR(u.dispatch.detail, "");
    round_trip(codec_of("dispatch"), &u);

    d2ev_test_sample_notification(&u.notification);
    u.notification.has_time = false;
    u.notification.time = 0;
    u.notification.has_soc = true;
    u.notification.soc = 72.5;
    SET_STR(u.notification.user_id, "");
    round_trip(codec_of("notification"), &u);

    d2ev_test_sample_control(&u.control);
    SET_STR(u.control.reason, "");
    round_trip(codec_of("control"), &u);
}

static void test_unknown_fields_ignored(void **state)
{
    const struct codec *c = *state;
    expect_accept(c, mutated(c, "zz_added_later", json_pack("{s:[i,i]}", "x", 1, 2)));
}

static void test_every_member_is_classified(void **state)
{
    const struct codec *c = *state;
    json_t *j = sample_json(c);
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (!listed(envelope_keys, key) && !listed(c->required, key) && !listed(c->optional, key))
            fail_msg("%s: member %s is neither required nor optional in this test", c->type, key);
    }
    json_decref(j);
}

static void test_missing_fields(void **state)
{
    const struct codec *c = *state;
    char needle[80];
    for (const char *const *k = envelope_keys; *k; k++) {
        snprintf(needle, sizeof(needle), "%s: required field is missing", *k);
        expect_reject(c, mutated(c, *k, NULL), D2EV_ERR_INVALID, needle);
    }
    for (const char *const *k = c->required; *k; k++) {
        snprintf(needle, sizeof(needle), "%s.%s: ", c->type, *k);
        char *text = mutated(c, *k, NULL);
        struct d2ev_err err;
        int rc = decode_str(c, text, &err);
        if (rc != D2EV_ERR_INVALID || !strstr(err.msg, needle) || !strstr(err.msg, "required"))
            fail_msg("%s: without %s: want \"%s... required\", got %s", c->type, *k, needle,
                     err.msg);
        free(text);
        /* null is the same as absent */
        expect_reject(c, mutated(c, *k, json_null()), D2EV_ERR_INVALID, needle);
    }
    for (const char *const *k = c->optional; *k; k++) {
        expect_accept(c, mutated(c, *k, NULL));
        expect_accept(c, mutated(c, *k, json_null()));
    }
}

/* A value of another JSON type than v. */
static json_t *other_type(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return json_integer(42);
    case JSON_OBJECT:
        return json_pack("[i]", 1);
    case JSON_ARRAY:
        return json_pack("{s:i}", "a", 1);
    case JSON_TRUE:
    case JSON_FALSE:
        return json_string("true");
    default: /* numbers and null */
        return json_string("42");
    }
}

static void test_wrong_types(void **state)
{
    const struct codec *c = *state;
    json_t *j = sample_json(c);
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        char needle[80];
        snprintf(needle, sizeof(needle), "%s: ", key);
        expect_reject(c, mutated(c, key, other_type(v)), D2EV_ERR_INVALID, needle);
    }
    /* a number where an integer is wanted */
    if (json_object_get(j, "version"))
        expect_reject(c, mutated(c, "version", json_real(7.5)), D2EV_ERR_INVALID,
                      "version: must be an integer");
    expect_reject(c, mutated(c, "v", json_real(1.0)), D2EV_ERR_INVALID, "v: must be an integer");
    json_decref(j);
}

static void test_oversized_strings(void **state)
{
    const struct codec *c = *state;
    char *big = malloc(20001);
    memset(big, 'a', 20000);
    big[20000] = '\0';
    json_t *j = sample_json(c);
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (!json_is_string(v))
            continue;
        char needle[80];
        snprintf(needle, sizeof(needle), "%s: ", key);
        char *text = mutated(c, key, json_string(big));
        struct d2ev_err err;
        if (decode_str(c, text, &err) == D2EV_OK || !strstr(err.msg, needle))
            fail_msg("%s: a 20000-byte %s: want an error naming it, got \"%s\"", c->type, key,
                     err.msg);
        free(text);
    }
    json_decref(j);
    free(big);
}

/* Replace the first occurrence of marker in text by bytes (same length or shorter). */
static void splice(char *text, const char *marker, const char *bytes)
{
    char *at = strstr(text, marker);
    assert_non_null(at);
    size_t mlen = strlen(marker), blen = strlen(bytes);
    assert_true(blen <= mlen);
    memcpy(at, bytes, blen);
    memmove(at + blen, at + mlen, strlen(at + mlen) + 1);
}

static void test_invalid_utf8(void **state)
{
    const struct codec *c = *state;
    static const char *const bad[] = {
        "\xff",         /* never valid */
        "\xc0\xaf",     /* overlong '/' */
        "\xed\xa0\x80", /* UTF-16 surrogate */
        "ab\xe2\x82",   /* truncated sequence */
    };
    json_t *j = sample_json(c);
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (!json_is_string(v))
            continue;
        for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
            char raw[16];
            snprintf(raw, sizeof(raw), "\"%s\"", bad[b]);
            char *text = with_raw(c, key, raw);
            char needle[80];
            snprintf(needle, sizeof(needle), "%s.%s: is not valid UTF-8", c->type, key);
            expect_reject(c, text, D2EV_ERR_INVALID, needle);
        }
    }
    /* an escaped lone surrogate is as invalid as the raw bytes */
    expect_reject(c, with_raw(c, "id", "\"\\ud800\""), D2EV_ERR_INVALID, "invalid Unicode");
    json_decref(j);
}

static void test_envelope(void **state)
{
    const struct codec *c = *state;
    const char *other = strcmp(c->type, "telemetry") == 0 ? "vehicle" : "telemetry";
    char needle[96];
    snprintf(needle, sizeof(needle), "type: expected \"%s\", got \"%s\"", c->type, other);
    expect_reject(c, mutated(c, "type", json_string(other)), D2EV_ERR_INVALID, needle);
    expect_reject(c, mutated(c, "v", json_integer(2)), D2EV_ERR_UNSUPPORTED,
                  "v: envelope version 2 is not supported");
    expect_reject(c, mutated(c, "v", json_integer(0)), D2EV_ERR_INVALID, "v: must be between");
    expect_reject(c, mutated(c, "id", json_string("not an id")), D2EV_ERR_INVALID,
                  "id: has a character not allowed");
    expect_reject(c, mutated(c, "ts", json_string("2026-11-21 7:30")), D2EV_ERR_INVALID,
                  "ts: timestamp");
    expect_reject(c, mutated(c, "ts", json_string("2026-02-30T00:00:00Z")), D2EV_ERR_INVALID,
                  "ts: timestamp");
}

static void test_malformed(void **state)
{
    const struct codec *c = *state;
    struct d2ev_err err;
    D2EV_ASSERT_ERR(decode_str(c, "[1,2]", &err), err, D2EV_ERR_INVALID,
                    "message must be a JSON object, got array");
    D2EV_ASSERT_ERR(decode_str(c, "\"x\"", &err), err, D2EV_ERR_INVALID, "'[' or '{' expected");
    D2EV_ASSERT_ERR(decode_str(c, "{\"type\":", &err), err, D2EV_ERR_INVALID, "malformed JSON");
    D2EV_ASSERT_ERR(decode_str(c, "", &err), err, D2EV_ERR_INVALID, "empty message");
    D2EV_ASSERT_ERR(decode_text(c, NULL, 0, &err), err, D2EV_ERR_INVALID, "empty message");
    /* trailing bytes after the object */
    char *text = mutated(c, "zz", json_integer(1));
    size_t len = strlen(text);
    char *longer = malloc(len + 8);
    memcpy(longer, text, len);
    memcpy(longer + len, " {}", 4);
    expect_reject(c, longer, D2EV_ERR_INVALID, "malformed JSON");
    /* a NUL byte inside the text */
    text[len - 3] = '\0';
    D2EV_ASSERT_ERR(decode_text(c, text, len, &err), err, D2EV_ERR_INVALID, "NUL byte");
    free(text);
    /* an escaped NUL inside a string */
    expect_reject(c, with_raw(c, "id", "\"a\\u0000\""), D2EV_ERR_INVALID, "u0000 is not allowed");
}

static void test_duplicate_keys(void **state)
{
    const struct codec *c = *state;
    json_t *j = sample_json(c);
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        /* Write the member a second time, with the same value, at the end. */
        char *text = d2ev_test_dump(j);
        char *member = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        size_t need = strlen(text) + strlen(key) + strlen(member) + 8;
        char *dup = malloc(need);
        snprintf(dup, need, "%.*s,\"%s\":%s}", (int)strlen(text) - 1, text, key, member);
        char needle[80];
        snprintf(needle, sizeof(needle), "duplicate object key near '\"%s\"'", key);
        expect_reject(c, dup, D2EV_ERR_INVALID, needle);
        free(member);
        free(text);
    }
    json_decref(j);
}

/* The sample with an extra member nested depth levels deep: arrays
 * [[[...]]] or objects {"a":{"a":...}}. The caller frees it. */
static char *nested(const struct codec *c, size_t depth, bool objects)
{
    struct d2ev_strbuf v = D2EV_STRBUF_INIT;
    for (size_t i = 0; i < depth; i++)
        d2ev_strbuf_puts(&v, objects ? "{\"a\":" : "[");
    d2ev_strbuf_puts(&v, "0");
    for (size_t i = 0; i < depth; i++)
        d2ev_strbuf_puts(&v, objects ? "}" : "]");
    char *text = with_raw(c, "zz", v.buf);
    d2ev_strbuf_free(&v);
    return text;
}

static void test_deep_nesting(void **state)
{
    const struct codec *c = *state;
    expect_reject(c, nested(c, 10000, false), D2EV_ERR_INVALID, "maximum parsing depth");
    expect_reject(c, nested(c, 10000, true), D2EV_ERR_INVALID, "maximum parsing depth");
    /* moderate nesting in an unknown member is fine (tolerant reader) */
    expect_accept(c, nested(c, 100, false));
}

static void test_too_large(void **state)
{
    const struct codec *c = *state;
    size_t size = D2EV_JSON_MAX_BYTES + 10;
    char *pad = malloc(size);
    memset(pad, 'x', size - 1);
    pad[size - 1] = '\0';
    json_t *v = json_string(pad);
    free(pad);
    expect_reject(c, mutated(c, "zz", v), D2EV_ERR_LIMIT, "over the 1048576-byte limit");
}

/* ------------------------------------------------------------ field rules */

/* One change to a sample and the error it must cause. */
struct bad_case {
    const char *type;
    const char *key;
    const char *value; /* JSON text; NULL removes the key */
    int code;
    const char *needle;
    const char *const *also; /* more {key, JSON text} pairs to set first, or NULL */
};

static const struct bad_case bad_cases[] = {
    /* vehicle */
    { "vehicle", "vehicle_id", "\"bad id!\"", D2EV_ERR_INVALID,
      "vehicle.vehicle_id: has a character not allowed here at byte 3" },
    { "vehicle", "vehicle_id", "\"\"", D2EV_ERR_INVALID, "vehicle.vehicle_id: must not be empty" },
    { "vehicle", "oem", "\"OEMSim\"", D2EV_ERR_INVALID, "vehicle.oem: has a character" },
    { "vehicle", "oem_vehicle_id", "\"tab\\there\"", D2EV_ERR_INVALID,
      "vehicle.oem_vehicle_id: has a character" },
    { "vehicle", "timezone", "\"../etc/passwd\"", D2EV_ERR_INVALID,
      "vehicle.timezone: must be an IANA zone name" },
    { "vehicle", "timezone", "\"Europe//London\"", D2EV_ERR_INVALID, "vehicle.timezone: must be" },
    { "vehicle", "battery_kwh", "0.5", D2EV_ERR_INVALID,
      "vehicle.battery_kwh: must be between 1 and 300, got 0.5" },
    { "vehicle", "max_power_kw", "1000", D2EV_ERR_INVALID,
      "vehicle.max_power_kw: must be between" },
    { "vehicle", "prefs_version", "-1", D2EV_ERR_INVALID,
      "vehicle.prefs_version: must be between" },
    { "vehicle", "status", "\"deleted\"", D2EV_ERR_INVALID,
      "vehicle.status: must be one of active, suspended, got \"deleted\"" },
    { "vehicle", "status", "\"suspended\"", D2EV_ERR_INVALID,
      "vehicle.status_reason: required when status is \"suspended\"" },
    { "vehicle", "updated_at", "\"2026-11-01T00:00:00Z\"", D2EV_ERR_INVALID,
      "vehicle.updated_at: must not be before registered_at" },
    { "vehicle", "prefs", "{\"target_soc\": 10, \"min_soc\": 20}", D2EV_ERR_INVALID,
      "vehicle.prefs.min_soc: must not be above target_soc (20 > 10)" },
    { "vehicle", "prefs", "{\"ready_by\": {\"mon\": \"25:00\"}}", D2EV_ERR_INVALID,
      "vehicle.prefs.ready_by.mon: want \"HH:MM\", got \"25:00\"" },
    { "vehicle", "prefs", "{\"mode\": \"fastest\"}", D2EV_ERR_INVALID,
      "vehicle.prefs.mode: must be one of cost, carbon, mix, got \"fastest\"" },
    { "vehicle", "prefs",
      "{\"ready_by_overrides\": [{\"date\": \"2026-11-24\", \"time\": \"06:00\"}, "
      "{\"date\": \"2026-02-30\", \"time\": \"06:00\"}]}",
      D2EV_ERR_INVALID, "vehicle.prefs.ready_by_overrides[1].date: want a date" },
    /* credentials */
    { "credentials", "key_id", "\"k2\"", D2EV_ERR_INVALID,
      "credentials.sealed: must start with key_id \"k2\"" },
    { "credentials", "key_id", "\"k123456789012345678901234567890123\"", D2EV_ERR_LIMIT,
      "credentials.key_id: is 34 bytes, longer than the 32 allowed" },
    { "credentials", "sealed", "\"k1.caf\\u00e9\"", D2EV_ERR_INVALID,
      "credentials.sealed: has a character not allowed" },
    { "credentials", "access_expires_at", "\"tomorrow\"", D2EV_ERR_INVALID,
      "credentials.access_expires_at: timestamp 'tomorrow' is not RFC 3339" },
    { "credentials", "version", "-3", D2EV_ERR_INVALID, "credentials.version: must be between" },
    /* registration request */
    { "registration.request", "action", "\"nuke\"", D2EV_ERR_INVALID,
      "registration.request.action: must be one of register, update_preferences, deregister" },
    { "registration.request", "prefs_patch", "{\"min_soc\": 90}", D2EV_ERR_INVALID,
      "registration.request.prefs_patch.min_soc: must not be above target_soc (90 > 80)" },
    { "registration.request", "prefs_patch", "{\"colour\": \"red\"}", D2EV_ERR_INVALID,
      "registration.request.prefs_patch: unknown field \"colour\"" },
    { "registration.request", "prefs_patch", "[1]", D2EV_ERR_INVALID,
      "registration.request.prefs_patch: must be an object, got array" },
    { "registration.request", "source", "\"Bridge\"", D2EV_ERR_INVALID,
      "registration.request.source: has a character" },
    { "registration.request", "timezone", "\" Europe/London\"", D2EV_ERR_INVALID,
      "registration.request.timezone: must be an IANA" },
    /* registration result */
    { "registration.result", "reason", "\"\"", D2EV_ERR_INVALID,
      "registration.result.reason: required when accepted is false" },
    { "registration.result", "code", "\"Unknown OEM\"", D2EV_ERR_INVALID,
      "registration.result.code: has a character" },
    /* telemetry */
    { "telemetry", "soc", "120", D2EV_ERR_INVALID,
      "telemetry.soc: must be between 0 and 100, got 120" },
    { "telemetry", "soc", "-0.5", D2EV_ERR_INVALID, "telemetry.soc: must be between 0 and 100" },
    { "telemetry", "soc", "1e400", D2EV_ERR_INVALID, "real number overflow" },
    { "telemetry", "charging_state", "\"CHARGING\"", D2EV_ERR_INVALID,
      "telemetry.charging_state: must be one of unknown, charging, stopped" },
    { "telemetry", "plugged_in", "false", D2EV_ERR_INVALID,
      "telemetry.plugged_in: is false, but charging_state \"charging\" says the opposite" },
    { "telemetry", "charging_state", "\"disconnected\"", D2EV_ERR_INVALID,
      "telemetry.plugged_in: is true, but charging_state \"disconnected\"" },
    { "telemetry", "reported_at", "\"2026-11-21T08:30:00Z\"", D2EV_ERR_INVALID,
      "telemetry.reported_at: is more than 5 minutes after observed_at" },
    { "telemetry", "power_kw", "500", D2EV_ERR_INVALID, "telemetry.power_kw: must be between" },
    { "telemetry", "charge_limit", "101", D2EV_ERR_INVALID,
      "telemetry.charge_limit: must be between 0 and 100" },
    { "telemetry", "range_km", "-1", D2EV_ERR_INVALID, "telemetry.range_km: must be between" },
    { "telemetry", "energy_added_kwh", "-1", D2EV_ERR_INVALID,
      "telemetry.energy_added_kwh: must be between" },
    { "telemetry", "observed_at", "\"1969-12-31T23:59:59Z\"", D2EV_ERR_INVALID,
      "telemetry.observed_at: timestamp" },
    /* session */
    { "session", "event", "\"anomaly\"", D2EV_ERR_INVALID,
      "session.anomaly: required when event is \"anomaly\"" },
    { "session", "anomaly", "\"zombie\"", D2EV_ERR_INVALID,
      "session.anomaly: only allowed when event is \"anomaly\"" },
    { "session", "anomaly", "\"none\"", D2EV_ERR_INVALID,
      "session.anomaly: must be one of zombie, eternal" },
    { "session", "event", "\"unplug\"", D2EV_ERR_INVALID,
      "session.ended_at: required when event is \"unplug\"" },
    { "session", "ended_at", "\"2026-11-21T06:00:00Z\"", D2EV_ERR_INVALID,
      "session.ended_at: must not be before started_at" },
    { "session", "at", "\"2026-11-21T06:00:00Z\"", D2EV_ERR_INVALID,
      "session.at: must not be before started_at" },
    { "session", "currency", "\"gbp\"", D2EV_ERR_INVALID,
      "session.currency: must be an ISO 4217 code such as \"GBP\", got \"gbp\"" },
    { "session", "currency", "\"GBPX\"", D2EV_ERR_LIMIT, "session.currency: is 4 bytes" },
    { "session", "energy_kwh", "-0.1", D2EV_ERR_INVALID, "session.energy_kwh: must be between" },
    { "session", "carbon_g", "-1", D2EV_ERR_INVALID, "session.carbon_g: must be between" },
    { "session", "soc_now", "100.5", D2EV_ERR_INVALID, "session.soc_now: must be between" },
    { "session", "idle_s", "-1", D2EV_ERR_INVALID, "session.idle_s: must be between" },
    /* forecast */
    { "forecast", "kind", "\"wind\"", D2EV_ERR_INVALID,
      "forecast.kind: must be one of price, carbon, got \"wind\"" },
    { "forecast", "unit", "\"kWh\"", D2EV_ERR_INVALID,
      "forecast.unit: must be GBP/kWh, EUR/kWh or USD/kWh (price) or gCO2/kWh (carbon), got "
      "\"kWh\"" },
    { "forecast", "unit", "\"gCO2/kWh\"", D2EV_ERR_INVALID,
      "forecast.unit: \"gCO2/kWh\" is a carbon unit, but kind is \"price\"" },
    { "forecast", "kind", "\"carbon\"", D2EV_ERR_INVALID,
      "forecast.unit: \"GBP/kWh\" is a price unit, but kind is \"carbon\"" },
    { "forecast", "slot_minutes", "45", D2EV_ERR_INVALID,
      "forecast.slot_minutes: must be 15, 30 or 60, got 45" },
    { "forecast", "slot_minutes", "5", D2EV_ERR_INVALID,
      "forecast.slot_minutes: must be between 15 and 60" },
    { "forecast", "start", "\"2026-11-21T07:10:00Z\"", D2EV_ERR_INVALID,
      "forecast.start: must be aligned to the 30-minute slot, got 2026-11-21T07:10:00Z" },
    { "forecast", "start", "\"2026-11-21T07:30:00.001Z\"", D2EV_ERR_INVALID,
      "forecast.start: must be aligned" },
    { "forecast", "values", "[]", D2EV_ERR_INVALID,
      "forecast.values: must have at least one item" },
    { "forecast", "values", "[0.1, 0.2, \"0.3\"]", D2EV_ERR_INVALID,
      "forecast.values[2]: must be a number, got string" },
    { "forecast", "values", "[0.1, null]", D2EV_ERR_INVALID,
      "forecast.values[1]: must be a number, got null" },
    { "forecast", "values", "[0.1, 5000]", D2EV_ERR_INVALID,
      "forecast.values[1]: must be between -1000 and 1000, got 5000" },
    { "forecast", "source", "\"line\\nbreak\"", D2EV_ERR_INVALID,
      "forecast.source: has a character" },
    { "forecast", "values", "[10, -0.5]", D2EV_ERR_INVALID,
      "forecast.values[1]: must be between 0 and 5000, got -0.5",
      LIST("kind", "\"carbon\"", "unit", "\"gCO2/kWh\"") },
    { "forecast", "values", "[10, 0]", D2EV_OK, "",
      LIST("kind", "\"carbon\"", "unit", "\"gCO2/kWh\"") },
    { "forecast", "unit", "\"EUR/kWh\"", D2EV_ERR_INVALID,
      "forecast.unit: \"EUR/kWh\" is a price unit, but kind is \"carbon\"",
      LIST("kind", "\"carbon\"") },
    { "forecast", "start", "\"2026-11-21T07:30:00Z\"", D2EV_ERR_INVALID,
      "forecast.start: must be aligned to the 60-minute slot", LIST("slot_minutes", "60") },
    /* capacity */
    { "capacity", "limits_kw", "[10, -1]", D2EV_ERR_INVALID,
      "capacity.limits_kw[1]: must be between 0 and 1e+06, got -1" },
    { "capacity", "slot_minutes", "20", D2EV_ERR_INVALID, "capacity.slot_minutes: must be 15" },
    { "capacity", "start", "\"2026-11-21T07:35:00Z\"", D2EV_ERR_INVALID,
      "capacity.start: must be aligned to the 15-minute slot" },
    { "capacity", "limits_kw", "{}", D2EV_ERR_INVALID,
      "capacity.limits_kw: must be an array, got object" },
    /* schedule */
    { "schedule", "windows",
      "[{\"start\":\"2026-11-21T10:00:00Z\",\"end\":\"2026-11-21T10:00:00Z\",\"energy_kwh\":1}]",
      D2EV_ERR_INVALID, "schedule.windows[0].end: must be after start" },
    { "schedule", "windows",
      "[{\"start\":\"2026-11-21T10:00:00Z\",\"end\":\"2026-11-21T11:00:00Z\",\"energy_kwh\":1},"
      "{\"start\":\"2026-11-21T10:30:00Z\",\"end\":\"2026-11-21T12:00:00Z\",\"energy_kwh\":1}]",
      D2EV_ERR_INVALID,
      "schedule.windows[1].start: must not be before windows[0].end (windows are sorted and do "
      "not overlap)" },
    { "schedule", "windows",
      "[{\"start\":\"2026-11-21T12:00:00Z\",\"end\":\"2026-11-21T13:00:00Z\",\"energy_kwh\":1},"
      "{\"start\":\"2026-11-21T10:00:00Z\",\"end\":\"2026-11-21T11:00:00Z\",\"energy_kwh\":1}]",
      D2EV_ERR_INVALID, "schedule.windows[1].start: must not be before windows[0].end" },
    { "schedule", "windows",
      "[{\"start\":\"2026-11-21T10:00:00Z\",\"end\":\"2026-11-21T11:00:00Z\",\"energy_kwh\":-1}]",
      D2EV_ERR_INVALID, "schedule.windows[0].energy_kwh: must be between" },
    { "schedule", "windows", "[{\"start\":\"2026-11-21T10:00:00Z\",\"energy_kwh\":1}]",
      D2EV_ERR_INVALID, "schedule.windows[0].end: required field is missing" },
    { "schedule", "windows", "[\"10:00-11:00\"]", D2EV_ERR_INVALID,
      "schedule.windows[0]: must be an object, got string" },
    { "schedule", "status", "\"great\"", D2EV_ERR_INVALID,
      "schedule.status: must be one of optimal, feasible, target_unreachable" },
    { "schedule", "method", "\"simplex\"", D2EV_ERR_INVALID,
      "schedule.method: must be one of milp, lp, greedy, dp, fleet, none" },
    { "schedule", "expected_soc", "101", D2EV_ERR_INVALID, "schedule.expected_soc: must be" },
    { "schedule", "expected_carbon_g", "-5", D2EV_ERR_INVALID,
      "schedule.expected_carbon_g: must be between" },
    { "schedule", "price_forecast_id", "\"a b\"", D2EV_ERR_INVALID,
      "schedule.price_forecast_id: has a character" },
    { "schedule", "solve_ms", "-1", D2EV_ERR_INVALID, "schedule.solve_ms: must be between" },
    /* dispatch */
    { "dispatch", "command", "\"reboot\"", D2EV_ERR_INVALID,
      "dispatch.command: must be one of start, stop, wake" },
    { "dispatch", "result", "\"ok\"", D2EV_ERR_INVALID,
      "dispatch.result: must be one of sent, confirmed, retry, failed, alert, skipped" },
    { "dispatch", "window", "200", D2EV_ERR_INVALID,
      "dispatch.window: must be between -1 and 199" },
    { "dispatch", "window", "-2", D2EV_ERR_INVALID, "dispatch.window: must be between" },
    { "dispatch", "attempt", "1.5", D2EV_ERR_INVALID, "dispatch.attempt: must be an integer" },
    { "dispatch", "latency_ms", "-5", D2EV_ERR_INVALID, "dispatch.latency_ms: must be between" },
    { "dispatch", "schedule_version", "99999999999999999999", D2EV_ERR_INVALID, "too big integer" },
    { "dispatch", "error_class", "\"sleepy\"", D2EV_ERR_INVALID,
      "dispatch.error_class: must be one of permanent, retry, asleep, rate_limited, unauthorized" },
    { "dispatch", "result", "\"failed\"", D2EV_OK, "" }, /* error_class "asleep" is set */
    /* notification */
    { "notification", "soc", "101", D2EV_ERR_INVALID, "notification.soc: must be between" },
    { "notification", "kind", "\"Target Unreachable\"", D2EV_ERR_INVALID,
      "notification.kind: has a character" },
    { "notification", "message", "\"\"", D2EV_ERR_INVALID,
      "notification.message: must not be empty" },
    { "notification", "message", "\"bell \\u0007\"", D2EV_ERR_INVALID,
      "notification.message: has a character" },
    { "notification", "time", "\"soon\"", D2EV_ERR_INVALID, "notification.time: timestamp" },
    /* control */
    { "control", "action", "\"delete\"", D2EV_ERR_INVALID,
      "control.action: must be one of replan, got \"delete\"" },
    { "control", "requested_by", "\"Jo Bloggs\"", D2EV_ERR_INVALID,
      "control.requested_by: has a character" },
};

static void test_field_rules(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *b = &bad_cases[i];
        const struct codec *c = codec_of(b->type);
        json_t *j = sample_json(c);
        for (const char *const *a = b->also; a && a[0]; a += 2)
            json_object_set_new(j, a[0], json_loads(a[1], JSON_DECODE_ANY, NULL));
        if (b->value)
            json_object_set_new(j, b->key, json_string("@@MARK@@"));
        else
            json_object_del(j, b->key);
        char *text = d2ev_test_dump(j);
        json_decref(j);
        if (b->value)
            text = splice_marker(text, b->value);
        if (b->code == D2EV_OK)
            expect_accept(c, text);
        else
            expect_reject(c, text, b->code, b->needle);
    }
}

/* ------------------------------------------------------------ limits */

static char *repeat(char ch, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

/* A string of exactly max bytes is accepted, max+1 is D2EV_ERR_LIMIT. */
static void check_string_limit(const char *type, const char *key, size_t max, const char *prefix)
{
    const struct codec *c = codec_of(type);
    char *s = repeat('a', max + 1);
    size_t plen = strlen(prefix);
    memcpy(s, prefix, plen);
    char needle[128];
    snprintf(needle, sizeof(needle), "%s.%s: is %zu bytes, longer than the %zu allowed", type, key,
             max + 1, max);
    expect_reject(c, mutated(c, key, json_string(s)), D2EV_ERR_LIMIT, needle);
    s[max] = '\0';
    expect_accept(c, mutated(c, key, json_string(s)));
    free(s);
}

static void test_string_limits(void **state)
{
    (void)state;
    check_string_limit("vehicle", "vehicle_id", D2EV_VEHICLE_ID_MAX, "");
    check_string_limit("vehicle", "user_id", D2EV_USER_ID_MAX, "");
    check_string_limit("vehicle", "oem", D2EV_OEM_MAX, "");
    check_string_limit("vehicle", "oem_vehicle_id", D2EV_OEM_VEHICLE_ID_MAX, "");
    check_string_limit("vehicle", "timezone", D2EV_TZ_MAX, "");
    check_string_limit("vehicle", "region", D2EV_REGION_MAX, "");
    check_string_limit("vehicle", "site_id", D2EV_SITE_ID_MAX, "");
    check_string_limit("credentials", "sealed", D2EV_SEALED_MAX, "k1.");
    check_string_limit("registration.request", "sealed_auth", D2EV_SEALED_MAX, "");
    check_string_limit("registration.result", "reason", D2EV_REASON_MAX, "");
    check_string_limit("registration.result", "code", D2EV_CODE_MAX, "");
    check_string_limit("forecast", "source", 64, "");
    check_string_limit("session", "detail", D2EV_REASON_MAX, "");
    check_string_limit("schedule", "reason", D2EV_REASON_MAX, "");
    check_string_limit("schedule", "telemetry_id", D2EV_EVENT_ID_MAX, "");
    check_string_limit("dispatch", "command_id", 64, "");
    check_string_limit("notification", "message", D2EV_REASON_MAX, "");
    check_string_limit("control", "requested_by", D2EV_USER_ID_MAX, "");
    check_string_limit("control", "reason", D2EV_REASON_MAX, "");
    /* the limit counts bytes, not characters: 128 two-byte characters are 256 bytes */
    const struct codec *c = codec_of("control");
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    for (int i = 0; i < 128; i++)
        d2ev_strbuf_puts(&sb, "\xc3\xa9");
    expect_reject(c, mutated(c, "reason", json_string(sb.buf)), D2EV_ERR_LIMIT,
                  "control.reason: is 256 bytes");
    d2ev_strbuf_free(&sb);
}

/* A JSON array of n copies of item (stolen). */
static json_t *array_of(size_t n, json_t *item)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(a, item);
    json_decref(item);
    return a;
}

static void test_array_limits(void **state)
{
    (void)state;
    const struct codec *f = codec_of("forecast"), *cap = codec_of("capacity");
    const struct codec *s = codec_of("schedule");
    expect_accept(f, mutated(f, "values", array_of(D2EV_FORECAST_MAX_SLOTS, json_real(0.1))));
    expect_reject(f, mutated(f, "values", array_of(D2EV_FORECAST_MAX_SLOTS + 1, json_real(0.1))),
                  D2EV_ERR_LIMIT, "forecast.values: has 3001 items, more than the 3000 allowed");
    expect_reject(cap,
                  mutated(cap, "limits_kw", array_of(D2EV_FORECAST_MAX_SLOTS + 1, json_real(1))),
                  D2EV_ERR_LIMIT, "capacity.limits_kw: has 3001 items");
    /* 201 windows, valid apart from their number */
    json_t *w = json_array();
    for (int i = 0; i <= D2EV_SCHEDULE_MAX_WINDOWS; i++) {
        json_t *item = json_object();
        d2ev_json_set_time(item, "start", D2EV_TEST_SLOT0 + i * 1800000LL);
        d2ev_json_set_time(item, "end", D2EV_TEST_SLOT0 + i * 1800000LL + 900000);
        json_object_set_new(item, "energy_kwh", json_real(1));
        json_array_append_new(w, item);
    }
    expect_reject(s, mutated(s, "windows", json_incref(w)), D2EV_ERR_LIMIT,
                  "schedule.windows: has 201 items, more than the 200 allowed");
    json_array_remove(w, D2EV_SCHEDULE_MAX_WINDOWS);
    expect_accept(s, mutated(s, "windows", w));
    /* an empty schedule (nothing to do) is fine */
    expect_accept(s, mutated(s, "windows", json_array()));
}

/* ------------------------------------------------------------ paths and messages */

static void test_utf8_error_names_nested_path(void **state)
{
    (void)state;
    const struct codec *v = codec_of("vehicle"), *s = codec_of("schedule");
    char *text = mutated(v, "zz", json_integer(0));
    splice(text, "\"mode\":\"mix\"", "\"mode\":\"m\xffx\"");
    expect_reject(v, text, D2EV_ERR_INVALID, "vehicle.prefs.mode: is not valid UTF-8 (byte 0xff");
    text = mutated(s, "zz", json_integer(0));
    char *second = strstr(strstr(text, "\"end\":\"") + 1, "\"end\":\"");
    assert_non_null(second);
    second[8] = (char)0xfe;
    expect_reject(s, text, D2EV_ERR_INVALID, "schedule.windows[1].end: is not valid UTF-8");
    /* in a key: the path is the object holding it */
    text = mutated(v, "zz", json_integer(0));
    splice(text, "\"target_soc\"", "\"t\xff\"");
    expect_reject(v, text, D2EV_ERR_INVALID, "vehicle.prefs: is not valid UTF-8");
}

static void test_error_messages_stay_utf8(void **state)
{
    (void)state;
    /* jansson quotes the bytes near a syntax error, here the first byte of a
     * euro sign after a broken escape; decoders must not pass that on (the
     * message goes into logs and dead-letter records, which need UTF-8). */
    const struct codec *c = codec_of("control");
    struct d2ev_err err;
    const char *text = "{\"type\":\"control\",\"reason\":\"\\u12\xe2\x82\xac\"}";
    assert_int_equal(decode_str(c, text, &err), D2EV_ERR_INVALID); /* checks UTF-8 */
    assert_non_null(strstr(err.msg, "malformed JSON"));
    assert_non_null(strstr(err.msg, "invalid escape near '\"\\u12?'"));
}

/* ------------------------------------------------------------ encoders */

static void test_encode_optional_members(void **state)
{
    (void)state;
    struct d2ev_telemetry t;
    d2ev_test_sample_telemetry(&t);
    t.has_power_kw = false;
    t.power_kw = 99; /* ignored: has_power_kw is false */
    json_t *j = d2ev_telemetry_encode(&t);
    assert_true(json_is_null(json_object_get(j, "power_kw")));
    assert_true(json_is_null(json_object_get(j, "battery_kwh")));
    assert_string_equal(json_string_value(json_object_get(j, "charging_state")), "charging");
    assert_string_equal(json_string_value(json_object_get(j, "observed_at")),
                        "2026-11-21T07:30:00.250Z");
    json_decref(j);

    struct d2ev_session s;
    d2ev_test_sample_session(&s);
    j = d2ev_session_encode(&s);
    assert_null(json_object_get(j, "anomaly")); /* absent for none */
    assert_true(json_is_null(json_object_get(j, "ended_at")));
    assert_null(json_object_get(j, "detail")); /* empty text is left out */
    json_decref(j);
    s.event = D2EV_SESSION_ANOMALY;
    s.anomaly = D2EV_ANOMALY_ETERNAL;
    j = d2ev_session_encode(&s);
    assert_string_equal(json_string_value(json_object_get(j, "anomaly")), "eternal");
    json_decref(j);

    struct d2ev_schedule sc;
    d2ev_test_sample_schedule(&sc);
    j = d2ev_schedule_encode(&sc);
    json_t *w1 = json_array_get(json_object_get(j, "windows"), 1);
    assert_string_equal(json_string_value(json_object_get(w1, "end")), "2026-11-21T11:50:00.000Z");
    assert_true(json_is_number(json_object_get(w1, "energy_kwh")));
    json_decref(j);
    d2ev_schedule_clear(&sc);
}

static void test_encode_refuses_bad_values(void **state)
{
    (void)state;
    struct d2ev_telemetry t;
    d2ev_test_sample_telemetry(&t);
    t.soc = NAN;
    assert_null(d2ev_telemetry_encode(&t));
    d2ev_test_sample_telemetry(&t);
    t.charging_state = (enum d2ev_charging_state)42;
    assert_null(d2ev_telemetry_encode(&t));
    d2ev_test_sample_telemetry(&t);
    strcpy(t.vehicle_id, "v-\xff");
    assert_null(d2ev_telemetry_encode(&t));
    struct d2ev_credentials c;
    memset(&c, 0, sizeof(c));
    assert_null(d2ev_credentials_encode(&c)); /* no sealed text */
}

/* Free text from outside (an OEM's error message in a dispatch detail or a
 * registration reason) may hold line breaks or be cut inside a character: the
 * record still encodes, and decodes for its readers. */
static void test_encode_outside_text(void **state)
{
    (void)state;
    struct d2ev_dispatch d, back;
    d2ev_test_sample_dispatch(&d);
    SET_STR(d.detail, "tesla start: HTTP 403: line\none \xc3\xa9\xc3");
    json_t *j = d2ev_dispatch_encode(&d);
    assert_non_null(j);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    struct d2ev_err err;
    assert_int_equal(d2ev_dispatch_decode(text, strlen(text), &back, &err), D2EV_OK);
    assert_string_equal(back.detail, "tesla start: HTTP 403: line one \xc3\xa9?");
    free(text);
}

/* ------------------------------------------------------------ helpers */

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(d2ev_charging_state_name(D2EV_CHG_NO_POWER), "no_power");
    assert_string_equal(d2ev_charging_state_name(D2EV_CHG_UNKNOWN), "unknown");
    assert_string_equal(d2ev_charging_state_name((enum d2ev_charging_state)99), "unknown");
    assert_string_equal(d2ev_schedule_status_name(D2EV_SCHED_TARGET_UNREACHABLE),
                        "target_unreachable");
    assert_string_equal(d2ev_schedule_status_name(D2EV_SCHED_NOT_PLUGGED), "not_plugged");
    assert_string_equal(d2ev_schedule_status_name((enum d2ev_schedule_status) - 1), "unknown");
    assert_string_equal(d2ev_command_name(D2EV_CMD_WAKE), "wake");
    assert_string_equal(d2ev_dispatch_result_name(D2EV_DISPATCH_SKIPPED), "skipped");
    assert_string_equal(d2ev_dispatch_result_name((enum d2ev_dispatch_result)6), "unknown");
}

static void test_forecast_end(void **state)
{
    (void)state;
    struct d2ev_forecast f;
    d2ev_test_sample_forecast(&f);
    assert_int_equal(d2ev_forecast_end(&f), D2EV_TEST_SLOT0 + 4 * 30 * 60000LL);
    d2ev_forecast_clear(&f);
    assert_null(f.values);
    d2ev_forecast_clear(&f);
    d2ev_forecast_clear(NULL);
}

static void test_charging_at(void **state)
{
    (void)state;
    struct d2ev_schedule s;
    d2ev_test_sample_schedule(&s);
    const int64_t h = 3600000;
    assert_false(d2ev_schedule_charging_at(&s, D2EV_TEST_SLOT0));
    assert_false(d2ev_schedule_charging_at(&s, D2EV_TEST_SLOT0 + 2 * h - 1));
    assert_true(d2ev_schedule_charging_at(&s, D2EV_TEST_SLOT0 + 2 * h)); /* [start, end) */
    assert_true(d2ev_schedule_charging_at(&s, D2EV_TEST_SLOT0 + 3 * h - 1));
    assert_false(d2ev_schedule_charging_at(&s, D2EV_TEST_SLOT0 + 3 * h));
    assert_true(d2ev_schedule_charging_at(&s, D2EV_TEST_SLOT0 + 4 * h + 60000));
    assert_false(d2ev_schedule_charging_at(&s, D2EV_TEST_SLOT0 + 4 * h + 1200000));
    d2ev_schedule_clear(&s);
    assert_false(d2ev_schedule_charging_at(&s, D2EV_TEST_SLOT0 + 2 * h)); /* no windows */
}

static void test_clear_zeroed(void **state)
{
    (void)state;
    struct d2ev_credentials c = { 0 };
    struct d2ev_reg_request r = { 0 };
    struct d2ev_forecast f = { 0 };
    struct d2ev_capacity cap = { 0 };
    struct d2ev_schedule s = { 0 };
    d2ev_credentials_clear(&c);
    d2ev_reg_request_clear(&r);
    d2ev_forecast_clear(&f);
    d2ev_capacity_clear(&cap);
    d2ev_schedule_clear(&s);
    d2ev_credentials_clear(NULL);
    d2ev_reg_request_clear(NULL);
    d2ev_capacity_clear(NULL);
    d2ev_schedule_clear(NULL);
}

static void test_decode_err_may_be_null(void **state)
{
    (void)state;
    struct d2ev_forecast f;
    assert_int_equal(d2ev_forecast_decode("{}", 2, &f, NULL), D2EV_ERR_INVALID);
    const struct codec *c = codec_of("forecast");
    char *text = mutated(c, "values", json_pack("[f,s]", 0.1, "x"));
    assert_int_equal(d2ev_forecast_decode(text, strlen(text), &f, NULL), D2EV_ERR_INVALID);
    assert_null(f.values);
    free(text);
}

/* ------------------------------------------------------------ main */

#define PER_CODEC(fn)                                                                              \
    cmocka_unit_test_prestate(fn, (void *)&codecs[0]),                                             \
        cmocka_unit_test_prestate(fn, (void *)&codecs[1]),                                         \
        cmocka_unit_test_prestate(fn, (void *)&codecs[2]),                                         \
        cmocka_unit_test_prestate(fn, (void *)&codecs[3]),                                         \
        cmocka_unit_test_prestate(fn, (void *)&codecs[4]),                                         \
        cmocka_unit_test_prestate(fn, (void *)&codecs[5]),                                         \
        cmocka_unit_test_prestate(fn, (void *)&codecs[6]),                                         \
        cmocka_unit_test_prestate(fn, (void *)&codecs[7]),                                         \
        cmocka_unit_test_prestate(fn, (void *)&codecs[8]),                                         \
        cmocka_unit_test_prestate(fn, (void *)&codecs[9]),                                         \
        cmocka_unit_test_prestate(fn, (void *)&codecs[10]),                                        \
        cmocka_unit_test_prestate(fn, (void *)&codecs[11])

int main(void)
{
    _Static_assert(NCODECS == 12, "PER_CODEC lists every codec");
    assert_int_equal(d2ev_test_ncodecs, NCODECS);
    for (size_t i = 0; i < NCODECS; i++)
        assert_true(IO(&codecs[i])->size <= sizeof(union any_event));
    d2ev_clock_set_manual(D2EV_TEST_T0);
    const struct CMUnitTest tests[] = {
        PER_CODEC(test_round_trip),
        PER_CODEC(test_unknown_fields_ignored),
        PER_CODEC(test_every_member_is_classified),
        PER_CODEC(test_missing_fields),
        PER_CODEC(test_wrong_types),
        PER_CODEC(test_oversized_strings),
        PER_CODEC(test_invalid_utf8),
        PER_CODEC(test_envelope),
        PER_CODEC(test_malformed),
        PER_CODEC(test_duplicate_keys),
        PER_CODEC(test_deep_nesting),
        PER_CODEC(test_too_large),
        cmocka_unit_test(test_round_trip_variants),
        cmocka_unit_test(test_field_rules),
        cmocka_unit_test(test_string_limits),
        cmocka_unit_test(test_array_limits),
        cmocka_unit_test(test_utf8_error_names_nested_path),
        cmocka_unit_test(test_error_messages_stay_utf8),
        cmocka_unit_test(test_encode_optional_members),
        cmocka_unit_test(test_encode_refuses_bad_values),
        cmocka_unit_test(test_encode_outside_text),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_forecast_end),
        cmocka_unit_test(test_charging_at),
        cmocka_unit_test(test_clear_zeroed),
        cmocka_unit_test(test_decode_err_may_be_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
