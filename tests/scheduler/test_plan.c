/* Planning one vehicle: real-data optimality, DST days and every rule of the model. */
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
#include "plan.h"

#define HALF_HOUR 1800000LL

static int64_t T(const char *s)
{
    int64_t ms = 0;
    if (d2ev_time_parse(s, &ms, NULL) != 0)
        fail_msg("bad time %s", s);
    return ms;
}

static const struct d2ev_tz *london(void)
{
    const struct d2ev_tz *tz = d2ev_tz_get("Europe/London", NULL);
    assert_non_null(tz);
    return tz;
}

/* Ready by 07:00 every day, target 80 %, cost mode, no limits: the defaults. */
static void prefs_init(struct d2ev_prefs *p)
{
    d2ev_prefs_default(p);
}

/* A forecast over values (borrowed). */
static struct sched_forecast fc(enum d2ev_forecast_kind kind, int64_t start, int slot_min,
                                double *values, size_t n)
{
    struct sched_forecast f;
    memset(&f, 0, sizeof(f));
    snprintf(f.id, sizeof(f.id), "f-%d", (int)kind);
    snprintf(f.region, sizeof(f.region), "test");
    f.kind = kind;
    snprintf(f.unit, sizeof(f.unit), kind == D2EV_FORECAST_PRICE ? "GBP/kWh" : "gCO2/kWh");
    if (kind == D2EV_FORECAST_PRICE)
        snprintf(f.currency, sizeof(f.currency), "GBP");
    f.start = start;
    f.slot_minutes = slot_min;
    f.n = n;
    f.values = values;
    return f;
}

static struct plan_input input(int64_t now, double soc, const struct d2ev_prefs *p,
                               const struct sched_forecast *price,
                               const struct sched_forecast *carbon)
{
    return (struct plan_input){ .now = now,
                                .soc = soc,
                                .battery_kwh = 60,
                                .power_kw = 7.4,
                                .prefs = p,
                                .tz = london(),
                                .price = price,
                                .carbon = carbon,
                                .region = "test" };
}

static double window_hours(const struct plan_result *r)
{
    double h = 0;
    for (size_t i = 0; i < r->nwindows; i++)
        h += (double)(r->windows[i].end - r->windows[i].start) / 3600000.0;
    return h;
}

static void check_windows_sane(const struct plan_result *r, int64_t now)
{
    for (size_t i = 0; i < r->nwindows; i++) {
        assert_true(r->windows[i].start >= now);
        assert_true(r->windows[i].end > r->windows[i].start);
        assert_true(r->windows[i].end <= r->ready_by);
        if (i)
            assert_true(r->windows[i].start > r->windows[i - 1].end);
    }
}

/* The independent optimum: fill the cheapest slots between now and the
 * deadline (a plain selection, nothing from plan.c). */
static double independent_cost(int64_t now, int64_t deadline, const struct fcsv_result *r,
                               double energy, double pbat, double eff)
{
    size_t cap = (size_t)((deadline - now) / HALF_HOUR) + 2, n = 0;
    double *price = malloc(cap * sizeof(double)), *room = malloc(cap * sizeof(double));
    bool *used = calloc(cap, sizeof(bool));
    for (int64_t t = now; t < deadline; n++) {
        int64_t slot_start = t - (t % HALF_HOUR + HALF_HOUR) % HALF_HOUR;
        int64_t end = slot_start + HALF_HOUR < deadline ? slot_start + HALF_HOUR : deadline;
        long i = fcsv_find(r, slot_start);
        assert_true(i >= 0);
        price[n] = r->points[i].value;
        room[n] = pbat * (double)(end - t) / 3600000.0;
        t = end;
    }
    double cost = 0;
    while (energy > 1e-12) {
        size_t best = n;
        for (size_t i = 0; i < n; i++)
            if (!used[i] && (best == n || price[i] < price[best]))
                best = i;
        assert_true(best < n);
        double take = room[best] < energy ? room[best] : energy;
        cost += price[best] * take / eff;
        energy -= take;
        used[best] = true;
    }
    free(price);
    free(room);
    free(used);
    return cost;
}

static const char *data_file(const char *name)
{
    static char path[1024];
    const char *dir = getenv("D2EV_DATA_DIR");
    snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/work/shared/data", name);
    return access(path, R_OK) == 0 ? path : NULL;
}

/* ------------------------------------------------------------ taper */

static void test_taper_model(void **state)
{
    (void)state;
    /* linear below the knee */
    assert_true(fabs(plan_equivalent_kwh(20, 60, 50, 80, 0.2) - 20) < 1e-9);
    /* 80 -> 90 % with power falling to 20 % at 100 %: (1/k) ln(1 / 0.6), k = 0.04 */
    double eq = plan_equivalent_kwh(80, 90, 100, 80, 0.2);
    assert_true(fabs(eq - log(1 / 0.6) / 0.04) < 1e-9);
    assert_true(eq > 10); /* the slow part costs more time than its energy */
    /* the inverse gives the SoC back, across the knee too */
    for (double a = 10; a < 95; a += 7) {
        for (double b = a + 1; b <= 99; b += 9) {
            double e = plan_equivalent_kwh(a, b, 75, 80, 0.2);
            assert_true(fabs(plan_soc_after(a, e, 75, 80, 0.2) - b) < 1e-6);
        }
    }
    /* off: taper_soc 100 */
    assert_true(fabs(plan_equivalent_kwh(80, 90, 100, 100, 0.2) - 10) < 1e-9);
}

