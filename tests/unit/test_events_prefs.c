/*
 * test_events_prefs.c: driver preferences: defaults, the wire form, the rules,
 * and partial updates (patches) from the app.
 */
#include "d2ev_test.h"
#include "d2ev_test_events.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev/events.h"

/* Parse JSON text or fail the test; the caller json_decref()s it. */
static json_t *js(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        fail_msg("bad test JSON %s: %s", text, jerr.text);
    return j;
}

static int from_text(const char *text, struct d2ev_prefs *p, struct d2ev_err *err)
{
    json_t *j = js(text);
    memset(err, 0, sizeof(*err));
    int rc = d2ev_prefs_from_json(j, p, err);
    json_decref(j);
    return rc;
}

static int patch_text(struct d2ev_prefs *p, const char *text, struct d2ev_err *err)
{
    json_t *j = js(text);
    memset(err, 0, sizeof(*err));
    int rc = d2ev_prefs_apply_patch(p, j, err);
    json_decref(j);
    return rc;
}

/* A patch that must fail with needle in the message and leave *p as it was. */
static void expect_patch_rejected(const char *text, const char *needle)
{
    struct d2ev_prefs p, before;
    struct d2ev_err err;
    d2ev_test_sample_prefs(&p);
    memcpy(&before, &p, sizeof(p));
    D2EV_ASSERT_ERR(patch_text(&p, text, &err), err, D2EV_ERR_INVALID, needle);
    if (memcmp(&before, &p, sizeof(p)) != 0)
        fail_msg("patch %s failed but changed the preferences", text);
}

static void expect_from_json_rejected(const char *text, int code, const char *needle)
{
    struct d2ev_prefs p;
    struct d2ev_err err;
    D2EV_ASSERT_ERR(from_text(text, &p, &err), err, code, needle);
}

/* ------------------------------------------------------------ defaults and wire form */

static void test_defaults(void **state)
{
    (void)state;
    struct d2ev_prefs p;
    memset(&p, 0x5a, sizeof(p));
    d2ev_prefs_default(&p);
    for (int d = 0; d < D2EV_DAYS; d++)
        assert_int_equal(p.ready_by[d], 7 * 60);
    assert_int_equal(p.noverrides, 0);
    assert_true(p.target_soc == 80 && p.min_soc == 0 && p.carbon_weight == 0.5);
    assert_int_equal(p.mode, D2EV_MODE_COST);
    assert_false(p.has_price_cap);
    assert_false(p.has_boost);
    assert_int_equal(p.max_windows, 0);
    assert_int_equal(p.min_window_minutes, 0);
    assert_int_equal(d2ev_prefs_validate(&p, NULL), D2EV_OK);

    json_t *j = d2ev_prefs_to_json(&p);
    json_t *want = js("{\"ready_by\": {\"mon\": \"07:00\", \"tue\": \"07:00\", \"wed\": \"07:00\","
                      " \"thu\": \"07:00\", \"fri\": \"07:00\", \"sat\": \"07:00\", \"sun\": "
                      "\"07:00\"}, \"ready_by_overrides\": [], \"target_soc\": 80.0, \"min_soc\": "
                      "0.0, \"mode\": \"cost\", \"carbon_weight\": 0.5, \"price_cap\": null, "
                      "\"max_windows\": 0, \"min_window_minutes\": 0, \"boost_until\": null}");
    if (!json_equal(j, want)) {
        char *got = d2ev_test_dump(j);
        fail_msg("default wire form: %s", got);
    }
    json_decref(want);
    json_decref(j);
}

static void test_wire_round_trip(void **state)
{
    (void)state;
    struct d2ev_prefs in, out;
    struct d2ev_err err;
    d2ev_test_sample_prefs(&in);
    json_t *j = d2ev_prefs_to_json(&in);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "ready_by"), "mon")),
                        "07:30");
    assert_true(json_is_null(json_object_get(json_object_get(j, "ready_by"), "sat")));
    json_t *o0 = json_array_get(json_object_get(j, "ready_by_overrides"), 0);
    assert_string_equal(json_string_value(json_object_get(o0, "date")), "2026-11-24");
    assert_string_equal(json_string_value(json_object_get(o0, "time")), "06:00");
    assert_string_equal(json_string_value(json_object_get(j, "mode")), "mix");
    assert_string_equal(json_string_value(json_object_get(j, "boost_until")),
                        "2026-11-21T08:30:00.250Z");
    memset(&out, 0x5a, sizeof(out));
    if (d2ev_prefs_from_json(j, &out, &err) != D2EV_OK)
        fail_msg("%s", err.msg);
    assert_memory_equal(&in, &out, sizeof(in));
    json_decref(j);
}

