/* tel_fixture.c: broker, simulator, cars and telemetry processes for the
 * telemetry integration tests (see tel_fixture.h). */
#include "tel_fixture.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "d2ev/clock.h"
#include "d2ev/log.h"
#include "d2ev/timefmt.h"
#include "d2ev/topics.h"

#define SIM_START "2026-11-21T17:00:00Z"

void tel_it_start(struct tel_it *t, const char *tag, int partitions, int nvehicles, double speed,
                  const char *const *sim_args)
{
    memset(t, 0, sizeof(*t));
    d2ev_log_init("test", D2EV_LOG_WARN);
    snprintf(t->tmp, sizeof(t->tmp), "%s", d2ev_test_tmpdir(tag));
    size_t n = 0;
    if (speed != 1) {
        /* every process computes the same simulated time from these */
        char origin[32];
        snprintf(origin, sizeof(origin), "%lld", (long long)d2ev_clock_real_ms());
        snprintf(t->env[n++], sizeof(t->env[0]), "D2EV_CLOCK_SPEED=%g", speed);
        snprintf(t->env[n++], sizeof(t->env[0]), "D2EV_CLOCK_ORIGIN=%s", origin);
        snprintf(t->env[n++], sizeof(t->env[0]), "D2EV_CLOCK_START=%s", SIM_START);
        char sp[32];
        snprintf(sp, sizeof(sp), "%g", speed);
        struct d2ev_err err;
        if (d2ev_clock_configure(sp, origin, SIM_START, &err))
            fail_msg("clock: %s", err.msg);
    } else {
        d2ev_clock_use_real();
    }
    for (size_t i = 0; i < n; i++)
        t->envp[i] = t->env[i];
    d2ev_test_broker_start(&t->broker, t->tmp, partitions);
    const char *args[24] = { "--sim-plug-schedule=false" };
    size_t na = 1;
    for (const char *const *a = sim_args; a && *a && na < 23; a++)
        args[na++] = *a;
    d2ev_test_oemsim_start(&t->sim, t->tmp, nvehicles, 11, args, t->envp);
    t->keys = d2ev_keyring_generate("k1");
    t->kr = d2ev_keyring_parse(t->keys, NULL);
    snprintf(t->env[n++], sizeof(t->env[0]), "D2EV_KAFKA_BROKERS=%s", t->broker.bootstrap);
    snprintf(t->env[n++], sizeof(t->env[0]), "D2EV_CREDENTIALS_KEYS=%s", t->keys);
    snprintf(t->env[n++], sizeof(t->env[0]), "D2EV_OEM_CONFIG_DIR=%s", t->sim.config_dir);
    snprintf(t->env[n++], sizeof(t->env[0]), "D2EV_ADAPTER_DIR=%s", D2EV_ADAPTER_BUILD_DIR);
    snprintf(t->env[n++], sizeof(t->env[0]), "D2EV_LOG_LEVEL=info");
    for (size_t i = 0; i < n; i++)
        t->envp[i] = t->env[i];
    t->envp[n] = NULL;
}

void tel_it_stop(struct tel_it *t)
{
    d2ev_test_oemsim_stop(&t->sim);
    d2ev_test_broker_stop(&t->broker);
    d2ev_keyring_destroy(t->kr);
    if (t->keys)
        d2ev_crypto_free_secret(t->keys, 0);
}

void tel_it_telemetry(struct tel_it *t, struct tel_proc *p, const char *name,
                      const char *const *args)
{
    memset(p, 0, sizeof(*p));
    p->admin_port = d2ev_test_free_port();
    static char port[64], inst[96];
    snprintf(port, sizeof(port), "--admin-port=%d", p->admin_port);
    snprintf(inst, sizeof(inst), "--instance-id=%s", name);
    const char *argv[40] = { port, inst };
    size_t n = 2;
    for (const char *const *a = args; a && *a && n < 39; a++)
        argv[n++] = *a;
    argv[n] = NULL;
    d2ev_test_spawn(&p->proc, t->tmp, name, d2ev_test_bin("d2ev-telemetry"), argv, t->envp);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", p->admin_port);
    if (!d2ev_test_wait_http(url, 200, 60000))
        fail_msg("%s did not become ready (see %s)", name, p->proc.log_path);
}

void tel_it_telemetry_stop(struct tel_proc *p)
{
    int st = d2ev_test_stop(&p->proc, SIGTERM, 12000);
    if (st != 0)
        fail_msg("%s exited with %d (see %s)", p->proc.name, st, p->proc.log_path);
}

int tel_it_link(struct tel_it *t, const char *oem, int skip, int n, const char *prefix,
                struct d2ev_test_car *out)
{
    json_t *ids = d2ev_test_oemsim_ids(&t->sim, oem, skip + n);
    int linked = 0;
    for (size_t i = (size_t)skip; i < json_array_size(ids); i++) {
        char vid[64];
        snprintf(vid, sizeof(vid), "%s-%d", prefix, linked);
        d2ev_test_link_car(&t->sim, t->broker.bootstrap, t->kr,
                           json_string_value(json_array_get(ids, i)), vid, NULL, &out[linked]);
        linked++;
    }
    json_decref(ids);
    return linked;
}

void tel_it_set(struct tel_it *t, const struct d2ev_test_car *c, const char *body)
{
    char path[256];
    snprintf(path, sizeof(path), "/vehicles/%s/state", c->oem_vehicle_id);
    json_decref(d2ev_test_oemsim_post(&t->sim, path, body));
}

json_t *tel_it_truth(struct tel_it *t, const struct d2ev_test_car *c)
{
    char path[256];
    snprintf(path, sizeof(path), "/vehicles/%s", c->oem_vehicle_id);
    return d2ev_test_oemsim_get(&t->sim, path);
}

