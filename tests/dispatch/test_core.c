/*
 * The dispatcher's intended-vs-confirmed state machine without Kafka or HTTP:
 * decoded inputs go in, commands, d2ev.dispatch records and notifications come
 * out, on a clock the test moves by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "d2ev/oem_adapter.h"
#include "d2ev/util.h"

#define MIN 60000LL
#define T0  1795298400000LL /* 2026-11-21T22:00:00Z */

struct sub {
    char vehicle_id[D2EV_VEHICLE_ID_MAX + 1];
    enum d2ev_command command;
    uint64_t token;
};

/* Every record ever produced in a test (survives restarts). */
static struct d2ev_dispatch H[1024];
static size_t nh;

static struct {
    struct sub sub[256];
    size_t nsub;
    struct d2ev_dispatch d[512];
    size_t nd;
    struct d2ev_notification n[64];
    size_t nn;
    char released[16][D2EV_VEHICLE_ID_MAX + 1];
    size_t nrel;
    int submit_rc;
} F;

static int f_submit(void *opaque, const struct dsp_command_req *r, const char **why)
{
    (void)opaque;
    if (F.submit_rc) {
        *why = "no adapter for this OEM";
        return F.submit_rc;
    }
    assert_true(F.nsub < 256);
    struct sub *s = &F.sub[F.nsub++];
    d2ev_strlcpy(s->vehicle_id, r->vehicle_id, sizeof(s->vehicle_id));
    s->command = r->command;
    s->token = r->token;
    return 0;
}

static int f_dispatch(void *opaque, const struct d2ev_dispatch *d, const char *oem)
{
    (void)opaque;
    (void)oem;
    assert_true(F.nd < 512 && nh < 1024);
    F.d[F.nd++] = *d;
    H[nh++] = *d;
    return 0;
}

static int f_notify(void *opaque, const struct d2ev_notification *n)
{
    (void)opaque;
    assert_true(F.nn < 64);
    F.n[F.nn++] = *n;
    return 0;
}

static void f_release(void *opaque, const char *id)
{
    (void)opaque;
    d2ev_strlcpy(F.released[F.nrel++], id, sizeof(F.released[0]));
}

static const struct dsp_output_ops ops = { f_submit, f_dispatch, f_notify, f_release };

static struct dsp_core *core_new(bool live, int64_t now)
{
    if (live)
        nh = 0; /* a new test (restarts start not live) */
    memset(&F, 0, sizeof(F));
    struct dsp_config conf;
    dsp_config_default(&conf);
    conf.confirm_timeout_ms = 5 * MIN;
    conf.retry = (struct d2ev_backoff){ .base_ms = MIN, .max_ms = 4 * MIN, .factor = 2 };
    conf.seed = 1;
    struct dsp_core *c = dsp_core_create(&conf, &ops, NULL);
    assert_non_null(c);
    dsp_core_set_live(c, live, now);
    return c;
}

static void vehicle(struct dsp_core *c, const char *id, const char *oem, int64_t now)
{
    struct d2ev_vehicle v;
    memset(&v, 0, sizeof(v));
    d2ev_strlcpy(v.vehicle_id, id, sizeof(v.vehicle_id));
    snprintf(v.user_id, sizeof(v.user_id), "u-%s", id);
    d2ev_strlcpy(v.oem, oem, sizeof(v.oem));
    snprintf(v.oem_vehicle_id, sizeof(v.oem_vehicle_id), "oem-%s", id);
    v.status = D2EV_VEHICLE_ACTIVE;
    assert_int_equal(dsp_core_on_vehicle(c, &v, 0, now), 0);
}

/* A schedule made at `created` with windows given as minute offsets from T0
 * (pairs), ready by T0 + ready_min. */
static enum dsp_apply schedule(struct dsp_core *c, const char *id, int64_t version,
                               enum d2ev_schedule_status status, int64_t created, int ready_min,
                               const int *win_min, size_t nwin, int64_t now)
{
    struct d2ev_schedule s;
    memset(&s, 0, sizeof(s));
    struct d2ev_window w[8];
    for (size_t i = 0; i < nwin; i++) {
        w[i].start = T0 + win_min[2 * i] * MIN;
        w[i].end = T0 + win_min[2 * i + 1] * MIN;
        w[i].energy_kwh = 5;
    }
    d2ev_strlcpy(s.vehicle_id, id, sizeof(s.vehicle_id));
    s.version = version;
    s.created_at = created;
    s.status = status;
    s.ready_by = T0 + ready_min * MIN;
    s.target_soc = 80;
    s.nwindows = nwin;
    s.windows = w;
    enum dsp_apply applied = DSP_APPLIED;
    assert_int_equal(dsp_core_on_schedule(c, &s, 0, now, &applied), 0);
    return applied;
}

