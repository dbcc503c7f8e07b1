/*
 * Enode as docs/oem-apis.md pins it down, against an in-process simulator on
 * the manual clock: the vehicle byte for byte, last known state of a sleeping
 * car, the action life cycle, problem+json errors, client credentials.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/util.h"
#include "simtest.h"

#define BASIC       "Authorization: Basic c2ltLWVub2RlLWNsaWVudDpzaW0tZW5vZGUtc2VjcmV0"
#define ACTION_KEYS "id,userId,createdAt,updatedAt,state,targetId,targetType,kind,failureReason"

struct fx {
    struct simtest t;
    char id[40];
    char access[72];
    char auth[96];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    simtest_start(&f->t, NULL); /* actions resolve after 30 simulated seconds */
    simtest_vehicle(&f->t, "enode", 0, f->id);
    char refresh[72];
    simtest_link(&f->t, "enode", f->id, f->access, refresh);
    simtest_bearer(f->access, f->auth);
    simtest_set(&f->t, f->id, "{\"soc\": 54, \"limit\": 80, \"plugged\": true, \"asleep\": false}");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    simtest_stop(&f->t);
    free(f);
    return 0;
}

static void api(struct fx *f, struct simresp *r, const char *method, const char *path,
                const char *body)
{
    const char *h[] = { f->auth, NULL };
    simtest_http(&f->t, r, method, path, h, body);
}

static void assert_problem(const struct simresp *r, long status, const char *type,
                           const char *title)
{
    char ct[64];
    if (r->status != status)
        fail_msg("want %ld, got %ld: %s", status, r->status, r->body);
    assert_true(simresp_header(r, "Content-Type", ct, sizeof(ct)));
    assert_string_equal(ct, "application/problem+json");
    simtest_assert_keys(r->json, "type,title,detail");
    assert_string_equal(json_string_value(json_object_get(r->json, "type")),
                        simtest_fmt("https://developers.enode.io/api/problems/%s", type));
    assert_string_equal(json_string_value(json_object_get(r->json, "title")), title);
}

