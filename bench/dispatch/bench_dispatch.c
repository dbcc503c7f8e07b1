/*
 * bench_dispatch: N vehicles share one window boundary. From the boundary,
 * how long until d2ev-dispatch has sent the last STOP (the OEM accepted it:
 * the "sent" record on d2ev.dispatch), and until the last one is confirmed
 * from telemetry, against d2ev-oemsim.
 *
 * Setup, on the real clock: a devbroker, d2ev-oemsim with N cars (default OEM
 * mix), every car linked as registration would link it (authorised, codes
 * exchanged through the real adapters, sealed credentials and vehicle records
 * on Kafka), plugged in and charging, and reported charging on d2ev.telemetry.
 * Every car's schedule has one window that ends at the boundary B, --lead-s
 * after the schedules are published. At B the dispatcher must stop them all.
 *
 * Telemetry comes from this program: every --telemetry-ms it reads the whole
 * fleet's true state from the simulator (/_sim/, pages of 1,000) and publishes
 * it, as d2ev-telemetry would. Confirmation times therefore include up to one
 * such round.
 *
 * Enode commands are asynchronous actions the simulator resolves after
 * --sim-action-delay-s (set to 1 s here); the engine reports an Enode command
 * only once its action is CONFIRMED, so Enode's "sent" includes that second.
 *
 * Usage: bench_dispatch [--vehicles 10000] [--partitions 32] [--lead-s 20]
 *                       [--telemetry-ms 500] [--in-flight 128]
 *                       [--mix smartcar=40,tesla=30,enode=30]
 * --in-flight is the OEM engine's max_in_flight per OEM (the adapters' configs).
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "d2ev/clock.h"
#include "d2ev/crypto.h"
#include "d2ev/events.h"
#include "d2ev/kafka.h"
#include "d2ev/oem.h"
#include "d2ev/oem_engine.h"
#include "d2ev/timefmt.h"
#include "d2ev/topics.h"
#include "d2ev/util.h"
#include "d2ev_test_fleet.h"

struct veh {
    char id[40]; /* simulator id */
    char oem[16];
    char vid[32];   /* d2ev vehicle id */
    char code[128]; /* authorisation code */
    char redirect[128];
    char access[1024], refresh[1024];
    int64_t expires_at;
    bool exchanged;
    int64_t sent_at, confirmed_at, oem_ms;
};

static struct veh *V;
static size_t N;
static const char *sim_base;

static void die(const char *what)
{
    fprintf(stderr, "bench_dispatch: %s\n", what);
    exit(1);
}

/* ------------------------------------------------------------ HTTP */

struct buf {
    char *p;
    size_t n;
};

static size_t on_data(char *d, size_t s, size_t n, void *arg)
{
    struct buf *b = arg;
    char *q = realloc(b->p, b->n + s * n + 1);
    if (!q)
        return 0;
    memcpy(q + b->n, d, s * n);
    b->p = q;
    b->n += s * n;
    b->p[b->n] = '\0';
    return s * n;
}

