/* test_contract.c: every built adapter through the real loader, and the ABI checks. */
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_fixture.h"
#include "d2ev/oem.h"
#include "d2ev_test.h"

static const char *req_header(const struct d2ev_oem_request *req, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < D2EV_OEM_MAX_HEADERS; i++) {
        if (req->headers[i] && !strncasecmp(req->headers[i], name, n) && req->headers[i][n] == ':')
            return req->headers[i] + n + 2;
    }
    return NULL;
}

/* The contract every adapter keeps, checked through the host's own loader. */
static void check_adapter(const char *path, const char *name)
{
    struct d2ev_err err = { 0 };
    struct d2ev_oem *o = d2ev_oem_load_path(path, NULL, 0, NULL, &err);
    if (!o)
        fail_msg("%s: %s", path, err.msg);
    const struct d2ev_oem_desc *d = d2ev_oem_describe(o);
    assert_string_equal(d2ev_oem_name(o), name);
    assert_string_equal(d->name, name);
    assert_non_null(d->title);
    assert_int_equal(D2EV_OEM_ABI_MAJOR_OF(d->abi_version), D2EV_OEM_ABI_MAJOR);
    assert_true(d2ev_oem_supports(o, D2EV_OEM_OP_READ));
    assert_true(d->token_model <= D2EV_OEM_TOKENS_PER_APP);
    assert_true(d->rate_per_s > 0 && d->burst >= 1);
    assert_true(d->request_timeout_ms > 0);
    assert_non_null(d->config_keys);
    bool has_base = false;
    for (const char *const *k = d->config_keys; *k; k++)
        has_base |= !strcmp(*k, "base_url");
    assert_true(has_base);
    const struct d2ev_oem_settings *s = d2ev_oem_settings(o);
    assert_true(s->rate_per_s == d->rate_per_s && s->max_attempts >= 1);

    /* with no config the production defaults apply: every vehicle op builds an https request */
    for (uint32_t op = D2EV_OEM_OP_READ; op <= D2EV_OEM_OP_WAKE; op++) {
        struct d2ev_oem_call call = { .struct_size = sizeof(call), .op = op, .vehicle = "v-1" };
        struct d2ev_oem_flow flow = { .struct_size = sizeof(flow) };
        struct d2ev_oem_request req;
        d2ev_oem_request_init(&req);
        int rc = d2ev_oem_build(o, &call, &flow, &req, &err);
        if (d2ev_oem_supports(o, op)) {
            if (rc)
                fail_msg("%s %s: %s", name, d2ev_oem_op_name(op), err.msg);
            assert_true(strncmp(req.url, "https://", 8) == 0);
            assert_non_null(strstr(req.url, "v-1"));
            assert_int_equal(req.auth, D2EV_OEM_AUTH_BEARER);
        } else {
            assert_int_equal(rc, D2EV_ERR_UNSUPPORTED);
        }
        d2ev_oem_request_clear(&req);
    }
    d2ev_oem_unload(o);

    /* only the entry function is exported */
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(dl);
    assert_non_null(dlsym(dl, D2EV_OEM_ENTRY_SYMBOL));
    assert_null(dlsym(dl, "d2ev_kit_request"));
    assert_null(dlsym(dl, "d2ev_kit_parse_tokens"));
    dlclose(dl);
}

static void test_every_built_adapter(void **state)
{
    DIR *dir = opendir(D2EV_ADAPTER_BUILD_DIR);
    assert_non_null(dir);
    struct dirent *de;
    int n = 0;
    bool seen[3] = { false };
    static const char *const want[] = { "smartcar", "tesla", "enode" };
    while ((de = readdir(dir))) {
        size_t len = strlen(de->d_name);
        if (strncmp(de->d_name, "d2ev_oem_", 9) != 0 || len < 13 ||
            strcmp(de->d_name + len - 3, ".so") != 0)
            continue;
        char name[64], path[1024];
        snprintf(name, sizeof(name), "%.*s", (int)(len - 12), de->d_name + 9);
        snprintf(path, sizeof(path), "%s/%s", D2EV_ADAPTER_BUILD_DIR, de->d_name);
        check_adapter(path, name);
        for (int i = 0; i < 3; i++)
            seen[i] |= !strcmp(name, want[i]);
        n++;
    }
    closedir(dir);
    for (int i = 0; i < 3; i++) {
        if (!seen[i])
            fail_msg("adapter %s was not built into %s", want[i], D2EV_ADAPTER_BUILD_DIR);
    }
    assert_true(n >= 3);
    check_adapter(D2EV_TEST_ADAPTER_DIR "/d2ev_oem_example.so", "example");
}

static void expect_load_error(const char *name, int code, const char *needle)
{
    struct d2ev_err err = { 0 };
    struct d2ev_oem *o = d2ev_oem_load(D2EV_TEST_ADAPTER_DIR, name, NULL, 0, NULL, &err);
    assert_null(o);
    assert_int_equal(err.code, code);
    if (!strstr(err.msg, needle))
        fail_msg("error '%s' does not mention '%s'", err.msg, needle);
}

static void test_abi_checks(void **state)
{
    /* a future major version: refused by the host, with both versions named */
    expect_load_error("badabi", D2EV_ERR_UNSUPPORTED, "has ABI 99.0; this host speaks ABI 1.x");
    /* an adapter that refuses this host */
    expect_load_error("refuse", D2EV_ERR_UNSUPPORTED, "refused this host's ABI 1.");
    /* a shared object without the entry symbol */
    expect_load_error("noentry", D2EV_ERR_INVALID, "no entry symbol d2ev_oem_adapter_entry");
    /* no such file */
    expect_load_error("nosuch", D2EV_ERR_NOT_FOUND, "d2ev_oem_nosuch.so");
    /* names are [a-z0-9_] so they cannot walk the file system */
    expect_load_error("../smartcar", D2EV_ERR_INVALID, "use [a-z0-9_]");
}

