/* CSV readers: each real file format (skipped without the data) and hostile rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "d2ev/timefmt.h"
#include "forecast_csv.h"
#include "forecast_gen.h"

static int64_t T(const char *s)
{
    int64_t ms = 0;
    if (d2ev_time_parse(s, &ms, NULL) != 0)
        fail_msg("bad time %s", s);
    return ms;
}

/* Path of a real data file, or NULL (the test then skips). */
static const char *data_file(const char *name)
{
    static char paths[4][1024];
    static int next;
    char *path = paths[next++ % 4];
    const char *dir = getenv("D2EV_DATA_DIR");
    snprintf(path, sizeof(paths[0]), "%s/%s", dir && *dir ? dir : "/work/shared/data", name);
    return access(path, R_OK) == 0 ? path : NULL;
}

static void parse_text(enum fcsv_format f, const char *text, struct fcsv_result *r)
{
    struct fcsv_options o = { .format = f };
    struct d2ev_err err = { 0 };
    if (fcsv_parse(text, strlen(text), &o, r, &err))
        fail_msg("parse failed: %s", err.msg);
}

static bool has_diag(const struct fcsv_result *r, size_t line, bool error, const char *needle)
{
    for (size_t i = 0; i < r->ndiag; i++) {
        if (r->diags[i].line == line && r->diags[i].error == error &&
            strstr(r->diags[i].msg, needle))
            return true;
    }
    return false;
}

static void stats(const struct fcsv_result *r, double *lo, double *hi, size_t *neg)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    *neg = 0;
    for (size_t i = 0; i < r->n; i++) {
        double v = r->points[i].value;
        *lo = v < *lo ? v : *lo;
        *hi = v > *hi ? v : *hi;
        *neg += v < 0;
    }
}

/* ------------------------------------------------------------ real files */

static void test_real_agile(void **state)
{
    (void)state;
    const char *path =
        data_file("uk_agile_import_export_2022-11-01_2023-12-20_ukLocalTime_regionUnstated.csv");
    if (!path)
        skip();
    struct fcsv_options o = { .format = FCSV_AGILE };
    struct fcsv_result r;
    struct d2ev_err err;
    assert_int_equal(fcsv_parse_file(path, &o, &r, &err), 0);
    assert_int_equal(r.rows, 19918);
    assert_string_equal(r.unit, "GBP/kWh");
    /* 2023-10-29 local 01:00 and 01:30 appear once though they happened twice */
    assert_int_equal(r.nerrors, 2);
    assert_true(has_diag(&r, 17378, true, "happens twice"));
    assert_true(has_diag(&r, 17379, true, "happens twice"));
    assert_int_equal(r.n, 19916);
    assert_int_equal(r.ngaps, 1);
    assert_int_equal(r.gaps[0].from, T("2023-10-29T00:00:00Z"));
    assert_int_equal(r.gaps[0].to, T("2023-10-29T02:00:00Z"));
    /* the spring day: 46 half-hours, the 00:30 -> 02:00 row is 00:30Z..01:00Z */
    assert_int_equal(r.points[fcsv_find(&r, T("2023-03-26T00:30:00Z"))].line, 6963);
    assert_int_equal(r.points[fcsv_find(&r, T("2023-03-26T01:00:00Z"))].line, 6964);
    assert_int_equal(fcsv_run_from(&r, T("2023-03-26T00:00:00Z")),
                     (T("2023-10-29T00:00:00Z") - T("2023-03-26T00:00:00Z")) / 1800000);
    double lo, hi;
    size_t neg;
    stats(&r, &lo, &hi, &neg);
    assert_true(fabs(lo + 0.1994) < 1e-9);
    assert_true(fabs(hi - 0.8214) < 1e-9);
    assert_int_equal(neg, 170);
    /* first row is local midnight = UTC midnight in November */
    assert_int_equal(r.points[0].start, T("2022-11-01T00:00:00Z"));
    assert_true(fabs(r.points[0].value - 0.1261) < 1e-12);
    fcsv_result_clear(&r);

    o.column = "export";
    assert_int_equal(fcsv_parse_file(path, &o, &r, &err), 0);
    stats(&r, &lo, &hi, &neg);
    assert_int_equal(neg, 0);
    assert_true(fabs(hi - 1.8183) < 1e-9);
    fcsv_result_clear(&r);
}

