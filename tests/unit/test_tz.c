/* Unit tests for the TZif reader (common/tz.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "d2ev/timefmt.h"
#include "d2ev/tz.h"

static int64_t T(const char *s)
{
    int64_t ms = 0;
    struct d2ev_err err;
    if (d2ev_time_parse(s, &ms, &err) != 0)
        fail_msg("bad time %s: %s", s, err.msg);
    return ms;
}

/* Local wall-clock "YYYY-MM-DD HH:MM" as local ms. */
static int64_t L(int y, int mo, int d, int h, int mi)
{
    return d2ev_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400000LL + (int64_t)h * 3600000 +
           (int64_t)mi * 60000;
}

static void test_london_offsets(void **state)
{
    (void)state;
    struct d2ev_err err = { 0 };
    const struct d2ev_tz *tz = d2ev_tz_get("Europe/London", &err);
    assert_non_null(tz);
    bool dst;
    assert_int_equal(d2ev_tz_offset(tz, T("2023-01-15T12:00:00Z"), &dst), 0);
    assert_false(dst);
    assert_int_equal(d2ev_tz_offset(tz, T("2023-07-15T12:00:00Z"), &dst), 3600);
    assert_true(dst);
    /* spring forward at 01:00 UTC on 2023-03-26 */
    assert_int_equal(d2ev_tz_offset(tz, T("2023-03-26T00:59:59Z"), NULL), 0);
    assert_int_equal(d2ev_tz_offset(tz, T("2023-03-26T01:00:00Z"), NULL), 3600);
    /* fall back at 01:00 UTC on 2023-10-29 */
    assert_int_equal(d2ev_tz_offset(tz, T("2023-10-29T00:59:59Z"), NULL), 3600);
    assert_int_equal(d2ev_tz_offset(tz, T("2023-10-29T01:00:00Z"), NULL), 0);
    /* far beyond the table: the footer rule */
    assert_int_equal(d2ev_tz_offset(tz, T("2100-07-01T00:00:00Z"), NULL), 3600);
    assert_int_equal(d2ev_tz_offset(tz, T("2100-12-01T00:00:00Z"), NULL), 0);
    assert_string_equal(d2ev_tz_name(tz), "Europe/London");
}

static void test_london_dst_days(void **state)
{
    (void)state;
    const struct d2ev_tz *tz = d2ev_tz_get("Europe/London", NULL);
    assert_non_null(tz);
    int64_t spring = d2ev_days_from_civil(2023, 3, 26);
    int64_t autumn = d2ev_days_from_civil(2023, 10, 29);
    assert_int_equal(d2ev_tz_day_length_ms(tz, spring), 23 * 3600000LL);
    assert_int_equal(d2ev_tz_day_length_ms(tz, autumn), 25 * 3600000LL);
    assert_int_equal(d2ev_tz_day_length_ms(tz, spring + 1), 24 * 3600000LL);

    int64_t u;
    /* 01:30 does not exist on the spring day: the jump instant */
    assert_int_equal(d2ev_tz_from_local(tz, L(2023, 3, 26, 1, 30), false, &u), D2EV_TZ_GAP);
    assert_int_equal(u, T("2023-03-26T01:00:00Z"));
    /* 01:30 happens twice on the autumn day */
    assert_int_equal(d2ev_tz_from_local(tz, L(2023, 10, 29, 1, 30), false, &u), D2EV_TZ_FOLD);
    assert_int_equal(u, T("2023-10-29T00:30:00Z"));
    assert_int_equal(d2ev_tz_from_local(tz, L(2023, 10, 29, 1, 30), true, &u), D2EV_TZ_FOLD);
    assert_int_equal(u, T("2023-10-29T01:30:00Z"));
    /* 07:00 is unique on both days */
    assert_int_equal(d2ev_tz_from_local(tz, L(2023, 3, 26, 7, 0), false, &u), D2EV_TZ_UNIQUE);
    assert_int_equal(u, T("2023-03-26T06:00:00Z"));
    assert_int_equal(d2ev_tz_from_local(tz, L(2023, 10, 29, 7, 0), false, &u), D2EV_TZ_UNIQUE);
    assert_int_equal(u, T("2023-10-29T07:00:00Z"));
    assert_int_equal(d2ev_tz_to_local(tz, T("2023-07-01T06:00:00Z")), L(2023, 7, 1, 7, 0));
}

