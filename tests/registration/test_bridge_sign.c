/* Unit tests: the bridge's request signatures and its replay cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge_replay.h"
#include "bridge_sign.h"
#include "d2ev/util.h"

#define SECRET   "a-shared-secret-of-some-length"
#define PREVIOUS "the-previous-shared-secret"
#define NOW      1795246200LL
#define BODY     "{\"user_id\":\"u-1\"}"
#define PATH     "/v1/registrations"

static const struct bridge_sig_keys keys = { { SECRET, PREVIOUS }, 2, 300 };

/* "v1=<hex>" for a request signed with secret at ts. */
static const char *header(const char *secret, const char *ts, const char *method, const char *path,
                          const char *body)
{
    static char buf[80];
    char hex[BRIDGE_SIG_HEX_LEN + 1];
    bridge_sign(secret, strlen(secret), ts, method, path, body, strlen(body), hex);
    snprintf(buf, sizeof(buf), "v1=%s", hex);
    return buf;
}

static enum bridge_sig_verdict verify(const char *ts, const char *sig, const char *method,
                                      const char *path, const char *body, int64_t now,
                                      struct d2ev_err *err)
{
    struct bridge_sig_ok ok;
    return bridge_sig_verify(&keys, ts, sig, method, path, body, strlen(body), now, &ok, err);
}

static void test_the_documented_example(void **state)
{
    /* docs/bridge.md: printf '%s' "1795246200.POST./v1/registrations.<body>" |
     * openssl dgst -sha256 -hmac "$SECRET" -- the same bytes, the same digest */
    char hex[BRIDGE_SIG_HEX_LEN + 1], expect[BRIDGE_SIG_HEX_LEN + 1];
    bridge_sign(SECRET, strlen(SECRET), "1795246200", "POST", PATH, BODY, strlen(BODY), hex);
    const char *msg = "1795246200.POST./v1/registrations." BODY;
    unsigned char mac[32];
    d2ev_hmac_sha256(SECRET, strlen(SECRET), msg, strlen(msg), mac);
    d2ev_hex_encode(mac, 32, expect);
    assert_string_equal(hex, expect);
    assert_int_equal(strlen(hex), 64);
}

/* The worked example in docs/bridge.md, "Signing requests". */
static void test_the_worked_example_in_the_docs(void **state)
{
    const char *body = "{\"user_id\":\"u-42\",\"oem\":\"enode\",\"oem_vehicle_id\":"
                       "\"2e2ee1d4-5f1a-4c2b-9d3e-1f2a3b4c5d6e\",\"timezone\":\"Europe/Berlin\","
                       "\"region\":\"DE\"}";
    char hex[BRIDGE_SIG_HEX_LEN + 1];
    bridge_sign("the shared secret", 17, "1795246200", "POST", PATH, body, strlen(body), hex);
    assert_string_equal(hex, "2da581aa7022d57efd0c457caeca9356b6ff19e2121e2c205b98a513257fa808");
}

static void test_good_signature_is_accepted(void **state)
{
    struct d2ev_err err = { 0 };
    struct bridge_sig_ok ok;
    const char *sig = header(SECRET, "1795246200", "POST", PATH, BODY);
    assert_int_equal(bridge_sig_verify(&keys, "1795246200", sig, "POST", PATH, BODY, strlen(BODY),
                                       NOW, &ok, &err),
                     BRIDGE_SIG_OK);
    assert_int_equal(ok.timestamp_s, NOW);
    /* the previous secret still works during a rotation */
    assert_int_equal(verify("1795246200", header(PREVIOUS, "1795246200", "POST", PATH, BODY),
                            "POST", PATH, BODY, NOW, &err),
                     BRIDGE_SIG_OK);
    /* an empty body (DELETE, GET) is signed as an empty string */
    assert_int_equal(verify("1795246200", header(SECRET, "1795246200", "GET", "/v1/x", ""), "GET",
                            "/v1/x", "", NOW, &err),
                     BRIDGE_SIG_OK);
}