static void test_missing_members_take_defaults(void **state)
{
    (void)state;
    struct d2ev_prefs p, def;
    struct d2ev_err err;
    d2ev_prefs_default(&def);
    assert_int_equal(from_text("{}", &p, &err), D2EV_OK);
    assert_memory_equal(&p, &def, sizeof(p));
    /* null is the same as missing; unknown members are ignored (tolerant reader) */
    assert_int_equal(
        from_text("{\"target_soc\": null, \"price_cap\": null, \"colour\": 1}", &p, &err), D2EV_OK);
    assert_memory_equal(&p, &def, sizeof(p));
    /* a day left out of ready_by keeps its default */
    assert_int_equal(from_text("{\"ready_by\": {\"mon\": \"06:15\", \"sun\": null}}", &p, &err),
                     D2EV_OK);
    assert_int_equal(p.ready_by[0], 6 * 60 + 15);
    assert_int_equal(p.ready_by[1], 7 * 60);
    assert_int_equal(p.ready_by[6], -1);
}

static void test_bad_wire_values(void **state)
{
    (void)state;
    expect_from_json_rejected("{\"ready_by\": {\"mon\": \"25:00\"}}", D2EV_ERR_INVALID,
                              "ready_by.mon: want \"HH:MM\", got \"25:00\"");
    expect_from_json_rejected("{\"ready_by\": {\"tue\": \"7:30\"}}", D2EV_ERR_INVALID,
                              "ready_by.tue: want \"HH:MM\", got \"7:30\"");
    expect_from_json_rejected("{\"ready_by\": {\"wed\": \"07:60\"}}", D2EV_ERR_INVALID,
                              "ready_by.wed: want \"HH:MM\", got \"07:60\"");
    expect_from_json_rejected("{\"ready_by\": {\"thu\": 730}}", D2EV_ERR_INVALID,
                              "ready_by.thu: want \"HH:MM\", got number");
    expect_from_json_rejected("{\"ready_by\": {\"fri\": \"07:3\\u00e9\"}}", D2EV_ERR_INVALID,
                              "ready_by.fri: want \"HH:MM\"");
    expect_from_json_rejected("{\"ready_by\": {\"monday\": \"07:00\"}}", D2EV_ERR_INVALID,
                              "ready_by: unknown day \"monday\", want mon..sun");
    expect_from_json_rejected("{\"ready_by\": [\"07:00\"]}", D2EV_ERR_INVALID,
                              "ready_by: must be an object, got array");
    expect_from_json_rejected("{\"target_soc\": 0}", D2EV_ERR_INVALID,
                              "target_soc: must be between 1 and 100, got 0");
    expect_from_json_rejected("{\"target_soc\": 100.5}", D2EV_ERR_INVALID, "target_soc: must be");
    expect_from_json_rejected("{\"min_soc\": -1}", D2EV_ERR_INVALID, "min_soc: must be between");
    expect_from_json_rejected("{\"min_soc\": 90}", D2EV_ERR_INVALID,
                              "min_soc: must not be above target_soc (90 > 80)");
    expect_from_json_rejected("{\"mode\": \"green\"}", D2EV_ERR_INVALID,
                              "mode: must be one of cost, carbon, mix, got \"green\"");
    expect_from_json_rejected("{\"carbon_weight\": 1.5}", D2EV_ERR_INVALID,
                              "carbon_weight: must be between 0 and 1");
    expect_from_json_rejected("{\"price_cap\": \"0.30\"}", D2EV_ERR_INVALID,
                              "price_cap: must be a number, got string");
    expect_from_json_rejected("{\"price_cap\": 1000}", D2EV_ERR_INVALID, "price_cap: must be");
    expect_from_json_rejected("{\"max_windows\": 49}", D2EV_ERR_INVALID,
                              "max_windows: must be between 0 and 48, got 49");
    expect_from_json_rejected("{\"max_windows\": 2.5}", D2EV_ERR_INVALID,
                              "max_windows: must be an integer");
    expect_from_json_rejected("{\"min_window_minutes\": 721}", D2EV_ERR_INVALID,
                              "min_window_minutes: must be between 0 and 720");
    expect_from_json_rejected("{\"boost_until\": \"now\"}", D2EV_ERR_INVALID,
                              "boost_until: timestamp 'now' is not RFC 3339");
}

