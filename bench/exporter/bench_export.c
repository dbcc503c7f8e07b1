/*
 * bench_export: rows per second exported and the compression ratio, on a
 * simulated month of fleet data.
 *
 * The fleet (default 1,000 vehicles, 30 days): each evening 85 % of the cars
 * plug in between 17:00 and 21:00 UTC and unplug between 06:30 and 08:30.
 * While plugged: telemetry every 5 minutes, a session update every 30
 * minutes (plug_in, update, full, unplug, 1 % zombie anomalies), a plan at
 * plug-in and a re-plan at midnight, and start/stop commands with their
 * confirmations for two charge windows (3 % rate-limited retries, 0.5 %
 * failed, 0.5 % not obeyed). Events are the platform's own encoders' output.
 *
 * 1. Pipeline (the month): the records go through the exporter's own code
 *    (exp_ingest: strict decode, key check, row; exp_write_batch: gzip,
 *    fsync, rename, index) with the service's flush policy at its defaults
 *    (200,000 rows or 64 MiB; quiet at 01:00-05:00 UTC, at most every 4 h; max
 *    age 26 h), on one core. Event
 *    generation is timed apart and not counted.
 * 2. End to end (the first night): the same records through a devbroker
 *    and the d2ev-exporter binary, from ready to every offset committed.
 *
 * Usage: bench_export [--vehicles N] [--days D] [--gzip-level L] [--no-kafka]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "batch.h"
#include "d2ev/clock.h"
#include "d2ev/events.h"
#include "d2ev/kafka.h"
#include "d2ev/log.h"
#include "d2ev/timefmt.h"
#include "d2ev/topics.h"
#include "d2ev/util.h"
#include "d2ev_test.h"
#include "export_report.h"
#include "ingest.h"
#include "quiet.h"
#include "writer.h"

#define MIN   60000LL
#define HOUR  3600000LL
#define DAY   86400000LL
#define NPART 12

/* 2026-11-01T00:00:00Z */
#define START (20758LL * DAY)

struct rec {
    int64_t ts;
    int topic;
    char key[16];
    char *text;
};

struct night {
    struct rec *v;
    size_t n, cap;
    uint64_t bytes;
};

struct vehicle {
    char id[16];
    const char *oem;
    int64_t version;
    int session;
};

static void emit(struct night *n, int topic, const char *key, json_t *j, int64_t ts)
{
    char t[D2EV_TIME_STR_MAX];
    if (!j) {
        fprintf(stderr, "encode failed\n");
        exit(1);
    }
    json_object_set_new(j, "ts", json_string(d2ev_time_format(ts, t)));
    if (n->n == n->cap) {
        n->cap = n->cap ? n->cap * 2 : 65536;
        n->v = realloc(n->v, n->cap * sizeof(*n->v));
        if (!n->v)
            exit(1);
    }
    struct rec *r = &n->v[n->n++];
    r->ts = ts;
    r->topic = topic;
    snprintf(r->key, sizeof(r->key), "%s", key);
    r->text = json_dumps(j, JSON_COMPACT);
    n->bytes += strlen(r->text);
    json_decref(j);
}

static void telemetry(struct night *n, struct vehicle *v, int64_t t, double soc, bool charging,
                      bool plugged)
{
    struct d2ev_telemetry m;
    memset(&m, 0, sizeof(m));
    snprintf(m.vehicle_id, sizeof(m.vehicle_id), "%s", v->id);
    snprintf(m.oem, sizeof(m.oem), "%s", v->oem);
    m.observed_at = t;
    m.reported_at = t - 20000;
    m.soc = soc;
    m.plugged_in = plugged;
    m.charging_state = !plugged   ? D2EV_CHG_DISCONNECTED
                       : charging ? D2EV_CHG_CHARGING
                                  : D2EV_CHG_STOPPED;
    m.has_power_kw = true;
    m.power_kw = charging ? 7.2 : 0;
    m.has_charge_limit = true;
    m.charge_limit = 80;
    m.has_range_km = true;
    m.range_km = soc * 4.1;
    m.has_battery_kwh = true;
    m.battery_kwh = 75;
    emit(n, EXP_TOPIC_TELEMETRY, v->id, d2ev_telemetry_encode(&m), t);
}