static void test_plan_leaves_time_for_the_taper(void **state)
{
    (void)state;
    struct plan_options on, off;
    plan_options_default(&on);
    plan_options_default(&off);
    off.taper_soc = 100;
    struct d2ev_prefs p;
    prefs_init(&p);
    p.target_soc = 95;
    double flat[48];
    for (int i = 0; i < 48; i++)
        flat[i] = 0.2 + 0.01 * (i % 5);
    int64_t now = T("2026-11-21T18:00:00Z");
    struct sched_forecast price = fc(D2EV_FORECAST_PRICE, T("2026-11-21T18:00:00Z"), 30, flat, 48);
    struct plan_input in = input(now, 70, &p, &price, NULL);
    struct plan_result a, b;
    struct d2ev_err err;
    assert_int_equal(plan_vehicle(&in, &on, &a, &err), 0);
    assert_int_equal(plan_vehicle(&in, &off, &b, &err), 0);
    double ha = 0, hb = 0;
    for (size_t i = 0; i < a.nwindows; i++)
        ha += (double)(a.windows[i].end - a.windows[i].start) / 3600000.0;
    for (size_t i = 0; i < b.nwindows; i++)
        hb += (double)(b.windows[i].end - b.windows[i].start) / 3600000.0;
    /* 70 -> 95 % tapered takes longer than the flat model claims ... */
    assert_true(ha > hb * 1.2);
    /* ... and the hours planned are what the tapered car needs */
    double need_h = plan_equivalent_kwh(70, 95, a.battery_kwh, 80, 0.2) / a.power_kw;
    assert_true(ha >= need_h - 1.0 / 60);
    /* the plan still promises the target, and reports real energy */
    assert_true(fabs(a.expected_soc - 95) < 0.5);
    double kwh = 0;
    for (size_t i = 0; i < a.nwindows; i++)
        kwh += a.windows[i].energy_kwh;
    assert_true(fabs(kwh - 0.25 * a.battery_kwh) < 0.5);
    plan_result_clear(&a);
    plan_result_clear(&b);
}

static void test_ready_margin(void **state)
{
    (void)state;
    struct plan_options opt;
    plan_options_default(&opt);
    opt.ready_margin_ms = 30 * 60000;
    struct d2ev_prefs p;
    prefs_init(&p); /* ready by 07:00 */
    double cheap_late[48];
    for (int i = 0; i < 48; i++)
        cheap_late[i] = 0.30 - 0.004 * i; /* the later, the cheaper */
    int64_t now = T("2026-11-21T18:00:00Z");
    struct sched_forecast price = fc(D2EV_FORECAST_PRICE, now, 30, cheap_late, 48);
    struct d2ev_err err;
    /* plenty of time: the plan ends half an hour before 07:00 */
    struct plan_input in = input(now, 60, &p, &price, NULL);
    struct plan_result r;
    assert_int_equal(plan_vehicle(&in, &opt, &r, &err), 0);
    assert_int_equal(r.status, D2EV_SCHED_OPTIMAL);
    assert_int_equal(r.ready_by, T("2026-11-22T07:00:00Z")); /* the driver's time, unchanged */
    assert_true(r.windows[r.nwindows - 1].end <= T("2026-11-22T06:30:00Z"));
    assert_true(r.windows[r.nwindows - 1].end > T("2026-11-22T06:00:00Z"));
    plan_result_clear(&r);
    /* only fits without the margin: planned to 07:00, not flagged unreachable */
    in = input(T("2026-11-22T00:30:00Z"), 10, &p, &price, NULL);
    assert_int_equal(plan_vehicle(&in, &opt, &r, &err), 0);
    assert_int_not_equal(r.status, D2EV_SCHED_TARGET_UNREACHABLE);
    assert_true(r.expected_soc >= 80 - 1e-6);
    assert_int_equal(r.windows[r.nwindows - 1].end, T("2026-11-22T07:00:00Z"));
    plan_result_clear(&r);
}

/* ------------------------------------------------------------ real data */