static void test_overrides(void **state)
{
    (void)state;
    struct d2ev_prefs p;
    struct d2ev_err err;
    /* any order in, sorted in the struct */
    assert_int_equal(from_text("{\"ready_by_overrides\": [{\"date\": \"2028-02-29\", \"time\": "
                               "\"05:00\"}, {\"date\": \"2026-11-24\", \"time\": \"06:00\"}]}",
                               &p, &err),
                     D2EV_OK);
    assert_int_equal(p.noverrides, 2);
    assert_int_equal(p.overrides[0].date, 20781); /* 2026-11-24 */
    assert_int_equal(p.overrides[0].minutes, 360);
    assert_int_equal(p.overrides[1].minutes, 300);
    /* extra members in an item are ignored on the wire (but not in a patch) */
    assert_int_equal(from_text("{\"ready_by_overrides\": [{\"date\": \"2026-11-24\", \"time\": "
                               "\"06:00\", \"note\": \"airport\"}]}",
                               &p, &err),
                     D2EV_OK);

    expect_from_json_rejected("{\"ready_by_overrides\": [{\"date\": \"2027-02-29\", \"time\": "
                              "\"06:00\"}]}",
                              D2EV_ERR_INVALID,
                              "ready_by_overrides[0].date: want a date \"YYYY-MM-DD\" from 1970 "
                              "on, got \"2027-02-29\"");
    expect_from_json_rejected("{\"ready_by_overrides\": [{\"date\": \"2026-13-01\", \"time\": "
                              "\"06:00\"}]}",
                              D2EV_ERR_INVALID, "ready_by_overrides[0].date: want a date");
    expect_from_json_rejected("{\"ready_by_overrides\": [{\"date\": \"1969-12-31\", \"time\": "
                              "\"06:00\"}]}",
                              D2EV_ERR_INVALID, "ready_by_overrides[0].date: want a date");
    expect_from_json_rejected("{\"ready_by_overrides\": [{\"date\": \"2026-11-24T00:00:00Z\", "
                              "\"time\": \"06:00\"}]}",
                              D2EV_ERR_INVALID, "ready_by_overrides[0].date: want a date");
    expect_from_json_rejected("{\"ready_by_overrides\": [{\"date\": \"2026-11-24\", \"time\": "
                              "\"06:00\"}, {\"date\": \"2026-11-25\"}]}",
                              D2EV_ERR_INVALID,
                              "ready_by_overrides[1].time: required field is missing");
    expect_from_json_rejected("{\"ready_by_overrides\": [{\"date\": \"2026-11-24\", \"time\": "
                              "null}]}",
                              D2EV_ERR_INVALID,
                              "ready_by_overrides[0].time: want \"HH:MM\", got null");
    expect_from_json_rejected("{\"ready_by_overrides\": [\"2026-11-24 06:00\"]}", D2EV_ERR_INVALID,
                              "ready_by_overrides[0]: must be an object, got string");
    expect_from_json_rejected("{\"ready_by_overrides\": [{\"date\": \"2026-11-24\", \"time\": "
                              "\"06:00\"}, {\"date\": \"2026-11-24\", \"time\": \"07:00\"}]}",
                              D2EV_ERR_INVALID,
                              "ready_by_overrides: the same date is listed twice");
    /* at most 31 */
    json_t *arr = json_array();
    for (int i = 0; i < D2EV_MAX_OVERRIDES + 1; i++) {
        char date[16];
        snprintf(date, sizeof(date), "2026-12-%02d", i + 1 > 31 ? 31 : i + 1);
        json_array_append_new(arr, json_pack("{s:s, s:s}", "date", date, "time", "06:00"));
    }
    json_t *obj = json_pack("{s:o}", "ready_by_overrides", arr);
    D2EV_ASSERT_ERR(d2ev_prefs_from_json(obj, &p, &err), err, D2EV_ERR_LIMIT,
                    "ready_by_overrides: has 32 items, more than the 31 allowed");
    json_array_remove(arr, D2EV_MAX_OVERRIDES);
    assert_int_equal(d2ev_prefs_from_json(obj, &p, &err), D2EV_OK);
    assert_int_equal(p.noverrides, 31);
    json_decref(obj);
}

