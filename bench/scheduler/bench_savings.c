/*
 * bench_savings: what smart charging saves against charging at plug-in, over a
 * month of real Agile prices and real grid carbon intensity.
 *
 * Every evening of the month, each of 200 drivers plugs in between 17:00 and
 * 20:00 UK time with 20-60 % SoC (60 kWh, 7.4 kW), wanting 80 % by 07:00
 * (09:00 at weekends). Plans use the day-ahead prices and the NESO carbon
 * *forecast*; the outcome is scored on the same prices and the *actual*
 * intensity, against charging at once from plug-in.
 * Usage: bench_sched_savings [YYYY-MM] (default 2023-06; needs the data)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "d2ev/timefmt.h"
#include "d2ev/util.h"

#define DRIVERS   200
#define HALF_HOUR 1800000LL

struct tally {
    double kwh, cost, carbon_g, base_cost, base_carbon_g;
    int plans, unreachable;
};

/* Grid cost and emissions of charging in the windows, scored on price and
 * actual intensity (falling back to the forecast where actual is missing). */
static void score(const struct plan_result *r, double eff, const struct sched_forecast *price,
                  const struct fcsv_result *actual, const struct sched_forecast *carbon,
                  double *cost, double *g)
{
    *cost = *g = 0;
    for (size_t i = 0; i < r->nwindows; i++) {
        const struct d2ev_window *w = &r->windows[i];
        double kw_grid = w->energy_kwh / ((double)(w->end - w->start) / 3600000.0) / eff;
        for (int64_t t = w->start; t < w->end;) {
            int64_t slot = t - (t % HALF_HOUR + HALF_HOUR) % HALF_HOUR;
            int64_t end = slot + HALF_HOUR < w->end ? slot + HALF_HOUR : w->end;
            double kwh = kw_grid * (double)(end - t) / 3600000.0;
            *cost += sched_forecast_at(price, slot, NULL) * kwh;
            long k = fcsv_find(actual, slot);
            double ci = k >= 0 && actual->points[k].value > 0
                            ? actual->points[k].value
                            : sched_forecast_at(carbon, slot, NULL);
            *g += ci * kwh;
            t = end;
        }
    }
}

