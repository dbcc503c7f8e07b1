/* bench_common.c: helpers shared by the scheduler benchmarks. */
#include "bench_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "d2ev/timefmt.h"
#include "forecast_gen.h"

double bench_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void bench_stats(double *v, size_t n, double *median, double *p99, double *mean)
{
    qsort(v, n, sizeof(double), cmp_double);
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    *median = n ? v[n / 2] : 0;
    *p99 = n ? v[(size_t)((double)(n - 1) * 0.99)] : 0;
    *mean = n ? s / (double)n : 0;
}

const char *bench_data_file(const char *name)
{
    static char path[4][1024];
    static int k;
    char *p = path[k++ % 4];
    const char *dir = getenv("D2EV_DATA_DIR");
    snprintf(p, sizeof(path[0]), "%s/%s", dir && *dir ? dir : D2EV_BENCH_DATA_DIR, name);
    return access(p, R_OK) == 0 ? p : NULL;
}

void bench_prefs(struct d2ev_prefs *p)
{
    memset(p, 0, sizeof(*p));
    for (int d = 0; d < D2EV_DAYS; d++)
        p->ready_by[d] = 7 * 60;
    p->target_soc = 80;
    p->mode = D2EV_MODE_COST;
    p->carbon_weight = 0.5;
}

bool bench_slice(const struct fcsv_result *r, int64_t from, size_t n, struct sched_forecast *f)
{
    size_t run = fcsv_run_from(r, from);
    if (run == 0)
        return false;
    if (run > n)
        run = n;
    memset(f, 0, sizeof(*f));
    f->values = malloc(run * sizeof(double));
    if (!f->values)
        return false;
    long i = fcsv_find(r, from);
    for (size_t k = 0; k < run; k++)
        f->values[k] = r->points[(size_t)i + k].value;
    f->n = run;
    f->start = from;
    f->slot_minutes = r->slot_minutes;
    f->kind = r->kind;
    snprintf(f->unit, sizeof(f->unit), "%s", r->unit);
    if (r->kind == D2EV_FORECAST_PRICE)
        snprintf(f->currency, sizeof(f->currency), "%.3s", r->unit);
    snprintf(f->id, sizeof(f->id), "bench-%d", (int)r->kind);
    snprintf(f->region, sizeof(f->region), "bench");
    return true;
}

bool bench_load(const char *name, enum fcsv_format format, const char *column,
                struct sched_forecast *f)
{
    const char *path = bench_data_file(name);
    if (!path)
        return false;
    struct fcsv_options o = { .format = format, .column = column };
    struct fcsv_result r;
    struct d2ev_err err;
    if (fcsv_parse_file(path, &o, &r, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return false;
    }
    bool ok = r.n && bench_slice(&r, r.points[0].start, r.n, f);
    fcsv_result_clear(&r);
    return ok;
}

void bench_generate(enum d2ev_forecast_kind kind, int64_t start, int slot_minutes, size_t n,
                    struct sched_forecast *f)
{
    struct fgen_options o;
    fgen_options_default(&o);
    o.region = "bench";
    o.tz = d2ev_tz_get("Europe/London", NULL);
    o.slot_minutes = slot_minutes;
    memset(f, 0, sizeof(*f));
    f->values = malloc(n * sizeof(double));
    fgen_series(&o, kind, start, n, f->values);
    f->n = n;
    f->start = start;
    f->slot_minutes = slot_minutes;
    f->kind = kind;
    snprintf(f->unit, sizeof(f->unit), kind == D2EV_FORECAST_PRICE ? "GBP/kWh" : "gCO2/kWh");
    if (kind == D2EV_FORECAST_PRICE)
        snprintf(f->currency, sizeof(f->currency), "GBP");
    snprintf(f->id, sizeof(f->id), "gen-%d", (int)kind);
    snprintf(f->region, sizeof(f->region), "bench");
}

int64_t bench_time(const char *s)
{
    int64_t ms = 0;
    d2ev_time_parse(s, &ms, NULL);
    return ms;
}