static void test_other_zones(void **state)
{
    (void)state;
    const struct d2ev_tz *syd = d2ev_tz_get("Australia/Sydney", NULL);
    const struct d2ev_tz *kol = d2ev_tz_get("Asia/Kolkata", NULL);
    const struct d2ev_tz *ny = d2ev_tz_get("America/New_York", NULL);
    assert_non_null(syd);
    assert_non_null(kol);
    assert_non_null(ny);
    assert_int_equal(d2ev_tz_offset(syd, T("2023-01-15T00:00:00Z"), NULL), 11 * 3600);
    assert_int_equal(d2ev_tz_offset(syd, T("2023-07-15T00:00:00Z"), NULL), 10 * 3600);
    assert_int_equal(d2ev_tz_offset(syd, T("2090-01-15T00:00:00Z"), NULL), 11 * 3600);
    assert_int_equal(d2ev_tz_offset(kol, T("2023-07-15T00:00:00Z"), NULL), 5 * 3600 + 1800);
    assert_int_equal(d2ev_tz_offset(ny, T("2023-11-05T05:59:59Z"), NULL), -4 * 3600);
    assert_int_equal(d2ev_tz_offset(ny, T("2023-11-05T06:00:00Z"), NULL), -5 * 3600);
}

/* Compare with glibc's localtime_r for many instants (test-only use of TZ). */
static void test_matches_libc(void **state)
{
    (void)state;
    const char *zones[] = { "Europe/London",    "Europe/Berlin",     "America/New_York",
                            "Australia/Sydney", "Asia/Kolkata",      "America/Sao_Paulo",
                            "Pacific/Auckland", "Africa/Casablanca", "Europe/Dublin",
                            "America/St_Johns" };
    uint64_t seed = 12345;
    for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
        const struct d2ev_tz *tz = d2ev_tz_get(zones[z], NULL);
        assert_non_null(tz);
        setenv("TZ", zones[z], 1);
        tzset();
        for (int i = 0; i < 3000; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            /* 1971 .. 2099 */
            int64_t t = 31536000LL + (int64_t)((seed >> 11) % (4070908800ULL - 31536000ULL));
            time_t tt = (time_t)t;
            struct tm tm;
            localtime_r(&tt, &tm);
            bool dst;
            int32_t off = d2ev_tz_offset(tz, t * 1000, &dst);
            if (off != tm.tm_gmtoff)
                fail_msg("%s at %lld: offset %d, libc %ld", zones[z], (long long)t, off,
                         tm.tm_gmtoff);
        }
    }
    unsetenv("TZ");
    tzset();
}

static void test_posix_rules(void **state)
{
    (void)state;
    struct d2ev_err err = { 0 };
    struct d2ev_tz *cet = d2ev_tz_from_posix("CET-1CEST,M3.5.0,M10.5.0/3", &err);
    assert_non_null(cet);
    assert_int_equal(d2ev_tz_offset(cet, T("2024-03-31T00:59:59Z"), NULL), 3600);
    assert_int_equal(d2ev_tz_offset(cet, T("2024-03-31T01:00:00Z"), NULL), 7200);
    assert_int_equal(d2ev_tz_offset(cet, T("2023-10-29T00:59:59Z"), NULL), 7200);
    assert_int_equal(d2ev_tz_offset(cet, T("2023-10-29T01:00:00Z"), NULL), 3600);
    d2ev_tz_destroy(cet);
    struct d2ev_tz *j = d2ev_tz_from_posix("<+03>-3", &err);
    assert_non_null(j);
    assert_int_equal(d2ev_tz_offset(j, T("2024-06-01T00:00:00Z"), NULL), 3 * 3600);
    d2ev_tz_destroy(j);
    /* Julian days and times beyond 24 h (RFC 8536 extension) */
    struct d2ev_tz *x = d2ev_tz_from_posix("XXX3YYY,J60/25,300", &err);
    assert_non_null(x);
    d2ev_tz_destroy(x);
    const char *bad[] = { "",       "X1",   "CET-1CEST,M13.5.0,M10.5.0",   "CET-1CEST,M3.5.0",
                          "CET-99", "<abc", "CET-1CEST,M3.5.0,M10.5.0/200" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct d2ev_tz *t = d2ev_tz_from_posix(bad[i], &err);
        if (t)
            fail_msg("accepted bad rule \"%s\"", bad[i]);
        assert_int_equal(err.code, D2EV_ERR_INVALID);
    }
}