static void session(struct night *n, struct vehicle *v, int64_t t, int64_t t0, int64_t t1,
                    enum d2ev_session_event ev, enum d2ev_anomaly an, double soc0, double soc,
                    double kwh)
{
    struct d2ev_session s;
    memset(&s, 0, sizeof(s));
    snprintf(s.vehicle_id, sizeof(s.vehicle_id), "%s", v->id);
    snprintf(s.session_id, sizeof(s.session_id), "%s-s%d", v->id, v->session);
    s.event = ev;
    s.anomaly = an;
    s.started_at = t0;
    s.ended_at = ev == D2EV_SESSION_UNPLUG ? t1 : 0;
    s.at = t;
    s.soc_start = soc0;
    s.soc_now = soc;
    s.energy_kwh = kwh;
    s.charging_s = kwh / 7.2 * 3600;
    s.idle_s = (double)(t - t0) / 1000 - s.charging_s;
    s.idle_s = s.idle_s < 0 ? 0 : s.idle_s;
    s.cost = kwh * 0.11;
    s.carbon_g = kwh * 95;
    snprintf(s.currency, sizeof(s.currency), "GBP");
    if (an == D2EV_ANOMALY_ZOMBIE)
        snprintf(s.detail, sizeof(s.detail), "start acknowledged but no power after 20 minutes");
    emit(n, EXP_TOPIC_SESSIONS, v->id, d2ev_session_encode(&s), t);
}

static void schedule(struct night *n, struct vehicle *v, int64_t t, int64_t ready_by, double soc,
                     uint64_t *rng)
{
    struct d2ev_window w[2] = {
        { ready_by - ready_by % DAY + HOUR, ready_by - ready_by % DAY + 3 * HOUR, 14.4 },
        { ready_by - ready_by % DAY + 4 * HOUR, ready_by - ready_by % DAY + 4 * HOUR + 40 * MIN,
          4.8 },
    };
    struct d2ev_schedule s;
    memset(&s, 0, sizeof(s));
    snprintf(s.vehicle_id, sizeof(s.vehicle_id), "%s", v->id);
    s.version = ++v->version;
    s.created_at = t;
    s.status = D2EV_SCHED_OPTIMAL;
    snprintf(s.reason, sizeof(s.reason), "cheapest 2 windows before the ready-by time");
    d2ev_uuid_v4(s.price_forecast_id);
    d2ev_uuid_v4(s.carbon_forecast_id);
    d2ev_uuid_v4(s.telemetry_id);
    s.prefs_version = 1;
    s.ready_by = ready_by;
    s.target_soc = 80;
    s.soc_at_plan = soc;
    s.expected_soc = 80;
    s.nwindows = 2;
    s.windows = w;
    s.expected_cost = 19.2 * (0.09 + 0.04 * d2ev_rand_unit(rng));
    s.baseline_cost = 19.2 * (0.24 + 0.08 * d2ev_rand_unit(rng));
    s.expected_carbon_g = 19.2 * (90 + 40 * d2ev_rand_unit(rng));
    s.baseline_carbon_g = 19.2 * (200 + 60 * d2ev_rand_unit(rng));
    snprintf(s.currency, sizeof(s.currency), "GBP");
    snprintf(s.method, sizeof(s.method), "milp");
    s.solve_ms = 3 + 10 * d2ev_rand_unit(rng);
    emit(n, EXP_TOPIC_SCHEDULES, v->id, d2ev_schedule_encode(&s), t);
}