static void test_real_agile_optimal(void **state)
{
    (void)state;
    const char *path = data_file("uk_agile_AGILE-FLEX-22-11-25_regionE_2024-01.csv");
    if (!path)
        skip();
    struct fcsv_options o = { .format = FCSV_AGILE_E };
    struct fcsv_result r;
    struct d2ev_err err;
    assert_int_equal(fcsv_parse_file(path, &o, &r, &err), 0);
    double *values;
    size_t n;
    assert_int_equal(
        fcsv_slice(&r, r.points[0].start, r.points[r.n - 1].start + HALF_HOUR, &values, &n, &err),
        0);
    struct sched_forecast price = fc(D2EV_FORECAST_PRICE, r.points[0].start, 30, values, n);
    struct plan_options opt;
    plan_options_default(&opt);
    opt.taper_soc = 100;     /* the exactness claim is about the linear LP ... */
    opt.ready_margin_ms = 0; /* ... to the ready-by itself */
    struct d2ev_prefs p;
    prefs_init(&p);
    int checked = 0, neg_days = 0;
    for (int day = 1; day < 30; day++) {
        for (int k = 0; k < 3; k++) {
            int64_t now = T("2024-01-01T00:00:00Z") + day * 86400000LL + (16 + 2 * k) * 3600000LL +
                          (7 * day + 13 * k) % 60 * 60000LL;
            double soc = 10 + (day * 7 + k * 11) % 50;
            struct plan_input in = input(now, soc, &p, &price, NULL);
            struct plan_result res, glpk;
            assert_int_equal(plan_vehicle(&in, &opt, &res, &err), 0);
            assert_int_equal(res.status, D2EV_SCHED_OPTIMAL);
            assert_string_equal(res.method, "greedy");
            check_windows_sane(&res, now);
            assert_int_equal(res.ready_by, T("2024-01-01T07:00:00Z") + (day + 1) * 86400000LL);
            double pbat = 7.4 * opt.efficiency;
            double need = (80 - soc) / 100 * 60;
            double energy = ceil(need / (pbat / 60) - 1e-9) * pbat / 60;
            double want = independent_cost(now, res.ready_by, &r, energy, pbat, opt.efficiency);
            if (fabs(res.expected_cost - want) > 1e-9 * (1 + fabs(want)))
                fail_msg("day %d k %d: plan %.9f, independent %.9f", day, k, res.expected_cost,
                         want);
            assert_true(fabs(res.expected_soc - (soc + energy / 60 * 100)) < 1e-9);
            assert_true(res.expected_cost <= res.baseline_cost + 1e-9);
            /* the same plan through GLPK */
            opt.solver = PLAN_SOLVER_GLPK;
            assert_int_equal(plan_vehicle(&in, &opt, &glpk, &err), 0);
            opt.solver = PLAN_SOLVER_AUTO;
            assert_string_equal(glpk.method, "lp");
            assert_true(fabs(glpk.expected_cost - want) < 1e-7 * (1 + fabs(want)));
            neg_days += res.expected_cost < 0;
            plan_result_clear(&res);
            plan_result_clear(&glpk);
            checked++;
        }
    }
    print_message("%d plans equal to the independent optimum (%d cost less than nothing)\n",
                  checked, neg_days);
    free(values);
    fcsv_result_clear(&r);
}

/* ------------------------------------------------------------ DST */

static void gen_forecast(int64_t start, size_t n, double *pv, double *cv,
                         struct sched_forecast *price, struct sched_forecast *carbon)
{
    struct fgen_options o;
    fgen_options_default(&o);
    o.region = "test";
    o.tz = london();
    fgen_series(&o, D2EV_FORECAST_PRICE, start, n, pv);
    fgen_series(&o, D2EV_FORECAST_CARBON, start, n, cv);
    *price = fc(D2EV_FORECAST_PRICE, start, 30, pv, n);
    if (carbon)
        *carbon = fc(D2EV_FORECAST_CARBON, start, 30, cv, n);
}

static void test_dst_days(void **state)
{
    (void)state;
    const struct d2ev_tz *tz = london();
    /* the local days have 46 and 50 half-hours */
    struct plan_slot slots[64];
    int64_t a, b;
    d2ev_tz_from_local(tz, d2ev_days_from_civil(2023, 3, 26) * 86400000LL, false, &a);
    d2ev_tz_from_local(tz, d2ev_days_from_civil(2023, 3, 27) * 86400000LL, false, &b);
    assert_int_equal(plan_grid(a, b, HALF_HOUR, a, slots, 64), 46);
    d2ev_tz_from_local(tz, d2ev_days_from_civil(2023, 10, 29) * 86400000LL, false, &a);
    d2ev_tz_from_local(tz, d2ev_days_from_civil(2023, 10, 30) * 86400000LL, false, &b);
    assert_int_equal(plan_grid(a, b, HALF_HOUR, a, slots, 64), 50);

    struct d2ev_prefs p;
    prefs_init(&p);
    struct plan_options opt;
    plan_options_default(&opt);
    double pv[200], cv[200];
    struct sched_forecast price;
    struct d2ev_err err;
    struct {
        const char *now, *ready_by;
        size_t slots;
    } cases[] = {
        /* 18:00 GMT Saturday -> 07:00 BST Sunday: 12 real hours */
        { "2023-03-25T18:00:00Z", "2023-03-26T06:00:00Z", 24 },
        /* 18:00 BST Saturday -> 07:00 GMT Sunday: 14 real hours */
        { "2023-10-28T17:00:00Z", "2023-10-29T07:00:00Z", 28 },
    };
    for (size_t c = 0; c < 2; c++) {
        int64_t now = T(cases[c].now);
        gen_forecast(now - 4 * HALF_HOUR, 200, pv, cv, &price, NULL);
        struct plan_input in = input(now, 20, &p, &price, NULL);
        struct plan_ctx ctx;
        assert_int_equal(plan_build(&in, &opt, &ctx, &err), 0);
        assert_int_equal(ctx.ready_by, T(cases[c].ready_by));
        assert_int_equal(ctx.prob.n, cases[c].slots);
        plan_ctx_clear(&ctx);
        struct plan_result res;
        assert_int_equal(plan_vehicle(&in, &opt, &res, &err), 0);
        assert_int_equal(res.ready_by, T(cases[c].ready_by));
        check_windows_sane(&res, now);
        assert_non_null(strstr(res.reason, "by Sun 07:00"));
        plan_result_clear(&res);
    }
    /* a ready-by inside the spring gap is the jump; inside the fold, the first 01:30 */
    for (int d = 0; d < D2EV_DAYS; d++)
        p.ready_by[d] = 90;
    int64_t rb;
    assert_int_equal(plan_next_ready_by(&p, tz, T("2023-03-25T22:00:00Z"), &rb), 0);
    assert_int_equal(rb, T("2023-03-26T01:00:00Z"));
    assert_int_equal(plan_next_ready_by(&p, tz, T("2023-10-28T22:00:00Z"), &rb), 0);
    assert_int_equal(rb, T("2023-10-29T00:30:00Z"));
    /* overrides and days without a deadline */
    for (int d = 0; d < D2EV_DAYS; d++)
        p.ready_by[d] = -1;
    assert_int_equal(plan_next_ready_by(&p, tz, T("2023-10-28T22:00:00Z"), &rb),
                     D2EV_ERR_NOT_FOUND);
    p.ready_by[0] = 8 * 60; /* Mondays 08:00 */
    p.noverrides = 1;
    p.overrides[0].date = (int32_t)d2ev_days_from_civil(2023, 10, 31); /* a Tuesday */
    p.overrides[0].minutes = 6 * 60 + 30;
    assert_int_equal(plan_next_ready_by(&p, tz, T("2023-10-28T22:00:00Z"), &rb), 0);
    assert_int_equal(rb, T("2023-10-30T08:00:00Z"));
    assert_int_equal(plan_next_ready_by(&p, tz, T("2023-10-30T09:00:00Z"), &rb), 0);
    assert_int_equal(rb, T("2023-10-31T06:30:00Z"));
}