static void telemetry(struct dsp_core *c, const char *id, enum d2ev_charging_state st, int64_t at)
{
    struct d2ev_telemetry t;
    memset(&t, 0, sizeof(t));
    d2ev_strlcpy(t.vehicle_id, id, sizeof(t.vehicle_id));
    d2ev_strlcpy(t.oem, "smartcar", sizeof(t.oem));
    t.observed_at = t.reported_at = at;
    t.soc = 50;
    t.charging_state = st;
    t.plugged_in = st != D2EV_CHG_DISCONNECTED;
    assert_int_equal(dsp_core_on_telemetry(c, &t, 0, at), 0);
}

/* Answer the last submission. */
static void answer(struct dsp_core *c, uint32_t cls, uint32_t command, bool woke, int64_t now)
{
    assert_true(F.nsub > 0);
    struct sub *s = &F.sub[F.nsub - 1];
    struct dsp_result r = { .cls = cls,
                            .command = command,
                            .woke = woke,
                            .latency_ms = 120,
                            .message = cls ? "oem said no" : NULL };
    assert_int_equal(dsp_core_on_result(c, s->vehicle_id, s->token, &r, now), 0);
}

static void sent(struct dsp_core *c, int64_t now)
{
    answer(c, D2EV_OEM_OK, D2EV_OEM_CMD_SENT, false, now);
}

static const struct d2ev_dispatch *last_record(void)
{
    assert_true(F.nd > 0);
    return &F.d[F.nd - 1];
}

static void expect_record(enum d2ev_command cmd, enum d2ev_dispatch_result res, int window,
                          int attempt)
{
    const struct d2ev_dispatch *d = last_record();
    if (d->command != cmd || d->result != res || d->window != window || d->attempt != attempt)
        fail_msg("want %s %s window %d attempt %d, got %s %s window %d attempt %d (%s)",
                 d2ev_command_name(cmd), d2ev_dispatch_result_name(res), window, attempt,
                 d2ev_command_name(d->command), d2ev_dispatch_result_name(d->result), d->window,
                 d->attempt, d->detail);
}

static void tick(struct dsp_core *c, int64_t now)
{
    assert_true(dsp_core_tick(c, now) >= 0);
}

static int64_t pause_car(struct dsp_core *c, const char *id);

/* Charging at plug-in; windows 01:00-02:00 and 04:00-05:00; ready by 07:00. */
static const int night[] = { 180, 240, 360, 420 };

