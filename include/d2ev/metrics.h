/*
 * Process-wide Prometheus metrics: counters, gauges and histograms.
 *
 *   static struct d2ev_metric *polls;
 *   polls = d2ev_metric_counter("d2ev_polls_total", "OEM polls made", "oem=\"tesla\"");
 *   d2ev_metric_inc(polls);
 *
 * Registering the same name and labels twice returns the same handle, so a
 * metric can be looked up wherever it is needed. Names of one family must keep
 * one type. Updates are lock-free and thread-safe.
 *
 * Ownership: handles are owned by the registry and live until
 * d2ev_metrics_reset() (tests) or process exit. Strings passed in are copied.
 */
#ifndef D2EV_METRICS_H
#define D2EV_METRICS_H

#include <stddef.h>

struct d2ev_metric;

/* labels: NULL or a Prometheus label list without braces, e.g. "oem=\"tesla\"".
 * Return NULL only on allocation failure or a type clash (logged); all update
 * functions accept NULL and do nothing. */
struct d2ev_metric *d2ev_metric_counter(const char *name, const char *help, const char *labels);
struct d2ev_metric *d2ev_metric_gauge(const char *name, const char *help, const char *labels);
/* bounds: ascending upper bounds (+Inf is implicit), at most 32. NULL/0 uses
 * latency buckets in seconds from 0.5 ms to 10 s. */
struct d2ev_metric *d2ev_metric_histogram(const char *name, const char *help, const char *labels,
                                          const double *bounds, size_t nbounds);

void d2ev_metric_inc(struct d2ev_metric *m);
void d2ev_metric_add(struct d2ev_metric *m, double v);     /* counters: v >= 0 */
void d2ev_metric_set(struct d2ev_metric *m, double v);     /* gauges */
void d2ev_metric_observe(struct d2ev_metric *m, double v); /* histograms */

/* Current value (counter/gauge) or observation count (histogram). */
double d2ev_metric_value(const struct d2ev_metric *m);

/* Render every metric in the Prometheus text exposition format 0.0.4.
 * Returns a malloc'd string the caller frees (NULL on allocation failure). */
char *d2ev_metrics_render(size_t *len);

/* Drop every metric (tests only; invalidates all handles). */
void d2ev_metrics_reset(void);

#endif