/* ------------------------------------------------------------ the rules */

struct fixture {
    struct d2ev_prefs p;
    struct plan_options opt;
    double pv[96], cv[96];
    struct sched_forecast price, carbon;
    int64_t now;
};

/* Prices by the hour for 48 h from 18:00Z on a winter day (07:00 local = 07:00Z). */
static void fixture_init(struct fixture *f, const double *hourly, size_t nh)
{
    prefs_init(&f->p);
    plan_options_default(&f->opt);
    f->opt.milp_time_limit_ms = 120000; /* correctness, not speed: never hit the limit */
    f->now = T("2024-01-10T18:00:00Z");
    for (size_t i = 0; i < 96; i++) {
        f->pv[i] = hourly[(i / 2) % nh];
        f->cv[i] = 100 + (double)((i * 37) % 90);
    }
    f->price = fc(D2EV_FORECAST_PRICE, f->now, 30, f->pv, 96);
    f->carbon = fc(D2EV_FORECAST_CARBON, f->now, 30, f->cv, 96);
}

static void test_infeasible_target(void **state)
{
    (void)state;
    struct fixture f;
    double h[] = { 0.3, 0.2, 0.1 };
    fixture_init(&f, h, 3);
    f.now = T("2024-01-11T04:00:00Z"); /* 3 h before 07:00 */
    struct plan_input in = input(f.now, 10, &f.p, &f.price, NULL);
    in.power_kw = 3.7;
    in.battery_kwh = 80;
    f.p.target_soc = 90;
    struct plan_result r;
    struct d2ev_err err;
    assert_int_equal(plan_vehicle(&in, &f.opt, &r, &err), 0);
    assert_int_equal(r.status, D2EV_SCHED_TARGET_UNREACHABLE);
    assert_int_equal(r.nwindows, 1);
    assert_int_equal(r.windows[0].start, f.now);
    assert_int_equal(r.windows[0].end, T("2024-01-11T07:00:00Z"));
    double want = 10 + 3.7 * 0.9 * 3 / 80 * 100;
    assert_true(fabs(r.expected_soc - want) < 1e-9);
    assert_non_null(strstr(r.reason, "cannot be reached"));
    assert_true(fabs(r.expected_cost - r.baseline_cost) < 1e-12);
    plan_result_clear(&r);
}

/* The car stops by itself at the charge limit set in it: a target above it is
 * flagged (the reason says why) and the plan aims at the limit, cheapest
 * first, like any other; a limit above the target changes nothing. */
static void test_car_limit(void **state)
{
    (void)state;
    struct fixture f;
    double h[] = { 0.3, 0.2, 0.1 };
    fixture_init(&f, h, 3);
    f.now = T("2024-01-10T22:00:00Z"); /* 9 h before 07:00: the target fits easily */
    f.p.target_soc = 80;
    struct plan_input in = input(f.now, 60, &f.p, &f.price, NULL);
    struct plan_result r;
    struct d2ev_err err;

    in.car_limit = 85;
    assert_int_equal(plan_vehicle(&in, &f.opt, &r, &err), 0);
    assert_int_equal(r.status, D2EV_SCHED_OPTIMAL);
    assert_true(fabs(r.expected_soc - 80) < 1);
    plan_result_clear(&r);

    in.car_limit = 70;
    assert_int_equal(plan_vehicle(&in, &f.opt, &r, &err), 0);
    assert_int_equal(r.status, D2EV_SCHED_TARGET_UNREACHABLE);
    assert_true(fabs(r.expected_soc - 70) < 0.5);
    check_windows_sane(&r, f.now);
    /* the 10 points to the limit (6 kWh), all in the cheapest hours (0.1) */
    double kwh = 0;
    for (size_t i = 0; i < r.nwindows; i++)
        kwh += r.windows[i].energy_kwh;
    assert_true(fabs(kwh - 6.0) < 0.2);
    assert_true(r.expected_cost <= 0.1 * 6.5 / f.opt.efficiency + 1e-9);
    assert_non_null(strstr(r.reason, "charge limit is 70 %"));
    assert_non_null(strstr(r.reason, "Raise the limit"));
    plan_result_clear(&r);

    /* already at the limit: nothing to charge, still flagged */
    in.soc = 70;
    assert_int_equal(plan_vehicle(&in, &f.opt, &r, &err), 0);
    assert_int_equal(r.status, D2EV_SCHED_TARGET_UNREACHABLE);
    assert_int_equal(r.nwindows, 0);
    assert_true(fabs(r.expected_soc - 70) < 1e-9);
    plan_result_clear(&r);
}

