/*
 * A hostile night through the real binaries, the devbroker and d2ev-oemsim
 * (d2ev-demo's library), with every fault of the fault list on one timeline:
 *
 *   - kill -9 of every d2ev service at a random (seeded) moment, then a
 *     restart;
 *   - the devbroker's broker down for 30 simulated seconds, and again for
 *     10 simulated minutes (librdkafka mock cluster fault injection);
 *   - OEM 5xx storms, 429s (per-vehicle buckets) and timeouts (latency past
 *     the request timeout);
 *   - cars that ignore commands;
 *   - a driver revoking consent mid-night;
 *   - malformed records on every input topic.
 *
 * Nothing may be lost:
 *   - no stranded driver: every car that could reach its target did;
 *   - no duplicate conflicting command: a car never got START and STOP
 *     within a few simulated seconds of each other (two dispatchers, or a
 *     replay, fighting);
 *   - the cars that ignored a pause were flagged (charge_not_paused);
 *   - the revoked car was suspended and its driver told (consent_revoked);
 *   - every malformed record is in d2ev.deadletter, from each service that
 *     consumes its topic, with a reason (the ops API only counts and logs
 *     them: it re-reads everything, see docs/api.md).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "d2ev/clock.h"
#include "d2ev/httpc.h"
#include "d2ev/log.h"
#include "d2ev/timefmt.h"
#include "d2ev_test.h"
#include "demo.h"
#include "e2e.h"

#define CARS        24
#define SPEED       300.0
#define HOURS       17
#define MIN_MS      60000LL
#define HOUR_MS     3600000LL
#define CONFLICT_MS 30000 /* opposite commands closer than this (d2ev time) conflict */

/* POST a JSON body to a simulator or devbroker control URL; 2xx or fail. */
static void post(const struct demo_platform *p, enum demo_svc s, bool admin, const char *path,
                 const char *body)
{
    char base[64], url[320];
    demo_url(p, s, admin, base);
    snprintf(url, sizeof(url), "%s%s", base, path);
    const char *hdr[] = { "Content-Type: application/json", NULL };
    long st =
        d2ev_httpc_request("POST", url, hdr, body, body ? strlen(body) : 0, 10000, NULL, NULL);
    if (st < 200 || st > 299)
        fail_msg("POST %s %s answered %ld", url, body ? body : "", st);
}

static json_t *get_json(const char *url, const char *auth)
{
    char hdr_auth[160];
    const char *hdr[2] = { NULL, NULL };
    if (auth) {
        snprintf(hdr_auth, sizeof(hdr_auth), "Authorization: Bearer %s", auth);
        hdr[0] = hdr_auth;
    }
    char *body = NULL;
    long st = d2ev_httpc_request("GET", url, hdr, NULL, 0, 10000, &body, NULL);
    json_t *j = st == 200 && body ? json_loads(body, 0, NULL) : NULL;
    free(body);
    return j;
}

/* ------------------------------------------------------------ the timeline */

enum action {
    A_KILL, /* kill -9 one service, restart it */
    A_OEM,  /* POST /_sim/faults */
    A_BROKER_DOWN,
    A_BROKER_UP,
    A_REVOKE,
    A_POISON,
};

struct event {
    int64_t at; /* d2ev ms after the start */
    enum action action;
    int svc;          /* A_KILL */
    const char *body; /* A_OEM */
    bool done;
};