static void test_real_agile_e(void **state)
{
    (void)state;
    const char *jan = data_file("uk_agile_AGILE-FLEX-22-11-25_regionE_2024-01.csv");
    const char *feb = data_file("uk_agile_AGILE-FLEX-22-11-25_regionE_2024-02.csv");
    if (!jan || !feb)
        skip();
    struct fcsv_options o = { .format = FCSV_AGILE_E };
    struct fcsv_result r;
    struct d2ev_err err;
    assert_int_equal(fcsv_parse_file(jan, &o, &r, &err), 0);
    assert_int_equal(r.rows, 1488);
    assert_int_equal(r.n, 1488);
    assert_int_equal(r.nerrors + r.nwarnings + r.ngaps, 0);
    assert_int_equal(r.points[0].start, T("2024-01-01T00:00:00Z")); /* sorted ascending */
    assert_int_equal(r.points[0].line, 1489);
    double lo, hi;
    size_t neg;
    stats(&r, &lo, &hi, &neg);
    assert_true(fabs(lo + 0.02562) < 1e-12);
    assert_true(fabs(hi - 0.398055) < 1e-12);
    assert_int_equal(neg, 6);
    fcsv_result_clear(&r);
    assert_int_equal(fcsv_parse_file(feb, &o, &r, &err), 0);
    assert_int_equal(r.n, 1392);
    stats(&r, &lo, &hi, &neg);
    assert_int_equal(neg, 7);
    fcsv_result_clear(&r);
}

static void test_real_carbon(void **state)
{
    (void)state;
    const char *path = data_file("uk_carbon_intensity_national_2023_neso_api.csv");
    if (!path)
        skip();
    struct fcsv_options o = { .format = FCSV_CARBON };
    struct fcsv_result r;
    struct d2ev_err err;
    assert_int_equal(fcsv_parse_file(path, &o, &r, &err), 0);
    assert_int_equal(r.rows, 17430);
    assert_int_equal(r.n, 17430);
    assert_int_equal(r.nerrors, 0);
    assert_int_equal(r.ngaps, 1);
    assert_int_equal(r.gaps[0].from, T("2023-10-20T22:00:00Z"));
    assert_int_equal(r.gaps[0].to, T("2023-10-22T19:30:00Z"));
    assert_int_equal((r.gaps[0].to - r.gaps[0].from) / 1800000, 91);
    double lo, hi;
    size_t neg;
    stats(&r, &lo, &hi, &neg);
    assert_true(lo == 23 && hi == 346);
    fcsv_result_clear(&r);

    o.column = "actual";
    assert_int_equal(fcsv_parse_file(path, &o, &r, &err), 0);
    assert_int_equal(r.nerrors, 5);   /* empty actual, 2023-01-26 13:30..15:30 */
    assert_int_equal(r.nwarnings, 5); /* actual 0.0 */
    assert_int_equal(r.n, 17425);
    size_t empties = 0;
    for (size_t i = 0; i < r.ndiag; i++)
        empties += r.diags[i].error && strstr(r.diags[i].msg, "empty") != NULL;
    assert_int_equal(empties, 5);
    fcsv_result_clear(&r);
}

static void test_real_nordpool(void **state)
{
    (void)state;
    const char *path = data_file("nordpool_elspot_DK2_2021-10-20_2022-10-19_UTC.csv");
    if (!path)
        skip();
    struct fcsv_options o = { .format = FCSV_NORDPOOL };
    struct fcsv_result r;
    struct d2ev_err err;
    assert_int_equal(fcsv_parse_file(path, &o, &r, &err), 0);
    assert_int_equal(r.rows, 8758);
    assert_int_equal(r.n, 8758);
    assert_int_equal(r.nerrors + r.ngaps, 0);
    assert_string_equal(r.unit, "EUR/kWh");
    assert_int_equal(r.slot_minutes, 60);
    double lo, hi;
    size_t neg;
    stats(&r, &lo, &hi, &neg);
    assert_true(fabs(lo + 0.0001) < 1e-12);
    assert_true(fabs(hi - 0.871) < 1e-12);
    assert_int_equal(neg, 2);
    assert_int_equal(r.points[0].start, T("2021-10-20T00:00:00Z"));
    assert_true(fabs(r.points[0].value - 0.00402) < 1e-12);
    fcsv_result_clear(&r);
    o.area = "DK1";
    assert_int_equal(fcsv_parse_file(path, &o, &r, &err), 0);
    assert_int_equal(r.n, 0);
    fcsv_result_clear(&r);
}