/* A car still short when its ready-by passed charges to its target at once,
 * whatever tomorrow night's prices. */
static void test_overdue_charges_now(void **state)
{
    (void)state;
    struct fixture f;
    double h[] = { 0.3, 0.3, 0.05 }; /* cheapest later */
    fixture_init(&f, h, 3);
    f.now = T("2024-01-11T07:05:00Z"); /* just after a 07:00 ready-by */
    f.p.target_soc = 80;
    struct plan_input in = input(f.now, 70, &f.p, &f.price, NULL);
    struct plan_result r;
    struct d2ev_err err;
    assert_int_equal(plan_vehicle(&in, &f.opt, &r, &err), 0);
    assert_true(r.nwindows == 0 || r.windows[0].start > f.now); /* waits for cheap power */
    plan_result_clear(&r);

    in.overdue = true;
    assert_int_equal(plan_vehicle(&in, &f.opt, &r, &err), 0);
    assert_int_equal(r.status, D2EV_SCHED_CHARGE_NOW);
    assert_true(r.nwindows >= 1);
    assert_int_equal(r.windows[0].start, f.now);
    /* 10 points of 60 kWh at 7.4 kW * 0.9 (taper above 80 % not involved): ~54 min */
    assert_true(r.windows[0].end - f.now >= 50 * 60000 && r.windows[0].end - f.now <= 75 * 60000);
    assert_true(r.expected_soc >= 80 - 1e-6);
    assert_non_null(strstr(r.reason, "ready-by time passed short"));
    plan_result_clear(&r);
}

static void test_no_forecast_and_stale(void **state)
{
    (void)state;
    struct forecast_limits lim = { 10, 2000 };
    struct forecast_store *s = forecast_store_create(&lim);
    double v[4] = { 0.1, 0.2, -0.05, 0.3 };
    struct d2ev_forecast f;
    memset(&f, 0, sizeof(f));
    snprintf(f.env.id, sizeof(f.env.id), "id-1");
    snprintf(f.region, sizeof(f.region), "uk-e");
    snprintf(f.unit, sizeof(f.unit), "GBP/kWh");
    f.kind = D2EV_FORECAST_PRICE;
    f.issued_at = T("2024-01-10T10:00:00Z");
    f.start = T("2024-01-10T12:00:00Z");
    f.slot_minutes = 30;
    f.n = 4;
    f.values = v;
    struct d2ev_err err;
    assert_int_equal(forecast_store_offer(s, &f, f.start, &err), FORECAST_STORED);
    assert_int_equal(forecast_store_offer(s, &f, f.start, &err), FORECAST_DUPLICATE);
    bool stale;
    assert_non_null(forecast_store_get(s, "uk-e", D2EV_FORECAST_PRICE, f.start + 60000, &stale));
    assert_false(stale);
    assert_null(
        forecast_store_get(s, "uk-e", D2EV_FORECAST_PRICE, f.start + 4 * HALF_HOUR, &stale));
    assert_true(stale);
    assert_null(forecast_store_get(s, "uk-w", D2EV_FORECAST_PRICE, f.start, &stale));
    assert_false(stale);
    /* an older issue is ignored; a newer one replaces */
    snprintf(f.env.id, sizeof(f.env.id), "id-0");
    f.issued_at -= 1000;
    assert_int_equal(forecast_store_offer(s, &f, f.start, &err), FORECAST_OLDER);
    snprintf(f.env.id, sizeof(f.env.id), "id-2");
    f.issued_at += 2000;
    f.start += 4 * HALF_HOUR;
    assert_int_equal(forecast_store_offer(s, &f, f.start, &err), FORECAST_STORED);
    assert_string_equal(forecast_store_get(s, "uk-e", D2EV_FORECAST_PRICE, f.start, NULL)->id,
                        "id-2");
    /* unit mismatches and implausible values */
    snprintf(f.env.id, sizeof(f.env.id), "id-3");
    snprintf(f.unit, sizeof(f.unit), "EUR/kWh");
    assert_int_equal(forecast_store_offer(s, &f, f.start, &err), D2EV_ERR_INVALID);
    assert_non_null(strstr(err.msg, "does not match"));
    snprintf(f.unit, sizeof(f.unit), "GBP/MWh");
    assert_int_equal(forecast_store_offer(s, &f, f.start, &err), D2EV_ERR_INVALID);
    snprintf(f.unit, sizeof(f.unit), "gCO2/kWh");
    assert_int_equal(forecast_store_offer(s, &f, f.start, &err), D2EV_ERR_INVALID);
    snprintf(f.unit, sizeof(f.unit), "GBP/kWh");
    v[1] = 25.3; /* pence by mistake */
    assert_int_equal(forecast_store_offer(s, &f, f.start, &err), D2EV_ERR_INVALID);
    assert_non_null(strstr(err.msg, "pence"));
    v[1] = NAN;
    assert_int_equal(forecast_store_offer(s, &f, f.start, &err), D2EV_ERR_INVALID);
    v[1] = 0.2;
    f.start += 60000;
    assert_int_equal(forecast_store_offer(s, &f, f.start, &err), D2EV_ERR_INVALID);
    f.start -= 60000;
    f.slot_minutes = 20;
    assert_int_equal(forecast_store_offer(s, &f, f.start, &err), D2EV_ERR_INVALID);
    f.slot_minutes = 30;
    f.kind = D2EV_FORECAST_CARBON;
    snprintf(f.unit, sizeof(f.unit), "gCO2/kWh");
    v[2] = -1; /* negative prices are fine, negative carbon is not */
    assert_int_equal(forecast_store_offer(s, &f, f.start, &err), D2EV_ERR_INVALID);
    assert_int_equal(forecast_store_count(s), 1);
    forecast_store_destroy(s);

    /* with no forecast the car charges at once */
    struct d2ev_prefs p;
    prefs_init(&p);
    struct plan_options opt;
    plan_options_default(&opt);
    int64_t now = T("2024-01-10T18:00:00Z");
    struct plan_input in = input(now, 50, &p, NULL, NULL);
    struct plan_result r;
    assert_int_equal(plan_vehicle(&in, &opt, &r, &err), 0);
    assert_int_equal(r.status, D2EV_SCHED_NO_FORECAST);
    assert_int_equal(r.nwindows, 1);
    assert_int_equal(r.windows[0].start, now);
    double hours = ceil(18 / (7.4 * 0.9 / 60) - 1e-9) / 60; /* 30 % of 60 kWh */
    assert_true(fabs(window_hours(&r) - hours) < 1e-6);
    assert_true(fabs(r.expected_soc - 80) < 0.2);
    assert_string_equal(r.method, "none");
    assert_non_null(strstr(r.reason, "No price or carbon forecast"));
    plan_result_clear(&r);
}