static void dispatch(struct night *n, struct vehicle *v, int64_t t, const char *cmd_id,
                     enum d2ev_command cmd, int window, int attempt, enum d2ev_dispatch_result res,
                     const char *cls)
{
    struct d2ev_dispatch d;
    memset(&d, 0, sizeof(d));
    snprintf(d.vehicle_id, sizeof(d.vehicle_id), "%s", v->id);
    snprintf(d.command_id, sizeof(d.command_id), "%s", cmd_id);
    d.command = cmd;
    d.schedule_version = v->version;
    d.window = window;
    d.attempt = attempt;
    d.result = res;
    d.latency_ms = 400 + attempt * 300;
    snprintf(d.error_class, sizeof(d.error_class), "%s", cls ? cls : "");
    d.at = t;
    emit(n, EXP_TOPIC_DISPATCH, v->id, d2ev_dispatch_encode(&d), t);
}

/* One command: retries and outcomes drawn at random. */
static void command(struct night *n, struct vehicle *v, int64_t t, enum d2ev_command cmd,
                    int window, uint64_t *rng)
{
    char id[48];
    snprintf(id, sizeof(id), "cmd-%s-%lld-%d-%d", v->id, (long long)v->version, window, (int)cmd);
    double u = d2ev_rand_unit(rng);
    int attempt = 1;
    if (u < 0.03)
        dispatch(n, v, t, id, cmd, window, attempt++, D2EV_DISPATCH_RETRY, "rate_limited");
    if (u > 0.995) {
        dispatch(n, v, t + 30000, id, cmd, window, attempt, D2EV_DISPATCH_FAILED, "permanent");
        return;
    }
    dispatch(n, v, t + 30000, id, cmd, window, attempt, D2EV_DISPATCH_SENT, NULL);
    dispatch(n, v, t + 5 * MIN, id, cmd, window, attempt,
             u > 0.99 ? D2EV_DISPATCH_ALERT : D2EV_DISPATCH_CONFIRMED, NULL);
}

/* The night that starts on day d: every plugged car from its plug-in to its unplug. */
static void simulate_night(struct night *n, struct vehicle *fleet, int nveh, int d, uint64_t *rng)
{
    int64_t day = START + d * DAY, mid = day + DAY;
    for (int i = 0; i < nveh; i++) {
        struct vehicle *v = &fleet[i];
        if (d2ev_rand_unit(rng) >= 0.85)
            continue;
        v->session++;
        int64_t t0 = day + 17 * HOUR + (int64_t)(d2ev_rand_unit(rng) * 4 * HOUR);
        int64_t t1 = mid + 6 * HOUR + 30 * MIN + (int64_t)(d2ev_rand_unit(rng) * 2 * HOUR);
        t0 -= t0 % 1000;
        double soc0 = 20 + 40 * d2ev_rand_unit(rng), soc = soc0, kwh = 0;
        bool zombie = d2ev_rand_unit(rng) < 0.01;
        session(n, v, t0, t0, t1, D2EV_SESSION_PLUG_IN, D2EV_ANOMALY_NONE, soc0, soc, 0);
        schedule(n, v, t0 + 800, t1, soc, rng);
        schedule(n, v, mid + 5 * MIN, t1, soc, rng); /* the midnight forecast */
        command(n, v, mid + HOUR, D2EV_CMD_START, 0, rng);
        command(n, v, mid + 3 * HOUR, D2EV_CMD_STOP, 0, rng);
        command(n, v, mid + 4 * HOUR, D2EV_CMD_START, 1, rng);
        command(n, v, mid + 4 * HOUR + 40 * MIN, D2EV_CMD_STOP, 1, rng);
        bool full = false;
        for (int64_t t = t0 + 5 * MIN; t < t1; t += 5 * MIN) {
            int64_t h = t - mid;
            bool charging =
                (h >= HOUR && h < 3 * HOUR) || (h >= 4 * HOUR && h < 4 * HOUR + 40 * MIN);
            if (charging && soc < 80) {
                soc += 0.8;
                kwh += 0.6;
            }
            telemetry(n, v, t, soc > 100 ? 100 : soc, charging, true);
            if ((t - t0) % (30 * MIN) == 0)
                session(n, v, t, t0, t1, D2EV_SESSION_UPDATE, D2EV_ANOMALY_NONE, soc0, soc, kwh);
            if (!full && soc >= 80) {
                full = true;
                session(n, v, t, t0, t1, D2EV_SESSION_FULL, D2EV_ANOMALY_NONE, soc0, soc, kwh);
            }
            if (zombie && h == HOUR + 20 * MIN)
                session(n, v, t, t0, t1, D2EV_SESSION_ANOMALY, D2EV_ANOMALY_ZOMBIE, soc0, soc, kwh);
        }
        session(n, v, t1, t0, t1, D2EV_SESSION_UNPLUG, D2EV_ANOMALY_NONE, soc0, soc, kwh);
        telemetry(n, v, t1 + 1000, soc, false, false);
    }
}