static void test_full_night_pause_and_resume_at_the_boundaries(void **state)
{
    (void)state;
    struct dsp_core *c = core_new(true, T0);
    vehicle(c, "v1", "smartcar", T0);
    telemetry(c, "v1", D2EV_CHG_CHARGING, T0);
    assert_int_equal(F.nsub, 0); /* no schedule: the car is left alone */
    schedule(c, "v1", 7, D2EV_SCHED_OPTIMAL, T0, 540, night, 2, T0);
    /* outside the windows and charging: pause it, now */
    assert_int_equal(F.nsub, 1);
    assert_int_equal(F.sub[0].command, D2EV_CMD_STOP);
    sent(c, T0 + 1000);
    expect_record(D2EV_CMD_STOP, D2EV_DISPATCH_SENT, 0, 1);
    assert_string_equal(last_record()->command_id, "7-0-stop");
    assert_int_equal(last_record()->schedule_version, 7);
    /* telemetry from before the command confirms nothing */
    telemetry(c, "v1", D2EV_CHG_CHARGING, T0 + 500);
    telemetry(c, "v1", D2EV_CHG_STOPPED, T0 + 2 * MIN);
    expect_record(D2EV_CMD_STOP, D2EV_DISPATCH_CONFIRMED, 0, 1);
    assert_int_equal(last_record()->latency_ms, 2 * MIN);
    /* the next thing due is the first window */
    struct dsp_vehicle_view vv;
    dsp_core_view(c, "v1", &vv);
    assert_int_equal(vv.next_due, T0 + 180 * MIN);
    assert_true(vv.paused_by_us);
    tick(c, T0 + 179 * MIN);
    assert_int_equal(F.nsub, 1);
    tick(c, T0 + 180 * MIN);
    assert_int_equal(F.nsub, 2);
    assert_int_equal(F.sub[1].command, D2EV_CMD_START);
    sent(c, T0 + 180 * MIN);
    expect_record(D2EV_CMD_START, D2EV_DISPATCH_SENT, 0, 1);
    assert_string_equal(last_record()->command_id, "7-1-start");
    telemetry(c, "v1", D2EV_CHG_CHARGING, T0 + 182 * MIN);
    expect_record(D2EV_CMD_START, D2EV_DISPATCH_CONFIRMED, 0, 1);
    /* repeated telemetry and ticks send nothing more */
    telemetry(c, "v1", D2EV_CHG_CHARGING, T0 + 200 * MIN);
    tick(c, T0 + 200 * MIN);
    assert_int_equal(F.nsub, 2);
    tick(c, T0 + 240 * MIN);
    assert_int_equal(F.sub[2].command, D2EV_CMD_STOP);
    sent(c, T0 + 240 * MIN);
    expect_record(D2EV_CMD_STOP, D2EV_DISPATCH_SENT, 0, 1);
    assert_string_equal(last_record()->command_id, "7-2-stop");
    telemetry(c, "v1", D2EV_CHG_STOPPED, T0 + 241 * MIN);
    tick(c, T0 + 360 * MIN);
    assert_int_equal(F.sub[3].command, D2EV_CMD_START);
    sent(c, T0 + 360 * MIN);
    expect_record(D2EV_CMD_START, D2EV_DISPATCH_SENT, 1, 1);
    telemetry(c, "v1", D2EV_CHG_CHARGING, T0 + 361 * MIN);
    tick(c, T0 + 420 * MIN);
    assert_int_equal(F.sub[4].command, D2EV_CMD_STOP);
    sent(c, T0 + 420 * MIN);
    expect_record(D2EV_CMD_STOP, D2EV_DISPATCH_SENT, 1, 1);
    telemetry(c, "v1", D2EV_CHG_STOPPED, T0 + 421 * MIN);
    expect_record(D2EV_CMD_STOP, D2EV_DISPATCH_CONFIRMED, 1, 1);
    /* ready-by passed: the plan is over; after the grace for the next plan,
     * and as we paused it: resume (fail-safe) */
    tick(c, T0 + 540 * MIN);
    tick(c, T0 + 549 * MIN);
    assert_int_equal(F.nsub, 5);
    tick(c, T0 + 550 * MIN);
    assert_int_equal(F.nsub, 6);
    assert_int_equal(F.sub[5].command, D2EV_CMD_START);
    sent(c, T0 + 550 * MIN);
    expect_record(D2EV_CMD_START, D2EV_DISPATCH_SENT, -1, 1);
    assert_string_equal(last_record()->command_id, "7-fs-start");
    assert_int_equal(F.nn, 0);
    /* records are strictly increasing in time */
    for (size_t i = 1; i < F.nd; i++)
        assert_true(F.d[i].at > F.d[i - 1].at);
    dsp_core_destroy(c);
}

static void test_the_next_plan_within_the_grace_after_ready_by_sends_nothing(void **state)
{
    (void)state;
    struct dsp_core *c = core_new(true, T0);
    pause_car(c, "g");
    /* each boundary of the night: the command, accepted, then confirmed */
    static const int at[] = { 180, 240, 360, 420 };
    for (int i = 0; i < 4; i++) {
        tick(c, T0 + at[i] * MIN);
        sent(c, T0 + at[i] * MIN);
        telemetry(c, "g", i % 2 ? D2EV_CHG_STOPPED : D2EV_CHG_CHARGING, T0 + (at[i] + 1) * MIN);
    }
    assert_int_equal(F.nsub, 5);
    size_t before = F.nsub;
    /* ready-by at 540; the next night's plan arrives a minute later */
    tick(c, T0 + 540 * MIN);
    const int tomorrow[] = { 1620, 1680 };
    schedule(c, "g", 2, D2EV_SCHED_OPTIMAL, T0 + 541 * MIN, 1980, tomorrow, 1, T0 + 541 * MIN);
    tick(c, T0 + 600 * MIN);
    assert_int_equal(F.nsub, before); /* still paused, as the new plan wants */
    dsp_core_destroy(c);
}