static void test_negative_prices(void **state)
{
    (void)state;
    struct fixture f;
    double h[] = { 0.25, 0.20, -0.05, -0.10, 0.15, 0.30 };
    fixture_init(&f, h, 6);
    struct plan_input in = input(f.now, 70, &f.p, &f.price, NULL); /* 6 kWh to go */
    struct plan_result r;
    struct d2ev_err err;
    assert_int_equal(plan_vehicle(&in, &f.opt, &r, &err), 0);
    assert_int_equal(r.status, D2EV_SCHED_OPTIMAL);
    assert_true(r.expected_cost < 0); /* paid to charge */
    /* never past the target, however negative the price */
    assert_true(fabs(r.expected_soc - 80) < 0.2);
    assert_true(r.expected_soc >= 80);
    for (size_t i = 0; i < r.nwindows; i++) {
        int64_t hour = (r.windows[i].start - f.now) / 3600000;
        assert_true(h[hour % 6] < 0);
    }
    plan_result_clear(&r);
}

static void test_window_limits(void **state)
{
    (void)state;
    struct fixture f;
    /* alternating cheap and dear half-hours tempt a fragmented plan */
    double h[] = { 0.30 };
    fixture_init(&f, h, 1);
    for (size_t i = 0; i < 96; i++)
        f.pv[i] = i % 2 ? 0.30 : 0.05 + 0.001 * (double)i;
    struct plan_input in = input(f.now, 40, &f.p, &f.price, NULL);
    struct plan_result free_r, lim, glpk;
    struct d2ev_err err;
    assert_int_equal(plan_vehicle(&in, &f.opt, &free_r, &err), 0);
    assert_true(free_r.nwindows > 5);
    f.p.max_windows = 2;
    f.p.min_window_minutes = 90;
    assert_int_equal(plan_vehicle(&in, &f.opt, &lim, &err), 0);
    assert_int_equal(lim.status, D2EV_SCHED_OPTIMAL);
    assert_string_equal(lim.method, "dp");
    assert_true(lim.nwindows <= 2 && lim.nwindows >= 1);
    for (size_t i = 0; i < lim.nwindows; i++)
        assert_true(lim.windows[i].end - lim.windows[i].start >= 90 * 60000);
    assert_true(lim.expected_cost >= free_r.expected_cost);
    assert_true(fabs(lim.expected_soc - free_r.expected_soc) < 1e-9);
    f.opt.solver = PLAN_SOLVER_GLPK;
    assert_int_equal(plan_vehicle(&in, &f.opt, &glpk, &err), 0);
    assert_string_equal(glpk.method, "milp");
    assert_int_equal(glpk.status, D2EV_SCHED_OPTIMAL);
    assert_true(fabs(glpk.expected_cost - lim.expected_cost) < 1e-6);
    plan_result_clear(&glpk);
    /* limits that cannot be met: the LP plan, and the driver is told */
    f.opt.solver = PLAN_SOLVER_AUTO;
    f.p.max_windows = 1;
    f.p.min_window_minutes = 720;
    f.p.target_soc = 45;
    assert_int_equal(plan_vehicle(&in, &f.opt, &glpk, &err), 0);
    assert_int_equal(glpk.status, D2EV_SCHED_FEASIBLE);
    assert_non_null(strstr(glpk.reason, "window limits could not be met"));
    plan_result_clear(&glpk);
    plan_result_clear(&free_r);
    plan_result_clear(&lim);
}

