/* bench_common.h: helpers shared by the scheduler benchmarks. */
#ifndef D2EV_BENCH_COMMON_H
#define D2EV_BENCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "forecast_csv.h"
#include "forecast_store.h"
#include "plan.h"

/* Monotonic microseconds. */
double bench_us(void);

/* Median, 99th percentile and mean of v[0..n) (sorts v). */
void bench_stats(double *v, size_t n, double *median, double *p99, double *mean);

/* Path of a real data file, or NULL when the data folder or file is absent. */
const char *bench_data_file(const char *name);

/* Ready by 07:00 every day, target 80 %, cost mode. */
void bench_prefs(struct d2ev_prefs *p);

/* A whole CSV file as one forecast (values malloc'd into *f; free with
 * sched_forecast_clear). The longest gap-free run from the first row.
 * Returns false when the file is absent or unreadable. */
bool bench_load(const char *name, enum fcsv_format format, const char *column,
                struct sched_forecast *f);

/* A run of a parsed file as a forecast from `from` (aligned) for up to n slots. */
bool bench_slice(const struct fcsv_result *r, int64_t from, size_t n, struct sched_forecast *f);

/* Generated forecast (seed 1, region "bench", Europe/London). */
void bench_generate(enum d2ev_forecast_kind kind, int64_t start, int slot_minutes, size_t n,
                    struct sched_forecast *f);

int64_t bench_time(const char *rfc3339);

#endif
