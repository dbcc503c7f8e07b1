/*
 * The /_sim/ control API, and properties that cut across the three OEMs:
 * routine reads never wake a car, faults are settable at run time, hostile
 * input gets an answer and never a crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev/util.h"
#include "simtest.h"

#define TRUTH_KEYS                                                                                 \
    "id,oem,index,soc,plugged,charging,state,paused_by_command,asleep,waking,reachable,"           \
    "ignore_commands,revoked,auto_plug,limit,capacity_kwh,max_power_kw,power_kw,"                  \
    "energy_added_kwh,range_km,minutes_to_limit,wake_count,commands,plug_in_time,unplug_time,"     \
    "plug_in_chance,consumption_wh_per_km,as_of,pending_command,pending_at"

static int setup(void **state)
{
    struct simtest *t = calloc(1, sizeof(*t));
    simtest_start(t, NULL);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct simtest *t = *state;
    simtest_stop(t);
    free(t);
    return 0;
}

static void expect_status(struct simtest *t, const char *method, const char *path, const char *body,
                          long want)
{
    struct simresp r;
    simtest_http(t, &r, method, path, NULL, body);
    if (r.status != want)
        fail_msg("%s %s: want %ld, got %ld: %s", method, path, want, r.status, r.body);
    if (want >= 400) { /* the control API speaks the d2ev error format */
        simtest_assert_keys(r.json, "error");
        simtest_assert_keys(json_object_get(r.json, "error"), "code,message");
    }
    simresp_free(&r);
}

static void test_list_and_true_state(void **state)
{
    struct simtest *t = *state;
    json_t *all = simtest_get(t, "/_sim/vehicles", 200);
    simtest_assert_keys(all, "total,offset,limit,vehicles");
    assert_int_equal(json_integer_value(json_object_get(all, "total")), 60);
    assert_int_equal(json_array_size(json_object_get(all, "vehicles")), 60);
    json_t *v0 = json_array_get(json_object_get(all, "vehicles"), 0);
    const char *oem = json_string_value(json_object_get(v0, "oem"));
    simtest_assert_keys(v0, simtest_fmt("%s%s", TRUTH_KEYS,
                                        !strcmp(oem, "tesla")   ? ",vin"
                                        : !strcmp(oem, "enode") ? ",user_id,vendor,linked"
                                                                : ""));
    long long sum = 0;
    const char *oems[] = { "smartcar", "tesla", "enode" };
    for (int i = 0; i < 3; i++) {
        json_t *l = simtest_get(t, simtest_fmt("/_sim/vehicles?oem=%s&limit=1000", oems[i]), 200);
        long long n = json_integer_value(json_object_get(l, "total"));
        assert_true(n > 0);
        sum += n;
        json_t *v;
        size_t k;
        json_array_foreach(json_object_get(l, "vehicles"), k, v)
            assert_string_equal(json_string_value(json_object_get(v, "oem")), oems[i]);
        json_decref(l);
    }
    assert_int_equal(sum, 60);
    json_t *page = simtest_get(t, "/_sim/vehicles?offset=58&limit=5", 200);
    assert_int_equal(json_array_size(json_object_get(page, "vehicles")), 2);
    json_decref(page);
    /* one vehicle, by its OEM id */
    const char *id = json_string_value(json_object_get(v0, "id"));
    json_t *one = simtest_truth(t, id);
    assert_string_equal(json_string_value(json_object_get(one, "id")), id);
    assert_string_equal(json_string_value(json_object_get(one, "as_of")),
                        "2026-11-21T07:29:58.000Z");
    json_decref(one);
    json_decref(all);

    expect_status(t, "GET", "/_sim/vehicles?limit=0", NULL, 400);
    expect_status(t, "GET", "/_sim/vehicles?limit=1001", NULL, 400);
    expect_status(t, "GET", "/_sim/vehicles?offset=-1", NULL, 400);
    expect_status(t, "GET", "/_sim/vehicles?oem=bmw", NULL, 400);
    expect_status(t, "GET", "/_sim/vehicles/nope", NULL, 404);
    expect_status(t, "GET", "/_sim/vehicles/1234567890123456/commands", NULL, 404);
    expect_status(t, "DELETE", "/_sim/vehicles", NULL, 405);
    expect_status(t, "GET", "/_sim/nothing", NULL, 404);
    expect_status(t, "GET", "/elsewhere", NULL, 404);
}

