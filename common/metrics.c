/* metrics.c: lock-free metric updates, mutex-guarded registry and rendering. */
#include "d2ev/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/log.h"
#include "d2ev/strbuf.h"

#define MAX_BOUNDS 32

enum kind { K_COUNTER, K_GAUGE, K_HISTOGRAM };

struct d2ev_metric {
    struct d2ev_metric *next;
    enum kind kind;
    char *name;
    char *help;
    char *labels;          /* "" when none */
    _Atomic uint64_t bits; /* counter/gauge value as double bits; histogram sum */
    size_t nbounds;
    double bounds[MAX_BOUNDS];
    _Atomic uint64_t buckets[MAX_BOUNDS + 1]; /* non-cumulative counts; last is +Inf */
    _Atomic uint64_t count;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct d2ev_metric *g_head;
static struct d2ev_metric **g_tail = &g_head;

static const double default_bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,    0.25,  0.5,    1,     2.5,  5,     10 };

static double bits_to_d(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof(d));
    return d;
}

static uint64_t d_to_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof(b));
    return b;
}

static struct d2ev_metric *get(enum kind k, const char *name, const char *help, const char *labels,
                               const double *bounds, size_t nbounds)
{
    if (!labels)
        labels = "";
    pthread_mutex_lock(&g_lock);
    for (struct d2ev_metric *m = g_head; m; m = m->next) {
        if (strcmp(m->name, name) != 0)
            continue;
        if (m->kind != k) {
            pthread_mutex_unlock(&g_lock);
            d2ev_log_error("metric registered twice with different types",
                           D2EV_LF_STR("metric", name));
            return NULL;
        }
        if (strcmp(m->labels, labels) == 0) {
            pthread_mutex_unlock(&g_lock);
            return m;
        }
    }
    struct d2ev_metric *m = calloc(1, sizeof(*m));
    if (m) {
        m->kind = k;
        m->name = strdup(name);
        m->help = strdup(help ? help : "");
        m->labels = strdup(labels);
        if (k == K_HISTOGRAM) {
            if (!bounds || nbounds == 0) {
                bounds = default_bounds;
                nbounds = sizeof(default_bounds) / sizeof(default_bounds[0]);
            }
            m->nbounds = nbounds > MAX_BOUNDS ? MAX_BOUNDS : nbounds;
            memcpy(m->bounds, bounds, m->nbounds * sizeof(double));
        }
        if (!m->name || !m->help || !m->labels) {
            free(m->name);
            free(m->help);
            free(m->labels);
            free(m);
            m = NULL;
        } else {
            /* keep families together: insert after the last metric of this name */
            struct d2ev_metric **pos = g_tail;
            for (struct d2ev_metric **p = &g_head; *p; p = &(*p)->next) {
                if (strcmp((*p)->name, name) == 0)
                    pos = &(*p)->next;
            }
            m->next = *pos;
            *pos = m;
            if (!m->next)
                g_tail = &m->next;
        }
    }
    pthread_mutex_unlock(&g_lock);
    return m;
}

struct d2ev_metric *d2ev_metric_counter(const char *name, const char *help, const char *labels)
{
    return get(K_COUNTER, name, help, labels, NULL, 0);
}

struct d2ev_metric *d2ev_metric_gauge(const char *name, const char *help, const char *labels)
{
    return get(K_GAUGE, name, help, labels, NULL, 0);
}

struct d2ev_metric *d2ev_metric_histogram(const char *name, const char *help, const char *labels,
                                          const double *bounds, size_t nbounds)
{
    return get(K_HISTOGRAM, name, help, labels, bounds, nbounds);
}

static void atomic_add_double(_Atomic uint64_t *bits, double v)
{
    uint64_t old = atomic_load(bits);
    while (!atomic_compare_exchange_weak(bits, &old, d_to_bits(bits_to_d(old) + v)))
        ;
}

void d2ev_metric_inc(struct d2ev_metric *m)
{
    d2ev_metric_add(m, 1.0);
}

void d2ev_metric_add(struct d2ev_metric *m, double v)
{
    if (!m || m->kind == K_HISTOGRAM || !isfinite(v))
        return;
    if (m->kind == K_COUNTER && v < 0)
        return;
    atomic_add_double(&m->bits, v);
}