/* A tiny seeded generator: the same moments every run, spread over the night. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static int64_t random_moment(int64_t from, int64_t to)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return from + (int64_t)(rng % (uint64_t)(to - from));
}

static const enum demo_svc killable[] = {
    DEMO_REGISTRATION, DEMO_BRIDGE, DEMO_TELEMETRY, DEMO_SCHEDULER,
    DEMO_DISPATCH,     DEMO_API,    DEMO_EXPORTER,  DEMO_FORECAST,
};
#define NKILL (sizeof(killable) / sizeof(killable[0]))

static size_t build_timeline(struct event *ev)
{
    size_t n = 0;
#define EV(t, ...) (ev[n] = (struct event){ .at = (t), __VA_ARGS__ }, n++)
    /* OEM faults in the evening, while there is still time to make up for them */
    EV(90 * MIN_MS, .action = A_OEM, .body = "{\"oem\": \"all\", \"error_rate\": 0.3}");
    EV(150 * MIN_MS, .action = A_OEM, .body = "{\"oem\": \"all\", \"error_rate\": 0}");
    EV(150 * MIN_MS, .action = A_OEM,
       .body = "{\"oem\": \"all\", \"vehicle_rate_per_min\": 0.5, \"vehicle_burst\": 1}");
    EV(195 * MIN_MS, .action = A_OEM,
       .body = "{\"oem\": \"all\", \"vehicle_rate_per_min\": 0, \"vehicle_burst\": 5}");
    /* every answer later than the 2 s request timeout: timeouts */
    EV(200 * MIN_MS, .action = A_OEM, .body = "{\"oem\": \"tesla\", \"latency_ms\": 2500}");
    EV(230 * MIN_MS, .action = A_OEM, .body = "{\"oem\": \"tesla\", \"latency_ms\": 0}");
    /* the broker: 30 simulated seconds, then 10 simulated minutes */
    EV(240 * MIN_MS, .action = A_BROKER_DOWN);
    EV(240 * MIN_MS + 30000, .action = A_BROKER_UP);
    EV(270 * MIN_MS, .action = A_BROKER_DOWN);
    EV(280 * MIN_MS, .action = A_BROKER_UP);
    EV(300 * MIN_MS, .action = A_REVOKE);
    EV(320 * MIN_MS, .action = A_POISON);
    /* every service, once, between 17:00 and 03:00 */
    for (size_t i = 0; i < NKILL; i++)
        EV(random_moment(HOUR_MS, 11 * HOUR_MS), .action = A_KILL, .svc = (int)killable[i]);
#undef EV
    return n;
}

/* ------------------------------------------------------------ poison */

struct poison {
    const char *topic;
    const char *key;
    const char *value;
    const char *readers[4]; /* the services that must dead-letter it */
};

static const struct poison poisons[] = {
    { "d2ev.telemetry",
      "fault-dlq-telemetry",
      "{\"type\":\"telemetry\",\"v\":1,\"id\":\"p1\",\"vehicle_id\":\"fault-dlq-telemetry\","
      "\"soc\":120}",
      { "scheduler", "dispatch", "exporter" } },
    { "d2ev.registration.requests", "fault-dlq-request", "this is not JSON", { "registration" } },
    { "d2ev.schedules",
      "fault-dlq-schedule",
      "{\"type\":\"schedule\",\"v\":1}",
      { "dispatch", "telemetry", "exporter" } },
    { "d2ev.sessions", "fault-dlq-session", "[1, 2, 3]", { "scheduler", "exporter" } },
    { "d2ev.control",
      "fault-dlq-control",
      "{\"type\":\"control\",\"v\":1,\"id\":\"p5\",\"vehicle_id\":\"fault-dlq-control\","
      "\"action\":\"explode\"}",
      { "scheduler" } },
    { "d2ev.forecasts",
      "fault-dlq-forecast",
      "{\"type\":\"forecast\",\"v\":1,\"region\":\"GB\",\"kind\":\"price\",\"unit\":\"furlongs\"}",
      { "scheduler", "telemetry" } },
};
#define NPOISON (sizeof(poisons) / sizeof(poisons[0]))

/* The services that dead-lettered (topic, key), as "|svc|svc|". */
static void dead_letters_of(json_t *dlq, const char *topic, const char *key, char *out, size_t size)
{
    size_t i;
    json_t *m;
    snprintf(out, size, "|");
    json_array_foreach(dlq, i, m)
    {
        json_t *v = json_object_get(m, "value"), *src = json_object_get(v, "source");
        const char *t = json_string_value(json_object_get(src, "topic"));
        const char *k = json_string_value(json_object_get(src, "key"));
        const char *svc = json_string_value(json_object_get(v, "service"));
        const char *reason = json_string_value(json_object_get(v, "reason"));
        if (!t || !k || !svc || strcmp(t, topic) || strcmp(k, key))
            continue;
        if (!reason || !*reason)
            fail_msg("a dead letter of %s/%s from %s has no reason", topic, key, svc);
        size_t len = strlen(out);
        snprintf(out + len, size - len, "%s|", svc);
    }
}

