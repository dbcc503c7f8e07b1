/* Unit tests: the bridge's routes, request validation, identifiers and the
 * registration.request it builds (without Kafka or HTTP). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge_request.h"
#include "bridge_results.h"
#include "d2ev/crypto.h"
#include "d2ev/json.h"

#define KEYS                                                                                       \
    "k2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,k1:"                                          \
    "HxwdHh8aGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA="
#define CODE "the-authorisation-code-4711"

static struct d2ev_keyring *g_keys;
static const char *const g_oems[] = { "smartcar", "tesla", "enode" };
static struct bridge_rules g_rules;

static int setup(void **state)
{
    g_keys = d2ev_keyring_parse(KEYS, NULL);
    g_rules = (struct bridge_rules){ g_oems, 3, g_keys, NULL };
    return g_keys ? 0 : -1;
}

static int teardown(void **state)
{
    d2ev_keyring_destroy(g_keys);
    return 0;
}

static const char *register_body(const char *extra)
{
    static char buf[2048];
    snprintf(buf, sizeof(buf),
             "{\"user_id\":\"u-42\",\"oem\":\"tesla\",\"oem_vehicle_id\":\"5YJ3E1EA7KF000001\","
             "\"timezone\":\"Europe/London\",\"region\":\"GB-LON\","
             "\"authorization\":{\"code\":\"" CODE "\",\"redirect_uri\":\"https://app/cb\"}%s}",
             extra);
    return buf;
}

/* Build a request for route; returns the status (0 when built). */
static int build(enum bridge_route_kind kind, const char *id, const char *body,
                 struct d2ev_reg_request *out, struct bridge_reject *rej)
{
    struct bridge_route rt = { .kind = kind };
    snprintf(rt.id, sizeof(rt.id), "%s", id ? id : "");
    memset(rej, 0, sizeof(*rej));
    int rc = bridge_build_request(&g_rules, &rt, body, strlen(body), "idem-1", out, rej);
    return rc ? rej->status : 0;
}

static void expect_refused(enum bridge_route_kind kind, const char *id, const char *body,
                           int status, const char *code, const char *needle)
{
    struct d2ev_reg_request r;
    struct bridge_reject rej;
    int got = build(kind, id, body, &r, &rej);
    char *text = NULL;
    if (got == 0) { /* member rules are checked by the registration decoder */
        text = bridge_encode_request(&r, &rej);
        d2ev_reg_request_clear(&r);
        got = text ? 0 : rej.status;
        free(text);
    }
    if (got != status || strcmp(rej.code, code) || !strstr(rej.err.msg, needle))
        fail_msg("want %d %s containing \"%s\", got %d %s: %s", status, code, needle, got,
                 rej.code ? rej.code : "-", rej.err.msg);
}

/* ------------------------------------------------------------ routes */

static void test_routes(void **state)
{
    struct bridge_route rt;
    struct bridge_reject rej;
    assert_int_equal(bridge_route_match("POST", "/v1/registrations", &rt, &rej), 0);
    assert_int_equal(rt.kind, BRIDGE_ROUTE_REGISTER);
    assert_int_equal(bridge_route_match("GET", "/v1/registrations/req-1", &rt, &rej), 0);
    assert_int_equal(rt.kind, BRIDGE_ROUTE_RESULT);
    assert_string_equal(rt.id, "req-1");
    assert_int_equal(bridge_route_match("PATCH", "/v1/vehicles/v-1/preferences", &rt, &rej), 0);
    assert_int_equal(rt.kind, BRIDGE_ROUTE_PREFERENCES);
    assert_string_equal(rt.id, "v-1");
    assert_int_equal(bridge_route_match("DELETE", "/v1/vehicles/v:1@x", &rt, &rej), 0);
    assert_int_equal(rt.kind, BRIDGE_ROUTE_DEREGISTER);
    assert_string_equal(rt.id, "v:1@x");

    assert_int_equal(bridge_route_match("GET", "/v1/registrations", &rt, &rej), -1);
    assert_int_equal(rej.status, 405);
    assert_int_equal(bridge_route_match("POST", "/v1/vehicles/v-1", &rt, &rej), -1);
    assert_int_equal(rej.status, 405);
    assert_int_equal(bridge_route_match("GET", "/v1/vehicles/v-1/preferences", &rt, &rej), -1);
    assert_int_equal(rej.status, 405);
    assert_int_equal(bridge_route_match("GET", "/", &rt, &rej), -1);
    assert_int_equal(rej.status, 404);
    assert_int_equal(bridge_route_match("DELETE", "/v1/vehicles/", &rt, &rej), -1);
    assert_int_equal(rej.status, 404);
    assert_int_equal(bridge_route_match("DELETE", "/v1/vehicles/a/b", &rt, &rej), -1);
    assert_int_equal(rej.status, 404);
    assert_int_equal(bridge_route_match("PATCH", "/v1/vehicles//preferences", &rt, &rej), -1);
    assert_int_equal(rej.status, 404);
}

