/* Tests for the HTTP server wrapper over a real socket (libmicrohttpd + libcurl). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "d2ev/http.h"
#include "d2ev_test.h"

static void handler(void *opaque, const struct d2ev_http_request *req,
                    struct d2ev_http_response *resp)
{
    if (!strcmp(req->path, "/echo")) {
        const char *q = d2ev_http_query(req, "q");
        const char *h = d2ev_http_header(req, "X-Test");
        json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "method", req->method, "q", q ? q : "", "h",
                              h ? h : "", "len", (json_int_t)req->body_len);
        d2ev_http_add_header(resp, "X-Reply", "yes");
        d2ev_http_respond_json(resp, 201, o);
    } else {
        d2ev_http_respond_error(resp, 404, "not_found", "no route for %s", req->path);
    }
}

static void test_routes_limits_and_errors(void **state)
{
    struct d2ev_http_server_conf conf = {
        .name = "t", .bind_addr = "127.0.0.1", .port = 0, .max_body = 1024, .threads = 2
    };
    struct d2ev_err err = { 0 };
    struct d2ev_http_server *s = d2ev_http_server_start(&conf, handler, NULL, &err);
    assert_non_null(s);
    int port = d2ev_http_server_port(s);
    assert_true(port > 0);
    char url[128];
    char *body = NULL;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo?q=hi", port);
    const char *hdrs[] = { "X-Test: abc", NULL };
    assert_int_equal(d2ev_test_http("POST", url, hdrs, "12345", 5, &body), 201);
    json_t *o = json_loads(body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(o, "q")), "hi");
    assert_string_equal(json_string_value(json_object_get(o, "h")), "abc");
    assert_int_equal(json_integer_value(json_object_get(o, "len")), 5);
    json_decref(o);
    free(body);

    /* too large: 413 with a JSON error, handler not called */
    char *big = malloc(4096);
    memset(big, 'x', 4096);
    assert_int_equal(d2ev_test_http("POST", url, NULL, big, 4096, &body), 413);
    assert_non_null(strstr(body, "\"code\":\"payload_too_large\""));
    free(body);
    free(big);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/nope", port);
    assert_int_equal(d2ev_test_http("GET", url, NULL, NULL, 0, &body), 404);
    o = json_loads(body, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "error"), "code")),
                        "not_found");
    json_decref(o);
    free(body);

    /* %00 is never decoded into a NUL that would cut the path short */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo%%00/evil?q=a%%20b", port);
    assert_int_equal(d2ev_test_http("GET", url, NULL, NULL, 0, &body), 404);
    assert_non_null(strstr(body, "/echo%00/evil"));
    free(body);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo?q=a%%20b%%2Fc", port);
    assert_int_equal(d2ev_test_http("GET", url, NULL, NULL, 0, &body), 201);
    assert_non_null(strstr(body, "\"q\":\"a b/c\""));
    free(body);

    /* a second server on the same port fails with a clear error */
    conf.port = port;
    assert_null(d2ev_http_server_start(&conf, handler, NULL, &err));
    assert_non_null(strstr(err.msg, "cannot listen"));
    d2ev_http_server_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes_limits_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