/* A baseline result: charge at once from now for the same energy. */
static void baseline_windows(const struct plan_result *r, int64_t now, struct plan_result *b)
{
    static struct d2ev_window w;
    double kwh = 0;
    for (size_t i = 0; i < r->nwindows; i++)
        kwh += r->windows[i].energy_kwh;
    w.start = now;
    w.end = now + (int64_t)llround(kwh / r->power_kw * 3600000.0);
    w.energy_kwh = kwh;
    *b = *r;
    b->windows = &w;
    b->nwindows = kwh > 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *month = argc > 1 ? argv[1] : "2023-06";
    const char *agile = bench_data_file(
        "uk_agile_import_export_2022-11-01_2023-12-20_ukLocalTime_regionUnstated.csv");
    const char *ci = bench_data_file("uk_carbon_intensity_national_2023_neso_api.csv");
    if (!agile || !ci) {
        printf("skipped: the real data files are not present\n");
        return 0;
    }
    struct d2ev_err err;
    struct fcsv_result pr, cf, ca;
    struct fcsv_options po = { .format = FCSV_AGILE };
    struct fcsv_options co = { .format = FCSV_CARBON, .column = "forecast" };
    struct fcsv_options ao = { .format = FCSV_CARBON, .column = "actual" };
    if (fcsv_parse_file(agile, &po, &pr, &err) || fcsv_parse_file(ci, &co, &cf, &err) ||
        fcsv_parse_file(ci, &ao, &ca, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    char first[32];
    snprintf(first, sizeof(first), "%s-01T00:00:00Z", month);
    int64_t start = bench_time(first);
    int64_t y;
    unsigned m, d;
    d2ev_civil_from_days(start / 86400000LL, &y, &m, &d);
    int64_t next = m == 12 ? d2ev_days_from_civil(y + 1, 1, 1) : d2ev_days_from_civil(y, m + 1, 1);
    int days = (int)(next - d2ev_days_from_civil(y, m, 1));
    struct sched_forecast price, carbon;
    if (!bench_slice(&pr, start, (size_t)(days + 3) * 48, &price) ||
        !bench_slice(&cf, start, (size_t)(days + 3) * 48, &carbon)) {
        fprintf(stderr, "no data for %s\n", month);
        return 1;
    }
    const struct d2ev_tz *tz = d2ev_tz_get("Europe/London", NULL);
    struct plan_options opt;
    plan_options_default(&opt);
    struct {
        const char *name;
        enum d2ev_opt_mode mode;
        double weight;
        int windows;
    } modes[] = {
        { "cost", D2EV_MODE_COST, 0, 0 },
        { "cost, max 2 windows of >= 60 min", D2EV_MODE_COST, 0, 2 },
        { "carbon", D2EV_MODE_CARBON, 1, 0 },
        { "mix, carbon weight 0.5", D2EV_MODE_MIX, 0.5, 0 },
    };
    printf("month %s: %d days x %d drivers, Agile import prices (region unstated), NESO "
           "national carbon intensity (planned on the forecast, scored on the actual)\n\n",
           month, days, DRIVERS);
    printf("| objective | plans | energy MWh | cost at plug-in GBP | planned GBP | saving | "
           "CO2 at plug-in kg | planned kg | saving | mean solve us |\n"
           "|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t mi = 0; mi < sizeof(modes) / sizeof(modes[0]); mi++) {
        struct tally t = { 0 };
        uint64_t seed = 7; /* the same drivers and evenings for every objective */
        double solve_us = 0;
        for (int day = 0; day < days; day++) {
            for (int j = 0; j < DRIVERS; j++) {
                int64_t local_day = start / 86400000LL + day;
                int64_t plug_local = local_day * 86400000LL + 17 * 3600000LL +
                                     (int64_t)(d2ev_rand_unit(&seed) * 3 * 3600000.0);
                double soc = 20 + d2ev_rand_unit(&seed) * 40;
                int64_t now;
                d2ev_tz_from_local(tz, plug_local, false, &now);
                struct d2ev_prefs p;
                bench_prefs(&p);
                p.ready_by[5] = p.ready_by[6] = 9 * 60;
                p.mode = modes[mi].mode;
                p.carbon_weight = modes[mi].weight;
                if (modes[mi].windows) {
                    p.max_windows = modes[mi].windows;
                    p.min_window_minutes = 60;
                }
                struct plan_input in = { .now = now,
                                         .soc = soc,
                                         .battery_kwh = 60,
                                         .power_kw = 7.4,
                                         .prefs = &p,
                                         .tz = tz,
                                         .price = &price,
                                         .carbon = &carbon,
                                         .region = "uk" };
                struct plan_result r, b;
                double t0 = bench_us();
                if (plan_vehicle(&in, &opt, &r, &err)) {
                    fprintf(stderr, "%s\n", err.msg);
                    return 1;
                }
                solve_us += bench_us() - t0;
                double c, g, bc, bg;
                score(&r, opt.efficiency, &price, &ca, &carbon, &c, &g);
                baseline_windows(&r, now, &b);
                score(&b, opt.efficiency, &price, &ca, &carbon, &bc, &bg);
                for (size_t w = 0; w < r.nwindows; w++)
                    t.kwh += r.windows[w].energy_kwh / opt.efficiency;
                t.cost += c;
                t.carbon_g += g;
                t.base_cost += bc;
                t.base_carbon_g += bg;
                t.plans++;
                t.unreachable += r.status == D2EV_SCHED_TARGET_UNREACHABLE;
                plan_result_clear(&r);
            }
        }
        printf("| %s | %d | %.1f | %.0f | %.0f | %.1f %% | %.0f | %.0f | %.1f %% | %.0f |\n",
               modes[mi].name, t.plans, t.kwh / 1000, t.base_cost, t.cost,
               100 * (t.base_cost - t.cost) / t.base_cost, t.base_carbon_g / 1000,
               t.carbon_g / 1000, 100 * (t.base_carbon_g - t.carbon_g) / t.base_carbon_g,
               solve_us / t.plans);
    }
    sched_forecast_clear(&price);
    sched_forecast_clear(&carbon);
    fcsv_result_clear(&pr);
    fcsv_result_clear(&cf);
    fcsv_result_clear(&ca);
    return 0;
}