/* One keep-alive handle for the many control-API calls. Returns parsed JSON. */
static json_t *sim_call(const char *method, const char *path, const char *body)
{
    static CURL *c;
    if (!c)
        c = curl_easy_init();
    char url[512];
    snprintf(url, sizeof(url), "%s/_sim%s", sim_base, path);
    struct buf b = { 0 };
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
    curl_easy_setopt(c, CURLOPT_HTTPGET, strcmp(method, "GET") == 0 ? 1L : 0L);
    if (strcmp(method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    long status = 0;
    if (curl_easy_perform(c) != CURLE_OK)
        die("control API unreachable");
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    json_t *j = b.p ? json_loads(b.p, 0, NULL) : NULL;
    if (status != 200 || !j) {
        fprintf(stderr, "%s %s -> %ld %s\n", method, path, status, b.p ? b.p : "");
        die("control API call failed");
    }
    free(b.p);
    return j;
}

/* ------------------------------------------------------------ fleet */

/* Call fn on every simulated car with its true state (pages of 1,000). */
static void each_car(void (*fn)(struct veh *x, size_t i, json_t *state, void *arg), void *arg)
{
    for (size_t off = 0; off < N; off += 1000) {
        char path[64];
        snprintf(path, sizeof(path), "/vehicles?offset=%zu&limit=1000", off);
        json_t *page = sim_call("GET", path, NULL);
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(page, "vehicles"), i, v)
        {
            fn(&V[off + i], off + i, v, arg);
        }
        json_decref(page);
    }
}

static void list_one(struct veh *x, size_t i, json_t *v, void *arg)
{
    (void)arg;
    d2ev_strlcpy(x->id, json_string_value(json_object_get(v, "id")), sizeof(x->id));
    d2ev_strlcpy(x->oem, json_string_value(json_object_get(v, "oem")), sizeof(x->oem));
    snprintf(x->vid, sizeof(x->vid), "bench-%05zu", i);
}

/* A writer token source: the engine stores exchanged tokens per car. */
static int src_get(void *o, const char *oem, const char *key, struct d2ev_oem_token *out)
{
    (void)o;
    (void)oem;
    (void)key;
    (void)out;
    return D2EV_ERR_NOT_FOUND;
}

static void src_store(void *o, const char *oem, const char *key, const struct d2ev_oem_token *t)
{
    (void)o;
    (void)oem;
    (void)key;
    (void)t;
}

static void on_exchanged(void *arg, const struct d2ev_oem_outcome *out)
{
    struct veh *x = arg;
    if (out->cls != D2EV_OEM_OK || !out->tokens) {
        fprintf(stderr, "%s: %s\n", x->vid, out->message);
        return;
    }
    d2ev_strlcpy(x->access, out->tokens->access_token, sizeof(x->access));
    d2ev_strlcpy(x->refresh, out->tokens->refresh_token ? out->tokens->refresh_token : "",
                 sizeof(x->refresh));
    x->expires_at = out->tokens->expires_at_ms;
    x->exchanged = true;
}

/* Authorise every per-vehicle car and exchange its code, as registration does. */
static void link_fleet(const char *config_dir)
{
    for (size_t i = 0; i < N; i++) {
        if (!strcmp(V[i].oem, "enode"))
            continue; /* per-application token; --sim-enode-autolink */
        char path[128];
        snprintf(path, sizeof(path), "/vehicles/%s/authorize", V[i].id);
        json_t *a = sim_call("POST", path, "{}");
        d2ev_strlcpy(V[i].code, json_string_value(json_object_get(a, "code")), sizeof(V[i].code));
        d2ev_strlcpy(V[i].redirect, json_string_value(json_object_get(a, "redirect_uri")),
                     sizeof(V[i].redirect));
        json_decref(a);
    }
    struct d2ev_err err = { 0 };
    struct d2ev_oem_token_source src = { .get = src_get, .store = src_store };
    struct d2ev_oem_engine_conf ec = { .tokens = &src };
    struct d2ev_oem_engine *e = d2ev_oem_engine_create(&ec, &err);
    struct d2ev_oem *o[2] = {
        d2ev_oem_open(D2EV_ADAPTER_BUILD_DIR, config_dir, "smartcar", &err),
        d2ev_oem_open(D2EV_ADAPTER_BUILD_DIR, config_dir, "tesla", &err),
    };
    if (!e || !o[0] || !o[1] || d2ev_oem_engine_add(e, o[0], &err) ||
        d2ev_oem_engine_add(e, o[1], &err))
        die(err.msg);
    for (size_t i = 0; i < N; i++) {
        if (!V[i].code[0])
            continue;
        struct d2ev_oem_task t = { .oem = V[i].oem,
                                   .op = D2EV_OEM_OP_EXCHANGE_CODE,
                                   .vehicle = V[i].id,
                                   .key = V[i].vid,
                                   .code = V[i].code,
                                   .redirect_uri = V[i].redirect };
        if (d2ev_oem_engine_submit(e, &t, on_exchanged, &V[i], NULL, &err))
            die(err.msg);
    }
    if (d2ev_oem_engine_drain(e, 300000))
        die("code exchange did not finish");
    d2ev_oem_engine_destroy(e);
    d2ev_oem_unload(o[0]);
    d2ev_oem_unload(o[1]);
}

static void send_json(struct d2ev_producer *p, const char *topic, const char *key, json_t *j)
{
    struct d2ev_err err = { 0 };
    if (!j || d2ev_producer_send_json(p, topic, key, j, &err))
        die("produce failed");
    json_decref(j);
}

static void publish_records(struct d2ev_producer *p, const struct d2ev_keyring *kr)
{
    int64_t now = d2ev_clock_now_ms();
    for (size_t i = 0; i < N; i++) {
        struct veh *x = &V[i];
        if (strcmp(x->oem, "enode") != 0) {
            if (!x->exchanged)
                die("a car was not linked");
            char exp[D2EV_TIME_STR_MAX];
            json_t *plain =
                json_pack("{s:s, s:s, s:s}", "access_token", x->access, "refresh_token", x->refresh,
                          "expires_at", d2ev_time_format(x->expires_at, exp));
            char *text = json_dumps(plain, JSON_COMPACT);
            json_decref(plain);
            struct d2ev_credentials c;
            memset(&c, 0, sizeof(c));
            d2ev_strlcpy(c.vehicle_id, x->vid, sizeof(c.vehicle_id));
            d2ev_strlcpy(c.oem, x->oem, sizeof(c.oem));
            d2ev_strlcpy(c.key_id, d2ev_keyring_primary(kr), sizeof(c.key_id));
            c.sealed = d2ev_crypto_seal(kr, text, strlen(text), x->vid, NULL);
            d2ev_crypto_free_secret(text, 0);
            c.access_expires_at = x->expires_at;
            c.version = 1;
            c.updated_at = now;
            send_json(p, D2EV_TOPIC_CREDENTIALS, x->vid, d2ev_credentials_encode(&c));
            d2ev_credentials_clear(&c);
        }
        struct d2ev_vehicle v;
        memset(&v, 0, sizeof(v));
        d2ev_strlcpy(v.vehicle_id, x->vid, sizeof(v.vehicle_id));
        snprintf(v.user_id, sizeof(v.user_id), "u-%s", x->vid);
        d2ev_strlcpy(v.oem, x->oem, sizeof(v.oem));
        d2ev_strlcpy(v.oem_vehicle_id, x->id, sizeof(v.oem_vehicle_id));
        d2ev_strlcpy(v.timezone, "Europe/London", sizeof(v.timezone));
        d2ev_strlcpy(v.region, "GB", sizeof(v.region));
        d2ev_prefs_default(&v.prefs);
        v.prefs_version = 1;
        v.registered_at = v.updated_at = now;
        send_json(p, D2EV_TOPIC_VEHICLES, x->vid, d2ev_vehicle_encode(&v));
    }
}

static void send_json(struct d2ev_producer *p, const char *topic, const char *key, json_t *j);

/* Publish one car's true state as telemetry. */
static void report_one(struct veh *x, size_t i, json_t *v, void *arg)
{
    (void)i;
    const char *st = json_string_value(json_object_get(v, "state"));
    struct d2ev_telemetry t;
    memset(&t, 0, sizeof(t));
    d2ev_strlcpy(t.vehicle_id, x->vid, sizeof(t.vehicle_id));
    d2ev_strlcpy(t.oem, x->oem, sizeof(t.oem));
    t.observed_at = t.reported_at = d2ev_clock_now_ms();
    t.soc = json_number_value(json_object_get(v, "soc"));
    t.plugged_in = json_is_true(json_object_get(v, "plugged"));
    t.charging_state = !strcmp(st, "charging")   ? D2EV_CHG_CHARGING
                       : !strcmp(st, "stopped")  ? D2EV_CHG_STOPPED
                       : !strcmp(st, "complete") ? D2EV_CHG_COMPLETE
                                                 : D2EV_CHG_DISCONNECTED;
    send_json(arg, D2EV_TOPIC_TELEMETRY, x->vid, d2ev_telemetry_encode(&t));
}

/* One telemetry round: the whole fleet's true state onto d2ev.telemetry. */
static void telemetry_round(struct d2ev_producer *p)
{
    each_car(report_one, p);
    struct d2ev_err err;
    d2ev_producer_flush(p, 30000, &err);
}

static void publish_schedules(struct d2ev_producer *p, int64_t boundary)
{
    struct d2ev_window w = { .start = boundary - 2 * 3600000LL, .end = boundary, .energy_kwh = 5 };
    for (size_t i = 0; i < N; i++) {
        struct d2ev_schedule s;
        memset(&s, 0, sizeof(s));
        d2ev_strlcpy(s.vehicle_id, V[i].vid, sizeof(s.vehicle_id));
        s.version = 1;
        s.created_at = d2ev_clock_now_ms();
        s.status = D2EV_SCHED_OPTIMAL;
        s.ready_by = boundary + 6 * 3600000LL;
        s.target_soc = 80;
        s.soc_at_plan = 30;
        s.expected_soc = 80;
        s.nwindows = 1;
        s.windows = &w;
        d2ev_strlcpy(s.method, "greedy", sizeof(s.method));
        json_t *j = d2ev_schedule_encode(&s);
        send_json(p, D2EV_TOPIC_SCHEDULES, V[i].vid, j);
    }
    struct d2ev_err err;
    d2ev_producer_flush(p, 30000, &err);
}

/* CPU seconds (user + system) a process has used so far. */
static double cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* fields after the command name */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ------------------------------------------------------------ results */

static struct veh *by_vid(const char *vid)
{
    unsigned long i;
    if (sscanf(vid, "bench-%lu", &i) != 1 || i >= N)
        return NULL;
    return &V[i];
}

/* Read d2ev.dispatch; returns how many cars are confirmed. */
static size_t collect(struct d2ev_consumer *c, size_t *sent)
{
    rd_kafka_message_t *m[1000];
    size_t n;
    while ((n = d2ev_consumer_poll(c, m, 1000, 0)) > 0) {
        for (size_t i = 0; i < n; i++) {
            struct d2ev_dispatch d;
            if (m[i]->payload && d2ev_dispatch_decode(m[i]->payload, m[i]->len, &d, NULL) == 0 &&
                d.command == D2EV_CMD_STOP) {
                struct veh *x = by_vid(d.vehicle_id);
                if (x && d.result == D2EV_DISPATCH_SENT && !x->sent_at) {
                    x->sent_at = d.at;
                    x->oem_ms = d.latency_ms;
                } else if (x && d.result == D2EV_DISPATCH_CONFIRMED && !x->confirmed_at) {
                    x->confirmed_at = d.at;
                }
            }
            rd_kafka_message_destroy(m[i]);
        }
    }
    size_t s = 0, c2 = 0;
    for (size_t i = 0; i < N; i++) {
        s += V[i].sent_at != 0;
        c2 += V[i].confirmed_at != 0;
    }
    *sent = s;
    return c2;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* "p50 / p99 / max" of field (ms after B, or the OEM round trip) for oem. */
static void report(const char *label, const char *oem, int64_t boundary, int which)
{
    int64_t *v = malloc(N * sizeof(*v));
    size_t n = 0;
    for (size_t i = 0; i < N; i++) {
        if (oem && strcmp(V[i].oem, oem))
            continue;
        int64_t t = which == 0 ? V[i].sent_at : which == 1 ? V[i].confirmed_at : V[i].oem_ms;
        if (which == 2 ? V[i].sent_at != 0 : t != 0)
            v[n++] = which == 2 ? t : t - boundary;
    }
    if (!n) {
        free(v);
        return;
    }
    qsort(v, n, sizeof(*v), cmp64);
    printf("| %s | %s | %zu | %lld | %lld | %lld |\n", label, oem ? oem : "all", n,
           (long long)v[n / 2], (long long)v[(n * 99) / 100], (long long)v[n - 1]);
    free(v);
}

int main(int argc, char **argv)
{
    size_t n = 10000;
    int partitions = 32, lead_s = 20, telemetry_ms = 500, in_flight = 128;
    const char *mix = "smartcar=40,tesla=30,enode=30";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--vehicles"))
            n = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--partitions"))
            partitions = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--lead-s"))
            lead_s = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--telemetry-ms"))
            telemetry_ms = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--in-flight"))
            in_flight = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--mix"))
            mix = argv[i + 1];
        else
            die("usage: bench_dispatch [--vehicles N] [--partitions P] [--lead-s S] "
                "[--telemetry-ms MS] [--in-flight K] [--mix smartcar=40,tesla=30,enode=30]");
    }
    N = n;
    V = calloc(N, sizeof(*V));
    const char *tmp = d2ev_test_tmpdir("bench-dispatch");
    struct d2ev_test_broker b;
    d2ev_test_broker_start(&b, tmp, partitions);
    char a_n[32], a_mix[96];
    snprintf(a_n, sizeof(a_n), "%zu", N);
    snprintf(a_mix, sizeof(a_mix), "--sim-oem-mix=%s", mix);
    const char *sim_args[] = { "--sim-plug-schedule=false",
                               "--sim-enode-autolink",
                               "--sim-action-delay-s=1",
                               "--sim-sleep-after-s=0",
                               a_mix,
                               NULL };
    struct d2ev_test_oemsim sim;
    d2ev_test_oemsim_start(&sim, tmp, (int)N, 7, sim_args, NULL);
    sim_base = sim.base;
    /* limits for a benchmark, not for an OEM's terms of service */
    static const char *const oems[] = { "smartcar", "tesla", "enode" };
    for (int k = 0; k < 3; k++) {
        char path[700];
        snprintf(path, sizeof(path), "%s/%s.json", sim.config_dir, oems[k]);
        json_t *conf = json_load_file(path, 0, NULL);
        json_object_set_new(conf, "rate_limit",
                            json_pack("{s:i, s:i}", "per_second", 100000, "burst", 100000));
        json_object_set_new(conf, "max_in_flight", json_integer(in_flight));
        if (!strcmp(oems[k], "enode"))
            json_object_set_new(conf, "action_poll_ms", json_integer(250));
        json_dump_file(conf, path, JSON_COMPACT);
        json_decref(conf);
    }
    double t0 = (double)d2ev_clock_mono_ms();
    each_car(list_one, NULL);
    json_decref(sim_call("POST", "/fleet/state",
                         "{\"share\":1,\"state\":{\"plugged\":true,\"asleep\":false,"
                         "\"limit\":100,\"soc\":30}}"));
    link_fleet(sim.config_dir);
    char *keys = d2ev_keyring_generate("k1");
    struct d2ev_keyring *kr = d2ev_keyring_parse(keys, NULL);
    struct d2ev_kafka_conf kc = { .brokers = b.bootstrap, .client_id = "bench" };
    struct d2ev_err err = { 0 };
    struct d2ev_producer *p = d2ev_producer_create(&kc, &err);
    publish_records(p, kr);
    telemetry_round(p);
    printf("linked %zu cars and published their records in %.1f s\n", N,
           ((double)d2ev_clock_mono_ms() - t0) / 1000);

    static const char *const dtopics[] = { D2EV_TOPIC_DISPATCH, NULL };
    struct d2ev_consumer_conf rc = { .kafka = &kc, .topics = dtopics };
    struct d2ev_consumer *reader = d2ev_consumer_create(&rc, &err);
    struct d2ev_test_proc dsp;
    char env_b[256], env_k[128], env_c[700], port[32];
    snprintf(env_b, sizeof(env_b), "D2EV_KAFKA_BROKERS=%s", b.bootstrap);
    snprintf(env_k, sizeof(env_k), "D2EV_CREDENTIALS_KEYS=%s", keys);
    snprintf(env_c, sizeof(env_c), "D2EV_OEM_CONFIG_DIR=%s", sim.config_dir);
    int admin = d2ev_test_free_port();
    snprintf(port, sizeof(port), "--admin-port=%d", admin);
    const char *dargv[] = { port, "--batch-max=5000", NULL };
    const char *denv[] = { env_b, env_k, env_c, NULL };
    d2ev_test_spawn(&dsp, tmp, "dispatch", d2ev_test_bin("d2ev-dispatch"), dargv, denv);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", admin);
    if (!d2ev_test_wait_http(url, 200, 120000))
        die("the dispatcher did not become ready");

    int64_t boundary = d2ev_clock_now_ms() + lead_s * 1000LL;
    publish_schedules(p, boundary);
    printf("schedules published; boundary in %.1f s\n",
           (double)(boundary - d2ev_clock_now_ms()) / 1000);
    size_t sent = 0, confirmed = 0;
    int64_t give_up = boundary + 120000;
    struct d2ev_test_proc perf = { 0 };
    bool profiling = false;
    while (d2ev_clock_now_ms() < boundary) {
        if (getenv("D2EV_BENCH_PERF") && !profiling && d2ev_clock_now_ms() >= boundary - 500) {
            /* profile the dispatcher from just before B: perf record -g */
            static char out[600], pid[32];
            snprintf(out, sizeof(out), "--output=%s", getenv("D2EV_BENCH_PERF"));
            snprintf(pid, sizeof(pid), "--pid=%d", (int)dsp.pid);
            const char *pargv[] = { "record", "-g", out, pid, "--", "sleep", "4", NULL };
            d2ev_test_spawn(&perf, tmp, "perf", "/usr/bin/perf", pargv, NULL);
            profiling = true;
        }
        collect(reader, &sent);
        struct timespec ts = { 0, 5 * 1000000L };
        nanosleep(&ts, NULL);
    }
    double cpu_d = cpu_s(dsp.pid), cpu_s0 = cpu_s(sim.proc.pid), cpu_b = cpu_s(b.proc.pid);
    int64_t all_sent_at = 0;
    int64_t next_round = boundary + telemetry_ms;
    while (confirmed < N && d2ev_clock_now_ms() < give_up) {
        confirmed = collect(reader, &sent);
        if (sent == N && !all_sent_at) { /* CPU spent on sending, before telemetry rounds */
            all_sent_at = d2ev_clock_now_ms();
            cpu_d = cpu_s(dsp.pid) - cpu_d;
            cpu_s0 = cpu_s(sim.proc.pid) - cpu_s0;
            cpu_b = cpu_s(b.proc.pid) - cpu_b;
        }
        if (d2ev_clock_now_ms() >= next_round) {
            telemetry_round(p);
            next_round = d2ev_clock_now_ms() + telemetry_ms;
        }
        struct timespec ts = { 0, 5 * 1000000L };
        nanosleep(&ts, NULL);
    }
    printf("\n%zu vehicles, boundary at B; %zu sent, %zu confirmed\n\n", N, sent, confirmed);
    printf(
        "| from B to | OEM | cars | p50 ms | p99 ms | max ms |\n|---|---|---:|---:|---:|---:|\n");
    for (int which = 0; which < 2; which++) {
        report(which ? "confirmed" : "sent", NULL, boundary, which);
        for (int k = 0; k < 3; k++)
            report(which ? "confirmed" : "sent", oems[k], boundary, which);
    }
    printf("\nOEM round trip of one command (submit to answer):\n\n"
           "| OEM | cars | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|\n");
    for (int k = 0; k < 3; k++)
        report("round trip", oems[k], 0, 2);
    if (all_sent_at)
        printf("\nCPU from B until the last command was sent (%.2f s): dispatcher %.2f s, "
               "simulator %.2f s, devbroker %.2f s\n",
               (double)(all_sent_at - boundary) / 1000, cpu_d, cpu_s0, cpu_b);
    json_t *stats = sim_call("GET", "/stats", NULL);
    char *s = json_dumps(json_object_get(stats, "commands"), JSON_COMPACT);
    printf("\nsimulator command counts: %s\ndispatcher log: %s\n", s, dsp.log_path);
    free(s);
    json_decref(stats);
    if (profiling)
        d2ev_test_stop(&perf, SIGINT, 10000);
    int status = sent == N && confirmed == N ? 0 : 1;
    d2ev_test_stop(&dsp, SIGTERM, 15000);
    d2ev_consumer_close(reader);
    d2ev_producer_destroy(p);
    d2ev_keyring_destroy(kr);
    free(keys);
    d2ev_test_oemsim_stop(&sim);
    d2ev_test_broker_stop(&b);
    free(V);
    return status;
}