/* ------------------------------------------------------------ checks */

/* Fails when a car got opposite commands within CONFLICT_MS; counts the
 * pauses it ignored. */
static int check_commands(const struct demo_platform *p, const struct demo_car *c)
{
    json_t *log = e2e_commands_of(p, c);
    json_t *cmds = json_object_get(log, "commands");
    int ignored_stops = 0;
    int64_t prev_at = 0;
    const char *prev = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(cmds, i, e)
    {
        const char *cmd = json_string_value(json_object_get(e, "command"));
        const char *result = json_string_value(json_object_get(e, "result"));
        int64_t at = 0;
        d2ev_time_parse(json_string_value(json_object_get(e, "at")), &at, NULL);
        if (e2e_is_stop(cmd) && result && !strcmp(result, "ignored"))
            ignored_stops++;
        if (prev && at - prev_at < CONFLICT_MS &&
            ((e2e_is_stop(prev) && e2e_is_start(cmd)) || (e2e_is_start(prev) && e2e_is_stop(cmd))))
            fail_msg("%s got %s and %s %lld ms apart", c->vehicle_id, prev, cmd,
                     (long long)(at - prev_at));
        if (e2e_is_stop(cmd) || e2e_is_start(cmd)) {
            prev = cmd;
            prev_at = at;
        }
    }
    json_decref(log);
    return ignored_stops;
}

static bool notified(json_t *notes, const char *vehicle_id, const char *kind)
{
    size_t i;
    json_t *m;
    json_array_foreach(notes, i, m)
    {
        json_t *v = json_object_get(m, "value");
        const char *vid = json_string_value(json_object_get(v, "vehicle_id"));
        const char *k = json_string_value(json_object_get(v, "kind"));
        if (vid && k && !strcmp(vid, vehicle_id) && !strcmp(k, kind))
            return true;
    }
    return false;
}

/* ------------------------------------------------------------ the night */