void d2ev_metric_set(struct d2ev_metric *m, double v)
{
    if (!m || m->kind != K_GAUGE)
        return;
    atomic_store(&m->bits, d_to_bits(v));
}

void d2ev_metric_observe(struct d2ev_metric *m, double v)
{
    if (!m || m->kind != K_HISTOGRAM || isnan(v))
        return;
    size_t i = 0;
    while (i < m->nbounds && v > m->bounds[i])
        i++;
    atomic_fetch_add(&m->buckets[i], 1);
    atomic_fetch_add(&m->count, 1);
    atomic_add_double(&m->bits, v);
}

double d2ev_metric_value(const struct d2ev_metric *m)
{
    if (!m)
        return 0;
    if (m->kind == K_HISTOGRAM)
        return (double)atomic_load(&((struct d2ev_metric *)m)->count);
    return bits_to_d(atomic_load(&((struct d2ev_metric *)m)->bits));
}

static void put_labels(struct d2ev_strbuf *sb, const char *labels, const char *extra)
{
    bool has = labels && *labels;
    if (!has && !extra)
        return;
    d2ev_strbuf_puts(sb, "{");
    if (has)
        d2ev_strbuf_puts(sb, labels);
    if (extra) {
        if (has)
            d2ev_strbuf_puts(sb, ",");
        d2ev_strbuf_puts(sb, extra);
    }
    d2ev_strbuf_puts(sb, "}");
}

static void put_double(struct d2ev_strbuf *sb, double v)
{
    if (isinf(v))
        d2ev_strbuf_puts(sb, v > 0 ? "+Inf" : "-Inf");
    else if (isnan(v))
        d2ev_strbuf_puts(sb, "NaN");
    else
        d2ev_strbuf_printf(sb, "%.17g", v);
}

char *d2ev_metrics_render(size_t *len)
{
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    static const char *types[] = { "counter", "gauge", "histogram" };
    pthread_mutex_lock(&g_lock);
    const char *family = NULL;
    for (struct d2ev_metric *m = g_head; m; m = m->next) {
        if (!family || strcmp(family, m->name) != 0) {
            family = m->name;
            d2ev_strbuf_printf(&sb, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
                               types[m->kind]);
        }
        if (m->kind != K_HISTOGRAM) {
            d2ev_strbuf_puts(&sb, m->name);
            put_labels(&sb, m->labels, NULL);
            d2ev_strbuf_puts(&sb, " ");
            put_double(&sb, bits_to_d(atomic_load(&m->bits)));
            d2ev_strbuf_puts(&sb, "\n");
            continue;
        }
        uint64_t cum = 0;
        for (size_t i = 0; i <= m->nbounds; i++) {
            cum += atomic_load(&m->buckets[i]);
            char le[48];
            if (i < m->nbounds)
                snprintf(le, sizeof(le), "le=\"%.17g\"", m->bounds[i]);
            else
                snprintf(le, sizeof(le), "le=\"+Inf\"");
            d2ev_strbuf_printf(&sb, "%s_bucket", m->name);
            put_labels(&sb, m->labels, le);
            d2ev_strbuf_printf(&sb, " %llu\n", (unsigned long long)cum);
        }
        d2ev_strbuf_printf(&sb, "%s_sum", m->name);
        put_labels(&sb, m->labels, NULL);
        d2ev_strbuf_puts(&sb, " ");
        put_double(&sb, bits_to_d(atomic_load(&m->bits)));
        d2ev_strbuf_printf(&sb, "\n%s_count", m->name);
        put_labels(&sb, m->labels, NULL);
        d2ev_strbuf_printf(&sb, " %llu\n", (unsigned long long)cum);
    }
    pthread_mutex_unlock(&g_lock);
    return d2ev_strbuf_steal(&sb, len);
}

void d2ev_metrics_reset(void)
{
    pthread_mutex_lock(&g_lock);
    struct d2ev_metric *m = g_head;
    while (m) {
        struct d2ev_metric *n = m->next;
        free(m->name);
        free(m->help);
        free(m->labels);
        free(m);
        m = n;
    }
    g_head = NULL;
    g_tail = &g_head;
    pthread_mutex_unlock(&g_lock);
}
