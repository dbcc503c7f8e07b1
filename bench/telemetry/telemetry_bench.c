/*
 * bench_telemetry: one d2ev-telemetry process polling a fleet of 100,000
 * simulated vehicles. It measures the polls per second achieved, the CPU it
 * takes, and the memory a vehicle costs.
 *
 *   1. start d2ev-devbroker (--partitions, default 64: the devbroker keeps at
 *      most ~5 MB per partition) and d2ev-oemsim with --vehicles cars that
 *      never sleep, and adapter configs whose limits do not get in the way;
 *   2. link every car as registration would, in bulk: authorize and exchange
 *      each Smartcar and Tesla code at the simulator's token endpoints with
 *      libcurl multi (Enode uses one application token);
 *   3. start d2ev-telemetry on the empty topics and note its resident memory;
 *   4. produce every vehicle record and sealed credentials record at once;
 *   5. wait until every vehicle has been polled, then measure polls/s, CPU
 *      and RSS over --seconds with every poll interval at --interval-s (so
 *      the poller is asked for more than it can do and runs flat out);
 *   6. separately, in this process, load the same records into a telemetry
 *      core and a credentials view and measure their heap per vehicle.
 *
 *   bench_telemetry [--vehicles=100000] [--partitions=64] [--seconds=30]
 *                   [--interval-s=5] [--parallel=64] [--kafka-extra=k=v,...]
 *
 * Prints a JSON line and a Markdown row for docs/performance.md. Build it
 * without sanitizers (see docs/performance.md).
 */
#include <curl/curl.h>
#include <malloc.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "core.h"
#include "credview.h"
#include "d2ev/clock.h"
#include "d2ev/crypto.h"
#include "d2ev/events.h"
#include "d2ev/kafka.h"
#include "d2ev/log.h"
#include "d2ev/timefmt.h"
#include "d2ev/topics.h"
#include "d2ev/util.h"
#include "d2ev_test.h"
#include "d2ev_test_fleet.h"

struct opts {
    long vehicles;
    int partitions;
    int seconds;
    int interval_s;
    int parallel;
    const char *kafka_extra;
};

struct car {
    char id[40];
    int oem; /* 0 smartcar, 1 tesla, 2 enode */
    char *access, *refresh;
    int64_t expires_at;
};

static const char *const oem_names[] = { "smartcar", "tesla", "enode" };

static double now_s(void)
{
    return (double)d2ev_clock_mono_ms() / 1000.0;
}

/* ------------------------------------------------------------ HTTP, many at once */

struct call {
    char url[256];
    char *body;
    const char *auth;
    char *resp;
    size_t resp_len;
    long status;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    struct call *c = ud;
    size_t len = size * n;
    char *nb = realloc(c->resp, c->resp_len + len + 1);
    if (!nb)
        return 0;
    memcpy(nb + c->resp_len, p, len);
    c->resp_len += len;
    nb[c->resp_len] = '\0';
    c->resp = nb;
    return len;
}

/* Run every call with `parallel` in flight on kept-alive connections. */
static void run_calls(struct call *calls, size_t n, int parallel)
{
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)parallel);
    struct curl_slist **lists = calloc(n, sizeof(*lists));
    size_t next = 0, done = 0;
    int running = 0;
    while (done < n) {
        while (next < n && running < parallel) {
            struct call *c = &calls[next];
            CURL *e = curl_easy_init();
            lists[next] = curl_slist_append(NULL, "Expect:");
            if (c->auth)
                lists[next] = curl_slist_append(lists[next], c->auth);
            curl_easy_setopt(e, CURLOPT_URL, c->url);
            curl_easy_setopt(e, CURLOPT_HTTPHEADER, lists[next]);
            curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
            curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
            curl_easy_setopt(e, CURLOPT_PRIVATE, c);
            curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 60000L);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body ? c->body : "");
            curl_multi_add_handle(m, e);
            next++;
            running++;
        }
        int still;
        curl_multi_perform(m, &still);
        curl_multi_poll(m, NULL, 0, 100, NULL);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct call *c;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &c->status);
            curl_multi_remove_handle(m, msg->easy_handle);
            curl_easy_cleanup(msg->easy_handle);
            running--;
            done++;
        }
    }
    for (size_t i = 0; i < n; i++)
        curl_slist_free_all(lists[i]);
    free(lists);
    curl_multi_cleanup(m);
}