static void test_any_change_breaks_the_signature(void **state)
{
    struct d2ev_err err = { 0 };
    const char *sig = header(SECRET, "1795246200", "POST", PATH, BODY);
    char copy[80];
    snprintf(copy, sizeof(copy), "%s", sig);
    assert_int_equal(verify("1795246200", copy, "POST", PATH, "{\"user_id\":\"u-2\"}", NOW, &err),
                     BRIDGE_SIG_MISMATCH);
    assert_non_null(strstr(err.msg, "does not match"));
    assert_int_equal(verify("1795246200", copy, "PATCH", PATH, BODY, NOW, &err),
                     BRIDGE_SIG_MISMATCH);
    assert_int_equal(verify("1795246200", copy, "POST", "/v1/vehicles/v-1", BODY, NOW, &err),
                     BRIDGE_SIG_MISMATCH);
    assert_int_equal(verify("1795246201", copy, "POST", PATH, BODY, NOW, &err),
                     BRIDGE_SIG_MISMATCH);
    assert_int_equal(verify("1795246200",
                            header("another-secret-entirely", "1795246200", "POST", PATH, BODY),
                            "POST", PATH, BODY, NOW, &err),
                     BRIDGE_SIG_MISMATCH);
    /* one flipped hex digit */
    copy[10] = copy[10] == '0' ? '1' : '0';
    assert_int_equal(verify("1795246200", copy, "POST", PATH, BODY, NOW, &err),
                     BRIDGE_SIG_MISMATCH);
}

static void test_stale_and_future_timestamps(void **state)
{
    struct d2ev_err err = { 0 };
    char ts[32];
    snprintf(ts, sizeof(ts), "%lld", NOW - 301);
    assert_int_equal(
        verify(ts, header(SECRET, ts, "POST", PATH, BODY), "POST", PATH, BODY, NOW, &err),
        BRIDGE_SIG_STALE);
    assert_non_null(strstr(err.msg, "301 s behind"));
    snprintf(ts, sizeof(ts), "%lld", NOW + 301);
    assert_int_equal(
        verify(ts, header(SECRET, ts, "POST", PATH, BODY), "POST", PATH, BODY, NOW, &err),
        BRIDGE_SIG_STALE);
    assert_non_null(strstr(err.msg, "ahead of"));
    snprintf(ts, sizeof(ts), "%lld", NOW - 300); /* the edge is inside */
    assert_int_equal(
        verify(ts, header(SECRET, ts, "POST", PATH, BODY), "POST", PATH, BODY, NOW, &err),
        BRIDGE_SIG_OK);
}