static void test_state_changes(void **state)
{
    struct simtest *t = *state;
    char id[40];
    simtest_vehicle(t, "tesla", 0, id);
    const char *path = simtest_fmt("/_sim/vehicles/%s/state", id);
    char p[128];
    snprintf(p, sizeof(p), "%s", path);
    json_t *v = simtest_post(t, p,
                             "{\"soc\": 42.5, \"limit\": 90, \"plugged\": true, \"asleep\": true, "
                             "\"ignore_commands\": true, \"auto_plug\": false}",
                             200);
    assert_true(json_number_value(json_object_get(v, "soc")) == 42.5);
    assert_int_equal(json_integer_value(json_object_get(v, "limit")), 90);
    assert_true(json_is_true(json_object_get(v, "plugged")));
    assert_true(json_is_true(json_object_get(v, "charging"))); /* asleep, still charging */
    assert_true(json_is_true(json_object_get(v, "asleep")));
    assert_true(json_is_true(json_object_get(v, "ignore_commands")));
    assert_false(json_is_true(json_object_get(v, "auto_plug")));
    json_decref(v);
    v = simtest_post(t, p, "{\"asleep\": false, \"reachable\": false}", 200);
    assert_false(json_is_true(json_object_get(v, "asleep")));
    assert_false(json_is_true(json_object_get(v, "reachable")));
    assert_int_equal(json_integer_value(json_object_get(v, "wake_count")), 0);
    json_decref(v);
    json_decref(simtest_post(t, p, "", 200)); /* nothing to change */

    const char *bad[] = { "{\"soc\": 120}",         "{\"limit\": 40}", "{\"limit\": 80.5}",
                          "{\"plugged\": \"yes\"}", "{\"colour\": 1}", "[]",
                          "{\"soc\": null, \"x\"",  "{\"soc\": -1}" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_status(t, "POST", p, bad[i], 400);
    expect_status(t, "GET", p, NULL, 405);

    /* authorize */
    json_t *a = simtest_post(t, simtest_fmt("/_sim/vehicles/%s/authorize", id),
                             "{\"redirect_uri\": \"https://app.example/cb\"}", 200);
    assert_string_equal(json_string_value(json_object_get(a, "redirect_uri")),
                        "https://app.example/cb");
    assert_string_equal(json_string_value(json_object_get(a, "oem")), "tesla");
    assert_int_equal(json_integer_value(json_object_get(a, "expires_in")), 600);
    json_decref(a);
    expect_status(t, "POST", simtest_fmt("/_sim/vehicles/%s/authorize", id),
                  "{\"redirect_uri\": 5}", 400);
    expect_status(t, "POST", simtest_fmt("/_sim/vehicles/%s/authorize", id), "{\"x\": 1}", 400);

    json_t *c = simtest_get(t, "/_sim/clock", 200);
    simtest_assert_keys(c, "now,now_ms,mode,speed");
    assert_string_equal(json_string_value(json_object_get(c, "now")), "2026-11-21T07:29:58.000Z");
    assert_string_equal(json_string_value(json_object_get(c, "mode")), "manual");
    json_decref(c);
}

static void test_fleet_state(void **state)
{
    struct simtest *t = *state;
    json_t *all = simtest_get(t, "/_sim/vehicles?oem=tesla", 200);
    long long teslas = json_integer_value(json_object_get(all, "total"));
    json_decref(all);
    const char *half = "{\"share\": 0.5, \"oem\": \"tesla\", \"seed\": 3, "
                       "\"state\": {\"asleep\": true, \"ignore_commands\": true}}";
    json_t *a = simtest_post(t, "/_sim/fleet/state", half, 200);
    json_t *b = simtest_post(t, "/_sim/fleet/state", half, 200);
    simtest_assert_keys(a, "changed,ids");
    long long n = json_integer_value(json_object_get(a, "changed"));
    assert_true(n > 0 && n < teslas);
    assert_true(json_equal(a, b)); /* the same request picks the same cars */
    json_t *id;
    size_t i;
    json_array_foreach(json_object_get(a, "ids"), i, id)
    {
        json_t *v = simtest_truth(t, json_string_value(id));
        assert_string_equal(json_string_value(json_object_get(v, "oem")), "tesla");
        assert_true(json_is_true(json_object_get(v, "asleep")));
        assert_true(json_is_true(json_object_get(v, "ignore_commands")));
        json_decref(v);
    }
    json_decref(a);
    json_decref(b);
    a = simtest_post(t, "/_sim/fleet/state", "{\"share\": 1, \"state\": {\"revoked\": true}}", 200);
    assert_int_equal(json_integer_value(json_object_get(a, "changed")), 60);
    json_decref(a);
    a = simtest_post(t, "/_sim/fleet/state", "{\"share\": 0, \"state\": {}}", 200);
    assert_int_equal(json_integer_value(json_object_get(a, "changed")), 0);
    json_decref(a);
    expect_status(t, "POST", "/_sim/fleet/state", "{\"share\": 2, \"state\": {}}", 400);
    expect_status(t, "POST", "/_sim/fleet/state", "{\"share\": 1}", 400);
    expect_status(t, "POST", "/_sim/fleet/state", "{\"share\": 1, \"state\": {\"soc\": 101}}", 400);
    expect_status(t, "POST", "/_sim/fleet/state", "{\"share\": 1, \"oem\": \"x\", \"state\": {}}",
                  400);
}

static int setup_faulty_fleet(void **state)
{
    struct simtest *t = calloc(1, sizeof(*t));
    const char *flags[] = { "--sim-unreachable-share=1", "--sim-ignore-share=0.5", NULL };
    simtest_start(t, flags);
    *state = t;
    return 0;
}

static void test_fault_shares_at_start(void **state)
{
    struct simtest *t = *state;
    json_t *all = simtest_get(t, "/_sim/vehicles", 200), *v;
    size_t i, ignoring = 0;
    json_array_foreach(json_object_get(all, "vehicles"), i, v)
    {
        assert_false(json_is_true(json_object_get(v, "reachable")));
        ignoring += json_is_true(json_object_get(v, "ignore_commands"));
    }
    assert_in_range(ignoring, 10, 50);
    json_decref(all);
}

static void test_faults_api(void **state)
{
    struct simtest *t = *state;
    json_t *f = simtest_get(t, "/_sim/faults", 200);
    simtest_assert_keys(f, "smartcar,tesla,enode");
    simtest_assert_keys(json_object_get(f, "tesla"),
                        "latency_ms,jitter_ms,error_rate,vehicle_rate_per_min,vehicle_burst,"
                        "app_rate_per_min,app_burst,ignore_rate,action_fail_rate");
    json_decref(f);
    expect_status(t, "POST", "/_sim/faults", "{\"error_rate\": 2}", 400);
    expect_status(t, "POST", "/_sim/faults", "{\"oem\": \"bmw\"}", 400);
    expect_status(t, "POST", "/_sim/faults", "{\"latency_ms\": -5}", 400);
    expect_status(t, "POST", "/_sim/faults", "{\"surprise\": 1}", 400);
    expect_status(t, "POST", "/_sim/faults", "{\"latency_ms\": 1, \"ignore_rate\": 7}", 400);
    f = simtest_get(t, "/_sim/faults", 200); /* a bad body changed nothing */
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(f, "smartcar"), "latency_ms")), 0);
    json_decref(f);

    f = simtest_post(t, "/_sim/faults", "{\"latency_ms\": 40, \"ignore_rate\": 0.25}", 200);
    const char *oems[] = { "smartcar", "tesla", "enode" };
    for (int i = 0; i < 3; i++) {
        json_t *o = json_object_get(f, oems[i]);
        assert_int_equal(json_integer_value(json_object_get(o, "latency_ms")), 40);
        assert_true(json_number_value(json_object_get(o, "ignore_rate")) == 0.25);
    }
    json_decref(f);
    /* injected latency holds the answer back at least that long (real time) */
    char id[40], access[72], refresh[72], auth[96];
    simtest_vehicle(t, "tesla", 0, id);
    simtest_link(t, "tesla", id, access, refresh);
    const char *h[] = { simtest_bearer(access, auth), NULL };
    struct simresp r;
    int64_t t0 = d2ev_clock_mono_ms();
    simtest_http(t, &r, "GET", simtest_fmt("/tesla/api/1/vehicles/%s", id), h, NULL);
    assert_int_equal(r.status, 200);
    assert_true(d2ev_clock_mono_ms() - t0 >= 40);
    simresp_free(&r);
    /* the control API itself is never delayed or failed */
    json_decref(simtest_post(t, "/_sim/faults", "{\"error_rate\": 1}", 200));
    json_decref(simtest_get(t, "/_sim/stats", 200));
}