json_t *tel_it_sim_stats(struct tel_it *t)
{
    return d2ev_test_oemsim_get(&t->sim, "/stats");
}

static void produce(struct tel_it *t, const char *topic, const char *key, json_t *msg)
{
    if (!msg)
        fail_msg("cannot encode a %s record", topic);
    char *text = json_dumps(msg, JSON_COMPACT);
    d2ev_test_produce(t->broker.bootstrap, topic, key, text);
    free(text);
    json_decref(msg);
}

void tel_it_forecast(struct tel_it *t, const char *region, enum d2ev_forecast_kind kind,
                     int64_t start, int slot_minutes, const double *values, size_t n)
{
    struct d2ev_forecast f;
    memset(&f, 0, sizeof(f));
    snprintf(f.region, sizeof(f.region), "%s", region);
    f.kind = kind;
    snprintf(f.unit, sizeof(f.unit), "%s", kind == D2EV_FORECAST_PRICE ? "GBP/kWh" : "gCO2/kWh");
    f.issued_at = d2ev_clock_now_ms();
    f.start = start;
    f.slot_minutes = slot_minutes;
    f.n = n;
    f.values = (double *)values;
    snprintf(f.source, sizeof(f.source), "test");
    char key[64];
    snprintf(key, sizeof(key), "%s:%s", region, kind == D2EV_FORECAST_PRICE ? "price" : "carbon");
    produce(t, D2EV_TOPIC_FORECASTS, key, d2ev_forecast_encode(&f));
}

void tel_it_schedule(struct tel_it *t, const char *vehicle_id, int64_t version, const int64_t *w,
                     size_t nwindows)
{
    struct d2ev_window win[8];
    struct d2ev_schedule s;
    memset(&s, 0, sizeof(s));
    snprintf(s.vehicle_id, sizeof(s.vehicle_id), "%s", vehicle_id);
    s.version = version;
    s.created_at = d2ev_clock_now_ms();
    s.status = D2EV_SCHED_OPTIMAL;
    s.ready_by = s.created_at + 12 * 3600000LL;
    s.target_soc = 80;
    s.soc_at_plan = 50;
    s.expected_soc = 80;
    for (size_t i = 0; i < nwindows && i < 8; i++)
        win[i] = (struct d2ev_window){ w[2 * i], w[2 * i + 1], 1 };
    s.nwindows = nwindows;
    s.windows = win;
    snprintf(s.method, sizeof(s.method), "none");
    produce(t, D2EV_TOPIC_SCHEDULES, vehicle_id, d2ev_schedule_encode(&s));
}

json_t *tel_it_records(struct tel_it *t, const char *topic, const char *vehicle_id, size_t min,
                       int timeout_ms)
{
    int64_t deadline = d2ev_clock_mono_ms() + timeout_ms;
    for (;;) {
        json_t *all = d2ev_test_read_topic(t->broker.bootstrap, topic, 0, 10000);
        json_t *out = json_array();
        size_t i;
        json_t *r;
        json_array_foreach(all, i, r)
        {
            const char *k = json_string_value(json_object_get(r, "key"));
            if (!vehicle_id || (k && !strcmp(k, vehicle_id)))
                json_array_append(out, json_object_get(r, "value"));
        }
        json_decref(all);
        if (json_array_size(out) >= min || d2ev_clock_mono_ms() > deadline)
            return out;
        json_decref(out);
        struct timespec ts = { 0, 200 * 1000000 };
        nanosleep(&ts, NULL);
    }
}

bool tel_it_wait_record(struct tel_it *t, const char *topic, const char *vehicle_id,
                        bool (*pred)(json_t *value, void *arg), void *arg, int timeout_ms)
{
    int64_t deadline = d2ev_clock_mono_ms() + timeout_ms;
    do {
        json_t *recs = tel_it_records(t, topic, vehicle_id, 0, 0);
        size_t i;
        json_t *v;
        bool hit = false;
        json_array_foreach(recs, i, v)
        {
            if (!hit && pred(v, arg))
                hit = true;
        }
        json_decref(recs);
        if (hit)
            return true;
        struct timespec ts = { 0, 200 * 1000000 };
        nanosleep(&ts, NULL);
    } while (d2ev_clock_mono_ms() < deadline);
    return false;
}

bool tel_it_is_event(json_t *value, void *arg)
{
    const char *e = json_string_value(json_object_get(value, "event"));
    return e && !strcmp(e, (const char *)arg);
}

double tel_it_metric(const struct tel_proc *p, const char *name, const char *labels)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", p->admin_port);
    char *body = NULL;
    if (d2ev_test_http("GET", url, NULL, NULL, 0, &body) != 200)
        fail_msg("GET %s failed", url);
    double sum = 0;
    size_t nlen = strlen(name);
    for (char *line = strtok(body, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#' || strncmp(line, name, nlen) != 0 ||
            (line[nlen] != '{' && line[nlen] != ' '))
            continue;
        char *sp = strrchr(line, ' ');
        if (!sp)
            continue;
        *sp = '\0';
        if (labels && *labels && !strstr(line, labels))
            continue;
        sum += atof(sp + 1);
    }
    free(body);
    return sum;
}

int64_t tel_it_now(void)
{
    return d2ev_clock_now_ms();
}

static bool reached(void *arg)
{
    return d2ev_clock_now_ms() >= *(int64_t *)arg;
}

void tel_it_sleep_until(int64_t t, int max_real_ms)
{
    if (!d2ev_test_wait(reached, &t, max_real_ms))
        fail_msg("the d2ev clock did not reach the wanted time");
}