/* ------------------------------------------------------------ register */

static void test_register_builds_a_sealed_request(void **state)
{
    struct d2ev_reg_request r;
    struct bridge_reject rej;
    assert_int_equal(build(BRIDGE_ROUTE_REGISTER, NULL,
                           register_body(",\"prefs\":{\"target_soc\":90},\"battery_kwh\":75"), &r,
                           &rej),
                     0);
    assert_int_equal(r.action, D2EV_REG_REGISTER);
    assert_string_equal(r.user_id, "u-42");
    assert_string_equal(r.source, "bridge");
    assert_string_equal(r.idempotency_key, "idem-1");
    assert_true(r.has_battery_kwh);
    char vid[BRIDGE_VEHICLE_ID_LEN + 1], rid[BRIDGE_REQUEST_ID_LEN + 1];
    bridge_vehicle_id(NULL, "tesla", "5YJ3E1EA7KF000001", vid);
    assert_string_equal(r.vehicle_id, vid);
    assert_int_equal(strlen(vid), BRIDGE_VEHICLE_ID_LEN);
    bridge_request_id(D2EV_REG_REGISTER, vid, "idem-1", rid);
    assert_string_equal(r.request_id, rid);

    /* the code is sealed with the primary key, bound to the vehicle id */
    assert_non_null(r.sealed_auth);
    assert_null(strstr(r.sealed_auth, CODE));
    assert_int_equal(strncmp(r.sealed_auth, "k2.", 3), 0);
    size_t len = 0;
    char *plain = d2ev_crypto_open(g_keys, r.sealed_auth, r.vehicle_id, &len, NULL);
    assert_non_null(plain);
    assert_string_equal(plain, "{\"code\":\"" CODE "\",\"redirect_uri\":\"https://app/cb\"}");
    d2ev_crypto_free_secret(plain, len);
    assert_null(d2ev_crypto_open(g_keys, r.sealed_auth, "v-other", &len, NULL));

    /* the Kafka message decodes, and does not carry the code in clear */
    char *text = bridge_encode_request(&r, &rej);
    assert_non_null(text);
    assert_null(strstr(text, CODE));
    struct d2ev_reg_request back;
    assert_int_equal(d2ev_reg_request_decode(text, strlen(text), &back, NULL), 0);
    assert_string_equal(back.request_id, r.request_id);
    assert_non_null(back.prefs_patch);
    d2ev_reg_request_clear(&back);
    free(text);
    d2ev_reg_request_clear(&r);
}

static void test_register_refresh_token_and_no_authorization(void **state)
{
    struct d2ev_reg_request r;
    struct bridge_reject rej;
    const char *body = "{\"user_id\":\"u-1\",\"oem\":\"smartcar\",\"oem_vehicle_id\":\"sc-1\","
                       "\"timezone\":\"America/New_York\",\"region\":\"US-NY\","
                       "\"authorization\":{\"refresh_token\":\"rt-1\",\"access_token\":\"at-1\","
                       "\"expires_at\":\"2026-11-21T08:00:00Z\"}}";
    assert_int_equal(build(BRIDGE_ROUTE_REGISTER, NULL, body, &r, &rej), 0);
    size_t len;
    char *plain = d2ev_crypto_open(g_keys, r.sealed_auth, r.vehicle_id, &len, NULL);
    assert_non_null(strstr(plain, "\"refresh_token\":\"rt-1\""));
    assert_non_null(strstr(plain, "\"expires_at\":\"2026-11-21T08:00:00Z\""));
    d2ev_crypto_free_secret(plain, len);
    d2ev_reg_request_clear(&r);
    /* per-application OEMs (Enode) link without an authorisation: "{}" is sealed */
    body = "{\"user_id\":\"u-1\",\"oem\":\"enode\",\"oem_vehicle_id\":\"e-1\","
           "\"timezone\":\"Europe/Oslo\",\"region\":\"NO\"}";
    assert_int_equal(build(BRIDGE_ROUTE_REGISTER, NULL, body, &r, &rej), 0);
    plain = d2ev_crypto_open(g_keys, r.sealed_auth, r.vehicle_id, &len, NULL);
    assert_string_equal(plain, "{}");
    d2ev_crypto_free_secret(plain, len);
    d2ev_reg_request_clear(&r);
}