static void test_validate(void **state)
{
    (void)state;
    struct d2ev_prefs p;
    struct d2ev_err err;
    d2ev_test_sample_prefs(&p);
    assert_int_equal(d2ev_prefs_validate(&p, &err), D2EV_OK);
#define CHECK_RULE(change, code, needle)                                                           \
    do {                                                                                           \
        d2ev_test_sample_prefs(&p);                                                                \
        change;                                                                                    \
        D2EV_ASSERT_ERR(d2ev_prefs_validate(&p, &err), err, code, needle);                         \
    } while (0)
    CHECK_RULE(p.ready_by[2] = 1440, D2EV_ERR_INVALID,
               "ready_by.wed: must be -1 (none) or 0..1439");
    CHECK_RULE(p.ready_by[3] = -2, D2EV_ERR_INVALID, "ready_by.thu: must be");
    CHECK_RULE(p.overrides[1].date = p.overrides[0].date, D2EV_ERR_INVALID,
               "ready_by_overrides[1].date: must be after the previous date");
    CHECK_RULE(p.overrides[0].minutes = 1440, D2EV_ERR_INVALID, "ready_by_overrides[0].time");
    CHECK_RULE(p.noverrides = 40, D2EV_ERR_LIMIT, "ready_by_overrides: has 40 items");
    CHECK_RULE(p.target_soc = NAN, D2EV_ERR_INVALID, "target_soc: must be between 1 and 100");
    CHECK_RULE(p.min_soc = 90, D2EV_ERR_INVALID, "min_soc: must not be above target_soc");
    CHECK_RULE(p.mode = (enum d2ev_opt_mode)7, D2EV_ERR_INVALID, "mode: unknown value 7");
    CHECK_RULE(p.carbon_weight = -0.1, D2EV_ERR_INVALID, "carbon_weight: must be between");
    CHECK_RULE(p.price_cap = INFINITY, D2EV_ERR_INVALID, "price_cap: must be between");
    CHECK_RULE(p.max_windows = 49, D2EV_ERR_INVALID, "max_windows: must be between 0 and 48");
    CHECK_RULE(p.min_window_minutes = -1, D2EV_ERR_INVALID, "min_window_minutes: must be");
    /* min == target is fine, and so is a cap with has_price_cap false */
    d2ev_test_sample_prefs(&p);
    p.min_soc = p.target_soc;
    p.has_price_cap = false;
    p.price_cap = 1e9;
    assert_int_equal(d2ev_prefs_validate(&p, &err), D2EV_OK);
#undef CHECK_RULE
}

/* ------------------------------------------------------------ patches */

static void test_patch_partial(void **state)
{
    (void)state;
    struct d2ev_prefs p, want;
    struct d2ev_err err;
    d2ev_test_sample_prefs(&p);
    memcpy(&want, &p, sizeof(p));
    assert_int_equal(
        patch_text(&p, "{\"target_soc\": 90, \"ready_by\": {\"sat\": \"08:00\"}}", &err), D2EV_OK);
    want.target_soc = 90;
    want.ready_by[5] = 8 * 60;
    assert_memory_equal(&p, &want, sizeof(p)); /* nothing else moved */

    /* an empty patch changes nothing */
    assert_int_equal(patch_text(&p, "{}", &err), D2EV_OK);
    assert_memory_equal(&p, &want, sizeof(p));

    /* members apply together: raising both past the old target is fine */
    assert_int_equal(patch_text(&p, "{\"min_soc\": 95, \"target_soc\": 100}", &err), D2EV_OK);
    assert_true(p.min_soc == 95 && p.target_soc == 100);

    /* a day can be cleared to "no deadline" */
    assert_int_equal(patch_text(&p, "{\"ready_by\": {\"mon\": null}}", &err), D2EV_OK);
    assert_int_equal(p.ready_by[0], -1);

    /* overrides are replaced as a whole */
    assert_int_equal(patch_text(&p,
                                "{\"ready_by_overrides\": [{\"date\": \"2027-01-05\", \"time\": "
                                "\"04:30\"}]}",
                                &err),
                     D2EV_OK);
    assert_int_equal(p.noverrides, 1);
    assert_int_equal(p.overrides[0].minutes, 270);
}

