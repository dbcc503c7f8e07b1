/* The ops API over real HTTP, in-process and without Kafka: every endpoint,
 * auth and roles, pagination, unknown ids, hostile input, the write
 * endpoints (through a fake sink) and the UI's authentication. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "apitest.h"
#include "d2ev/topics.h"

static struct apitest_server g;

static int setup(void **state)
{
    apitest_start(&g, false);
    return 0;
}

static int teardown(void **state)
{
    apitest_stop(&g);
    return 0;
}

static void expect(const char *method, const char *path, const char *token, long want,
                   const char *code)
{
    char *body = NULL;
    long st = apitest_req(&g, method, path, token, NULL, NULL, &body);
    if (st != want || (code && strcmp(apitest_error_code(body), code) != 0))
        fail_msg("%s %s: want %ld %s, got %ld: %.300s", method, path, want, code ? code : "", st,
                 body ? body : "");
    /* a token is never echoed */
    if (body &&
        (strstr(body, APITEST_READ) || strstr(body, APITEST_OPERATOR) || strstr(body, APITEST_APP)))
        fail_msg("%s %s echoed a token", method, path);
    free(body);
}

static void test_every_read_endpoint(void **state)
{
    json_t *j = apitest_get_json(&g, "/v1/vehicles", APITEST_READ, 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 2);
    assert_true(json_is_null(json_object_get(j, "next_cursor")));
    json_decref(j);
    j = apitest_get_json(&g, "/v1/vehicles/v-1", APITEST_READ, 200);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "charging");
    json_decref(j);
    j = apitest_get_json(&g, "/v1/vehicles/v-1/schedule", APITEST_READ, 200);
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 7);
    assert_non_null(json_object_get(j, "savings"));
    assert_string_equal(json_string_value(json_object_get(j, "reason")),
                        "cheapest 2 windows before 07:30");
    json_decref(j);
    j = apitest_get_json(&g, "/v1/vehicles/v-1/schedules?since=2026-11-21T00:00:00Z", APITEST_READ,
                         200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    json_decref(j);
    j = apitest_get_json(&g, "/v1/vehicles/v-1/schedules?since=2026-11-22T00:00:00%2B01:00",
                         APITEST_READ, 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 0);
    json_decref(j);
    j = apitest_get_json(&g, "/v1/vehicles/v-1/sessions", APITEST_READ, 200);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "items"), 0), "session_id")),
                        "s-1");
    json_decref(j);
    j = apitest_get_json(&g, "/v1/vehicles/v-1/dispatch", APITEST_READ, 200);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "items"), 0), "result")),
                        "retry");
    json_decref(j);
    j = apitest_get_json(&g, "/v1/vehicles/v-1/status", APITEST_APP, 200);
    assert_true(json_number_value(json_object_get(j, "soc")) == 55.5);
    assert_non_null(json_object_get(json_object_get(j, "next_window"), "start"));
    json_decref(j);
    j = apitest_get_json(&g, "/v1/forecasts/GB-LON", APITEST_READ, 200);
    assert_non_null(json_object_get(j, "price"));
    json_decref(j);
    j = apitest_get_json(&g, "/v1/fleet/summary", APITEST_READ, 200);
    assert_int_equal(json_integer_value(json_object_get(j, "vehicles")), 2);
    json_decref(j);
    j = apitest_get_json(&g, "/v1/alerts?limit=1", APITEST_READ, 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    json_decref(j);
    j = apitest_get_json(&g, "/v1/openapi.json", NULL, 200);
    assert_string_equal(json_string_value(json_object_get(j, "openapi")), "3.1.0");
    json_decref(j);

    /* HEAD answers like GET, without a body */
    struct apitest_reply r =
        apitest_raw(&g, "HEAD", "/v1/vehicles/v-1/schedule", APITEST_READ, NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_null(r.body);
    assert_non_null(strstr(r.headers, "Cache-Control: no-store"));
    apitest_reply_free(&r);
}

static void test_auth_and_roles(void **state)
{
    size_t n;
    const struct d2ev_api_route_info *routes = d2ev_api_routes(&n);
    for (size_t i = 0; i < n; i++) {
        char path[128];
        const char *open = strchr(routes[i].pattern, '{');
        if (open)
            snprintf(path, sizeof(path), "%.*s%s%s", (int)(open - routes[i].pattern),
                     routes[i].pattern,
                     strstr(open, "{region}") == open ? "GB-LON"
                     : strstr(open, "{date}") == open ? APITEST_REPORT_DATE
                                                      : "v-1",
                     strchr(open, '}') + 1);
        else
            snprintf(path, sizeof(path), "%s", routes[i].pattern);
        const char *m = routes[i].method;
        if (routes[i].perm == D2EV_API_PERM_PUBLIC) {
            expect(m, path, NULL, 200, NULL);
            continue;
        }
        /* pages answer with HTML, not a JSON error */
        const char *c401 = routes[i].ui ? NULL : "unauthorized";
        const char *c403 = routes[i].ui ? NULL : "forbidden";
        expect(m, path, NULL, 401, c401);
        expect(m, path, "not-a-real-token-at-all", 401, c401);
        static const struct {
            const char *token;
            enum d2ev_api_role role;
        } roles[] = {
            { APITEST_APP, D2EV_API_ROLE_APP },
            { APITEST_READ, D2EV_API_ROLE_READ },
            { APITEST_OPERATOR, D2EV_API_ROLE_OPERATOR },
        };
        for (size_t k = 0; k < 3; k++) {
            bool allowed = (d2ev_api_role_perms(roles[k].role) & routes[i].perm) == routes[i].perm;
            if (!allowed) {
                expect(m, path, roles[k].token, 403, c403);
            } else if (!strcmp(m, "GET")) {
                expect(m, path, roles[k].token, 200, NULL);
            }
        }
    }
    /* the header names the scheme, and whether the token was bad */
    struct apitest_reply r = apitest_raw(&g, "GET", "/v1/vehicles", NULL, NULL, NULL, 0);
    assert_non_null(strstr(r.headers, "WWW-Authenticate: Bearer realm=\"d2ev\"\r\n"));
    apitest_reply_free(&r);
    r = apitest_raw(&g, "GET", "/v1/vehicles", "x-not-valid-token-x", NULL, NULL, 0);
    assert_non_null(strstr(r.headers, "error=\"invalid_token\""));
    apitest_reply_free(&r);
    const char *basic[] = { "Authorization: Basic cmVhZDpyZWFk", NULL };
    r = apitest_raw(&g, "GET", "/v1/vehicles", NULL, basic, NULL, 0);
    assert_int_equal(r.status, 401);
    apitest_reply_free(&r);
    /* a valid token with a different case is a different token */
    expect("GET", "/v1/vehicles", "READ-TOKEN-0123456789ABCDEF", 401, "unauthorized");
}

static void add_vehicles(int count)
{
    for (int i = 0; i < count; i++) {
        char id[16];
        snprintf(id, sizeof(id), "p-%03d", i);
        json_t *v = apitest_event("vehicle");
        json_object_set_new(v, "vehicle_id", json_string(id));
        apitest_apply(g.model, D2EV_TOPIC_VEHICLES, id, v, 0);
    }
    d2ev_api_model_publish(g.model);
}

static void test_pagination(void **state)
{
    add_vehicles(120);
    char path[256] = "/v1/vehicles?oem=oemsim";
    size_t total = 0, pages = 0;
    char last[80] = "";
    for (;;) {
        json_t *j = apitest_get_json(&g, path, APITEST_READ, 200);
        json_t *items = json_object_get(j, "items");
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            const char *id = json_string_value(json_object_get(it, "vehicle_id"));
            assert_true(strcmp(last, id) < 0);
            snprintf(last, sizeof(last), "%s", id);
        }
        total += json_array_size(items);
        pages++;
        const char *next = json_string_value(json_object_get(j, "next_cursor"));
        if (!next) {
            json_decref(j);
            break;
        }
        assert_int_equal(json_array_size(items), D2EV_API_LIMIT_DEFAULT);
        snprintf(path, sizeof(path), "/v1/vehicles?oem=oemsim&cursor=%s", next);
        json_decref(j);
    }
    assert_int_equal(total, 121); /* p-000..p-119 and v-1 */
    assert_int_equal(pages, 3);
    json_t *j = apitest_get_json(&g, "/v1/vehicles?limit=500", APITEST_READ, 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 122);
    json_decref(j);
    j = apitest_get_json(&g, "/v1/vehicles?limit=1&status=suspended", APITEST_READ, 200);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "items"), 0), "vehicle_id")),
                        "v-2");
    json_decref(j);
    j = apitest_get_json(&g, "/v1/vehicles?state=charging&plug=plugged", APITEST_READ, 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    json_decref(j);

    /* bad parameters */
    static const char *const bad[] = {
        "/v1/vehicles?limit=0",
        "/v1/vehicles?limit=501",
        "/v1/vehicles?limit=abc",
        "/v1/vehicles?limit=-1",
        "/v1/vehicles?limit=",
        "/v1/vehicles?limit=1e2",
        "/v1/vehicles?status=gone",
        "/v1/vehicles?plug=maybe",
        "/v1/vehicles?state=flying",
        "/v1/vehicles?oem=%FF",
        "/v1/vehicles?oem=a%20b",
        "/v1/vehicles?colour=red",
        "/v1/vehicles/v-1?limit=5",
        "/v1/vehicles/v-1/sessions?since=yesterday",
        "/v1/vehicles/v-1/sessions?since=%FF",
        "/v1/alerts?oem=tesla",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect("GET", bad[i], APITEST_READ, 400, "invalid_parameter");
    /* cursors are checked, and a cursor of one listing does not fit another */
    expect("GET", "/v1/vehicles?cursor=zzzz", APITEST_READ, 400, "invalid_cursor");
    expect("GET", "/v1/vehicles?cursor=", APITEST_READ, 400, "invalid_cursor");
    expect("GET", "/v1/vehicles/v-1/sessions?cursor=763a762d31", APITEST_READ, 400,
           "invalid_cursor"); /* "v:v-1" */
    expect("GET", "/v1/vehicles?cursor=733a3132", APITEST_READ, 400, "invalid_cursor"); /* s:12 */
    expect("GET", "/v1/vehicles?cursor=763a2e2e2f", APITEST_READ, 400,
           "invalid_cursor"); /* v:../ */
    /* a cursor past the end is an empty page */
    j = apitest_get_json(&g, "/v1/vehicles?cursor=763a7a7a7a", APITEST_READ, 200); /* v:zzz */
    assert_int_equal(json_array_size(json_object_get(j, "items")), 0);
    json_decref(j);
    for (int i = 0; i < 120; i++) {
        char id[16];
        snprintf(id, sizeof(id), "p-%03d", i);
        apitest_apply(g.model, D2EV_TOPIC_VEHICLES, id, NULL, 0);
    }
}

static void test_daily_report(void **state)
{
    json_t *j = apitest_get_json(&g, "/v1/reports/daily/" APITEST_REPORT_DATE, APITEST_READ, 200);
    assert_string_equal(json_string_value(json_object_get(j, "date")), APITEST_REPORT_DATE);
    json_decref(j);
    expect("GET", "/v1/reports/daily/2026-11-22", APITEST_READ, 404, "report_not_found");
    expect("GET", "/v1/reports/daily/yesterday", APITEST_READ, 400, "invalid_date");
    expect("GET", "/v1/reports/daily/2026-13-40", APITEST_READ, 400, "invalid_date");
    /* decoded, the traversal is extra path segments: no route, never a file */
    expect("GET", "/v1/reports/daily/..%2F..%2Fetc", APITEST_READ, 404, "not_found");
    const char *dir = g.api.export_dir;
    g.api.export_dir = NULL;
    expect("GET", "/v1/reports/daily/" APITEST_REPORT_DATE, APITEST_READ, 404,
           "reports_not_configured");
    g.api.export_dir = dir;
}

static void test_unknown_ids_and_routes(void **state)
{
    expect("GET", "/v1/vehicles/v-9", APITEST_READ, 404, "vehicle_not_found");
    expect("GET", "/v1/vehicles/v-9/schedule", APITEST_READ, 404, "vehicle_not_found");
    expect("GET", "/v1/vehicles/v-2/schedule", APITEST_READ, 404, "schedule_not_found");
    expect("GET", "/v1/vehicles/v-9/schedules", APITEST_READ, 404, "vehicle_not_found");
    expect("GET", "/v1/vehicles/v-9/sessions", APITEST_READ, 404, "vehicle_not_found");
    expect("GET", "/v1/vehicles/v-9/dispatch", APITEST_READ, 404, "vehicle_not_found");
    expect("GET", "/v1/vehicles/v-9/status", APITEST_APP, 404, "vehicle_not_found");
    expect("GET", "/v1/forecasts/XX", APITEST_READ, 404, "forecast_not_found");
    expect("GET", "/v1/nope", APITEST_READ, 404, "not_found");
    expect("GET", "/", NULL, 404, "not_found");
    expect("GET", "/v1/vehicles/", APITEST_READ, 404, "not_found");
    expect("GET", "/v1/vehicles/v-1/schedule/x", APITEST_READ, 404, "not_found");
    expect("GET", "/v1//vehicles", APITEST_READ, 404, "not_found");
    /* 405 names what the path takes */
    struct apitest_reply r =
        apitest_raw(&g, "DELETE", "/v1/vehicles/v-1", APITEST_OPERATOR, NULL, NULL, 0);
    assert_int_equal(r.status, 405);
    assert_non_null(strstr(r.headers, "Allow: GET, HEAD\r\n"));
    apitest_reply_free(&r);
    r = apitest_raw(&g, "GET", "/v1/vehicles/v-1/boost", APITEST_OPERATOR, NULL, NULL, 0);
    assert_int_equal(r.status, 405);
    assert_non_null(strstr(r.headers, "Allow: POST\r\n"));
    apitest_reply_free(&r);
    expect("PUT", "/v1/fleet/summary", APITEST_READ, 405, "method_not_allowed");
    expect("OPTIONS", "/v1/vehicles", NULL, 405, "method_not_allowed");
}

static void test_hostile_input(void **state)
{
    /* traversal: encoded slashes become path segments; dots are just ids */
    expect("GET", "/v1/vehicles/..%2F..%2Fetc%2Fpasswd", APITEST_READ, 404, "not_found");
    expect("GET", "/v1/vehicles/../../etc/passwd", APITEST_READ, 404, "not_found");
    expect("GET", "/v1/vehicles/..", APITEST_READ, 404, "vehicle_not_found");
    expect("GET", "/ui/vehicles/..%2F..%2Fetc", APITEST_READ, 404, "not_found");
    expect("GET", "/v1/forecasts/..%2Fx", APITEST_READ, 404, "not_found");
    /* ids outside the alphabet, invalid UTF-8, too long */
    expect("GET", "/v1/vehicles/a%FFb", APITEST_READ, 400, "invalid_id");
    expect("GET", "/v1/vehicles/%C3%A9", APITEST_READ, 400, "invalid_id");
    expect("GET", "/v1/vehicles/a%20b/schedule", APITEST_READ, 400, "invalid_id");
    expect("GET", "/v1/vehicles/%3Cscript%3E", APITEST_READ, 400, "invalid_id");
    expect("GET", "/v1/forecasts/%FF", APITEST_READ, 400, "invalid_id");
    char path[200] = "/v1/vehicles/";
    memset(path + strlen(path), 'a', 65);
    expect("GET", path, APITEST_READ, 400, "invalid_id");
    expect("GET", "/v1/forecasts/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", APITEST_READ, 400,
           "invalid_id"); /* 33 */
    expect("POST", "/v1/vehicles/%FF/boost", APITEST_OPERATOR, 400, "invalid_id");
    /* a huge header is refused by the server before any handler */
    char *big = malloc(100 * 1024);
    strcpy(big, "X-Big: ");
    memset(big + 7, 'a', 100 * 1024 - 8);
    big[100 * 1024 - 1] = '\0';
    const char *hdr[] = { big, NULL };
    struct apitest_reply r = apitest_raw(&g, "GET", "/v1/vehicles", APITEST_READ, hdr, NULL, 0);
    assert_true(r.status == 431 || r.status == 413);
    apitest_reply_free(&r);
    free(big);
    /* and so is a huge URL */
    char *url = malloc(70 * 1024);
    strcpy(url, "/v1/vehicles/");
    memset(url + 13, 'a', 70 * 1024 - 14);
    url[70 * 1024 - 1] = '\0';
    r = apitest_raw(&g, "GET", url, APITEST_READ, NULL, NULL, 0);
    assert_true(r.status == 414 || r.status == 431);
    apitest_reply_free(&r);
    free(url);
    /* the server still answers */
    expect("GET", "/v1/vehicles/v-1", APITEST_READ, 200, NULL);
}

static const char *const json_ct[] = { "Content-Type: application/json", NULL };

static struct apitest_reply post(const char *path, const char *token, const char *body, size_t len)
{
    return apitest_raw(&g, "POST", path, token, json_ct, body, len);
}

static json_t *last_sent(void)
{
    pthread_mutex_lock(&g.lock);
    json_t *m = json_incref(json_array_get(g.sent, json_array_size(g.sent) - 1));
    pthread_mutex_unlock(&g.lock);
    return m;
}

static size_t sent_count(void)
{
    pthread_mutex_lock(&g.lock);
    size_t n = json_array_size(g.sent);
    pthread_mutex_unlock(&g.lock);
    return n;
}

static void test_boost(void **state)
{
    const char *const hdrs[] = { "Content-Type: application/json; charset=utf-8",
                                 "Idempotency-Key: ops-key-1", NULL };
    const char *body = "{\"until\":\"2026-11-21T12:00:00Z\"}";
    struct apitest_reply r = apitest_raw(&g, "POST", "/v1/vehicles/v-1/boost", APITEST_OPERATOR,
                                         hdrs, body, strlen(body));
    assert_int_equal(r.status, 202);
    json_t *a = json_loads(r.body, 0, NULL);
    apitest_reply_free(&r);
    assert_string_equal(json_string_value(json_object_get(a, "status")), "accepted");
    assert_string_equal(json_string_value(json_object_get(a, "topic")),
                        "d2ev.registration.requests");
    json_t *m = last_sent();
    assert_string_equal(json_string_value(json_object_get(m, "topic")),
                        "d2ev.registration.requests");
    assert_string_equal(json_string_value(json_object_get(m, "key")), "v-1");
    /* the registration service's own decoder accepts it */
    char *text = d2ev_test_dump(json_object_get(m, "value"));
    struct d2ev_reg_request req;
    struct d2ev_err err = { 0 };
    assert_int_equal(d2ev_reg_request_decode(text, strlen(text), &req, &err), 0);
    free(text);
    assert_int_equal(req.action, D2EV_REG_UPDATE_PREFERENCES);
    assert_string_equal(req.vehicle_id, "v-1");
    assert_string_equal(req.source, "ops");
    assert_string_equal(req.idempotency_key, "ops-key-1");
    assert_string_equal(req.env.id, json_string_value(json_object_get(a, "event_id")));
    assert_string_equal(req.request_id, json_string_value(json_object_get(a, "request_id")));
    assert_string_equal(json_string_value(json_object_get(req.prefs_patch, "boost_until")),
                        "2026-11-21T12:00:00Z");
    d2ev_reg_request_clear(&req);
    json_decref(m);
    json_decref(a);

    /* null ends a boost */
    r = post("/v1/vehicles/v-1/boost", APITEST_OPERATOR, "{\"until\":null}", 14);
    assert_int_equal(r.status, 202);
    apitest_reply_free(&r);
    m = last_sent();
    assert_true(json_is_null(json_object_get(
        json_object_get(json_object_get(m, "value"), "prefs_patch"), "boost_until")));
    json_decref(m);

    size_t before = sent_count();
    static const struct {
        const char *body;
        const char *code;
    } bad[] = {
        { "{}", "invalid_body" },
        { "{\"until\":\"2026-11-21T07:00:00Z\"}", "invalid_body" }, /* in the past */
        { "{\"until\":\"2026-12-21T07:00:00Z\"}", "invalid_body" }, /* too far */
        { "{\"until\":\"tomorrow\"}", "invalid_body" },
        { "{\"until\":42}", "invalid_body" },
        { "{\"until\":null,\"colour\":\"red\"}", "invalid_body" },
        { "{\"until\":null,\"until\":null}", "invalid_json" }, /* duplicate key */
        { "[\"until\"]", "invalid_json" },
        { "{\"until\":", "invalid_json" },
        { "", "invalid_json" },
        { "{\"until\":\"\xff\"}", "invalid_json" }, /* not UTF-8 */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = post("/v1/vehicles/v-1/boost", APITEST_OPERATOR, bad[i].body, strlen(bad[i].body));
        if (r.status != 400 || strcmp(apitest_error_code(r.body), bad[i].code))
            fail_msg("body %zu: want 400 %s, got %ld %s", i, bad[i].code, r.status, r.body);
        apitest_reply_free(&r);
    }
    /* a NUL inside the body */
    r = post("/v1/vehicles/v-1/boost", APITEST_OPERATOR, "{\"until\":\"a\0b\"}", 15);
    assert_int_equal(r.status, 400);
    apitest_reply_free(&r);
    /* not JSON by its content type */
    const char *const text_ct[] = { "Content-Type: text/plain", NULL };
    r = apitest_raw(&g, "POST", "/v1/vehicles/v-1/boost", APITEST_OPERATOR, text_ct,
                    "{\"until\":null}", 14);
    assert_int_equal(r.status, 415);
    apitest_reply_free(&r);
    const char *const bad_idem[] = { "Content-Type: application/json", "Idempotency-Key: has space",
                                     NULL };
    r = apitest_raw(&g, "POST", "/v1/vehicles/v-1/boost", APITEST_OPERATOR, bad_idem,
                    "{\"until\":null}", 14);
    assert_int_equal(r.status, 400);
    apitest_reply_free(&r);
    /* larger than the server's body limit (4096 here) */
    char *huge = malloc(10000);
    memset(huge, ' ', 10000);
    memcpy(huge, "{\"until\":null}", 14);
    r = post("/v1/vehicles/v-1/boost", APITEST_OPERATOR, huge, 10000);
    assert_int_equal(r.status, 413);
    assert_string_equal(apitest_error_code(r.body), "payload_too_large");
    apitest_reply_free(&r);
    free(huge);
    /* unknown vehicle */
    r = post("/v1/vehicles/v-9/boost", APITEST_OPERATOR, "{\"until\":null}", 14);
    assert_int_equal(r.status, 404);
    apitest_reply_free(&r);
    assert_int_equal(sent_count(), before); /* none of these produced anything */

    /* Kafka does not confirm: 503 and nothing promised */
    pthread_mutex_lock(&g.lock);
    g.fail_sends = 1;
    pthread_mutex_unlock(&g.lock);
    r = post("/v1/vehicles/v-1/boost", APITEST_OPERATOR, "{\"until\":null}", 14);
    assert_int_equal(r.status, 503);
    assert_string_equal(apitest_error_code(r.body), "unavailable");
    assert_non_null(strstr(r.headers, "Retry-After: 1"));
    apitest_reply_free(&r);
}

static void test_replan(void **state)
{
    struct apitest_reply r =
        apitest_raw(&g, "POST", "/v1/vehicles/v-1/replan", APITEST_OPERATOR, NULL, NULL, 0);
    assert_int_equal(r.status, 202);
    json_t *a = json_loads(r.body, 0, NULL);
    apitest_reply_free(&r);
    json_t *m = last_sent();
    assert_string_equal(json_string_value(json_object_get(m, "topic")), "d2ev.control");
    char *text = d2ev_test_dump(json_object_get(m, "value"));
    struct d2ev_control c;
    struct d2ev_err err = { 0 };
    assert_int_equal(d2ev_control_decode(text, strlen(text), &c, &err), 0);
    free(text);
    assert_int_equal(c.action, D2EV_CONTROL_REPLAN);
    assert_string_equal(c.vehicle_id, "v-1");
    assert_string_equal(c.env.id, json_string_value(json_object_get(a, "event_id")));
    /* the operator is named by the token's fingerprint, never the token */
    assert_int_equal(strncmp(c.requested_by, "api-token:", 10), 0);
    assert_int_equal(strlen(c.requested_by), 10 + D2EV_API_FP_LEN);
    assert_null(strstr(c.requested_by, "operator-token"));
    json_decref(m);
    json_decref(a);

    const char *body = "{\"reason\":\"price spike \xe2\x80\x94 replan\"}";
    r = post("/v1/vehicles/v-1/replan", APITEST_OPERATOR, body, strlen(body));
    assert_int_equal(r.status, 202);
    apitest_reply_free(&r);
    m = last_sent();
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "value"), "reason")),
                        "price spike \xe2\x80\x94 replan");
    json_decref(m);
    r = post("/v1/vehicles/v-1/replan", APITEST_OPERATOR, "{\"why\":1}", 9);
    assert_int_equal(r.status, 400);
    apitest_reply_free(&r);
    r = post("/v1/vehicles/v-1/replan", APITEST_OPERATOR, "{\"reason\":\"\x01\"}", 13);
    assert_int_equal(r.status, 400);
    apitest_reply_free(&r);
    r = post("/v1/vehicles/v-2/replan", APITEST_OPERATOR, NULL, 0); /* known, no schedule */
    assert_int_equal(r.status, 202);
    apitest_reply_free(&r);
}

