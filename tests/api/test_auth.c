/* The ops API's tokens: the api-tokens format, roles, lookup and bearer
 * headers. Error messages never quote an entry (it may be a token). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "api_auth.h"

#define T1 "aaaaaaaaaaaaaaaa1111"
#define T2 "bbbbbbbbbbbbbbbb2222=="
#define T3 "cc.cc_cc~cc+cc/cc-333"

static void test_parse_and_find(void **state)
{
    struct d2ev_api_tokens t;
    struct d2ev_err err = { 0 };
    /* whitespace and newlines around entries, as in a mounted file */
    assert_int_equal(
        d2ev_api_tokens_parse(" " T1 ":read,\n" T2 ":operator ,\n\t" T3 ":app\n", &t, &err), 0);
    assert_int_equal(t.n, 3);
    const struct d2ev_api_token *k = d2ev_api_tokens_find(&t, T2, strlen(T2));
    assert_non_null(k);
    assert_int_equal(k->role, D2EV_API_ROLE_OPERATOR);
    assert_int_equal(strlen(k->fingerprint), D2EV_API_FP_LEN);
    assert_null(strstr(T2, k->fingerprint));
    assert_int_equal(d2ev_api_tokens_find(&t, T3, strlen(T3))->role, D2EV_API_ROLE_APP);
    assert_int_equal(d2ev_api_tokens_find(&t, T1, strlen(T1))->role, D2EV_API_ROLE_READ);
    /* a prefix, a longer string, a different one */
    assert_null(d2ev_api_tokens_find(&t, T1, strlen(T1) - 1));
    assert_null(d2ev_api_tokens_find(&t, T1 "x", strlen(T1) + 1));
    assert_null(d2ev_api_tokens_find(&t, "zzzzzzzzzzzzzzzz1111", 20));
    /* fingerprints are stable */
    char fp[D2EV_API_FP_LEN + 1];
    strcpy(fp, k->fingerprint);
    d2ev_api_tokens_clear(&t);
    assert_int_equal(t.n, 0);
    assert_int_equal(d2ev_api_tokens_parse(T2 ":read", &t, &err), 0);
    assert_string_equal(t.items[0].fingerprint, fp);
    d2ev_api_tokens_clear(&t);

    /* unset or blank: no tokens (every protected request gets 401) */
    assert_int_equal(d2ev_api_tokens_parse(NULL, &t, &err), 0);
    assert_int_equal(t.n, 0);
    assert_int_equal(d2ev_api_tokens_parse(" \n", &t, &err), 0);
    assert_int_equal(t.n, 0);
}

static void test_malformed_lists(void **state)
{
    static const struct {
        const char *spec, *needle;
    } cases[] = {
        { T1, "entry 1 has no role" },
        { T1 ":admin", "entry 1 has an unknown role" },
        { T1 ":Read", "unknown role" },
        { T1 ":read," T2, "entry 2 has no role" },
        { T1 ":read,," T2 ":read", "entry 2 is empty" },
        { T1 ":read,", "entry 2 is empty" },
        { "short:read", "entry 1: the token must be 16..128" },
        { "has space in it...:read", "the token must be" },
        { "aaaaaaaaaaaaaaaa=x:read", "the token must be" },
        { ":read", "the token must be" },
        { T1 ":read," T1 ":operator", "entry 2 repeats the token of entry 1" },
        /* swapped: the "role" is the token; it must not be printed */
        { "read:" T1, "the token must be" },
        { "operator:" T1 "x", "the token must be" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct d2ev_api_tokens t;
        struct d2ev_err err = { 0 };
        int rc = d2ev_api_tokens_parse(cases[i].spec, &t, &err);
        if (rc != D2EV_ERR_INVALID || !strstr(err.msg, cases[i].needle))
            fail_msg("case %zu: want \"%s\", got rc %d: %s", i, cases[i].needle, rc, err.msg);
        assert_int_equal(t.n, 0);
        assert_null(strstr(err.msg, T1));
        assert_null(strstr(err.msg, T2));
        assert_null(strstr(err.msg, "admin"));
    }
    /* longest accepted, one longer refused */
    char big[200];
    memset(big, 'a', 128);
    strcpy(big + 128, ":read");
    struct d2ev_api_tokens t;
    struct d2ev_err err = { 0 };
    assert_int_equal(d2ev_api_tokens_parse(big, &t, &err), 0);
    d2ev_api_tokens_clear(&t);
    memset(big, 'a', 129);
    strcpy(big + 129, ":read");
    assert_int_equal(d2ev_api_tokens_parse(big, &t, &err), D2EV_ERR_INVALID);
}

static void test_roles(void **state)
{
    assert_int_equal(d2ev_api_role_perms(D2EV_API_ROLE_APP), D2EV_API_PERM_STATUS);
    assert_int_equal(d2ev_api_role_perms(D2EV_API_ROLE_READ),
                     D2EV_API_PERM_STATUS | D2EV_API_PERM_READ);
    assert_int_equal(d2ev_api_role_perms(D2EV_API_ROLE_OPERATOR),
                     D2EV_API_PERM_STATUS | D2EV_API_PERM_READ | D2EV_API_PERM_WRITE);
    assert_int_equal(d2ev_api_role_perms(D2EV_API_ROLE_NONE), 0);
    assert_string_equal(d2ev_api_role_name(D2EV_API_ROLE_OPERATOR), "operator");
}

static void test_bearer(void **state)
{
    const char *tok;
    size_t len;
    assert_true(d2ev_api_bearer("Bearer " T2, &tok, &len));
    assert_int_equal(len, strlen(T2));
    assert_memory_equal(tok, T2, len);
    assert_true(d2ev_api_bearer("bearer   " T1 "  ", &tok, &len));
    assert_int_equal(len, strlen(T1));
    assert_false(d2ev_api_bearer("Basic dXNlcjpwYXNz", &tok, &len));
    assert_false(d2ev_api_bearer("Bearer", &tok, &len));
    assert_false(d2ev_api_bearer("Bearer ", &tok, &len));
    assert_false(d2ev_api_bearer("Bearer a b", &tok, &len));
    assert_false(d2ev_api_bearer("Bearer \xff\xfe", &tok, &len));
    assert_false(d2ev_api_bearer(NULL, &tok, &len));
    char huge[300];
    memset(huge, 'a', sizeof(huge));
    memcpy(huge, "Bearer ", 7);
    huge[sizeof(huge) - 1] = '\0';
    assert_false(d2ev_api_bearer(huge, &tok, &len));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_find),
        cmocka_unit_test(test_malformed_lists),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_bearer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