/* ------------------------------------------------------------ the fleet */

static size_t list_fleet(const struct d2ev_test_oemsim *sim, struct car *cars, long n)
{
    size_t k = 0;
    for (long off = 0; off < n; off += 1000) {
        char path[128];
        snprintf(path, sizeof(path), "/vehicles?offset=%ld&limit=1000", off);
        json_t *j = d2ev_test_oemsim_get(sim, path), *v;
        size_t i;
        json_array_foreach(json_object_get(j, "vehicles"), i, v)
        {
            snprintf(cars[k].id, sizeof(cars[k].id), "%s",
                     json_string_value(json_object_get(v, "id")));
            const char *oem = json_string_value(json_object_get(v, "oem"));
            cars[k].oem = !strcmp(oem, "smartcar") ? 0 : !strcmp(oem, "tesla") ? 1 : 2;
            k++;
        }
        json_decref(j);
    }
    return k;
}

/* What the driver and registration do: consent, then the code exchange. */
static void link_fleet(const struct d2ev_test_oemsim *sim, struct car *cars, size_t n,
                       int parallel)
{
    struct call *calls = calloc(n, sizeof(*calls));
    size_t *idx = calloc(n, sizeof(*idx)), m = 0;
    for (size_t i = 0; i < n; i++) {
        if (cars[i].oem == 2)
            continue; /* Enode: the application's client-credentials token */
        idx[m] = i;
        snprintf(calls[m].url, sizeof(calls[m].url), "%s/_sim/vehicles/%s/authorize", sim->base,
                 cars[i].id);
        m++;
    }
    run_calls(calls, m, parallel);
    for (size_t k = 0; k < m; k++) {
        json_t *j = json_loads(calls[k].resp ? calls[k].resp : "", 0, NULL);
        const char *code = json_string_value(json_object_get(j, "code"));
        char body[512];
        if (cars[idx[k]].oem == 0) {
            snprintf(calls[k].url, sizeof(calls[k].url), "%s/smartcar/oauth/token", sim->base);
            snprintf(body, sizeof(body),
                     "grant_type=authorization_code&code=%s&redirect_uri=http://127.0.0.1:8080/"
                     "oauth/callback",
                     code ? code : "");
            calls[k].auth = "Authorization: Basic "
                            "c2ltLXNtYXJ0Y2FyLWNsaWVudDpzaW0tc21hcnRjYXItc2VjcmV0";
        } else {
            snprintf(calls[k].url, sizeof(calls[k].url), "%s/tesla/oauth2/v3/token", sim->base);
            snprintf(body, sizeof(body),
                     "grant_type=authorization_code&client_id=sim-tesla-client&client_secret="
                     "sim-tesla-secret&code=%s&redirect_uri=http://127.0.0.1:8080/oauth/callback",
                     code ? code : "");
            calls[k].auth = NULL;
        }
        json_decref(j);
        free(calls[k].resp);
        calls[k].resp = NULL;
        calls[k].resp_len = 0;
        calls[k].body = strdup(body);
    }
    run_calls(calls, m, parallel);
    size_t failed = 0;
    int64_t now = d2ev_clock_now_ms();
    for (size_t k = 0; k < m; k++) {
        json_t *j = json_loads(calls[k].resp ? calls[k].resp : "", 0, NULL);
        const char *at = json_string_value(json_object_get(j, "access_token"));
        const char *rt = json_string_value(json_object_get(j, "refresh_token"));
        struct car *c = &cars[idx[k]];
        if (!at || !rt) {
            failed++;
        } else {
            c->access = strdup(at);
            c->refresh = strdup(rt);
            c->expires_at = now + json_integer_value(json_object_get(j, "expires_in")) * 1000;
        }
        json_decref(j);
        free(calls[k].resp);
        free(calls[k].body);
    }
    if (failed)
        fprintf(stderr, "warning: %zu cars could not be linked\n", failed);
    free(calls);
    free(idx);
}