static void test_no_command_when_the_car_already_does_what_is_intended(void **state)
{
    (void)state;
    struct dsp_core *c = core_new(true, T0);
    vehicle(c, "v1", "tesla", T0);
    telemetry(c, "v1", D2EV_CHG_STOPPED, T0); /* not charging, not by us */
    schedule(c, "v1", 1, D2EV_SCHED_OPTIMAL, T0, 540, night, 2, T0);
    assert_int_equal(F.nsub, 0);
    /* unknown state: never STOP on a guess */
    vehicle(c, "v2", "tesla", T0);
    schedule(c, "v2", 1, D2EV_SCHED_OPTIMAL, T0, 540, night, 2, T0);
    assert_int_equal(F.nsub, 0);
    telemetry(c, "v2", D2EV_CHG_CHARGING, T0 + MIN);
    assert_int_equal(F.nsub, 1);
    /* the OEM says it was already stopped: skipped, nothing to confirm */
    answer(c, D2EV_OEM_OK, D2EV_OEM_CMD_ALREADY, false, T0 + MIN);
    expect_record(D2EV_CMD_STOP, D2EV_DISPATCH_SKIPPED, 0, 1);
    tick(c, T0 + 30 * MIN);
    assert_int_equal(F.nd, 1);
    dsp_core_destroy(c);
}

static void test_a_car_that_ignores_stop_is_retried_then_alerted_once(void **state)
{
    (void)state;
    struct dsp_core *c = core_new(true, T0);
    vehicle(c, "v1", "smartcar", T0);
    telemetry(c, "v1", D2EV_CHG_CHARGING, T0);
    schedule(c, "v1", 3, D2EV_SCHED_OPTIMAL, T0, 540, night, 2, T0);
    int64_t t = T0;
    for (int attempt = 1; attempt <= 3; attempt++) {
        assert_int_equal(F.nsub, (size_t)attempt);
        assert_int_equal(F.sub[attempt - 1].command, D2EV_CMD_STOP);
        sent(c, t);
        expect_record(D2EV_CMD_STOP, D2EV_DISPATCH_SENT, 0, attempt);
        telemetry(c, "v1", D2EV_CHG_CHARGING, t + MIN); /* ignored */
        struct dsp_vehicle_view vv;
        dsp_core_view(c, "v1", &vv);
        assert_int_equal(vv.next_due, t + 5 * MIN);
        tick(c, t + 5 * MIN);
        t += 5 * MIN;
        if (attempt < 3) {
            expect_record(D2EV_CMD_STOP, D2EV_DISPATCH_RETRY, 0, attempt);
            assert_non_null(strstr(last_record()->detail, "still charging"));
            /* backoff: 1 min, then 2 min */
            int64_t delay = attempt == 1 ? MIN : 2 * MIN;
            tick(c, t + delay - 1);
            assert_int_equal(F.nsub, (size_t)attempt);
            t += delay;
            tick(c, t);
        }
    }
    expect_record(D2EV_CMD_STOP, D2EV_DISPATCH_ALERT, 0, 3);
    assert_int_equal(F.nn, 1);
    assert_string_equal(F.n[0].kind, "charge_not_paused");
    assert_string_equal(F.n[0].user_id, "u-v1");
    /* still charging: no more commands and no more alerts in this pause */
    telemetry(c, "v1", D2EV_CHG_CHARGING, t + 10 * MIN);
    tick(c, t + 60 * MIN);
    assert_int_equal(F.nsub, 3);
    assert_int_equal(F.nn, 1);
    dsp_core_destroy(c);
}

static void test_a_start_that_never_flows_is_alerted_and_no_telemetry_is_not_blamed(void **state)
{
    (void)state;
    struct dsp_core *c = core_new(true, T0);
    vehicle(c, "z", "smartcar", T0);
    telemetry(c, "z", D2EV_CHG_STOPPED, T0);
    const int now_window[] = { 0, 120 };
    schedule(c, "z", 1, D2EV_SCHED_OPTIMAL, T0, 540, now_window, 1, T0);
    int64_t t = T0;
    for (int attempt = 1; attempt <= 3; attempt++) {
        sent(c, t);
        telemetry(c, "z", D2EV_CHG_NO_POWER, t + MIN); /* a zombie */
        t += 5 * MIN;
        tick(c, t);
        if (attempt < 3) {
            t += attempt == 1 ? MIN : 2 * MIN;
            tick(c, t);
        }
    }
    expect_record(D2EV_CMD_START, D2EV_DISPATCH_ALERT, 0, 3);
    assert_int_equal(F.nn, 1);
    assert_string_equal(F.n[0].kind, "charge_not_started");

    /* a car without telemetry after the command: alert, but the driver is
     * not told the car disobeyed */
    vehicle(c, "q", "smartcar", t);
    telemetry(c, "q", D2EV_CHG_CHARGING, t);
    const int later[] = { 900, 960 };
    schedule(c, "q", 1, D2EV_SCHED_OPTIMAL, t, 1000, later, 1, t);
    for (int attempt = 1; attempt <= 3; attempt++) {
        sent(c, t);
        t += 5 * MIN;
        tick(c, t);
        if (attempt < 3) {
            assert_non_null(strstr(last_record()->detail, "no telemetry"));
            t += attempt == 1 ? MIN : 2 * MIN;
            tick(c, t);
        }
    }
    expect_record(D2EV_CMD_STOP, D2EV_DISPATCH_ALERT, 0, 3);
    assert_int_equal(F.nn, 1);
    dsp_core_destroy(c);
}