static int cmp_rec(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    return x->ts < y->ts ? -1 : x->ts > y->ts;
}

static void night_free(struct night *n)
{
    for (size_t i = 0; i < n->n; i++)
        free(n->v[i].text);
    n->n = 0;
    n->bytes = 0;
}

/* ------------------------------------------------------------ pipeline */

struct pipe {
    const char *root;
    int level;
    struct exp_batch batch;
    struct exp_policy policy;
    struct d2ev_strbuf scratch;
    int64_t offsets[EXP_NTOPICS][NPART];
    int64_t last_timed;
    double ingest_s, write_s;
    uint64_t rows, rejected, flushes[4];
    struct exp_write_result res;
};

static double now_s(void)
{
    return (double)d2ev_clock_mono_ms() / 1000.0;
}

static void pipe_flush(struct pipe *P, enum exp_flush_reason why)
{
    double t = now_s();
    struct d2ev_err err;
    if (exp_write_batch(P->root, P->level, &P->batch, &P->res, NULL, 0, NULL, &err)) {
        fprintf(stderr, "write failed: %s\n", err.msg);
        exit(1);
    }
    P->write_s += now_s() - t;
    P->flushes[why]++;
}

/* Feed one night through ingest, flushing as the service's policy says. */
static void pipe_night(struct pipe *P, struct night *n)
{
    char reason[D2EV_ERR_MSG_MAX];
    for (size_t i = 0; i < n->n; i++) {
        struct rec *r = &n->v[i];
        int32_t part = d2ev_kafka_partition_of(r->key, NPART);
        struct exp_part *p = exp_batch_part(&P->batch, r->topic, part);
        struct exp_record in = { r->topic, part,    P->offsets[r->topic][part]++,
                                 r->key,   r->text, strlen(r->text),
                                 r->ts };
        enum exp_ingest_result res;
        double t = now_s();
        if (exp_ingest(&P->batch, p, P->root, &P->scratch, &in, r->ts, &res, reason,
                       sizeof(reason))) {
            fprintf(stderr, "ingest failed\n");
            exit(1);
        }
        P->ingest_s += now_s() - t;
        P->rows += res == EXP_INGEST_ROW;
        P->rejected += res == EXP_INGEST_REJECTED;
        if (i % 500 == 0 || i + 1 == n->n) {
            /* a fleet this size produces ~3 records a second at night: quiet */
            struct exp_signals s = { r->ts,          P->batch.rows,
                                     P->batch.bytes, exp_batch_oldest(&P->batch),
                                     P->last_timed,  0,
                                     true,           3.3 };
            enum exp_flush_reason why = exp_policy_decide(&P->policy, &s);
            if (why != EXP_FLUSH_NONE) {
                pipe_flush(P, why);
                if (why != EXP_FLUSH_FULL)
                    P->last_timed = r->ts;
            }
        }
    }
}

/* ------------------------------------------------------------ end to end */