/* Link one car per OEM, put them to sleep, poll them like telemetry would
 * for a simulated hour: no read may wake a car. */
static void test_reads_never_wake(void **state)
{
    struct simtest *t = *state;
    const char *oems[] = { "smartcar", "tesla", "enode" };
    char ids[3][40], access[3][72], refresh[72], auth[3][96];
    for (int i = 0; i < 3; i++) {
        simtest_vehicle(t, oems[i], 2, ids[i]);
        simtest_link(t, oems[i], ids[i], access[i], refresh);
        simtest_bearer(access[i], auth[i]);
        simtest_set(t, ids[i], "{\"asleep\": true, \"plugged\": true, \"soc\": 30}");
    }
    for (int minute = 0; minute < 50; minute += 5) {
        struct simresp r;
        const char *sc[] = { auth[0], NULL }, *te[] = { auth[1], NULL }, *en[] = { auth[2], NULL };
        const char *sc_reads[] = { "battery", "battery/capacity", "charge", "charge/limit" };
        for (int k = 0; k < 4; k++) {
            simtest_http(t, &r, "GET",
                         simtest_fmt("/smartcar/v2.0/vehicles/%s/%s", ids[0], sc_reads[k]), sc,
                         NULL);
            assert_int_equal(r.status, 409);
            simresp_free(&r);
        }
        simtest_http(t, &r, "POST", simtest_fmt("/smartcar/v2.0/vehicles/%s/batch", ids[0]), sc,
                     "{\"requests\": [{\"path\": \"/battery\"}, {\"path\": \"/charge\"}]}");
        assert_int_equal(r.status, 200);
        simresp_free(&r);
        simtest_http(t, &r, "GET", simtest_fmt("/tesla/api/1/vehicles/%s", ids[1]), te, NULL);
        assert_non_null(strstr(r.body, "\"asleep\""));
        simresp_free(&r);
        simtest_http(
            t, &r, "GET",
            simtest_fmt("/tesla/api/1/vehicles/%s/vehicle_data?endpoints=charge_state", ids[1]), te,
            NULL);
        assert_int_equal(r.status, 408);
        simresp_free(&r);
        simtest_http(t, &r, "GET", simtest_fmt("/enode/vehicles/%s", ids[2]), en, NULL);
        assert_int_equal(r.status, 200);
        simresp_free(&r);
        for (int i = 0; i < 3; i++)
            json_decref(simtest_truth(t, ids[i]));
        json_decref(simtest_get(t, "/_sim/vehicles?limit=1000", 200));
        simtest_advance(5 * 60 * 1000);
    }
    for (int i = 0; i < 3; i++) {
        json_t *v = simtest_truth(t, ids[i]);
        assert_int_equal(json_integer_value(json_object_get(v, "wake_count")), 0);
        assert_true(json_is_true(json_object_get(v, "asleep")));
        json_decref(v);
    }
    assert_int_equal(simtest_stat(t, "wakes_total"), 0);
    assert_int_equal(simtest_stat(t, "requests.smartcar.battery"), 10);
    assert_int_equal(simtest_stat(t, "requests.smartcar.batch"), 10);
    assert_int_equal(simtest_stat(t, "requests.tesla.vehicle_data"), 10);
    assert_int_equal(simtest_stat(t, "requests.enode.vehicle"), 10);
}