static void test_a_hostile_night(void **state)
{
    (void)state;
    struct demo_conf conf = { .oem_request_timeout_ms = 2000 };
    struct demo_platform p;
    struct demo_fleet f;
    struct d2ev_err err = { 0 };
    e2e_start(&p, &f, &conf, "e2e-faults", CARS, 23, SPEED);

    /* four cars accept commands and never apply them; one Smartcar driver
     * revokes consent mid-night */
    size_t ignoring[4] = { 1, 6, 11, 16 };
    for (size_t i = 0; i < 4; i++) {
        char path[160];
        snprintf(path, sizeof(path), "/_sim/vehicles/%s/state", f.cars[ignoring[i]].sim_id);
        post(&p, DEMO_OEMSIM, false, path, "{\"ignore_commands\": true}");
    }
    struct demo_car *revoked = NULL;
    for (size_t i = 0; i < f.n && !revoked; i++)
        if (!strcmp(f.cars[i].oem, "smartcar") && i != 1 && i != 6 && i != 11 && i != 16)
            revoked = &f.cars[i];
    assert_non_null(revoked);

    struct event ev[32];
    size_t nev = build_timeline(ev);
    int64_t start = conf.sim_start_ms, until = start + HOURS * HOUR_MS;
    int64_t revoked_at = 0;
    while (d2ev_clock_now_ms() < until) {
        int64_t t = d2ev_clock_now_ms() - start;
        for (size_t i = 0; i < nev; i++) {
            struct event *e = &ev[i];
            if (e->done || t < e->at)
                continue;
            e->done = true;
            char when[D2EV_TIME_STR_MAX];
            d2ev_time_format(start + e->at, when);
            switch (e->action) {
            case A_KILL:
                printf("%s kill -9 %s\n", when, demo_svc_name(e->svc));
                demo_platform_kill(&p, e->svc, SIGKILL);
                if (demo_platform_restart(&p, e->svc, &err) != D2EV_OK)
                    fail_msg("restart of %s: %s", demo_svc_name(e->svc), err.msg);
                break;
            case A_OEM:
                printf("%s OEM faults %s\n", when, e->body);
                post(&p, DEMO_OEMSIM, false, "/_sim/faults", e->body);
                break;
            case A_BROKER_DOWN:
            case A_BROKER_UP:
                printf("%s broker %s\n", when, e->action == A_BROKER_DOWN ? "down" : "up");
                post(&p, DEMO_DEVBROKER, true,
                     e->action == A_BROKER_DOWN ? "/control/brokers/down" : "/control/brokers/up",
                     NULL);
                break;
            case A_REVOKE: {
                char path[160];
                printf("%s consent revoked: %s\n", when, revoked->vehicle_id);
                snprintf(path, sizeof(path), "/_sim/vehicles/%s/state", revoked->sim_id);
                post(&p, DEMO_OEMSIM, false, path, "{\"revoked\": true}");
                revoked->out_of_hands = true;
                revoked_at = d2ev_clock_now_ms();
                break;
            }
            case A_POISON:
                printf("%s %zu malformed records\n", when, NPOISON);
                for (size_t k = 0; k < NPOISON; k++)
                    d2ev_test_produce(p.bootstrap, poisons[k].topic, poisons[k].key,
                                      poisons[k].value);
                break;
            }
        }
        e2e_watch(&p, &f, 250);
    }
    assert_true(revoked_at > 0);
    struct demo_summary sum;
    e2e_summary(&p, &f, &sum);

    /* no stranded driver */
    assert_true(sum.checked >= CARS / 3);
    assert_int_equal(sum.missed_feasible, 0);

    /* no conflicting commands; the cars that ignored a pause were flagged */
    json_t *notes = d2ev_test_read_topic(p.bootstrap, "d2ev.notifications", 1, 20000);
    int alerted = 0;
    for (size_t i = 0; i < f.n; i++) {
        int ignored = check_commands(&p, &f.cars[i]);
        if (ignored) {
            if (!notified(notes, f.cars[i].vehicle_id, "charge_not_paused"))
                fail_msg("%s ignored %d pause(s) and nobody was told", f.cars[i].vehicle_id,
                         ignored);
            alerted++;
        }
    }
    assert_true(alerted >= 1); /* the check above was not vacuous */

    /* the revoked car: suspended, and its driver told */
    if (!notified(notes, revoked->vehicle_id, "consent_revoked"))
        fail_msg("%s: no consent_revoked notification", revoked->vehicle_id);
    char base[64], url[256];
    demo_url(&p, DEMO_API, false, base);
    snprintf(url, sizeof(url), "%s/v1/vehicles/%s", base, revoked->vehicle_id);
    json_t *veh = get_json(url, p.api_read_token);
    assert_non_null(veh);
    const char *status =
        json_string_value(json_object_get(json_object_get(veh, "vehicle"), "status"));
    if (!status || strcmp(status, "suspended"))
        fail_msg("%s is %s, not suspended", revoked->vehicle_id, status ? status : "(none)");
    json_decref(veh);
    json_decref(notes);

    /* every malformed record accounted for, by every service that reads it */
    json_t *dlq = d2ev_test_read_topic(p.bootstrap, "d2ev.deadletter", 1, 20000);
    for (size_t k = 0; k < NPOISON; k++) {
        char who[512], want[32];
        dead_letters_of(dlq, poisons[k].topic, poisons[k].key, who, sizeof(who));
        for (size_t r = 0; r < 4 && poisons[k].readers[r]; r++) {
            snprintf(want, sizeof(want), "d2ev-%s|", poisons[k].readers[r]);
            if (!strstr(who, want))
                fail_msg("the record on %s was not dead-lettered by d2ev-%s (by: %s)",
                         poisons[k].topic, poisons[k].readers[r], who);
        }
    }
    json_decref(dlq);

    demo_fleet_free(&f);
    assert_int_equal(demo_platform_stop(&p), 0);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* the timeline, as it happens */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_hostile_night),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