static void test_malformed_and_missing_headers(void **state)
{
    struct d2ev_err err = { 0 };
    const char *good = header(SECRET, "1795246200", "POST", PATH, BODY);
    char upper[80];
    snprintf(upper, sizeof(upper), "%s", good);
    for (char *p = upper + 3; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    assert_int_equal(verify(NULL, good, "POST", PATH, BODY, NOW, &err), BRIDGE_SIG_MISSING);
    assert_int_equal(verify("1795246200", NULL, "POST", PATH, BODY, NOW, &err), BRIDGE_SIG_MISSING);
    assert_int_equal(verify("17952462OO", good, "POST", PATH, BODY, NOW, &err),
                     BRIDGE_SIG_MALFORMED);
    assert_int_equal(verify("", good, "POST", PATH, BODY, NOW, &err), BRIDGE_SIG_MALFORMED);
    assert_int_equal(verify("1795246200", good + 3, "POST", PATH, BODY, NOW, &err),
                     BRIDGE_SIG_MALFORMED); /* no "v1=" */
    assert_int_equal(verify("1795246200", "v1=abcd", "POST", PATH, BODY, NOW, &err),
                     BRIDGE_SIG_MALFORMED);
    assert_int_equal(verify("1795246200", upper, "POST", PATH, BODY, NOW, &err),
                     BRIDGE_SIG_MALFORMED);
    assert_int_equal(verify("1795246200", "v2=abc", "POST", PATH, BODY, NOW, &err),
                     BRIDGE_SIG_MALFORMED); /* no v1 at all */
    assert_string_equal(bridge_sig_verdict_name(BRIDGE_SIG_STALE), "stale_timestamp");
    assert_string_equal(bridge_sig_verdict_name(BRIDGE_SIG_MISMATCH), "bad_signature");
}

static void test_several_signatures_and_future_schemes(void **state)
{
    struct d2ev_err err = { 0 };
    char hdr[300];
    char bad[BRIDGE_SIG_HEX_LEN + 1];
    memset(bad, 'a', BRIDGE_SIG_HEX_LEN);
    bad[BRIDGE_SIG_HEX_LEN] = '\0';
    snprintf(hdr, sizeof(hdr), "v2=whatever, v1=%s, %s", bad,
             header(SECRET, "1795246200", "POST", PATH, BODY));
    struct bridge_sig_ok ok;
    assert_int_equal(bridge_sig_verify(&keys, "1795246200", hdr, "POST", PATH, BODY, strlen(BODY),
                                       NOW, &ok, &err),
                     BRIDGE_SIG_OK);
    /* the digest kept for the replay cache is the one that matched */
    char hex[BRIDGE_SIG_HEX_LEN + 1];
    d2ev_hex_encode(ok.digest, sizeof(ok.digest), hex);
    assert_string_equal(hex, header(SECRET, "1795246200", "POST", PATH, BODY) + 3);
}

/* ------------------------------------------------------------ replay cache */

static void sig_of(int i, unsigned char out[32])
{
    d2ev_sha256(&i, sizeof(i), out);
}

static void test_replays_are_refused_until_they_expire(void **state)
{
    struct bridge_replay *r = bridge_replay_create(1000);
    assert_non_null(r);
    unsigned char s[32];
    sig_of(1, s);
    assert_int_equal(bridge_replay_check(r, s, NOW + 300, NOW), 0);
    assert_int_equal(bridge_replay_check(r, s, NOW + 300, NOW + 10), D2EV_ERR_CONFLICT);
    assert_int_equal(bridge_replay_size(r), 1);
    /* forgotten (the request failed on our side): the same request may come again */
    bridge_replay_forget(r, s);
    assert_int_equal(bridge_replay_size(r), 0);
    assert_int_equal(bridge_replay_check(r, s, NOW + 300, NOW + 20), 0);
    bridge_replay_destroy(r);
}

static void test_full_cache_fails_closed_then_recovers(void **state)
{
    /* 16 shards of 4 entries: fill one shard's ring with live entries */
    struct bridge_replay *r = bridge_replay_create(64);
    unsigned char s[32];
    int accepted = 0, refused = 0;
    for (int i = 0; i < 2000; i++) {
        sig_of(i, s);
        int rc = bridge_replay_check(r, s, NOW + 300, NOW);
        if (rc == 0)
            accepted++;
        else if (rc == D2EV_ERR_LIMIT)
            refused++;
        else
            fail_msg("unexpected %d", rc);
    }
    assert_int_equal(accepted, 64);
    assert_int_equal(refused, 2000 - 64);
    /* everything seen is still refused as a replay, not forgotten */
    int replays = 0;
    for (int i = 0; i < 2000; i++) {
        sig_of(i, s);
        replays += bridge_replay_check(r, s, NOW + 300, NOW) == D2EV_ERR_CONFLICT;
    }
    assert_int_equal(replays, 64);
    /* once those expire, room comes back */
    sig_of(5000, s);
    assert_int_equal(bridge_replay_check(r, s, NOW + 900, NOW + 301), 0);
    bridge_replay_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_documented_example),
        cmocka_unit_test(test_the_worked_example_in_the_docs),
        cmocka_unit_test(test_good_signature_is_accepted),
        cmocka_unit_test(test_any_change_breaks_the_signature),
        cmocka_unit_test(test_stale_and_future_timestamps),
        cmocka_unit_test(test_malformed_and_missing_headers),
        cmocka_unit_test(test_several_signatures_and_future_schemes),
        cmocka_unit_test(test_replays_are_refused_until_they_expire),
        cmocka_unit_test(test_full_cache_fails_closed_then_recovers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