static void test_price_cap(void **state)
{
    (void)state;
    struct fixture f;
    double h[] = { 0.10, 0.40, 0.40, 0.12, 0.35, 0.40 };
    fixture_init(&f, h, 6);
    f.p.has_price_cap = true;
    f.p.price_cap = 0.20;
    struct plan_input in = input(f.now, 70, &f.p, &f.price, NULL);
    struct plan_result r;
    struct d2ev_err err;
    assert_int_equal(plan_vehicle(&in, &f.opt, &r, &err), 0);
    assert_int_equal(r.status, D2EV_SCHED_OPTIMAL);
    for (size_t i = 0; i < r.nwindows; i++)
        for (int64_t t = r.windows[i].start; t < r.windows[i].end; t += HALF_HOUR)
            assert_true(f.pv[(t - f.now) / HALF_HOUR] <= 0.20);
    assert_non_null(strstr(r.reason, "Price cap"));
    plan_result_clear(&r);
    /* not enough cheap slots: charge in all of them and say how far that gets */
    in.soc = 5;
    f.p.target_soc = 100;
    assert_int_equal(plan_vehicle(&in, &f.opt, &r, &err), 0);
    assert_int_equal(r.status, D2EV_SCHED_TARGET_UNREACHABLE);
    assert_true(r.expected_soc < 100 && r.expected_soc > 5);
    assert_non_null(strstr(r.reason, "price cap"));
    for (size_t i = 0; i < r.nwindows; i++)
        for (int64_t t = r.windows[i].start; t < r.windows[i].end; t += HALF_HOUR)
            assert_true(f.pv[(t - f.now) / HALF_HOUR] <= 0.20);
    plan_result_clear(&r);
}

static void test_min_soc_and_boost(void **state)
{
    (void)state;
    struct fixture f;
    double h[] = { 0.40, 0.40, 0.40, 0.10, 0.10, 0.10 };
    fixture_init(&f, h, 6);
    f.now += 7 * 60000; /* mid-slot */
    f.p.min_soc = 30;
    struct plan_input in = input(f.now, 10, &f.p, &f.price, NULL);
    struct plan_result r;
    struct d2ev_err err;
    assert_int_equal(plan_vehicle(&in, &f.opt, &r, &err), 0);
    assert_int_equal(r.status, D2EV_SCHED_CHARGE_NOW);
    assert_int_equal(r.windows[0].start, f.now);
    double pbat = 7.4 * 0.9;
    int64_t need_ms = (int64_t)ceil(12 / (pbat / 60) - 1e-9) * 60000; /* 20 % of 60 kWh */
    assert_true(r.windows[0].end - r.windows[0].start >= need_ms);
    assert_true(plan_soc_at(&r, 10, f.now + need_ms) >= 30 - 1e-9);
    assert_non_null(strstr(r.reason, "minimum"));
    assert_true(fabs(r.expected_soc - 80) < 0.2);
    plan_result_clear(&r);

    f.p.min_soc = 0;
    f.p.has_boost = true;
    f.p.boost_until = f.now + 3600000;
    in.soc = 40;
    assert_int_equal(plan_vehicle(&in, &f.opt, &r, &err), 0);
    assert_int_equal(r.status, D2EV_SCHED_CHARGE_NOW);
    assert_int_equal(r.windows[0].start, f.now);
    assert_true(r.windows[0].end >= f.p.boost_until); /* dear, but boosted */
    assert_non_null(strstr(r.reason, "Boost"));
    assert_true(fabs(r.expected_soc - 80) < 0.2);
    /* after the boost the rest goes to the cheap hours */
    assert_true(r.nwindows >= 2);
    assert_true(f.pv[(r.windows[1].start - (f.now - 7 * 60000)) / HALF_HOUR] < 0.2);
    plan_result_clear(&r);
    /* a boost that is over changes nothing */
    f.p.boost_until = f.now - 1;
    assert_int_equal(plan_vehicle(&in, &f.opt, &r, &err), 0);
    assert_int_equal(r.status, D2EV_SCHED_OPTIMAL);
    plan_result_clear(&r);
}

