/* oem_polls.c: how many vehicle polls per second one OEM engine thread sustains.
 *
 * By default it starts a minimal libmicrohttpd server in this process that
 * answers every Smartcar batch read with a recorded answer (after
 * --latency-ms, to model an OEM's response time), pins that server
 * to one core and the engine thread to the other, and keeps --concurrency
 * reads in flight over --vehicles vehicles for --seconds. It reports polls/s,
 * polls per engine-thread CPU second, p50/p99 latency and heap per vehicle
 * (marginal: the heap after polling every vehicle minus the heap after
 * polling a tenth of them, divided by the difference, with the same number
 * of connections). process_heap_bytes is everything the process allocated
 * meanwhile, the built-in server's per-connection buffers included.
 *
 * --base-url points it at another server (d2ev-oemsim) instead; then every
 * vehicle uses --token and ids from --vehicle-format.
 */
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "d2ev/clock.h"
#include "d2ev/config.h"
#include "d2ev/log.h"
#include "d2ev/oem.h"
#include "d2ev/oem_engine.h"
#include "server.h"

struct bench_config {
    int64_t vehicles;
    int64_t seconds;
    int64_t warmup_seconds;
    int64_t concurrency;
    const char *base_url;
    const char *token;
    const char *vehicle_format;
    const char *adapter_dir;
    bool pin;
    int64_t latency_ms;
};

#define C(f) offsetof(struct bench_config, f)
static const struct d2ev_cfg_entry table[] = {
    { "vehicles", D2EV_CFG_INT, C(vehicles), "10000", "vehicles polled round-robin", 10, 1000000 },
    { "seconds", D2EV_CFG_INT, C(seconds), "10", "measured duration", 1, 3600 },
    { "warmup-seconds", D2EV_CFG_INT, C(warmup_seconds), "2", "unmeasured warm-up", 0, 600 },
    { "concurrency", D2EV_CFG_INT, C(concurrency), "256", "reads kept in flight", 1, 100000 },
    { "base-url", D2EV_CFG_STR, C(base_url), NULL,
      "Smartcar API root of an external server (default: the built-in server)" },
    { "token", D2EV_CFG_STR, C(token), "bench-token", "access token for every vehicle" },
    { "vehicle-format", D2EV_CFG_STR, C(vehicle_format), "veh-%05d",
      "printf format of vehicle ids (one %d)" },
    { "adapter-dir", D2EV_CFG_STR, C(adapter_dir), NULL,
      "adapter directory (default: the build's)" },
    { "pin", D2EV_CFG_BOOL, C(pin), "true", "pin the server to CPU 1 and the engine to CPU 0" },
    { "latency-ms", D2EV_CFG_INT, C(latency_ms), "0",
      "the built-in server answers after this long (an OEM's latency)", 0, 60000 },
    D2EV_CFG_END,
};
#undef C

/* ------------------------------------------------------------ tokens */

static const struct bench_config *g_cfg;
static char **g_tokens; /* per vehicle, like a telemetry service's credential view */

static int tok_get(void *opaque, const char *oem, const char *key, struct d2ev_oem_token *out)
{
    const char *digits = key + strcspn(key, "0123456789");
    long i = strtol(digits, NULL, 10);
    if (i < 0 || i >= g_cfg->vehicles)
        return D2EV_ERR_NOT_FOUND;
    out->access_token = g_tokens[i];
    return 0;
}

static void tok_store(void *opaque, const char *oem, const char *key,
                      const struct d2ev_oem_token *t)
{
}

/* ------------------------------------------------------------ the run */

struct bench {
    struct d2ev_oem_engine *e;
    int64_t next_vehicle;
    int64_t in_flight;
    bool measuring;
    uint64_t ok, failed;
    double *lat_ms;
    size_t nlat, caplat;
    int64_t limit_vehicles; /* poll only this many (memory phases) */
    int64_t window;         /* reads kept in flight */
};