static void test_oem_errors_retry_fail_and_wake(void **state)
{
    (void)state;
    struct dsp_core *c = core_new(true, T0);
    vehicle(c, "v1", "tesla", T0);
    telemetry(c, "v1", D2EV_CHG_CHARGING, T0);
    schedule(c, "v1", 1, D2EV_SCHED_OPTIMAL, T0, 540, night, 2, T0);
    answer(c, D2EV_OEM_RETRY, 0, false, T0);
    expect_record(D2EV_CMD_STOP, D2EV_DISPATCH_RETRY, 0, 1);
    assert_string_equal(last_record()->error_class, "retry");
    tick(c, T0 + MIN);
    assert_int_equal(F.nsub, 2);
    /* woken, then accepted: a wake record, then sent */
    answer(c, D2EV_OEM_OK, D2EV_OEM_CMD_CONFIRMED, true, T0 + MIN);
    assert_int_equal(F.d[F.nd - 2].command, D2EV_CMD_WAKE);
    assert_int_equal(F.d[F.nd - 2].result, D2EV_DISPATCH_SENT);
    expect_record(D2EV_CMD_STOP, D2EV_DISPATCH_SENT, 0, 2);
    telemetry(c, "v1", D2EV_CHG_STOPPED, T0 + 2 * MIN);
    expect_record(D2EV_CMD_STOP, D2EV_DISPATCH_CONFIRMED, 0, 2);
    /* consent revoked: permanent, failed at once, the driver is told */
    tick(c, T0 + 180 * MIN);
    answer(c, D2EV_OEM_PERMANENT, 0, false, T0 + 180 * MIN);
    expect_record(D2EV_CMD_START, D2EV_DISPATCH_FAILED, 0, 1);
    assert_string_equal(last_record()->error_class, "permanent");
    assert_int_equal(F.nn, 1);
    assert_string_equal(F.n[0].kind, "charge_not_started");
    tick(c, T0 + 200 * MIN);
    assert_int_equal(F.nsub, 3);
    /* an OEM the service cannot reach is a failure too */
    F.submit_rc = D2EV_ERR_NOT_FOUND;
    vehicle(c, "v9", "nosuchoem", T0 + 200 * MIN);
    telemetry(c, "v9", D2EV_CHG_CHARGING, T0 + 200 * MIN);
    const int later[] = { 300, 360 };
    schedule(c, "v9", 1, D2EV_SCHED_OPTIMAL, T0 + 200 * MIN, 540, later, 1, T0 + 200 * MIN);
    expect_record(D2EV_CMD_STOP, D2EV_DISPATCH_FAILED, 0, 1);
    assert_non_null(strstr(last_record()->detail, "no adapter"));
    dsp_core_destroy(c);
}