static void vehicle_record(const struct car *c, const char *vid, struct d2ev_vehicle *v)
{
    memset(v, 0, sizeof(*v));
    snprintf(v->vehicle_id, sizeof(v->vehicle_id), "%s", vid);
    snprintf(v->user_id, sizeof(v->user_id), "u-%s", vid);
    snprintf(v->oem, sizeof(v->oem), "%s", oem_names[c->oem]);
    snprintf(v->oem_vehicle_id, sizeof(v->oem_vehicle_id), "%s", c->id);
    snprintf(v->timezone, sizeof(v->timezone), "Europe/London");
    snprintf(v->region, sizeof(v->region), "GB");
    v->has_battery_kwh = true;
    v->battery_kwh = 60;
    v->has_max_power_kw = true;
    v->max_power_kw = 7.4;
    d2ev_prefs_default(&v->prefs);
    v->prefs_version = 1;
    v->registered_at = v->updated_at = d2ev_clock_now_ms();
}

/* The credentials record registration would write (NULL for Enode). */
static json_t *credentials_record(const struct d2ev_keyring *kr, const struct car *c,
                                  const char *vid)
{
    if (!c->access)
        return NULL;
    char exp[D2EV_TIME_STR_MAX];
    json_t *plain = json_pack("{s:s, s:s, s:s, s:s}", "access_token", c->access, "refresh_token",
                              c->refresh, "expires_at", d2ev_time_format(c->expires_at, exp),
                              "token_type", "Bearer");
    char *text = json_dumps(plain, JSON_COMPACT);
    json_decref(plain);
    struct d2ev_credentials cr;
    memset(&cr, 0, sizeof(cr));
    snprintf(cr.vehicle_id, sizeof(cr.vehicle_id), "%s", vid);
    snprintf(cr.oem, sizeof(cr.oem), "%s", oem_names[c->oem]);
    snprintf(cr.key_id, sizeof(cr.key_id), "%s", d2ev_keyring_primary(kr));
    cr.sealed = d2ev_crypto_seal(kr, text, strlen(text), vid, NULL);
    d2ev_crypto_free_secret(text, 0);
    cr.access_expires_at = c->expires_at;
    cr.version = 1;
    cr.updated_at = d2ev_clock_now_ms();
    json_t *j = d2ev_credentials_encode(&cr);
    d2ev_credentials_clear(&cr);
    return j;
}

/* ------------------------------------------------------------ processes */

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6))
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