/* Random and malformed requests: every one gets an HTTP answer, the server
 * keeps serving, and (under ASan/UBSan) nothing misbehaves. */
static void test_hostile_input(void **state)
{
    struct simtest *t = *state;
    uint64_t rng = 0x5eed;
    const char *prefixes[] = { "/smartcar/v2.0/vehicles/",
                               "/tesla/api/1/vehicles/",
                               "/enode/vehicles/",
                               "/_sim/vehicles/",
                               "/smartcar/oauth/token",
                               "/tesla/oauth2/v3/token",
                               "/enode/oauth2/token",
                               "/enode/vehicles/actions/",
                               "/_sim/faults",
                               "/" };
    const char *methods[] = { "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS" };
    const char *bodies[] = {
        "",
        "{",
        "{}",
        "[]",
        "null",
        "{\"action\": \"START\"}",
        "{\"requests\": [{}]}",
        "grant_type=refresh_token&refresh_token=%zz",
        "grant_type=authorization_code&code=",
        "{\"soc\": 1e999}",
        "{\"a\":\"\\ud800\"}",
        "\xff\xfe\x00garbage",
    };
    const char *auths[] = {
        NULL,
        "Authorization: Bearer",
        "Authorization: Bearer \x01\x02",
        "Authorization: Basic !!!!",
        "Authorization: Basic Og==",
        "Authorization: Basic OjpgOjo6",
        "Authorization: Bearer "
        "00000000000000000000000000000000000000000000000000000000000000000000"
    };
    char id[40];
    simtest_vehicle(t, "smartcar", 0, id);
    for (int i = 0; i < 400; i++) {
        char path[512];
        int n = snprintf(path, sizeof(path), "%s", prefixes[d2ev_rand_next(&rng) % 10]);
        if (d2ev_rand_next(&rng) % 2)
            n += snprintf(path + n, sizeof(path) - n, "%s", id);
        int segs = (int)(d2ev_rand_next(&rng) % 4);
        for (int s = 0; s < segs; s++) {
            static const char alphabet[] = "abc%2F..%00/-_~:@0123456789ABCDEF{}";
            int len = (int)(d2ev_rand_next(&rng) % 20);
            path[n++] = '/';
            for (int c = 0; c < len && n < 500; c++)
                path[n++] = alphabet[d2ev_rand_next(&rng) % (sizeof(alphabet) - 1)];
            path[n] = '\0';
        }
        const char *h[] = { auths[d2ev_rand_next(&rng) % 7], NULL };
        struct simresp r;
        simtest_http(t, &r, methods[d2ev_rand_next(&rng) % 6], path, h[0] ? h : NULL,
                     bodies[d2ev_rand_next(&rng) % 12]);
        assert_in_range(r.status, 200, 599);
        simresp_free(&r);
    }
    /* deep nesting and big inputs */
    char *deep = malloc(12001);
    memset(deep, '[', 12000);
    deep[12000] = '\0';
    expect_status(t, "POST", "/_sim/faults", deep, 400);
    free(deep);
    char *longpath = malloc(6001);
    memcpy(longpath, "/tesla/api/1/vehicles/", 22);
    memset(longpath + 22, '9', 5978);
    longpath[6000] = '\0';
    struct simresp r;
    simtest_http(t, &r, "GET", longpath, NULL, NULL);
    assert_in_range(r.status, 400, 499);
    simresp_free(&r);
    free(longpath);
    /* still serving */
    json_decref(simtest_get(t, "/_sim/stats", 200));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_list_and_true_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fleet_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_shares_at_start, setup_faulty_fleet, teardown),
        cmocka_unit_test_setup_teardown(test_faults_api, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_never_wake, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_input, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