static void test_register_refusals(void **state)
{
    expect_refused(BRIDGE_ROUTE_REGISTER, NULL, "{\"user_id\":", 400, "malformed_json",
                   "malformed JSON");
    expect_refused(BRIDGE_ROUTE_REGISTER, NULL, "[1,2]", 400, "malformed_json",
                   "must be a JSON object");
    expect_refused(BRIDGE_ROUTE_REGISTER, NULL, "", 400, "malformed_json", "empty");
    expect_refused(BRIDGE_ROUTE_REGISTER, NULL, register_body(",\"colour\":\"red\""), 400,
                   "invalid_request", "unknown field \"colour\"");
    expect_refused(BRIDGE_ROUTE_REGISTER, NULL,
                   "{\"oem\":\"tesla\",\"oem_vehicle_id\":\"x\",\"timezone\":\"Europe/London\","
                   "\"region\":\"GB\"}",
                   400, "invalid_request", "user_id: required field is missing");
    expect_refused(BRIDGE_ROUTE_REGISTER, NULL,
                   "{\"user_id\":\"u 1\",\"oem\":\"tesla\",\"oem_vehicle_id\":\"x\","
                   "\"timezone\":\"Europe/London\",\"region\":\"GB\"}",
                   400, "invalid_request", "user_id: has a character not allowed");
    expect_refused(BRIDGE_ROUTE_REGISTER, NULL,
                   "{\"user_id\":\"u\",\"oem\":\"acme\",\"oem_vehicle_id\":\"x\","
                   "\"timezone\":\"Europe/London\",\"region\":\"GB\"}",
                   400, "unknown_oem", "\"acme\" is not a configured OEM");
    expect_refused(BRIDGE_ROUTE_REGISTER, NULL,
                   "{\"user_id\":\"u\",\"oem\":\"tesla\",\"oem_vehicle_id\":\"x\","
                   "\"timezone\":\"Mars/Olympus\",\"region\":\"GB\"}",
                   400, "invalid_timezone", "\"Mars/Olympus\" is not an IANA time zone");
    expect_refused(BRIDGE_ROUTE_REGISTER, NULL,
                   "{\"user_id\":\"u\",\"oem\":\"tesla\",\"oem_vehicle_id\":\"x\","
                   "\"timezone\":\"../../etc/passwd\",\"region\":\"GB\"}",
                   400, "invalid_timezone", "is not an IANA time zone");
    expect_refused(BRIDGE_ROUTE_REGISTER, NULL,
                   register_body(",\"prefs\":{\"target_soc\":30,\"min_soc\":50}"), 400,
                   "invalid_preferences", "prefs.min_soc: must not be above target_soc (50 > 30)");
    expect_refused(BRIDGE_ROUTE_REGISTER, NULL, register_body(",\"prefs\":{\"target_soc\":120}"),
                   400, "invalid_preferences", "prefs.target_soc: must be between 1 and 100");
    expect_refused(BRIDGE_ROUTE_REGISTER, NULL,
                   register_body(",\"prefs\":{\"ready_by\":{\"mon\":\"25:00\"}}"), 400,
                   "invalid_preferences", "\"HH:MM\"");
    expect_refused(BRIDGE_ROUTE_REGISTER, NULL, register_body(",\"battery_kwh\":5000"), 400,
                   "invalid_request", "battery_kwh: must be between 1 and 300");
    expect_refused(BRIDGE_ROUTE_REGISTER, NULL,
                   "{\"user_id\":\"u\",\"oem\":\"tesla\",\"oem_vehicle_id\":\"x\","
                   "\"timezone\":\"Europe/London\",\"region\":\"GB\",\"authorization\":"
                   "{\"code\":\"c\",\"refresh_token\":\"r\"}}",
                   400, "invalid_request", "either code");
    expect_refused(BRIDGE_ROUTE_REGISTER, NULL,
                   "{\"user_id\":\"u\",\"oem\":\"tesla\",\"oem_vehicle_id\":\"x\","
                   "\"timezone\":\"Europe/London\",\"region\":\"GB\",\"authorization\":"
                   "{\"code\":\"c\",\"expires_at\":\"2026-01-01T00:00:00Z\"}}",
                   400, "invalid_request", "authorization.expires_at: not allowed with code");
    expect_refused(BRIDGE_ROUTE_REGISTER, NULL,
                   "{\"user_id\":\"u\",\"oem\":\"tesla\",\"oem_vehicle_id\":\"x\","
                   "\"timezone\":\"Europe/London\",\"region\":\"GB\",\"authorization\":"
                   "{\"code\":42}}",
                   400, "invalid_request", "authorization.code: must be a string");
    /* duplicate keys would make the signed body ambiguous */
    expect_refused(BRIDGE_ROUTE_REGISTER, NULL,
                   "{\"user_id\":\"u\",\"user_id\":\"v\",\"oem\":\"tesla\"}", 400, "malformed_json",
                   "duplicate");
}