static void test_invalid_names(void **state)
{
    (void)state;
    struct d2ev_err err = { 0 };
    const char *bad[] = { "",
                          "../../etc/passwd",
                          "/etc/localtime",
                          "Europe/../../etc/shadow",
                          "Europe/Nowhere",
                          "Europe",
                          "right/UTC",
                          "Europe//London",
                          "Europe/London\n",
                          "x/.hidden",
                          "A_very_long_zone_name_that_is_definitely_longer_than_the_limit_x" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err.msg[0] = '\0';
        if (d2ev_tz_valid(bad[i], &err))
            fail_msg("accepted bad zone \"%s\"", bad[i]);
        assert_true(strlen(err.msg) > 0);
    }
    assert_true(d2ev_tz_valid("UTC", NULL));
    assert_true(d2ev_tz_valid("Etc/GMT+5", NULL));
    assert_true(d2ev_tz_valid("America/Port-au-Prince", NULL));
    /* the cache returns the same zone */
    assert_ptr_equal(d2ev_tz_get("UTC", NULL), d2ev_tz_get("UTC", NULL));
}

static void test_hostile_tzif(void **state)
{
    (void)state;
    FILE *f = fopen("/usr/share/zoneinfo/Europe/London", "rb");
    assert_non_null(f);
    unsigned char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    struct d2ev_err err;
    struct d2ev_tz *tz = d2ev_tz_parse(buf, n, "x", &err);
    assert_non_null(tz);
    d2ev_tz_destroy(tz);
    /* every truncation fails cleanly (or parses without the footer) */
    for (size_t cut = 0; cut < n; cut += 7) {
        tz = d2ev_tz_parse(buf, cut, "x", &err);
        d2ev_tz_destroy(tz);
    }
    /* corrupted bytes never crash */
    uint64_t seed = 99;
    for (int i = 0; i < 2000; i++) {
        unsigned char copy[8192];
        memcpy(copy, buf, n);
        for (int k = 0; k < 4; k++) {
            seed = seed * 6364136223846793005ULL + 1;
            copy[(seed >> 20) % n] = (unsigned char)(seed >> 40);
        }
        tz = d2ev_tz_parse(copy, n, "x", &err);
        if (tz) {
            d2ev_tz_offset(tz, 0, NULL);
            d2ev_tz_offset(tz, 4000000000000LL, NULL);
            int64_t u;
            d2ev_tz_from_local(tz, 1700000000000LL, false, &u);
        }
        d2ev_tz_destroy(tz);
    }
    assert_null(d2ev_tz_parse("TZif", 4, "x", &err));
    assert_int_equal(err.code, D2EV_ERR_INVALID);
}

static void test_weekday(void **state)
{
    (void)state;
    assert_int_equal(d2ev_weekday(0), 3);                                  /* Thu */
    assert_int_equal(d2ev_weekday(d2ev_days_from_civil(2023, 3, 26)), 6);  /* Sun */
    assert_int_equal(d2ev_weekday(d2ev_days_from_civil(2024, 1, 1)), 0);   /* Mon */
    assert_int_equal(d2ev_weekday(d2ev_days_from_civil(1969, 12, 31)), 2); /* Wed */
    assert_int_equal(d2ev_floor_div(-1, 1000), -1);
    assert_int_equal(d2ev_floor_div(1999, 1000), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_london_offsets), cmocka_unit_test(test_london_dst_days),
        cmocka_unit_test(test_other_zones),    cmocka_unit_test(test_matches_libc),
        cmocka_unit_test(test_posix_rules),    cmocka_unit_test(test_invalid_names),
        cmocka_unit_test(test_hostile_tzif),   cmocka_unit_test(test_weekday),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