/* utime + stime of pid, in seconds. */
static double cpu_s(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (p)
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double metric(int port, const char *name, const char *labels)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
    char *body = NULL;
    if (d2ev_test_http("GET", url, NULL, NULL, 0, &body) != 200) {
        free(body);
        return -1;
    }
    double sum = 0;
    size_t nlen = strlen(name);
    for (char *line = strtok(body, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#' || strncmp(line, name, nlen) || (line[nlen] != '{' && line[nlen] != ' '))
            continue;
        char *sp = strrchr(line, ' ');
        *sp = '\0';
        if (!labels || strstr(line, labels))
            sum += atof(sp + 1);
    }
    free(body);
    return sum;
}

static void write_configs(const struct d2ev_test_oemsim *sim)
{
    static const char *const token_paths[] = { "/smartcar/oauth/token", "/tesla/oauth2/v3/token",
                                               "/enode/oauth2/token" };
    for (int i = 0; i < 3; i++) {
        char path[700];
        snprintf(path, sizeof(path), "%s/%s.json", sim->config_dir, oem_names[i]);
        FILE *f = fopen(path, "w");
        fprintf(f,
                "{\"base_url\":\"%s/%s\",\"token_url\":\"%s%s\",\"client_id\":\"sim-%s-client\","
                "\"rate_limit\":{\"per_second\":100000,\"burst\":10000},\"vehicle_rate_limit\":"
                "null,\"max_in_flight\":256,\"request_timeout_ms\":10000}\n",
                sim->base, oem_names[i], sim->base, token_paths[i], oem_names[i]);
        fclose(f);
    }
}

/* ------------------------------------------------------------ state in-process */

static int no_submit(void *o, struct tel_vehicle *v, const char *a, const char *b, const char *c)
{
    return D2EV_ERR_STATE;
}

static int no_out(void *o, const void *x)
{
    return 0;
}

/* Heap per vehicle of the telemetry core and the credentials view holding the
 * same records the process holds. */
static double state_bytes_per_vehicle(const struct d2ev_keyring *kr, const struct car *cars,
                                      size_t n, const char *bootstrap)
{
    struct d2ev_kafka_conf kc = { .brokers = bootstrap, .client_id = "bench-state" };
    struct d2ev_producer *p = d2ev_producer_create(&kc, NULL);
    size_t before = mallinfo2().uordblks;
    struct tel_core_config cfg;
    tel_core_config_default(&cfg);
    struct tel_oem_info info[3] = { { "smartcar", true, 20, 40 },
                                    { "tesla", true, 50, 100 },
                                    { "enode", false, 20, 40 } };
    static struct tel_core_ops ops;
    ops.submit = no_submit;
    ops.telemetry = (int (*)(void *, const struct d2ev_telemetry *))no_out;
    ops.session = (int (*)(void *, const struct d2ev_session *))no_out;
    struct tel_core *core = tel_core_create(&cfg, info, 3, &ops, NULL, 1, NULL);
    struct d2ev_credview_conf cc = { .keyring = kr, .producer = p, .service = "bench" };
    struct d2ev_credview *cv = d2ev_credview_create(&cc, NULL);
    for (size_t i = 0; i < n; i++) {
        char vid[48];
        snprintf(vid, sizeof(vid), "veh-%06zu", i);
        struct d2ev_vehicle v;
        vehicle_record(&cars[i], vid, &v);
        tel_core_on_vehicle(core, &v, 0, 1, d2ev_clock_now_ms());
        json_t *j = credentials_record(kr, &cars[i], vid);
        if (j) {
            char *text = json_dumps(j, JSON_COMPACT);
            rd_kafka_message_t m = {
                .key = vid, .key_len = strlen(vid), .payload = text, .len = strlen(text)
            };
            d2ev_credview_apply(cv, &m, NULL);
            tel_core_on_credentials(core, vid, 0, 1, true, d2ev_clock_now_ms());
            free(text);
            json_decref(j);
        }
    }
    malloc_trim(0);
    double per = (double)(mallinfo2().uordblks - before) / (double)n;
    d2ev_credview_destroy(cv);
    tel_core_destroy(core);
    d2ev_producer_destroy(p);
    return per;
}

/* ------------------------------------------------------------ main */

static void parse(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){ 100000, 64, 30, 5, 64, NULL };
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--vehicles=", 11))
            o->vehicles = atol(argv[i] + 11);
        else if (!strncmp(argv[i], "--partitions=", 13))
            o->partitions = atoi(argv[i] + 13);
        else if (!strncmp(argv[i], "--seconds=", 10))
            o->seconds = atoi(argv[i] + 10);
        else if (!strncmp(argv[i], "--interval-s=", 13))
            o->interval_s = atoi(argv[i] + 13);
        else if (!strncmp(argv[i], "--parallel=", 11))
            o->parallel = atoi(argv[i] + 11);
        else if (!strncmp(argv[i], "--kafka-extra=", 14))
            o->kafka_extra = argv[i] + 14;
        else {
            fprintf(stderr,
                    "usage: %s [--vehicles=100000] [--partitions=64] [--seconds=30] "
                    "[--interval-s=5] [--parallel=64] [--kafka-extra=k=v,...]\n",
                    argv[0]);
            exit(64);
        }
    }
}

struct wait_polls {
    int port;
    double want;
};