static void test_vehicle_matches_the_docs(void **state)
{
    struct fx *f = *state;
    struct simresp r;
    json_t *t = simtest_truth(&f->t, f->id);
    double cap = json_number_value(json_object_get(t, "capacity_kwh"));
    double kw = json_number_value(json_object_get(t, "max_power_kw"));
    double wh = json_number_value(json_object_get(t, "consumption_wh_per_km"));
    char user[40], vendor[32], range[32], capacity[32], rate[32];
    snprintf(user, sizeof(user), "%s", json_string_value(json_object_get(t, "user_id")));
    snprintf(vendor, sizeof(vendor), "%s", json_string_value(json_object_get(t, "vendor")));
    json_decref(t);
    simtest_real(simtest_round(0.54 * cap * 1000 / wh, 1), range);
    simtest_real(simtest_round(cap, 1), capacity);
    simtest_real(simtest_round(kw, 1), rate);
    long minutes = lround(0.26 * cap / kw * 60);

    api(f, &r, "GET", simtest_fmt("/enode/vehicles/%s", f->id), NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(
        r.body,
        simtest_fmt("{\"id\":\"%s\",\"userId\":\"%s\",\"vendor\":\"%s\",\"isReachable\":true,"
                    "\"lastSeen\":\"2026-11-21T07:29:58Z\",\"chargeState\":{\"batteryLevel\":54,"
                    "\"range\":%s,\"isPluggedIn\":true,\"isCharging\":true,\"isFullyCharged\":"
                    "false,\"batteryCapacity\":%s,\"chargeLimit\":80,\"chargeRate\":%s,"
                    "\"chargeTimeRemaining\":%ld,\"lastUpdated\":\"2026-11-21T07:29:58Z\","
                    "\"powerDeliveryState\":\"PLUGGED_IN:CHARGING\"}}",
                    f->id, user, vendor, range, capacity, rate, minutes));
    simresp_free(&r);

    /* stopped, complete, unplugged */
    const char *states[][2] = {
        { "{\"charging_paused\": true}", "PLUGGED_IN:STOPPED" },
        { "{\"charging_paused\": false, \"soc\": 80}", "PLUGGED_IN:COMPLETE" },
        { "{\"plugged\": false}", "UNPLUGGED" },
    };
    for (int i = 0; i < 3; i++) {
        simtest_set(&f->t, f->id, states[i][0]);
        api(f, &r, "GET", simtest_fmt("/enode/vehicles/%s", f->id), NULL);
        json_t *cs = json_object_get(r.json, "chargeState");
        assert_string_equal(json_string_value(json_object_get(cs, "powerDeliveryState")),
                            states[i][1]);
        assert_false(json_is_true(json_object_get(cs, "isCharging")));
        assert_true(json_is_null(json_object_get(cs, "chargeRate")));
        assert_true(json_is_null(json_object_get(cs, "chargeTimeRemaining")));
        assert_int_equal(json_is_true(json_object_get(cs, "isFullyCharged")), i == 1);
        simresp_free(&r);
    }
}

static void test_asleep_serves_last_known_state_without_waking(void **state)
{
    struct fx *f = *state;
    struct simresp r;
    simtest_set(&f->t, f->id, "{\"plugged\": false}");
    simtest_advance(50 * 60 * 1000); /* idle: asleep since 15 minutes after T0 */
    for (int i = 0; i < 20; i++) {
        api(f, &r, "GET", simtest_fmt("/enode/vehicles/%s", f->id), NULL);
        assert_int_equal(r.status, 200);
        assert_string_equal(json_string_value(json_object_get(r.json, "lastSeen")),
                            "2026-11-21T07:44:58Z");
        assert_true(json_is_true(json_object_get(r.json, "isReachable")));
        simresp_free(&r);
    }
    json_t *t = simtest_truth(&f->t, f->id);
    assert_true(json_is_true(json_object_get(t, "asleep")));
    assert_int_equal(json_integer_value(json_object_get(t, "wake_count")), 0);
    json_decref(t);
    assert_int_equal(simtest_stat(&f->t, "wakes_total"), 0);
    /* an action wakes it (Enode does that itself) */
    api(f, &r, "POST", simtest_fmt("/enode/vehicles/%s/charging", f->id), "{\"action\": \"STOP\"}");
    assert_int_equal(r.status, 200);
    simresp_free(&r);
    assert_int_equal(simtest_truth_num(&f->t, f->id, "wake_count"), 1);
    assert_int_equal(simtest_stat(&f->t, "wakes.enode"), 1);
}

static json_t *post_action(struct fx *f, const char *action)
{
    struct simresp r;
    api(f, &r, "POST", simtest_fmt("/enode/vehicles/%s/charging", f->id),
        simtest_fmt("{\"action\": \"%s\"}", action));
    if (r.status != 200)
        fail_msg("charging: %ld %s", r.status, r.body);
    json_t *j = json_incref(r.json);
    simresp_free(&r);
    simtest_assert_keys(j, ACTION_KEYS);
    return j;
}

static json_t *get_action(struct fx *f, const char *id)
{
    struct simresp r;
    api(f, &r, "GET", simtest_fmt("/enode/vehicles/actions/%s", id), NULL);
    if (r.status != 200)
        fail_msg("action: %ld %s", r.status, r.body);
    json_t *j = json_incref(r.json);
    simresp_free(&r);
    return j;
}

static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void test_action_lifecycle(void **state)
{
    struct fx *f = *state;
    json_t *a = post_action(f, "STOP");
    char id[40];
    snprintf(id, sizeof(id), "%s", str(a, "id"));
    assert_true(d2ev_uuid_valid(id));
    assert_string_equal(str(a, "state"), "PENDING");
    assert_string_equal(str(a, "targetId"), f->id);
    assert_string_equal(str(a, "targetType"), "vehicle");
    assert_string_equal(str(a, "kind"), "STOP");
    assert_string_equal(str(a, "createdAt"), "2026-11-21T07:29:58Z");
    assert_true(json_is_null(json_object_get(a, "failureReason")));
    json_decref(a);
    /* not applied while pending */
    simtest_advance(29 * 1000);
    assert_true(simtest_truth_num(&f->t, f->id, "power_kw") > 0);
    a = get_action(f, id);
    assert_string_equal(str(a, "state"), "PENDING");
    json_decref(a);
    simtest_advance(1000);
    a = get_action(f, id);
    assert_string_equal(str(a, "state"), "CONFIRMED");
    assert_string_equal(str(a, "updatedAt"), "2026-11-21T07:30:28Z");
    json_decref(a);
    json_t *t = simtest_truth(&f->t, f->id);
    assert_string_equal(str(t, "state"), "stopped");
    json_decref(t);

    /* a newer action cancels one still pending */
    json_t *first = post_action(f, "START");
    simtest_advance(5000);
    json_t *second = post_action(f, "STOP");
    json_t *again = get_action(f, str(first, "id"));
    assert_string_equal(str(again, "state"), "CANCELLED");
    assert_string_equal(str(again, "updatedAt"), "2026-11-21T07:30:33Z");
    simtest_advance(30 * 1000);
    json_decref(again);
    again = get_action(f, str(second, "id"));
    assert_string_equal(str(again, "state"), "CONFIRMED");
    json_decref(again);
    t = simtest_truth(&f->t, f->id);
    assert_string_equal(str(t, "state"), "stopped"); /* the START never applied */
    json_decref(t);
    json_decref(first);
    json_decref(second);

    struct simresp r;
    api(f, &r, "GET", "/enode/vehicles/actions/4eaeb363-0000-4000-8000-000000000000", NULL);
    assert_problem(&r, 404, "not-found", "Entity Not Found");
    simresp_free(&r);
}

static void expect_failed(struct fx *f, const char *action, const char *failure_type)
{
    json_t *a = post_action(f, action);
    assert_string_equal(str(a, "state"), "PENDING");
    char id[40];
    snprintf(id, sizeof(id), "%s", str(a, "id"));
    json_decref(a);
    simtest_advance(30 * 1000);
    a = get_action(f, id);
    assert_string_equal(str(a, "state"), "FAILED");
    json_t *why = json_object_get(a, "failureReason");
    simtest_assert_keys(why, "type,detail");
    assert_string_equal(str(why, "type"), failure_type);
    json_decref(a);
}

static void test_actions_that_fail(void **state)
{
    struct fx *f = *state;
    simtest_set(&f->t, f->id, "{\"ignore_commands\": true}");
    expect_failed(f, "STOP", "NO_RESPONSE");
    assert_true(simtest_truth_num(&f->t, f->id, "power_kw") > 0); /* ignored */
    simtest_set(&f->t, f->id, "{\"ignore_commands\": false, \"reachable\": false}");
    expect_failed(f, "STOP", "NO_RESPONSE");
    simtest_set(&f->t, f->id, "{\"reachable\": true, \"plugged\": false}");
    expect_failed(f, "START", "FAILED_PRECONDITION");
    simtest_set(&f->t, f->id, "{\"plugged\": true}");
    json_decref(
        simtest_post(&f->t, "/_sim/faults", "{\"oem\": \"enode\", \"action_fail_rate\": 1}", 200));
    expect_failed(f, "STOP", "NO_RESPONSE");
    assert_true(simtest_truth_num(&f->t, f->id, "power_kw") > 0);
    json_t *log = simtest_get(&f->t, simtest_fmt("/_sim/vehicles/%s/commands", f->id), 200);
    json_t *list = json_object_get(log, "commands");
    const char *want[][2] = { { "ignored", "ignore_commands" },
                              { "failed", "unreachable" },
                              { "failed", "disconnected" },
                              { "failed", "action_fail_rate" } };
    assert_int_equal(json_array_size(list), 4);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(str(json_array_get(list, i), "result"), want[i][0]);
        assert_string_equal(str(json_array_get(list, i), "reason"), want[i][1]);
    }
    json_decref(log);
}