static double end_to_end(struct night *n, const char *tmp)
{
    struct d2ev_test_broker b;
    d2ev_test_broker_start(&b, tmp, 16);
    struct d2ev_kafka_conf kc = { .brokers = b.bootstrap, .client_id = "bench" };
    struct d2ev_err err;
    struct d2ev_producer *p = d2ev_producer_create(&kc, &err);
    int64_t count[EXP_NTOPICS] = { 0 };
    for (size_t i = 0; p && i < n->n; i++) {
        if (d2ev_producer_send(p, exp_topic_names[n->v[i].topic], n->v[i].key, n->v[i].text,
                               strlen(n->v[i].text), &err)) {
            fprintf(stderr, "produce: %s\n", err.msg);
            exit(1);
        }
        count[n->v[i].topic]++;
    }
    if (!p || d2ev_producer_flush(p, 60000, &err)) {
        fprintf(stderr, "produce failed\n");
        exit(1);
    }
    d2ev_producer_destroy(p);
    char root[700], args[6][720];
    snprintf(root, sizeof(root), "%s/export-e2e", tmp);
    int port = d2ev_test_free_port();
    snprintf(args[0], sizeof(args[0]), "--kafka-brokers=%s", b.bootstrap);
    snprintf(args[1], sizeof(args[1]), "--admin-port=%d", port);
    snprintf(args[2], sizeof(args[2]), "--export-dir=%s", root);
    const char *argv[] = { args[0],
                           args[1],
                           args[2],
                           "--quiet-hours=00:00-24:00",
                           "--quiet-max-lag=0",
                           "--quiet-rate-window-s=1",
                           "--log-level=warn",
                           NULL };
    struct d2ev_test_proc proc;
    d2ev_test_spawn(&proc, tmp, "exporter", d2ev_test_bin("d2ev-exporter"), argv, NULL);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", port);
    if (!d2ev_test_wait_http(url, 200, 60000)) {
        fprintf(stderr, "exporter not ready (see %s)\n", proc.log_path);
        exit(1);
    }
    double t0 = now_s(), t1 = 0;
    while (!t1 && now_s() - t0 < 600) {
        bool done = true;
        for (int t = 0; t < EXP_NTOPICS && done; t++)
            done =
                d2ev_test_committed(b.bootstrap, "d2ev-exporter", exp_topic_names[t]) == count[t];
        if (done)
            t1 = now_s();
        else
            d2ev_clock_sleep_until(d2ev_clock_now_ms() + 100, 100, NULL);
    }
    d2ev_test_stop(&proc, SIGTERM, 15000);
    d2ev_test_broker_stop(&b);
    return t1 ? t1 - t0 : -1;
}