static void test_partial_slot_and_efficiency(void **state)
{
    (void)state;
    struct fixture f;
    double h[] = { 0.30, 0.30, 0.05, 0.30, 0.30, 0.30 };
    fixture_init(&f, h, 6);
    /* 45 minutes of charging: one full cheap half-hour and 15 minutes more */
    double pbat = 7.4 * 0.9;
    double soc = 80 - pbat * 0.75 / 60 * 100;
    struct plan_input in = input(f.now, soc, &f.p, &f.price, NULL);
    struct plan_result r;
    struct d2ev_err err;
    assert_int_equal(plan_vehicle(&in, &f.opt, &r, &err), 0);
    assert_int_equal(r.nwindows, 1);
    assert_int_equal(r.windows[0].end - r.windows[0].start, 45 * 60000);
    /* the cheap hour is 20:00-21:00; the window lies inside it */
    assert_true(r.windows[0].start >= T("2024-01-10T20:00:00Z"));
    assert_true(r.windows[0].end <= T("2024-01-10T21:00:00Z"));
    assert_true(fabs(r.windows[0].energy_kwh - pbat * 0.75) < 1e-9);
    /* cost is paid on grid energy: battery energy / efficiency */
    assert_true(fabs(r.expected_cost - 0.05 * pbat * 0.75 / 0.9) < 1e-9);
    plan_result_clear(&r);
    f.opt.efficiency = 0.8;
    assert_int_equal(plan_vehicle(&in, &f.opt, &r, &err), 0);
    double hours = ceil(pbat * 0.75 / (7.4 * 0.8 / 60) - 1e-9) / 60;
    assert_true(fabs(window_hours(&r) - hours) < 1e-9);
    plan_result_clear(&r);
    /* partial windows sit against their neighbour: 75 minutes = 2 cheap slots + 15 min */
    f.opt.efficiency = 0.9;
    for (size_t i = 0; i < 96; i++)
        f.pv[i] = 0.30;
    f.pv[6] = 0.05;
    f.pv[7] = 0.06;
    f.pv[8] = 0.07;
    in.soc = 80 - pbat * 1.25 / 60 * 100;
    assert_int_equal(plan_vehicle(&in, &f.opt, &r, &err), 0);
    assert_int_equal(r.nwindows, 1);
    assert_int_equal(r.windows[0].start, f.now + 6 * HALF_HOUR);
    assert_int_equal(r.windows[0].end, f.now + 8 * HALF_HOUR + 15 * 60000);
    plan_result_clear(&r);
}

static void test_modes_and_reached(void **state)
{
    (void)state;
    struct fixture f;
    double h[] = { 0.10, 0.20, 0.30, 0.25, 0.15, 0.05 };
    fixture_init(&f, h, 6);
    struct plan_input in = input(f.now, 50, &f.p, &f.price, &f.carbon);
    struct plan_result cost, carbon, mix0, mix1;
    struct d2ev_err err;
    assert_int_equal(plan_vehicle(&in, &f.opt, &cost, &err), 0);
    f.p.mode = D2EV_MODE_CARBON;
    assert_int_equal(plan_vehicle(&in, &f.opt, &carbon, &err), 0);
    f.p.mode = D2EV_MODE_MIX;
    f.p.carbon_weight = 0;
    assert_int_equal(plan_vehicle(&in, &f.opt, &mix0, &err), 0);
    f.p.carbon_weight = 1;
    assert_int_equal(plan_vehicle(&in, &f.opt, &mix1, &err), 0);
    assert_true(fabs(mix0.expected_cost - cost.expected_cost) < 1e-9);
    assert_true(fabs(mix1.expected_carbon_g - carbon.expected_carbon_g) < 1e-9);
    assert_true(carbon.expected_carbon_g < cost.expected_carbon_g);
    assert_true(cost.expected_cost < carbon.expected_cost);
    assert_non_null(strstr(carbon.reason, "Greenest"));
    assert_true(carbon.baseline_carbon_g >= carbon.expected_carbon_g);
    plan_result_clear(&cost);
    plan_result_clear(&carbon);
    plan_result_clear(&mix0);
    plan_result_clear(&mix1);
    /* carbon mode without a carbon forecast plans on price and says so */
    f.p.mode = D2EV_MODE_CARBON;
    in.carbon = NULL;
    assert_int_equal(plan_vehicle(&in, &f.opt, &cost, &err), 0);
    assert_non_null(strstr(cost.reason, "No carbon forecast"));
    plan_result_clear(&cost);
    in.soc = 85;
    assert_int_equal(plan_vehicle(&in, &f.opt, &cost, &err), 0);
    assert_int_equal(cost.status, D2EV_SCHED_TARGET_REACHED);
    assert_int_equal(cost.nwindows, 0);
    plan_result_clear(&cost);
    /* no ready-by on any day: the cheapest slots within the forecast */
    for (int d = 0; d < D2EV_DAYS; d++)
        f.p.ready_by[d] = -1;
    in.soc = 50;
    assert_int_equal(plan_vehicle(&in, &f.opt, &cost, &err), 0);
    assert_int_equal(cost.ready_by, f.now + 96 * HALF_HOUR);
    assert_non_null(strstr(cost.reason, "within the forecast"));
    plan_result_clear(&cost);
    /* invalid input is refused */
    in.soc = 120;
    assert_int_equal(plan_vehicle(&in, &f.opt, &cost, &err), D2EV_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_taper_model),
        cmocka_unit_test(test_plan_leaves_time_for_the_taper),
        cmocka_unit_test(test_ready_margin),
        cmocka_unit_test(test_real_agile_optimal),
        cmocka_unit_test(test_dst_days),
        cmocka_unit_test(test_infeasible_target),
        cmocka_unit_test(test_no_forecast_and_stale),
        cmocka_unit_test(test_negative_prices),
        cmocka_unit_test(test_window_limits),
        cmocka_unit_test(test_price_cap),
        cmocka_unit_test(test_min_soc_and_boost),
        cmocka_unit_test(test_partial_slot_and_efficiency),
        cmocka_unit_test(test_modes_and_reached),
        cmocka_unit_test(test_car_limit),
        cmocka_unit_test(test_overdue_charges_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