static void test_real_eu(void **state)
{
    (void)state;
    const char *path = data_file("eu_dayahead_2023-05-01_2024-04-30_zoneUnstated_likelyDE-LU.csv");
    if (!path)
        skip();
    struct fcsv_options o = { .format = FCSV_EU };
    struct fcsv_result r;
    struct d2ev_err err;
    assert_int_equal(fcsv_parse_file(path, &o, &r, &err), 0);
    assert_int_equal(r.rows, 8784);
    /* the malformed end "31.03.2024 01:00;30.03.2024 02:00" */
    assert_int_equal(r.nerrors, 1);
    assert_true(has_diag(&r, 8044, true, "is not 60 minutes after"));
    assert_int_equal(r.ngaps, 1);
    assert_int_equal(r.gaps[0].from, T("2024-03-31T00:00:00Z"));
    /* 02:00 twice on 2023-10-29: CEST first (00:00Z), then CET (01:00Z) */
    long i = fcsv_find(&r, T("2023-10-29T00:00:00Z"));
    assert_true(i >= 0);
    assert_true(fabs(r.points[i].value - 0.00001) < 1e-12);
    assert_true(fabs(r.points[i + 1].value - 0.00002) < 1e-12);
    assert_int_equal(r.points[i + 1].start, T("2023-10-29T01:00:00Z"));
    double lo, hi;
    size_t neg;
    stats(&r, &lo, &hi, &neg);
    assert_true(fabs(lo + 0.5) < 1e-12);
    assert_int_equal(neg, 349);
    fcsv_result_clear(&r);
    o.lenient = true;
    assert_int_equal(fcsv_parse_file(path, &o, &r, &err), 0);
    assert_int_equal(r.nerrors, 0);
    assert_int_equal(r.nwarnings, 1);
    assert_int_equal(r.ngaps, 0);
    assert_int_equal(r.n, 8784);
    fcsv_result_clear(&r);
}

/* ------------------------------------------------------------ hostile input */

static void test_header_and_format(void **state)
{
    (void)state;
    struct fcsv_options o = { .format = FCSV_AGILE_E };
    struct fcsv_result r;
    struct d2ev_err err;
    const char *t = "from,to,forecast,actual,index\n2023-01-01 00:00:00+00:00,x,1,1,low\n";
    assert_int_equal(fcsv_parse(t, strlen(t), &o, &r, &err), D2EV_ERR_INVALID);
    assert_non_null(strstr(err.msg, "line 1"));
    assert_non_null(strstr(err.msg, "agile-e"));
    assert_int_equal(fcsv_parse("", 0, &o, &r, &err), D2EV_ERR_INVALID);
    enum fcsv_format f;
    assert_int_equal(fcsv_format_parse("nordpool", &f, &err), 0);
    assert_int_equal(f, FCSV_NORDPOOL);
    assert_int_equal(fcsv_format_parse("csv", &f, &err), D2EV_ERR_INVALID);
    o.column = "bogus";
    t = "time,unitrate\n";
    assert_int_equal(fcsv_parse(t, strlen(t), &o, &r, &err), D2EV_ERR_INVALID);
}