static void test_patch_null_clears(void **state)
{
    (void)state;
    struct d2ev_prefs p;
    struct d2ev_err err;
    d2ev_test_sample_prefs(&p);
    assert_true(p.has_price_cap && p.has_boost && p.noverrides == 2);
    assert_int_equal(patch_text(&p,
                                "{\"price_cap\": null, \"boost_until\": null, "
                                "\"ready_by_overrides\": null}",
                                &err),
                     D2EV_OK);
    assert_false(p.has_price_cap);
    assert_false(p.has_boost);
    assert_int_equal(p.noverrides, 0);
    /* and setting them again */
    assert_int_equal(patch_text(&p,
                                "{\"price_cap\": -0.05, \"boost_until\": "
                                "\"2026-11-21T08:30:00+01:00\"}",
                                &err),
                     D2EV_OK);
    assert_true(p.has_price_cap && p.price_cap == -0.05);
    assert_true(p.has_boost);
    assert_int_equal(p.boost_until, D2EV_TEST_SLOT0); /* 07:30Z */
}

static void test_patch_rejections(void **state)
{
    (void)state;
    expect_patch_rejected("{\"colour\": \"red\"}", "unknown field \"colour\"");
    expect_patch_rejected("{\"target_soc\": 90, \"Target_soc\": 80}", "unknown field");
    expect_patch_rejected("{\"target_soc\": 10}",
                          "min_soc: must not be above target_soc (20 > 10)");
    expect_patch_rejected("{\"min_soc\": 86}", "min_soc: must not be above target_soc");
    expect_patch_rejected("{\"target_soc\": null}", "target_soc: cannot be null");
    expect_patch_rejected("{\"ready_by\": null}", "ready_by: cannot be null");
    expect_patch_rejected("{\"mode\": null}", "mode: cannot be null");
    expect_patch_rejected("{\"target_soc\": \"90\"}", "target_soc: must be a number, got string");
    expect_patch_rejected("{\"target_soc\": 90, \"ready_by\": {\"mon\": \"25:00\"}}",
                          "ready_by.mon: want \"HH:MM\", got \"25:00\"");
    expect_patch_rejected("{\"ready_by\": {\"funday\": \"10:00\"}}", "ready_by: unknown day");
    expect_patch_rejected("{\"ready_by_overrides\": [{\"date\": \"2026-11-24\", \"time\": "
                          "\"06:00\", \"note\": \"airport\"}]}",
                          "ready_by_overrides[0]: unknown field \"note\"");
    expect_patch_rejected("{\"max_windows\": -1}", "max_windows: must be between 0 and 48");
    expect_patch_rejected("{\"boost_until\": 1700000000}",
                          "boost_until: must be an RFC 3339 time string, got number");

    struct d2ev_prefs p;
    struct d2ev_err err;
    d2ev_test_sample_prefs(&p);
    json_t *arr = json_array();
    D2EV_ASSERT_ERR(d2ev_prefs_apply_patch(&p, arr, &err), err, D2EV_ERR_INVALID,
                    "must be an object, got array");
    json_decref(arr);
    D2EV_ASSERT_ERR(d2ev_prefs_apply_patch(&p, NULL, &err), err, D2EV_ERR_INVALID,
                    "must be an object");
    assert_int_equal(d2ev_prefs_apply_patch(&p, NULL, NULL), D2EV_ERR_INVALID);
}

/* ------------------------------------------------------------ in registration requests */

static int decode_request(json_t *j, struct d2ev_err *err)
{
    struct d2ev_reg_request r;
    char *text = d2ev_test_dump(j);
    int rc = d2ev_reg_request_decode(text, strlen(text), &r, err);
    free(text);
    json_decref(j);
    d2ev_reg_request_clear(&r);
    return rc;
}