static void test_stale_and_replayed_versions_never_override_newer(void **state)
{
    (void)state;
    struct dsp_core *c = core_new(true, T0);
    vehicle(c, "v1", "smartcar", T0);
    telemetry(c, "v1", D2EV_CHG_CHARGING, T0);
    const int now_window[] = { 0, 120 };
    /* v10 says charge now: nothing to do */
    assert_int_equal(schedule(c, "v1", 10, D2EV_SCHED_OPTIMAL, T0, 540, now_window, 1, T0),
                     DSP_APPLIED);
    assert_int_equal(F.nsub, 0);
    /* an older v5 that says pause is ignored, and so is v10 again */
    assert_int_equal(schedule(c, "v1", 5, D2EV_SCHED_OPTIMAL, T0, 540, night, 2, T0 + MIN),
                     DSP_STALE);
    assert_int_equal(schedule(c, "v1", 10, D2EV_SCHED_OPTIMAL, T0, 540, night, 2, T0 + MIN),
                     DSP_STALE);
    assert_int_equal(F.nsub, 0);
    /* v11 pauses */
    assert_int_equal(schedule(c, "v1", 11, D2EV_SCHED_OPTIMAL, T0, 540, night, 2, T0 + MIN),
                     DSP_APPLIED);
    assert_int_equal(F.nsub, 1);
    assert_int_equal(F.sub[0].command, D2EV_CMD_STOP);
    sent(c, T0 + MIN);
    assert_int_equal(last_record()->schedule_version, 11);
    /* a version that charges now, while the stop waits for confirmation:
     * the stop is superseded and a start goes out */
    schedule(c, "v1", 12, D2EV_SCHED_CHARGE_NOW, T0 + 2 * MIN, 540, now_window, 1, T0 + 2 * MIN);
    expect_record(D2EV_CMD_STOP, D2EV_DISPATCH_SKIPPED, 0, 1);
    telemetry(c, "v1", D2EV_CHG_STOPPED, T0 + 3 * MIN);
    assert_int_equal(F.nsub, 2);
    assert_int_equal(F.sub[1].command, D2EV_CMD_START);
    sent(c, T0 + 3 * MIN);
    expect_record(D2EV_CMD_START, D2EV_DISPATCH_SENT, 0, 1);
    assert_int_equal(last_record()->schedule_version, 12);
    dsp_core_destroy(c);
}

/* Pause a car and confirm it; returns the time after. */
static int64_t pause_car(struct dsp_core *c, const char *id)
{
    vehicle(c, id, "smartcar", T0);
    telemetry(c, id, D2EV_CHG_CHARGING, T0);
    schedule(c, id, 1, D2EV_SCHED_OPTIMAL, T0, 540, night, 2, T0);
    sent(c, T0);
    telemetry(c, id, D2EV_CHG_STOPPED, T0 + MIN);
    expect_record(D2EV_CMD_STOP, D2EV_DISPATCH_CONFIRMED, 0, 1);
    return T0 + 2 * MIN;
}

static void test_fail_safe_resumes_only_cars_we_paused_and_never_stops(void **state)
{
    (void)state;
    struct dsp_core *c = core_new(true, T0);
    /* no forecast: resume */
    int64_t t = pause_car(c, "a");
    const int none[] = { 0 };
    schedule(c, "a", 2, D2EV_SCHED_NO_FORECAST, t, 540, none, 0, t);
    assert_int_equal(F.sub[F.nsub - 1].command, D2EV_CMD_START);
    sent(c, t);
    expect_record(D2EV_CMD_START, D2EV_DISPATCH_SENT, -1, 1);
    telemetry(c, "a", D2EV_CHG_CHARGING, t + MIN);
    expect_record(D2EV_CMD_START, D2EV_DISPATCH_CONFIRMED, -1, 1);
    /* schedule tombstone: resume */
    pause_car(c, "b");
    size_t before = F.nsub;
    assert_int_equal(dsp_core_on_schedule_deleted(c, "b", t), 0);
    assert_int_equal(F.nsub, before + 1);
    assert_int_equal(F.sub[F.nsub - 1].command, D2EV_CMD_START);
    sent(c, t);
    telemetry(c, "b", D2EV_CHG_CHARGING, t + MIN);
    /* stale: not refreshed for 24 h (the windows run a day ahead) */
    vehicle(c, "s", "smartcar", T0);
    telemetry(c, "s", D2EV_CHG_CHARGING, T0);
    const int far[] = { 1500, 1560 };
    schedule(c, "s", 1, D2EV_SCHED_OPTIMAL, T0, 1600, far, 1, T0);
    sent(c, T0);
    telemetry(c, "s", D2EV_CHG_STOPPED, T0 + MIN);
    before = F.nsub;
    tick(c, T0 + 1439 * MIN);
    assert_int_equal(F.nsub, before);
    tick(c, T0 + 1440 * MIN);
    assert_int_equal(F.nsub, before + 1);
    assert_int_equal(F.sub[F.nsub - 1].command, D2EV_CMD_START);
    sent(c, T0 + 1440 * MIN);
    expect_record(D2EV_CMD_START, D2EV_DISPATCH_SENT, -1, 1);
    /* a car charging by itself with no schedule, or a no_forecast one, is
     * never stopped, and one we did not pause is never started */
    before = F.nsub;
    vehicle(c, "n", "smartcar", T0);
    telemetry(c, "n", D2EV_CHG_CHARGING, T0);
    schedule(c, "n", 1, D2EV_SCHED_NO_FORECAST, T0, 540, none, 0, T0);
    vehicle(c, "m", "smartcar", T0);
    telemetry(c, "m", D2EV_CHG_STOPPED, T0);
    assert_int_equal(dsp_core_on_vehicle_deleted(c, "m", T0), 0);
    tick(c, T0 + 1441 * MIN);
    assert_int_equal(F.nsub, before);
    dsp_core_destroy(c);
}