static void test_hostile_rows(void **state)
{
    (void)state;
    struct fcsv_result r;
    const char *t = "\xEF\xBB\xBFtime,unitrate\r\n"
                    "2024-01-01T00:00:00Z,10.5\r\n"   /* 2: ok */
                    "2024-01-01T00:30:00Z,\r\n"       /* 3: empty */
                    "2024-01-01T01:00:00Z,abc\r\n"    /* 4: not a number */
                    "2024-01-01T01:30:00Z,nan\r\n"    /* 5 */
                    "2024-01-01T02:00:00Z,1.2.3\r\n"  /* 6 */
                    "2024-02-30T00:00:00Z,1\r\n"      /* 7: no such date */
                    "2024-01-01T02:15:00Z,1\r\n"      /* 8: not on a slot */
                    "2024-01-01T00:00:00Z,11\r\n"     /* 9: duplicate of 2 */
                    "2024-01-01T03:00:00Z,12,5\r\n"   /* 10: decimal comma */
                    "\r\n"                            /* 11: blank */
                    "2024-01-01T03:30:00Z, -2.5 \r\n" /* 12: negative is fine */
                    "2024-01-01T04:00:00Z,inf";       /* 13: no final newline */
    parse_text(FCSV_AGILE_E, t, &r);
    assert_true(has_diag(&r, 3, true, "empty"));
    assert_true(has_diag(&r, 4, true, "not a number"));
    assert_true(has_diag(&r, 5, true, "not a number"));
    assert_true(has_diag(&r, 6, true, "not a number"));
    assert_true(has_diag(&r, 7, true, "start"));
    assert_true(has_diag(&r, 8, true, "boundary"));
    assert_true(has_diag(&r, 9, true, "duplicate of line 2"));
    assert_true(has_diag(&r, 10, true, "decimal comma"));
    assert_true(has_diag(&r, 13, true, "not a number"));
    assert_int_equal(r.nerrors, 9);
    assert_int_equal(r.n, 2);
    assert_true(fabs(r.points[1].value + 0.025) < 1e-12);
    assert_int_equal(r.ngaps, 1);
    fcsv_result_clear(&r);

    /* local time formats: a time inside the spring gap, an ambiguous single
     * row, a wrong end, a missing end, a bad nordpool area mix */
    t = "Period from,Period to,Agile Import price (p/kWh),Agile Export price (p/kWh)\n"
        "26/03/2023 00:30,26/03/2023 02:00,30.03,13.87\n" /* 2: the real odd row, fine */
        "26/03/2023 01:30,26/03/2023 02:00,1,1\n"         /* 3: does not exist */
        "29/10/2023 01:00,29/10/2023 01:30,1,1\n"         /* 4: ambiguous, once */
        "05/05/2023 10:00,05/05/2023 11:00,1,1\n"         /* 5: end not +30 min */
        "05/05/2023 11:00,,1,1\n"                         /* 6: missing end */
        "32/05/2023 11:00,32/05/2023 11:30,1,1\n";        /* 7: bad date */
    parse_text(FCSV_AGILE, t, &r);
    assert_true(has_diag(&r, 3, true, "does not exist"));
    assert_true(has_diag(&r, 4, true, "happens twice"));
    assert_true(has_diag(&r, 5, true, "not 30 minutes after"));
    assert_true(has_diag(&r, 6, true, "end"));
    assert_true(has_diag(&r, 7, true, "start"));
    assert_int_equal(r.n, 1);
    assert_int_equal(r.points[0].start, T("2023-03-26T00:30:00Z"));
    fcsv_result_clear(&r);

    /* a complete fall-back hour in half-hours: BST then GMT */
    t = "Period from,Period to,Agile Import price (p/kWh),Agile Export price (p/kWh)\n"
        "29/10/2023 00:30,29/10/2023 01:00,1,0\n"
        "29/10/2023 01:00,29/10/2023 01:30,2,0\n"
        "29/10/2023 01:30,29/10/2023 01:00,3,0\n" /* end 01:00 GMT... = start + 30 (BST) */
        "29/10/2023 01:00,29/10/2023 01:30,4,0\n"
        "29/10/2023 01:30,29/10/2023 02:00,5,0\n"
        "29/10/2023 02:00,29/10/2023 02:30,6,0\n";
    parse_text(FCSV_AGILE, t, &r);
    assert_int_equal(r.nerrors, 0);
    assert_int_equal(r.n, 6);
    assert_int_equal(r.ngaps, 0);
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(r.points[i].start, T("2023-10-28T23:30:00Z") + (int64_t)i * 1800000);
        assert_true(fabs(r.points[i].value - 0.01 * (double)(i + 1)) < 1e-12);
    }
    fcsv_result_clear(&r);

    t = "HourUTC;HourDK;PriceArea;SpotPriceDKK;SpotPriceEUR\n"
        "2022-01-01 01:00;2022-01-01 02:00;DK2;1,5;0,2\n"
        "2022-01-01 00:00;2022-01-01 01:00;DK1;1,5;0,2\n"
        "2022-01-01 02:00;2022-01-01 03:00;DK2;1,5;0.2\n"
        "2022-01-01 03:00;2022-01-01 04:00;DK2;1,5;1.000,5\n";
    parse_text(FCSV_NORDPOOL, t, &r);
    assert_true(has_diag(&r, 3, true, "PriceArea"));
    assert_true(has_diag(&r, 4, true, "decimal comma"));
    assert_true(has_diag(&r, 5, true, "decimal comma"));
    assert_int_equal(r.n, 1);
    assert_true(fabs(r.points[0].value - 0.0002) < 1e-12);
    fcsv_result_clear(&r);

    t = "from,to,forecast,actual,index\n"
        "2023-01-01 00:00:00+00:00,2023-01-01 00:30:00+00:00,-5,1,low\n"
        "2023-01-01 00:30:00+00:00,2023-01-01 01:30:00+00:00,5,1,low\n";
    parse_text(FCSV_CARBON, t, &r);
    assert_true(has_diag(&r, 2, true, "negative"));
    assert_true(has_diag(&r, 3, true, "not 30 minutes after"));
    assert_int_equal(r.n, 0);
    fcsv_result_clear(&r);

    /* NUL bytes inside a line */
    char buf[64] = "time,unitrate\n2024-01-01T00:00:00Z,1";
    size_t len = strlen(buf);
    buf[20] = '\0';
    struct fcsv_options o = { .format = FCSV_AGILE_E };
    struct d2ev_err err;
    assert_int_equal(fcsv_parse(buf, len, &o, &r, &err), 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.nerrors, 1);
    fcsv_result_clear(&r);
}