static void test_tokens_and_errors(void **state)
{
    struct fx *f = *state;
    struct simresp r;
    const char *basic[] = { BASIC, NULL };
    simtest_http(&f->t, &r, "POST", "/enode/oauth2/token", basic, "grant_type=client_credentials");
    assert_int_equal(r.status, 200);
    simtest_assert_keys(r.json, "access_token,expires_in,token_type,scope");
    assert_int_equal(json_integer_value(json_object_get(r.json, "expires_in")), 3600);
    assert_string_equal(str(r.json, "token_type"), "bearer");
    assert_string_equal(str(r.json, "scope"), "");
    simresp_free(&r);
    simtest_http(&f->t, &r, "POST", "/enode/oauth2/token", basic,
                 "grant_type=authorization_code&code=x");
    assert_int_equal(r.status, 400);
    assert_string_equal(str(r.json, "error"), "unsupported_grant_type");
    simresp_free(&r);
    const char *wrong[] = { "Authorization: Basic c2ltLWVub2RlLWNsaWVudDp4", NULL };
    simtest_http(&f->t, &r, "POST", "/enode/oauth2/token", wrong, "grant_type=client_credentials");
    assert_int_equal(r.status, 401);
    simresp_free(&r);

    /* an unlinked vehicle is not there; a linked one is */
    char other[40];
    simtest_vehicle(&f->t, "enode", 1, other);
    api(f, &r, "GET", simtest_fmt("/enode/vehicles/%s", other), NULL);
    assert_problem(&r, 404, "not-found", "Entity Not Found");
    assert_string_equal(str(r.json, "detail"), "Vehicle not found.");
    simresp_free(&r);
    /* revoked consent */
    simtest_set(&f->t, f->id, "{\"revoked\": true}");
    api(f, &r, "GET", simtest_fmt("/enode/vehicles/%s", f->id), NULL);
    assert_problem(&r, 403, "forbidden", "Forbidden");
    simresp_free(&r);
    api(f, &r, "POST", simtest_fmt("/enode/vehicles/%s/charging", f->id), "{\"action\":\"STOP\"}");
    assert_problem(&r, 403, "forbidden", "Forbidden");
    simresp_free(&r);
    simtest_set(&f->t, f->id, "{\"revoked\": false}");
    /* bad bodies, bad tokens, unknown paths */
    api(f, &r, "POST", simtest_fmt("/enode/vehicles/%s/charging", f->id), "{\"action\":\"go\"}");
    assert_problem(&r, 400, "bad-request", "Bad Request");
    simresp_free(&r);
    simtest_http(&f->t, &r, "GET", simtest_fmt("/enode/vehicles/%s", f->id), NULL, NULL);
    assert_problem(&r, 401, "unauthorized", "Unauthorized");
    simresp_free(&r);
    api(f, &r, "GET", "/enode/chargers", NULL);
    assert_problem(&r, 404, "not-found", "Entity Not Found");
    simresp_free(&r);
    /* the application token expires after an hour */
    simtest_advance(3600 * 1000);
    api(f, &r, "GET", simtest_fmt("/enode/vehicles/%s", f->id), NULL);
    assert_problem(&r, 401, "unauthorized", "Unauthorized");
    simresp_free(&r);
}

static void test_rate_limit(void **state)
{
    struct fx *f = *state;
    struct simresp r;
    char v[16];
    json_decref(simtest_post(&f->t, "/_sim/faults",
                             "{\"oem\": \"enode\", \"app_rate_per_min\": 2, \"app_burst\": 1}",
                             200));
    api(f, &r, "GET", simtest_fmt("/enode/vehicles/%s", f->id), NULL);
    assert_int_equal(r.status, 200);
    simresp_free(&r);
    api(f, &r, "GET", simtest_fmt("/enode/vehicles/%s", f->id), NULL);
    assert_problem(&r, 429, "too-many-requests", "Too Many Requests");
    assert_true(simresp_header(&r, "Retry-After", v, sizeof(v)));
    assert_string_equal(v, "30");
    simresp_free(&r);
    assert_int_equal(simtest_stat(&f->t, "rate_limited.enode.app"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vehicle_matches_the_docs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_asleep_serves_last_known_state_without_waking, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_action_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_actions_that_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