static void test_ui_authentication(void **state)
{
    /* no token: 401 page with the hint */
    struct apitest_reply r = apitest_raw(&g, "GET", "/ui/fleet", NULL, NULL, NULL, 0);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.headers, "Content-Type: text/html"));
    assert_non_null(strstr(r.headers, "WWW-Authenticate: Bearer"));
    assert_non_null(strstr(r.body, "?token="));
    apitest_reply_free(&r);
    /* ?token= once: a redirect to the page without it, the token in a cookie */
    r = apitest_raw(&g, "GET", "/ui/vehicles/v-1?token=" APITEST_READ, NULL, NULL, NULL, 0);
    assert_int_equal(r.status, 303);
    assert_non_null(strstr(r.headers, "Location: /ui/vehicles/v-1\r\n"));
    assert_non_null(strstr(r.headers,
                           "Set-Cookie: d2ev_token=" APITEST_READ "; Path=/ui; HttpOnly; "
                           "SameSite=Strict\r\n"));
    assert_non_null(strstr(r.headers, "Referrer-Policy: no-referrer"));
    apitest_reply_free(&r);
    /* the fleet page's filters survive the redirect */
    r = apitest_raw(&g, "GET", "/ui/fleet?state=paused&token=" APITEST_READ "&oem=tesla", NULL,
                    NULL, NULL, 0);
    assert_int_equal(r.status, 303);
    assert_non_null(strstr(r.headers, "Location: /ui/fleet?oem=tesla&state=paused\r\n"));
    apitest_reply_free(&r);
    const char *cookie[] = { "Cookie: d2ev_token=" APITEST_READ, NULL };
    r = apitest_raw(&g, "GET", "/ui/vehicles/v-1", NULL, cookie, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "Content-Security-Policy: default-src 'none'"));
    assert_non_null(strstr(r.body, "<svg id=\"schedule-chart\""));
    assert_null(strstr(r.body, APITEST_READ));
    apitest_reply_free(&r);
    r = apitest_raw(&g, "GET", "/ui/fleet?state=charging", APITEST_OPERATOR, NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "<svg id=\"fleet-states\""));
    apitest_reply_free(&r);
    /* the app role, a bad token, a bad cookie */
    expect("GET", "/ui/fleet?token=" APITEST_APP, NULL, 403, NULL);
    expect("GET", "/ui/fleet?token=nope", NULL, 401, NULL);
    expect("GET", "/ui/fleet?token=wrong-but-well-formed-token", NULL, 401, NULL);
    const char *bad_cookie[] = { "Cookie: d2ev_token=%FF%00", NULL };
    r = apitest_raw(&g, "GET", "/ui/fleet", NULL, bad_cookie, NULL, 0);
    assert_int_equal(r.status, 401);
    apitest_reply_free(&r);
    expect("GET", "/ui/vehicles/v-9", APITEST_READ, 404, NULL);
    expect("GET", "/ui/vehicles/%FF", APITEST_READ, 400, NULL);
    expect("GET", "/ui/fleet?cursor=nope", APITEST_READ, 400, NULL);
    expect("GET", "/ui/fleet?bogus=1", APITEST_READ, 400, NULL);

    /* ui_public: no token needed on /ui, still needed on /v1 */
    struct apitest_server pub;
    apitest_start(&pub, true);
    r = apitest_raw(&pub, "GET", "/ui/vehicles/v-1", NULL, NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    apitest_reply_free(&r);
    r = apitest_raw(&pub, "GET", "/v1/vehicles", NULL, NULL, NULL, 0);
    assert_int_equal(r.status, 401);
    apitest_reply_free(&r);
    apitest_stop(&pub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_read_endpoint),
        cmocka_unit_test(test_auth_and_roles),
        cmocka_unit_test(test_pagination),
        cmocka_unit_test(test_daily_report),
        cmocka_unit_test(test_unknown_ids_and_routes),
        cmocka_unit_test(test_hostile_input),
        cmocka_unit_test(test_boost),
        cmocka_unit_test(test_replan),
        cmocka_unit_test(test_ui_authentication),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