struct ticket {
    struct bench *b;
    struct timespec t0;
};

static double since_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void on_done(void *arg, const struct d2ev_oem_outcome *o)
{
    struct ticket *t = arg;
    struct bench *b = t->b;
    b->in_flight--;
    if (o->cls == D2EV_OEM_OK)
        b->ok += b->measuring;
    else
        b->failed += b->measuring;
    if (b->measuring && o->cls == D2EV_OEM_OK) {
        if (b->nlat == b->caplat) {
            b->caplat = b->caplat ? b->caplat * 2 : 65536;
            b->lat_ms = realloc(b->lat_ms, b->caplat * sizeof(double));
        }
        b->lat_ms[b->nlat++] = since_ms(&t->t0);
    }
    free(t);
}

static void submit_one(struct bench *b)
{
    char vehicle[64];
    snprintf(vehicle, sizeof(vehicle), g_cfg->vehicle_format,
             (int)(b->next_vehicle++ % b->limit_vehicles));
    struct ticket *t = malloc(sizeof(*t));
    t->b = b;
    clock_gettime(CLOCK_MONOTONIC, &t->t0);
    struct d2ev_oem_task task = { .oem = "smartcar", .op = D2EV_OEM_OP_READ, .vehicle = vehicle };
    struct d2ev_err err;
    if (d2ev_oem_engine_submit(b->e, &task, on_done, t, NULL, &err) != 0) {
        fprintf(stderr, "submit: %s\n", err.msg);
        exit(1);
    }
    b->in_flight++;
}