/* ------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    int nveh = 1000, days = 30, level = 6;
    bool kafka = true;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--vehicles") && i + 1 < argc)
            nveh = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--days") && i + 1 < argc)
            days = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--gzip-level") && i + 1 < argc)
            level = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-kafka"))
            kafka = false;
        else {
            fprintf(stderr, "usage: %s [--vehicles N] [--days D] [--gzip-level L] [--no-kafka]\n",
                    argv[0]);
            return 64;
        }
    }
    d2ev_log_init("bench", D2EV_LOG_WARN);
    const char *tmp = d2ev_test_tmpdir("bench-export");
    char root[600];
    snprintf(root, sizeof(root), "%s/export", tmp);
    struct vehicle *fleet = calloc((size_t)nveh, sizeof(*fleet));
    static const char *const oems[] = { "smartcar", "smartcar", "tesla", "enode",    "tesla",
                                        "smartcar", "enode",    "tesla", "smartcar", "enode" };
    for (int i = 0; i < nveh; i++) {
        snprintf(fleet[i].id, sizeof(fleet[i].id), "veh-%05d", i);
        fleet[i].oem = oems[i % 10];
    }
    struct pipe P;
    memset(&P, 0, sizeof(P));
    P.root = root;
    P.level = level;
    P.last_timed = INT64_MIN;
    P.policy = (struct exp_policy){ .batch_rows = 200000,
                                    .batch_bytes = 64 << 20,
                                    .max_age_ms = 26 * HOUR,
                                    .interval_ms = 4 * HOUR,
                                    .tz = d2ev_tz_get("UTC", NULL),
                                    .max_lag = 1000,
                                    .max_rate = 50 };
    exp_window_parse("01:00-05:00", &P.policy.window, NULL);
    uint64_t rng = 42, input_bytes = 0, input_rows = 0;
    double gen_s = 0;
    struct night first = { 0 }, n = { 0 };
    printf("exporter benchmark: %d vehicles, %d days, gzip level %d, %d partitions\n", nveh, days,
           level, NPART);
    for (int d = 0; d < days; d++) {
        double t = now_s();
        simulate_night(&n, fleet, nveh, d, &rng);
        qsort(n.v, n.n, sizeof(*n.v), cmp_rec);
        gen_s += now_s() - t;
        input_rows += n.n;
        input_bytes += n.bytes;
        pipe_night(&P, &n);
        if (d == 0 && kafka) {
            first = n; /* kept for the end-to-end run */
            n = (struct night){ 0 };
        } else {
            night_free(&n);
        }
        fprintf(stderr, "\rday %d/%d: %llu rows", d + 1, days, (unsigned long long)input_rows);
    }
    fprintf(stderr, "\n");
    pipe_flush(&P, EXP_FLUSH_AGE); /* the rest, as max-age would */
    double total = P.ingest_s + P.write_s;
    printf("\n## Pipeline (ingest + files, one thread)\n\n");
    printf("| | |\n|---|---:|\n");
    printf("| input records | %llu (%llu rejected) |\n", (unsigned long long)input_rows,
           (unsigned long long)P.rejected);
    printf("| input bytes | %.1f MiB (%.0f bytes a record) |\n", input_bytes / 1048576.0,
           (double)input_bytes / (double)input_rows);
    printf("| rows written | %llu in %llu files |\n", (unsigned long long)P.res.rows,
           (unsigned long long)P.res.files);
    printf("| flushes | %llu full, %llu quiet, %llu age/final |\n",
           (unsigned long long)P.flushes[EXP_FLUSH_FULL],
           (unsigned long long)P.flushes[EXP_FLUSH_QUIET],
           (unsigned long long)P.flushes[EXP_FLUSH_AGE]);
    printf("| uncompressed rows | %.1f MiB |\n", P.res.raw_bytes / 1048576.0);
    printf("| gzip files | %.1f MiB |\n", P.res.bytes / 1048576.0);
    printf("| compression ratio | %.1f : 1 |\n", (double)P.res.raw_bytes / (double)P.res.bytes);
    printf("| ingest (decode, check, row) | %.1f s, %.0f rows/s |\n", P.ingest_s,
           (double)input_rows / P.ingest_s);
    printf("| write (gzip, fsync, rename, index) | %.1f s, %.1f MiB/s in |\n", P.write_s,
           P.res.raw_bytes / 1048576.0 / P.write_s);
    printf("| **total** | **%.1f s, %.0f rows/s** |\n", total, (double)P.res.rows / total);
    printf("| (event generation, not counted) | %.1f s |\n", gen_s);

    double t = now_s();
    char date[11];
    struct d2ev_err err;
    json_t *rep =
        d2ev_export_report_build(root, exp_date_format(exp_day_of(START) + 1, date), &err);
    printf("| daily report of one day | %.2f s (%s) |\n", now_s() - t, rep ? "ok" : err.msg);
    json_decref(rep);

    if (kafka) {
        printf("\n## End to end (devbroker, 16 partitions, d2ev-exporter, first night)\n\n");
        double secs = end_to_end(&first, tmp);
        printf("| | |\n|---|---:|\n");
        printf("| records | %zu (%.1f MiB) |\n", first.n, first.bytes / 1048576.0);
        printf("| ready to all committed | %.1f s, %.0f rows/s |\n", secs,
               secs > 0 ? (double)first.n / secs : 0);
        night_free(&first);
        free(first.v);
    }
    exp_batch_destroy(&P.batch);
    d2ev_strbuf_free(&P.scratch);
    free(n.v);
    free(fleet);
    printf("\nfiles under %s (remove when done)\n", tmp);
    return 0;
}