static void test_refusals_never_echo_the_authorisation(void **state)
{
    /* a code that is too long, or has a control character: the error names
     * the field, never the value */
    char body[8192], code[5000];
    memset(code, 'Z', sizeof(code) - 1);
    code[sizeof(code) - 1] = '\0';
    snprintf(body, sizeof(body),
             "{\"user_id\":\"u\",\"oem\":\"tesla\",\"oem_vehicle_id\":\"x\",\"timezone\":"
             "\"Europe/London\",\"region\":\"GB\",\"authorization\":{\"code\":\"%s\"}}",
             code);
    struct d2ev_reg_request r;
    struct bridge_reject rej;
    assert_int_equal(build(BRIDGE_ROUTE_REGISTER, NULL, body, &r, &rej), 400);
    assert_null(strstr(rej.err.msg, "ZZZZ"));
    snprintf(body, sizeof(body),
             "{\"user_id\":\"u\",\"oem\":\"tesla\",\"oem_vehicle_id\":\"x\",\"timezone\":"
             "\"Europe/London\",\"region\":\"GB\",\"authorization\":{\"code\":\"SECRETPART\\n\"}}");
    assert_int_equal(build(BRIDGE_ROUTE_REGISTER, NULL, body, &r, &rej), 400);
    assert_null(strstr(rej.err.msg, "SECRETPART"));
}

/* ------------------------------------------------------------ preferences, deregister */

static void test_preferences_and_deregister(void **state)
{
    struct d2ev_reg_request r;
    struct bridge_reject rej;
    assert_int_equal(
        build(BRIDGE_ROUTE_PREFERENCES, "v-1", "{\"min_soc\":30,\"price_cap\":null}", &r, &rej), 0);
    assert_int_equal(r.action, D2EV_REG_UPDATE_PREFERENCES);
    assert_string_equal(r.vehicle_id, "v-1");
    assert_null(r.sealed_auth);
    char *text = bridge_encode_request(&r, &rej);
    assert_non_null(text);
    free(text);
    d2ev_reg_request_clear(&r);

    assert_int_equal(build(BRIDGE_ROUTE_DEREGISTER, "v-1", "", &r, &rej), 0);
    assert_int_equal(r.action, D2EV_REG_DEREGISTER);
    text = bridge_encode_request(&r, &rej);
    assert_non_null(text);
    free(text);
    d2ev_reg_request_clear(&r);

    expect_refused(BRIDGE_ROUTE_PREFERENCES, "v-1", "{}", 400, "invalid_preferences",
                   "empty object");
    expect_refused(BRIDGE_ROUTE_PREFERENCES, "v-1", "{\"target_soc\":10,\"min_soc\":20}", 400,
                   "invalid_preferences", "min_soc: must not be above target_soc (20 > 10)");
    /* member errors come from the registration decoder, named as in the body */
    expect_refused(BRIDGE_ROUTE_PREFERENCES, "v-1", "{\"target_soc\":0}", 400,
                   "invalid_preferences", "target_soc: must be between 1 and 100");
    expect_refused(BRIDGE_ROUTE_PREFERENCES, "v-1", "{\"colour\":\"red\"}", 400,
                   "invalid_preferences", "unknown field \"colour\"");
    expect_refused(BRIDGE_ROUTE_PREFERENCES, "v-1", "{\"mode\":null}", 400, "invalid_preferences",
                   "mode");
    expect_refused(BRIDGE_ROUTE_PREFERENCES, "v-1", "not json", 400, "malformed_json",
                   "malformed JSON");
    expect_refused(BRIDGE_ROUTE_DEREGISTER, "v-1", "{}", 400, "invalid_request", "no body");
}

