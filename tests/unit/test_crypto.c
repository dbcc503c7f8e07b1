/* Unit tests for ids, base64 and sealing (common/util.c, common/crypto.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "d2ev/crypto.h"
#include "d2ev/util.h"

static void test_base64_known_vectors(void **state)
{
    const char *plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    const char *enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
    for (int i = 0; i < 7; i++) {
        char out[32];
        d2ev_base64_encode(plain[i], strlen(plain[i]), out);
        assert_string_equal(out, enc[i]);
        unsigned char back[32];
        size_t n;
        assert_int_equal(d2ev_base64_decode(enc[i], strlen(enc[i]), back, &n), 0);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(back, plain[i], n);
    }
    unsigned char b[8];
    size_t n;
    assert_int_equal(d2ev_base64_decode("Zm9v!", 5, b, &n), D2EV_ERR_INVALID);
}

static void test_uuid(void **state)
{
    char a[37], b[37];
    d2ev_uuid_v4(a);
    d2ev_uuid_v4(b);
    assert_true(d2ev_uuid_valid(a));
    assert_string_not_equal(a, b);
    assert_int_equal(a[14], '4');
    assert_false(d2ev_uuid_valid("not-a-uuid"));
}

static void test_hmac_rfc4231_case2(void **state)
{
    unsigned char mac[32];
    d2ev_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
    char hex[65];
    d2ev_hex_encode(mac, 32, hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    assert_true(d2ev_ct_equal("abc", 3, "abc", 3));
    assert_false(d2ev_ct_equal("abc", 3, "abd", 3));
    assert_false(d2ev_ct_equal("abc", 3, "abcd", 4));
}

static void test_seal_open_rotation_and_tamper(void **state)
{
    char *k1 = d2ev_keyring_generate("k1");
    char *k2 = d2ev_keyring_generate("k2");
    struct d2ev_err err = { 0 };
    struct d2ev_keyring *old = d2ev_keyring_parse(k1, &err);
    assert_non_null(old);
    char *sealed = d2ev_crypto_seal(old, "{\"refresh_token\":\"RT\"}", 22, "v-1", &err);
    assert_non_null(sealed);
    assert_int_equal(strncmp(sealed, "k1.", 3), 0);
    assert_null(strstr(sealed, "RT"));

    /* rotation: k2 primary, k1 still known */
    size_t n = strlen(k2) + strlen(k1) + 2;
    char *both = malloc(n);
    snprintf(both, n, "%s,%s", k2, k1);
    struct d2ev_keyring *kr = d2ev_keyring_parse(both, &err);
    assert_non_null(kr);
    assert_string_equal(d2ev_keyring_primary(kr), "k2");
    size_t len = 0;
    char *plain = d2ev_crypto_open(kr, sealed, "v-1", &len, &err);
    assert_non_null(plain);
    assert_string_equal(plain, "{\"refresh_token\":\"RT\"}");
    d2ev_crypto_free_secret(plain, len);
    char *resealed = d2ev_crypto_seal(kr, "x", 1, "v-1", &err);
    assert_int_equal(strncmp(resealed, "k2.", 3), 0);

    /* another vehicle's associated data fails */
    assert_null(d2ev_crypto_open(kr, sealed, "v-2", &len, &err));
    assert_int_equal(err.code, D2EV_ERR_CRYPTO);
    /* tampering fails */
    sealed[strlen(sealed) - 3] ^= 1;
    assert_null(d2ev_crypto_open(kr, sealed, "v-1", &len, &err));
    /* the old keyring cannot open the new key's values */
    assert_null(d2ev_crypto_open(old, resealed, "v-1", &len, &err));
    assert_int_equal(err.code, D2EV_ERR_NOT_FOUND);

    free(sealed);
    free(resealed);
    free(both);
    free(k1);
    free(k2);
    d2ev_keyring_destroy(old);
    d2ev_keyring_destroy(kr);
}

static void test_keyring_errors_do_not_leak_key_material(void **state)
{
    struct d2ev_err err = { 0 };
    assert_null(d2ev_keyring_parse("", &err));
    assert_null(d2ev_keyring_parse("k1:c2VjcmV0", &err)); /* 6 bytes, too short */
    assert_null(strstr(err.msg, "c2VjcmV0"));
    assert_non_null(strstr(err.msg, "32 bytes"));
    assert_null(d2ev_keyring_parse("bad kid:AAAA", &err));
    char *k = d2ev_keyring_generate("k1");
    size_t n = 2 * strlen(k) + 2;
    char *dup = malloc(n);
    snprintf(dup, n, "%s,%s", k, k);
    assert_null(d2ev_keyring_parse(dup, &err));
    assert_non_null(strstr(err.msg, "duplicate"));
    free(dup);
    free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_known_vectors),
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_hmac_rfc4231_case2),
        cmocka_unit_test(test_seal_open_rotation_and_tamper),
        cmocka_unit_test(test_keyring_errors_do_not_leak_key_material),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
