/* test_oem_tool.c: d2ev-oem (in process) against a scripted server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_fixture.h"
#include "oemtool.h"

static struct srv S;

static void script(struct srv *s, const struct d2ev_http_request *req,
                   struct d2ev_http_response *resp)
{
    const char *auth = d2ev_http_header(req, "Authorization");
    if (strstr(req->path, "/oauth/token")) {
        if (strstr(req->body, "refresh_token=rt-1"))
            srv_reply(resp, 200, NULL,
                      "{\"access_token\": \"good\", \"token_type\": \"Bearer\", \"expires_in\": "
                      "7200, \"refresh_token\": \"rt-2\"}");
        else if (strstr(req->body, "code=c0de"))
            srv_reply(resp, 200, NULL,
                      "{\"access_token\": \"from-code\", \"token_type\": \"Bearer\", "
                      "\"expires_in\": 7200, \"refresh_token\": \"rt-code\"}");
        else
            srv_reply(resp, 400, NULL, "{\"error\": \"invalid_grant\"}");
    } else if (strstr(req->path, "/vehicles/gone/")) {
        srv_reply(resp, 404, NULL,
                  "{\"type\": \"RESOURCE_NOT_FOUND\", \"code\": \"PATH\", \"description\": "
                  "\"Vehicle not found.\"}");
    } else if (!auth || strcmp(auth, "Bearer good") != 0) {
        srv_reply(resp, 401, NULL,
                  "{\"type\": \"AUTHENTICATION\", \"code\": null, \"description\": \"expired\"}");
    } else if (strstr(req->path, "/batch")) {
        srv_reply(resp, 200, NULL,
                  "{\"responses\": [{\"path\": \"/battery\", \"code\": 200, \"headers\": {}, "
                  "\"body\": {\"percentRemaining\": 0.54, \"range\": 212.4}}, {\"path\": "
                  "\"/charge\", \"code\": 200, \"headers\": {}, \"body\": {\"isPluggedIn\": "
                  "true, \"state\": \"CHARGING\"}}]}");
    } else {
        srv_reply(resp, 200, NULL, "{\"status\": \"success\", \"message\": \"sent\"}");
    }
}

/* Run d2ev-oem with args (NULL-terminated); returns its status and output. */
static int tool(char **output, ...)
{
    char *argv[32] = { "d2ev-oem" };
    int argc = 1;
    char base[128], adapters[600];
    snprintf(base, sizeof(base), "--base-url=%s/smartcar", S.base);
    snprintf(adapters, sizeof(adapters), "--adapter-dir=%s", D2EV_ADAPTER_BUILD_DIR);
    argv[argc++] = base;
    argv[argc++] = adapters;
    va_list ap;
    va_start(ap, output);
    for (char *a; (a = va_arg(ap, char *)) && argc < 31;)
        argv[argc++] = a;
    va_end(ap);
    size_t len = 0;
    FILE *out = open_memstream(output, &len);
    int status = d2ev_oemtool_main(argc, argv, out);
    fclose(out);
    return status;
}

static json_t *parse(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    if (!j)
        fail_msg("not JSON: %s", text);
    return j;
}

static void test_help(void **state)
{
    char *out = NULL;
    assert_int_equal(tool(&out, "--help", NULL), 0);
    assert_non_null(strstr(out, "--adapter"));
    assert_non_null(strstr(out, "exchange-code"));
    assert_non_null(strstr(out, "D2EV_ADAPTER_DIR"));
    free(out);
    assert_int_equal(tool(&out, "--adapter=smartcar", "--op=fly", NULL), 64);
    free(out);
    assert_int_equal(tool(&out, "--op=read", NULL), 64); /* --adapter is required */
    free(out);
    assert_int_equal(tool(&out, "--adapter=nosuch", "--op=read", "--vehicle=v", NULL), 64);
    free(out);
}

static void test_read(void **state)
{
    char *out = NULL;
    assert_int_equal(
        tool(&out, "--adapter=smartcar", "--op=read", "--vehicle=v1", "--token=good", NULL), 0);
    json_t *j = parse(out);
    assert_string_equal(json_string_value(json_object_get(j, "class")), "ok");
    json_t *st = json_object_get(j, "state");
    assert_float_equal(json_real_value(json_object_get(st, "soc")), 54.0, 1e-9);
    assert_string_equal(json_string_value(json_object_get(st, "charging_state")), "charging");
    assert_true(json_is_true(json_object_get(st, "plugged_in")));
    json_decref(j);
    free(out);
}

static void test_refresh_on_401_and_errors(void **state)
{
    char *out = NULL;
    char token_url[128];
    snprintf(token_url, sizeof(token_url), "--token-url=%s/smartcar/oauth/token", S.base);
    /* an expired token plus a refresh token: refreshed, then read */
    assert_int_equal(tool(&out, "--adapter=smartcar", "--op=read", "--vehicle=v1", "--token=old",
                          "--refresh-token=rt-1", "--client-id=cid", "--client-secret=cs",
                          token_url, NULL),
                     0);
    free(out);
    /* a permanent failure: exit 1, the class in the JSON */
    assert_int_equal(
        tool(&out, "--adapter=smartcar", "--op=read", "--vehicle=gone", "--token=good", NULL), 1);
    json_t *j = parse(out);
    assert_string_equal(json_string_value(json_object_get(j, "class")), "permanent");
    assert_int_equal(json_integer_value(json_object_get(j, "http_status")), 404);
    json_decref(j);
    free(out);
    /* a start */
    assert_int_equal(
        tool(&out, "--adapter=smartcar", "--op=start", "--vehicle=v1", "--token=good", NULL), 0);
    j = parse(out);
    assert_string_equal(json_string_value(json_object_get(j, "command")), "sent");
    json_decref(j);
    free(out);
}

static void test_token_operations(void **state)
{
    char *out = NULL;
    char token_url[128];
    snprintf(token_url, sizeof(token_url), "--token-url=%s/smartcar/oauth/token", S.base);
    assert_int_equal(tool(&out, "--adapter=smartcar", "--op=exchange-code", "--code=c0de",
                          "--redirect-uri=https://app/cb", "--client-id=cid", "--client-secret=cs",
                          token_url, NULL),
                     0);
    assert_null(strstr(out, "from-code")); /* tokens are not printed unless asked */
    assert_non_null(strstr(out, "expires_at"));
    free(out);
    assert_int_equal(tool(&out, "--adapter=smartcar", "--op=refresh", "--refresh-token=rt-1",
                          "--client-id=cid", "--client-secret=cs", token_url, "--show-tokens",
                          NULL),
                     0);
    json_t *j = parse(out);
    json_t *t = json_object_get(j, "tokens");
    assert_string_equal(json_string_value(json_object_get(t, "access_token")), "good");
    assert_string_equal(json_string_value(json_object_get(t, "refresh_token")), "rt-2");
    json_decref(j);
    free(out);
    /* a spent refresh token: unauthorized, exit 1 */
    assert_int_equal(tool(&out, "--adapter=smartcar", "--op=refresh", "--refresh-token=rt-0",
                          "--client-id=cid", "--client-secret=cs", token_url, NULL),
                     1);
    j = parse(out);
    assert_string_equal(json_string_value(json_object_get(j, "class")), "unauthorized");
    json_decref(j);
    free(out);
}

static int setup(void **state)
{
    srv_start(&S, script, NULL);
    return 0;
}

static int teardown(void **state)
{
    srv_stop(&S);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_read),
        cmocka_unit_test(test_refresh_on_401_and_errors),
        cmocka_unit_test(test_token_operations),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