/* ------------------------------------------------------------ identifiers */

static void test_identifiers_are_deterministic(void **state)
{
    char a[BRIDGE_VEHICLE_ID_LEN + 1], b[BRIDGE_VEHICLE_ID_LEN + 1];
    bridge_vehicle_id(NULL, "tesla", "5YJ3", a);
    bridge_vehicle_id(NULL, "tesla", "5YJ3", b);
    assert_string_equal(a, b); /* re-linking the same car: the same vehicle */
    bridge_vehicle_id(NULL, "smartcar", "5YJ3", b);
    assert_string_not_equal(a, b); /* another OEM's id space */
    bridge_vehicle_id("a-vehicle-id-key", "tesla", "5YJ3", b);
    assert_string_not_equal(a, b); /* keyed: not derivable without the key */
    assert_int_equal(strncmp(a, "v-", 2), 0);

    char r1[BRIDGE_REQUEST_ID_LEN + 1], r2[BRIDGE_REQUEST_ID_LEN + 1];
    bridge_request_id(D2EV_REG_UPDATE_PREFERENCES, "v-1", "k", r1);
    bridge_request_id(D2EV_REG_UPDATE_PREFERENCES, "v-1", "k", r2);
    assert_string_equal(r1, r2); /* a retry with the same Idempotency-Key */
    bridge_request_id(D2EV_REG_DEREGISTER, "v-1", "k", r2);
    assert_string_not_equal(r1, r2); /* keys are scoped by action ... */
    bridge_request_id(D2EV_REG_UPDATE_PREFERENCES, "v-2", "k", r2);
    assert_string_not_equal(r1, r2); /* ... and by vehicle */

    unsigned char sig1[32] = { 1 }, sig2[32] = { 2 };
    char i1[BRIDGE_IDEM_MAX + 1], i2[BRIDGE_IDEM_MAX + 1];
    bridge_idempotency_from_signature(sig1, i1);
    bridge_idempotency_from_signature(sig2, i2);
    assert_string_not_equal(i1, i2);
    assert_true(bridge_idempotency_key_valid(i1));
    assert_true(bridge_idempotency_key_valid("order-42:retry@x"));
    assert_false(bridge_idempotency_key_valid(""));
    assert_false(bridge_idempotency_key_valid("has space"));
    char long_key[80];
    memset(long_key, 'k', 65);
    long_key[65] = '\0';
    assert_false(bridge_idempotency_key_valid(long_key));
}

/* ------------------------------------------------------------ results store */

static void test_results_store_is_bounded(void **state)
{
    struct bridge_results *s = bridge_results_create(3);
    struct d2ev_reg_result r;
    memset(&r, 0, sizeof(r));
    for (int i = 0; i < 5; i++) {
        snprintf(r.request_id, sizeof(r.request_id), "req-%d", i);
        snprintf(r.vehicle_id, sizeof(r.vehicle_id), "v-%d", i);
        snprintf(r.code, sizeof(r.code), i % 2 ? "consent_revoked" : "ok");
        snprintf(r.reason, sizeof(r.reason), "%s", i % 2 ? "the OEM refused" : "");
        r.accepted = i % 2 == 0;
        assert_int_equal(bridge_results_put(s, &r), 0);
    }
    assert_int_equal(bridge_results_count(s), 3);
    struct d2ev_reg_result got;
    assert_false(bridge_results_get(s, "req-0", &got)); /* the oldest went first */
    assert_false(bridge_results_get(s, "req-1", &got));
    assert_true(bridge_results_get(s, "req-3", &got));
    assert_false(got.accepted);
    assert_string_equal(got.reason, "the OEM refused");
    assert_string_equal(got.vehicle_id, "v-3");
    /* the same answer again replaces, and takes no new slot */
    assert_int_equal(bridge_results_put(s, &r), 0);
    assert_int_equal(bridge_results_count(s), 3);
    assert_true(bridge_results_get(s, "req-2", &got));
    bridge_results_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_register_builds_a_sealed_request),
        cmocka_unit_test(test_register_refresh_token_and_no_authorization),
        cmocka_unit_test(test_register_refusals),
        cmocka_unit_test(test_refusals_never_echo_the_authorisation),
        cmocka_unit_test(test_preferences_and_deregister),
        cmocka_unit_test(test_identifiers_are_deterministic),
        cmocka_unit_test(test_results_store_is_bounded),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