static bool polled(void *arg)
{
    struct wait_polls *w = arg;
    return metric(w->port, "d2ev_telemetry_polls_total", NULL) >= w->want;
}

int main(int argc, char **argv)
{
    struct opts o;
    parse(argc, argv, &o);
    d2ev_log_init("bench", D2EV_LOG_WARN);
    curl_global_init(CURL_GLOBAL_ALL);
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s", d2ev_test_tmpdir("bench-telemetry"));
    fprintf(stderr, "work dir %s\n", tmp);

    struct d2ev_test_broker broker;
    d2ev_test_broker_start(&broker, tmp, o.partitions);
    struct d2ev_test_oemsim sim;
    const char *sim_args[] = { "--sim-sleep-after-s=0", "--sim-enode-autolink=true",
                               "--sim-bind=127.0.0.1", "--log-level=warn", NULL };
    d2ev_test_oemsim_start(&sim, tmp, (int)o.vehicles, 1, sim_args, NULL);
    write_configs(&sim);

    struct car *cars = calloc((size_t)o.vehicles, sizeof(*cars));
    size_t n = list_fleet(&sim, cars, o.vehicles);
    double t = now_s();
    link_fleet(&sim, cars, n, o.parallel);
    double link_s = now_s() - t;
    fprintf(stderr, "linked %zu cars in %.1f s\n", n, link_s);

    char *keys = d2ev_keyring_generate("k1");
    struct d2ev_keyring *kr = d2ev_keyring_parse(keys, NULL);
    char env[6][600], interval[5][48];
    snprintf(env[0], sizeof(env[0]), "D2EV_KAFKA_BROKERS=%s", broker.bootstrap);
    snprintf(env[1], sizeof(env[1]), "D2EV_CREDENTIALS_KEYS=%s", keys);
    snprintf(env[2], sizeof(env[2]), "D2EV_OEM_CONFIG_DIR=%s", sim.config_dir);
    snprintf(env[3], sizeof(env[3]), "D2EV_ADAPTER_DIR=%s", D2EV_ADAPTER_BUILD_DIR);
    snprintf(env[4], sizeof(env[4]), "D2EV_LOG_LEVEL=info");
    snprintf(env[5], sizeof(env[5]), "D2EV_KAFKA_EXTRA=%s", o.kafka_extra ? o.kafka_extra : "");
    const char *envp[] = { env[0], env[1], env[2], env[3], env[4], o.kafka_extra ? env[5] : NULL,
                           NULL };
    static const char *const classes[] = { "charging", "boundary", "plugged", "unplugged",
                                           "asleep" };
    for (int i = 0; i < 5; i++)
        snprintf(interval[i], sizeof(interval[i]), "--poll-%s-s=%d", classes[i], o.interval_s);
    int port = d2ev_test_free_port();
    char port_arg[32], spread[48];
    snprintf(port_arg, sizeof(port_arg), "--admin-port=%d", port);
    snprintf(spread, sizeof(spread), "--poll-initial-spread-s=%d", o.interval_s);
    const char *targs[] = { port_arg,
                            interval[0],
                            interval[1],
                            interval[2],
                            interval[3],
                            interval[4],
                            spread,
                            "--vehicle-polls-per-hour=0",
                            "--oem-budget-share=1",
                            "--max-outstanding-per-oem=1024",
                            NULL };
    struct d2ev_test_proc tel;
    d2ev_test_spawn(&tel, tmp, "telemetry", d2ev_test_bin("d2ev-telemetry"), targs, envp);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", port);
    if (!d2ev_test_wait_http(url, 200, 60000)) {
        fprintf(stderr, "telemetry did not become ready (see %s)\n", tel.log_path);
        return 1;
    }
    long rss0 = rss_kib(tel.pid);

    /* every record at once, as a registration backlog would arrive */
    struct d2ev_kafka_conf kc = { .brokers = broker.bootstrap, .client_id = "bench" };
    struct d2ev_producer *p = d2ev_producer_create(&kc, NULL);
    t = now_s();
    for (size_t i = 0; i < n; i++) {
        char vid[48];
        snprintf(vid, sizeof(vid), "veh-%06zu", i);
        struct d2ev_vehicle v;
        vehicle_record(&cars[i], vid, &v);
        json_t *j = d2ev_vehicle_encode(&v);
        d2ev_producer_send_json(p, D2EV_TOPIC_VEHICLES, vid, j, NULL);
        json_decref(j);
        j = credentials_record(kr, &cars[i], vid);
        if (j)
            d2ev_producer_send_json(p, D2EV_TOPIC_CREDENTIALS, vid, j, NULL);
        json_decref(j);
    }
    d2ev_producer_flush(p, 120000, NULL);
    double produce_s = now_s() - t;
    d2ev_producer_destroy(p);

    /* every vehicle polled once */
    struct wait_polls wp = { port, (double)n };
    if (!d2ev_test_wait(polled, &wp, 600000)) {
        fprintf(stderr, "not every vehicle was polled (see %s)\n", tel.log_path);
        return 1;
    }
    double first_round_s = now_s() - t;
    /* steady state */
    d2ev_clock_sleep_until(d2ev_clock_now_ms() + 5000, 5000, NULL);
    double p0 = metric(port, "d2ev_telemetry_polls_total", NULL), c0 = cpu_s(tel.pid),
           s0 = cpu_s(sim.proc.pid), w0 = now_s();
    d2ev_clock_sleep_until(d2ev_clock_now_ms() + o.seconds * 1000LL, o.seconds * 1000LL, NULL);
    double p1 = metric(port, "d2ev_telemetry_polls_total", NULL), c1 = cpu_s(tel.pid),
           s1 = cpu_s(sim.proc.pid), w1 = now_s();
    long rss1 = rss_kib(tel.pid);
    double ok = metric(port, "d2ev_telemetry_polls_total", "outcome=\"ok\"");
    double all = metric(port, "d2ev_telemetry_polls_total", NULL);
    double samples = metric(port, "d2ev_telemetry_samples_total", "published");
    json_t *stats = d2ev_test_oemsim_get(&sim, "/stats");
    double wakes = json_number_value(json_object_get(stats, "wakes_total"));
    json_decref(stats);
    d2ev_test_stop(&tel, SIGTERM, 15000);
    d2ev_test_oemsim_stop(&sim);

    double state = state_bytes_per_vehicle(kr, cars, n, broker.bootstrap);
    d2ev_test_broker_stop(&broker);

    double rate = (p1 - p0) / (w1 - w0), cpu = (c1 - c0) / (w1 - w0);
    double rss_per = (double)(rss1 - rss0) * 1024.0 / (double)n;
    printf("{\"vehicles\": %zu, \"link_s\": %.1f, \"produce_s\": %.1f, \"first_round_s\": %.1f, "
           "\"polls_per_s\": %.0f, \"cpu_cores\": %.2f, \"polls_per_cpu_s\": %.0f, "
           "\"oemsim_cpu_cores\": %.2f, \"ok_share\": %.4f, \"samples_published\": %.0f, "
           "\"wakes\": %.0f, \"rss_start_mib\": %.1f, \"rss_mib\": %.1f, "
           "\"rss_bytes_per_vehicle\": %.0f, \"state_bytes_per_vehicle\": %.0f}\n",
           n, link_s, produce_s, first_round_s, rate, cpu, cpu > 0 ? rate / cpu : 0,
           (s1 - s0) / (w1 - w0), all > 0 ? ok / all : 0, samples, wakes, rss0 / 1024.0,
           rss1 / 1024.0, rss_per, state);
    printf("| %zu | %d s | %.0f | %.2f | %.0f | %.0f B | %.0f B | %.1f s |\n", n, o.interval_s,
           rate, cpu, cpu > 0 ? rate / cpu : 0, rss_per, state, first_round_s);
    for (size_t i = 0; i < n; i++) {
        free(cars[i].access);
        free(cars[i].refresh);
    }
    free(cars);
    d2ev_keyring_destroy(kr);
    d2ev_crypto_free_secret(keys, 0);
    return 0;
}