/* The sample request turned into action with prefs_patch set to patch
 * (stolen; NULL removes it). */
static json_t *request_with(enum d2ev_reg_action action, json_t *patch)
{
    struct d2ev_reg_request r;
    d2ev_test_sample_reg_request(&r);
    r.action = action;
    json_t *j = d2ev_reg_request_encode(&r);
    d2ev_reg_request_clear(&r);
    if (patch)
        json_object_set_new(j, "prefs_patch", patch);
    else
        json_object_del(j, "prefs_patch");
    return j;
}

static void test_patch_in_requests(void **state)
{
    (void)state;
    struct d2ev_err err;
    /* update: each member is checked, the cross-field rules wait for the
     * stored preferences (min 90 is fine if the target is already 95) */
    assert_int_equal(decode_request(request_with(D2EV_REG_UPDATE_PREFERENCES, js("{\"min_soc\": "
                                                                                 "90}")),
                                    &err),
                     D2EV_OK);
    D2EV_ASSERT_ERR(decode_request(request_with(D2EV_REG_UPDATE_PREFERENCES, NULL), &err), err,
                    D2EV_ERR_INVALID,
                    "registration.request.prefs_patch: required field is missing");
    D2EV_ASSERT_ERR(
        decode_request(request_with(D2EV_REG_UPDATE_PREFERENCES, js("{\"min_soc\": 101}")), &err),
        err, D2EV_ERR_INVALID,
        "registration.request.prefs_patch.min_soc: must be between 0 and 100");
    D2EV_ASSERT_ERR(decode_request(request_with(D2EV_REG_UPDATE_PREFERENCES,
                                                js("{\"ready_by\": {\"sun\": \"24:00\"}}")),
                                   &err),
                    err, D2EV_ERR_INVALID,
                    "registration.request.prefs_patch.ready_by.sun: want \"HH:MM\", got \"24:00\"");
    D2EV_ASSERT_ERR(
        decode_request(request_with(D2EV_REG_UPDATE_PREFERENCES, js("{\"speed\": 1}")), &err), err,
        D2EV_ERR_INVALID, "registration.request.prefs_patch: unknown field \"speed\"");
    /* register: applied over the defaults, so the result is checked whole */
    D2EV_ASSERT_ERR(decode_request(request_with(D2EV_REG_REGISTER, js("{\"min_soc\": 90}")), &err),
                    err, D2EV_ERR_INVALID,
                    "registration.request.prefs_patch.min_soc: must not be above target_soc");
    assert_int_equal(decode_request(request_with(D2EV_REG_REGISTER, NULL), &err), D2EV_OK);
    /* deregister needs no patch, but a bad one is still bad */
    assert_int_equal(decode_request(request_with(D2EV_REG_DEREGISTER, NULL), &err), D2EV_OK);
    D2EV_ASSERT_ERR(decode_request(request_with(D2EV_REG_DEREGISTER, js("{\"x\": 1}")), &err), err,
                    D2EV_ERR_INVALID, "registration.request.prefs_patch: unknown field");
    /* the decoded patch is a copy the request owns */
    struct d2ev_reg_request r;
    json_t *j = request_with(D2EV_REG_UPDATE_PREFERENCES, js("{\"target_soc\": 70}"));
    char *text = d2ev_test_dump(j);
    json_decref(j);
    assert_int_equal(d2ev_reg_request_decode(text, strlen(text), &r, &err), D2EV_OK);
    free(text);
    assert_true(json_number_value(json_object_get(r.prefs_patch, "target_soc")) == 70);
    assert_int_equal(r.prefs_patch->refcount, 1);
    d2ev_reg_request_clear(&r);
    assert_null(r.prefs_patch);
}

int main(void)
{
    d2ev_clock_set_manual(D2EV_TEST_T0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_wire_round_trip),
        cmocka_unit_test(test_missing_members_take_defaults),
        cmocka_unit_test(test_bad_wire_values),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_patch_partial),
        cmocka_unit_test(test_patch_null_clears),
        cmocka_unit_test(test_patch_rejections),
        cmocka_unit_test(test_patch_in_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