static void test_deregistration_during_a_pause_resumes_with_deferred_credentials(void **state)
{
    (void)state;
    struct dsp_core *c = core_new(true, T0);
    int64_t t = pause_car(c, "d");
    /* the credentials tombstone arrives first: kept, we still need them */
    assert_false(dsp_core_on_credentials_deleted(c, "d", 0));
    assert_int_equal(dsp_core_on_vehicle_deleted(c, "d", t), 0);
    assert_int_equal(F.sub[F.nsub - 1].command, D2EV_CMD_START);
    assert_int_equal(dsp_core_on_schedule_deleted(c, "d", t), 0);
    assert_int_equal(F.nrel, 0);
    /* no telemetry will come for a deregistered car: the OEM's word ends it */
    sent(c, t);
    expect_record(D2EV_CMD_START, D2EV_DISPATCH_SENT, -1, 1);
    assert_non_null(strstr(last_record()->detail, "deregistered"));
    /* done with it: credentials released and the car forgotten */
    assert_int_equal(F.nrel, 1);
    assert_string_equal(F.released[0], "d");
    struct dsp_vehicle_view vv;
    dsp_core_view(c, "d", &vv);
    assert_false(vv.found);
    /* a car we did not pause lets its credentials go at once */
    vehicle(c, "e", "smartcar", T0);
    assert_true(dsp_core_on_credentials_deleted(c, "e", 0));
    dsp_core_destroy(c);
}

/* Feed every record produced so far into a fresh core, as a restart would. */
static struct dsp_core *restart(struct dsp_core *old, int64_t now,
                                void (*state_topics)(struct dsp_core *, int64_t))
{
    dsp_core_destroy(old);
    struct dsp_core *c = core_new(false, now);
    state_topics(c, now);
    size_t n = nh;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(dsp_core_on_history(c, &H[i], 0, now), 0);
    assert_int_equal(F.nsub, 0);
    assert_int_equal(F.nd, 0);
    dsp_core_set_live(c, true, now);
    tick(c, now);
    return c;
}

static void night_state(struct dsp_core *c, int64_t now)
{
    vehicle(c, "v1", "smartcar", now);
    schedule(c, "v1", 7, D2EV_SCHED_OPTIMAL, T0, 540, night, 2, now);
}

static void deregistered_state(struct dsp_core *c, int64_t now)
{
    vehicle(c, "v1", "smartcar", now);
    schedule(c, "v1", 7, D2EV_SCHED_OPTIMAL, T0, 540, night, 2, now);
    assert_int_equal(dsp_core_on_vehicle_deleted(c, "v1", now), 0);
    assert_int_equal(dsp_core_on_schedule_deleted(c, "v1", now), 0);
    assert_false(dsp_core_on_credentials_deleted(c, "v1", 0));
}