static void test_slice(void **state)
{
    (void)state;
    struct fcsv_result r;
    const char *t = "time,unitrate\n"
                    "2024-01-01T01:30:00Z,4\n"
                    "2024-01-01T00:30:00Z,2\n"
                    "2024-01-01T00:00:00Z,1\n"
                    "2024-01-01T01:00:00Z,3\n"
                    "2024-01-01T03:00:00Z,5\n";
    parse_text(FCSV_AGILE_E, t, &r);
    double *v;
    size_t n;
    struct d2ev_err err;
    assert_int_equal(
        fcsv_slice(&r, T("2024-01-01T00:30:00Z"), T("2024-01-01T02:00:00Z"), &v, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_true(v[0] == 0.02 && v[2] == 0.04);
    free(v);
    assert_int_equal(
        fcsv_slice(&r, T("2024-01-01T00:00:00Z"), T("2024-01-01T03:30:00Z"), &v, &n, &err),
        D2EV_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "2024-01-01T02:00:00"));
    assert_int_equal(
        fcsv_slice(&r, T("2024-01-01T00:10:00Z"), T("2024-01-01T03:30:00Z"), &v, &n, &err),
        D2EV_ERR_INVALID);
    assert_int_equal(fcsv_run_from(&r, T("2024-01-01T00:00:00Z")), 4);
    fcsv_result_clear(&r);
}

/* ------------------------------------------------------------ generator */

static void test_generator(void **state)
{
    (void)state;
    struct fgen_options o;
    fgen_options_default(&o);
    o.region = "uk-e";
    o.tz = d2ev_tz_get("Europe/London", NULL);
    assert_non_null(o.tz);
    size_t n = 48 * 365;
    int64_t start = T("2025-01-01T00:00:00Z");
    double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double));
    double *c = malloc(n * sizeof(double));
    fgen_series(&o, D2EV_FORECAST_PRICE, start, n, a);
    fgen_series(&o, D2EV_FORECAST_PRICE, start, n, b);
    assert_memory_equal(a, b, n * sizeof(double));
    /* a later window agrees on the shared slots */
    fgen_series(&o, D2EV_FORECAST_PRICE, start + 1800000 * 100, 48, c);
    assert_memory_equal(c, a + 100, 48 * sizeof(double));
    o.seed = 2;
    fgen_series(&o, D2EV_FORECAST_PRICE, start, n, b);
    assert_memory_not_equal(a, b, n * sizeof(double));
    o.region = "uk-a";
    o.seed = 1;
    fgen_series(&o, D2EV_FORECAST_PRICE, start, n, c);
    assert_memory_not_equal(a, c, n * sizeof(double));
    o.region = "uk-e";
    /* shape: evening peak dearer than the night, some negative prices, sane range */
    double peak = 0, night = 0;
    size_t neg = 0, days = n / 48;
    for (size_t i = 0; i < n; i++) {
        int64_t local = d2ev_tz_to_local(o.tz, start + (int64_t)i * 1800000);
        int h = (int)((local / 3600000) % 24);
        if (h >= 16 && h < 19)
            peak += a[i];
        if (h >= 1 && h < 5)
            night += a[i];
        neg += a[i] < 0;
        assert_true(a[i] >= -0.4 * 0.22 - 1e-9 && a[i] < 0.22 * 3);
    }
    assert_true(peak / (6.0 * (double)days) > 1.5 * night / (8.0 * (double)days));
    assert_true(neg > 10 && neg < n / 10);
    fgen_series(&o, D2EV_FORECAST_CARBON, start, n, c);
    double lo = INFINITY, hi = 0;
    for (size_t i = 0; i < n; i++) {
        lo = c[i] < lo ? c[i] : lo;
        hi = c[i] > hi ? c[i] : hi;
    }
    assert_true(lo >= 15 && hi < 400 && hi > 150);
    free(a);
    free(b);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_agile),   cmocka_unit_test(test_real_agile_e),
        cmocka_unit_test(test_real_carbon),  cmocka_unit_test(test_real_nordpool),
        cmocka_unit_test(test_real_eu),      cmocka_unit_test(test_header_and_format),
        cmocka_unit_test(test_hostile_rows), cmocka_unit_test(test_slice),
        cmocka_unit_test(test_generator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