/* Keep the window full for ms milliseconds (or until n polls were submitted). */
static void run_for(struct bench *b, int64_t ms, int64_t max_submits)
{
    int64_t end = d2ev_clock_mono_ms() + ms, submitted = 0;
    while (d2ev_clock_mono_ms() < end && (max_submits < 0 || submitted < max_submits)) {
        while (b->in_flight < b->window && (max_submits < 0 || submitted < max_submits)) {
            submit_one(b);
            submitted++;
        }
        d2ev_oem_engine_poll(b->e, 10);
    }
    d2ev_oem_engine_drain(b->e, 60000);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double thread_cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void pin_to(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static size_t heap_in_use(void)
{
    malloc_trim(0);
    return mallinfo2().uordblks;
}

int main(int argc, char **argv)
{
    struct bench_config cfg = { 0 };
    const struct d2ev_cfg_section sections[] = { { "Benchmark", table, &cfg } };
    const struct d2ev_cfg_program prog = { "bench_oem_polls",
                                           "Polls per second of one OEM engine thread." };
    struct d2ev_config *cc = NULL;
    bool exit_now = false;
    struct d2ev_err err = { 0 };
    if (d2ev_config_load(&cc, &prog, sections, 1, argc, argv, NULL, &exit_now, &err) != 0) {
        fprintf(stderr, "bench_oem_polls: %s\n", err.msg);
        return 64;
    }
    if (exit_now)
        return 0;
    g_cfg = &cfg;
    d2ev_log_init("bench", D2EV_LOG_ERROR);

    struct bench_server *srv = NULL;
    char base[256];
    if (cfg.base_url) {
        snprintf(base, sizeof(base), "%s", cfg.base_url);
    } else {
        if (cfg.pin)
            pin_to(1); /* the server's thread inherits this */
        int port = 0;
        srv = bench_server_start(cfg.latency_ms, &port);
        if (!srv) {
            fprintf(stderr, "bench_oem_polls: cannot start the server\n");
            return 1;
        }
        snprintf(base, sizeof(base), "http://127.0.0.1:%d/smartcar", port);
    }
    if (cfg.pin)
        pin_to(0);

    g_tokens = calloc((size_t)cfg.vehicles, sizeof(char *));
    for (int64_t i = 0; i < cfg.vehicles; i++)
        g_tokens[i] = strdup(cfg.token);

    char conf[1024];
    snprintf(conf, sizeof(conf),
             "{\"base_url\": \"%s\", \"rate_limit\": {\"per_second\": 1000000, \"burst\": "
             "100000}, \"max_in_flight\": %lld, \"breaker\": {\"min_requests\": 1000000}}",
             base, (long long)cfg.concurrency);
    size_t heap0 = heap_in_use();
    struct d2ev_oem *oem =
        d2ev_oem_load(cfg.adapter_dir ? cfg.adapter_dir : d2ev_oem_default_adapter_dir(),
                      "smartcar", conf, strlen(conf), NULL, &err);
    struct d2ev_oem_token_source src = { .get = tok_get, .store = tok_store };
    struct d2ev_oem_engine_conf econf = { .tokens = &src,
                                          .max_in_flight = (uint32_t)cfg.concurrency };
    struct bench b = { 0 };
    if (!oem || !(b.e = d2ev_oem_engine_create(&econf, &err)) ||
        d2ev_oem_engine_add(b.e, oem, &err) != 0) {
        fprintf(stderr, "bench_oem_polls: %s\n", err.msg);
        return 1;
    }

    /* memory: poll a tenth of the fleet, then all of it */
    int64_t tenth = cfg.vehicles / 10;
    b.window = cfg.concurrency < tenth ? cfg.concurrency : tenth; /* same connections in both */
    b.limit_vehicles = tenth;
    run_for(&b, 600000, tenth);
    size_t heap_tenth = heap_in_use();
    b.limit_vehicles = cfg.vehicles;
    b.next_vehicle = tenth;
    run_for(&b, 600000, cfg.vehicles - tenth);
    size_t heap_all = heap_in_use();

    /* throughput */
    b.window = cfg.concurrency;
    run_for(&b, cfg.warmup_seconds * 1000, -1);
    b.measuring = true;
    double cpu0 = thread_cpu_s();
    int64_t t0 = d2ev_clock_mono_ms();
    run_for(&b, cfg.seconds * 1000, -1);
    b.measuring = false;
    double secs = (double)(d2ev_clock_mono_ms() - t0) / 1000.0;
    double cpu = thread_cpu_s() - cpu0;

    qsort(b.lat_ms, b.nlat, sizeof(double), cmp_double);
    double p50 = b.nlat ? b.lat_ms[b.nlat / 2] : NAN;
    double p99 = b.nlat ? b.lat_ms[(size_t)((double)b.nlat * 0.99)] : NAN;
    double per_vehicle =
        (double)((long long)heap_all - (long long)heap_tenth) / (double)(cfg.vehicles - tenth);
    printf("{\"vehicles\": %lld, \"concurrency\": %lld, \"seconds\": %.1f, \"polls\": %llu, "
           "\"failed\": %llu, \"polls_per_s\": %.0f, \"engine_cpu_s\": %.2f, "
           "\"polls_per_engine_cpu_s\": %.0f, \"p50_ms\": %.2f, \"p99_ms\": %.2f, "
           "\"heap_bytes_per_vehicle\": %.0f, \"process_heap_bytes\": %zu, "
           "\"latency_ms\": %lld, \"server\": \"%s\"}\n",
           (long long)cfg.vehicles, (long long)cfg.concurrency, secs, (unsigned long long)b.ok,
           (unsigned long long)b.failed, (double)b.ok / secs, cpu, cpu > 0 ? (double)b.ok / cpu : 0,
           p50, p99, per_vehicle, heap_all - heap0, (long long)cfg.latency_ms,
           cfg.base_url ? "external" : "built-in");

    d2ev_oem_engine_destroy(b.e);
    d2ev_oem_unload(oem);
    bench_server_stop(srv);
    for (int64_t i = 0; i < cfg.vehicles; i++)
        free(g_tokens[i]);
    free(g_tokens);
    free(b.lat_ms);
    d2ev_config_destroy(cc);
    return b.failed ? 1 : 0;
}