static void test_restart_resends_nothing_confirmed_and_misses_nothing(void **state)
{
    (void)state;
    struct dsp_core *c = core_new(true, T0);
    vehicle(c, "v1", "smartcar", T0);
    telemetry(c, "v1", D2EV_CHG_CHARGING, T0);
    schedule(c, "v1", 7, D2EV_SCHED_OPTIMAL, T0, 540, night, 2, T0);
    sent(c, T0);
    telemetry(c, "v1", D2EV_CHG_STOPPED, T0 + MIN);
    tick(c, T0 + 180 * MIN);
    sent(c, T0 + 180 * MIN);
    telemetry(c, "v1", D2EV_CHG_CHARGING, T0 + 181 * MIN);
    expect_record(D2EV_CMD_START, D2EV_DISPATCH_CONFIRMED, 0, 1);
    /* killed mid-window, restarted: nothing to send */
    c = restart(c, T0 + 200 * MIN, night_state);
    assert_int_equal(F.nsub, 0);
    /* the boundary passes while it was down: the stop goes out late, once */
    c = restart(c, T0 + 250 * MIN, night_state);
    assert_int_equal(F.nsub, 1);
    assert_int_equal(F.sub[0].command, D2EV_CMD_STOP);
    sent(c, T0 + 250 * MIN);
    expect_record(D2EV_CMD_STOP, D2EV_DISPATCH_SENT, 0, 1);
    assert_string_equal(last_record()->command_id, "7-2-stop");
    /* killed while the stop waited for confirmation: it keeps waiting (with a
     * fresh window for the telemetry behind the committed offset) */
    c = restart(c, T0 + 252 * MIN, night_state);
    assert_int_equal(F.nsub, 0);
    struct dsp_vehicle_view vv;
    dsp_core_view(c, "v1", &vv);
    assert_int_equal(vv.phase, DSP_AWAITING);
    assert_int_equal(vv.command, D2EV_CMD_STOP);
    telemetry(c, "v1", D2EV_CHG_STOPPED, T0 + 253 * MIN);
    expect_record(D2EV_CMD_STOP, D2EV_DISPATCH_CONFIRMED, 0, 1);
    assert_string_equal(last_record()->command_id, "7-2-stop");
    /* our own records fed back (the echo) change nothing */
    struct d2ev_dispatch echo[16];
    size_t ne = F.nd;
    memcpy(echo, F.d, ne * sizeof(echo[0]));
    for (size_t i = 0; i < ne; i++)
        assert_int_equal(dsp_core_on_history(c, &echo[i], 0, T0 + 254 * MIN), 0);
    dsp_core_view(c, "v1", &vv);
    assert_int_equal(vv.phase, DSP_IDLE);
    assert_true(vv.paused_by_us);
    assert_int_equal(F.nsub, 0);
    /* a restart after deregistration replays the tombstones: the car we paused
     * is resumed, with the credentials kept until then */
    c = restart(c, T0 + 260 * MIN, deregistered_state);
    assert_int_equal(F.nsub, 1);
    assert_int_equal(F.sub[0].command, D2EV_CMD_START);
    answer(c, D2EV_OEM_OK, D2EV_OEM_CMD_ALREADY, false, T0 + 260 * MIN);
    assert_int_equal(F.nrel, 1);
    dsp_core_destroy(c);
}

static void test_replay_sends_nothing_until_live_and_drop_partition(void **state)
{
    (void)state;
    struct dsp_core *c = core_new(false, T0);
    vehicle(c, "v1", "smartcar", T0);
    telemetry(c, "v1", D2EV_CHG_CHARGING, T0);
    schedule(c, "v1", 7, D2EV_SCHED_OPTIMAL, T0, 540, night, 2, T0);
    assert_int_equal(dsp_core_tick(c, T0 + 10 * MIN), 0);
    assert_int_equal(F.nsub, 0);
    dsp_core_set_live(c, true, T0 + 10 * MIN);
    tick(c, T0 + 10 * MIN);
    assert_int_equal(F.nsub, 1);
    assert_int_equal(dsp_core_vehicle_count(c), 1);
    dsp_core_drop_partition(c, 0);
    assert_int_equal(dsp_core_vehicle_count(c), 0);
    /* the answer for a dropped car is ignored */
    sent(c, T0 + 10 * MIN);
    assert_int_equal(F.nd, 0);
    dsp_core_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_night_pause_and_resume_at_the_boundaries),
        cmocka_unit_test(test_no_command_when_the_car_already_does_what_is_intended),
        cmocka_unit_test(test_the_next_plan_within_the_grace_after_ready_by_sends_nothing),
        cmocka_unit_test(test_a_car_that_ignores_stop_is_retried_then_alerted_once),
        cmocka_unit_test(test_a_start_that_never_flows_is_alerted_and_no_telemetry_is_not_blamed),
        cmocka_unit_test(test_oem_errors_retry_fail_and_wake),
        cmocka_unit_test(test_stale_and_replayed_versions_never_override_newer),
        cmocka_unit_test(test_fail_safe_resumes_only_cars_we_paused_and_never_stops),
        cmocka_unit_test(test_deregistration_during_a_pause_resumes_with_deferred_credentials),
        cmocka_unit_test(test_restart_resends_nothing_confirmed_and_misses_nothing),
        cmocka_unit_test(test_replay_sends_nothing_until_live_and_drop_partition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