static struct d2ev_oem *load_cfg(const char *cfg, struct d2ev_err *err)
{
    return d2ev_oem_load(D2EV_ADAPTER_BUILD_DIR, "smartcar", cfg, strlen(cfg), NULL, err);
}

static void test_config_rules(void **state)
{
    struct d2ev_err err = { 0 };
    /* secrets never come from the config file */
    assert_null(load_cfg("{\"client_secret\": \"hunter2\"}", &err));
    assert_non_null(strstr(err.msg, "D2EV_OEM_SMARTCAR_CLIENT_SECRET"));
    assert_null(strstr(err.msg, "hunter2"));
    /* typos are caught */
    assert_null(load_cfg("{\"base_ulr\": \"https://x\"}", &err));
    assert_non_null(strstr(err.msg, "base_ulr: unknown setting"));
    /* engine settings are validated */
    assert_null(load_cfg("{\"rate_limit\": {\"per_second\": -1}}", &err));
    assert_non_null(strstr(err.msg, "rate_limit"));
    assert_null(load_cfg("{\"breaker\": {\"open_ms\": \"soon\"}}", &err));
    assert_non_null(strstr(err.msg, "breaker"));
    /* ... and applied */
    struct d2ev_oem *o = load_cfg("{\"rate_limit\": {\"per_second\": 5, \"burst\": 7}, "
                                  "\"vehicle_rate_limit\": {\"per_second\": 0.5}, "
                                  "\"max_attempts\": 2, \"breaker\": {\"min_requests\": 3}, "
                                  "\"backoff\": {\"base_ms\": 10, \"max_ms\": 100}}",
                                  &err);
    if (!o)
        fail_msg("%s", err.msg);
    const struct d2ev_oem_settings *s = d2ev_oem_settings(o);
    assert_float_equal(s->rate_per_s, 5, 1e-9);
    assert_float_equal(s->burst, 7, 1e-9);
    assert_float_equal(s->vehicle_rate_per_s, 0.5, 1e-9);
    assert_float_equal(s->vehicle_burst, 1, 1e-9);
    assert_int_equal(s->max_attempts, 2);
    assert_int_equal(s->breaker.min_requests, 3);
    assert_int_equal(s->backoff.base_ms, 10);
    d2ev_oem_unload(o);
}

static void test_open_from_files_and_env(void **state)
{
    const char *dir = d2ev_test_tmpdir("oemcfg");
    char path[600];
    snprintf(path, sizeof(path), "%s/smartcar.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"client_id\": \"cid\", \"token_url\": \"http://127.0.0.1:1/token\"}", f);
    fclose(f);

    setenv("D2EV_OEM_SMARTCAR_CLIENT_SECRET", "envsecret", 1);
    struct d2ev_err err = { 0 };
    struct d2ev_oem *o = d2ev_oem_open(D2EV_ADAPTER_BUILD_DIR, dir, "smartcar", &err);
    if (!o)
        fail_msg("%s", err.msg);
    struct d2ev_oem_call call = { .struct_size = sizeof(call),
                                  .op = D2EV_OEM_OP_REFRESH,
                                  .refresh_token = "rt" };
    struct d2ev_oem_flow flow = { .struct_size = sizeof(flow) };
    struct d2ev_oem_request req;
    d2ev_oem_request_init(&req);
    assert_int_equal(d2ev_oem_build(o, &call, &flow, &req, &err), 0);
    assert_string_equal(req.url, "http://127.0.0.1:1/token");
    assert_string_equal(req_header(&req, "Authorization"), "Basic Y2lkOmVudnNlY3JldA==");
    d2ev_oem_request_clear(&req);
    d2ev_oem_unload(o);

    /* the _FILE form, as a mounted Secret */
    snprintf(path, sizeof(path), "%s/secret", dir);
    f = fopen(path, "w");
    fputs("filesecret\n", f);
    fclose(f);
    setenv("D2EV_OEM_SMARTCAR_CLIENT_SECRET_FILE", path, 1);
    assert_null(d2ev_oem_open(D2EV_ADAPTER_BUILD_DIR, dir, "smartcar", &err));
    assert_non_null(strstr(err.msg, "use one"));
    unsetenv("D2EV_OEM_SMARTCAR_CLIENT_SECRET");
    o = d2ev_oem_open(D2EV_ADAPTER_BUILD_DIR, dir, "smartcar", &err);
    assert_non_null(o);
    d2ev_oem_request_init(&req);
    assert_int_equal(d2ev_oem_build(o, &call, &flow, &req, &err), 0);
    assert_string_equal(req_header(&req, "Authorization"), "Basic Y2lkOmZpbGVzZWNyZXQ=");
    d2ev_oem_request_clear(&req);
    d2ev_oem_unload(o);
    unsetenv("D2EV_OEM_SMARTCAR_CLIENT_SECRET_FILE");

    /* a config directory without the adapter's file is an error, not a silent default */
    assert_null(d2ev_oem_open(D2EV_ADAPTER_BUILD_DIR, dir, "tesla", &err));
    assert_non_null(strstr(err.msg, "tesla.json"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_built_adapter),
        cmocka_unit_test(test_abi_checks),
        cmocka_unit_test(test_config_rules),
        cmocka_unit_test(test_open_from_files_and_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
