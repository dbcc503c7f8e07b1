/* Unit tests of the telemetry core on a manual clock, with a fake engine:
 * which vehicles are polled when, newest wins, backoff on 429s, permanent
 * errors, budgets, rebalances, and samples turning into sessions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core.h"
#include "d2ev/clock.h"
#include "d2ev/log.h"
#include "d2ev/metrics.h"

#define SEC 1000LL
#define MIN 60000LL
#define T0  1795200000000LL /* 2026-11-18T00:00:00Z */

struct fake {
    struct tel_vehicle *reads[256];
    char read_ids[256][65];
    int nreads;
    int fail_submits;
    struct d2ev_telemetry samples[256];
    int nsamples;
    struct d2ev_session sessions[256];
    int nsessions;
};

static int f_submit(void *opaque, struct tel_vehicle *v, const char *oem, const char *oem_vid,
                    const char *vid)
{
    struct fake *f = opaque;
    if (f->fail_submits) {
        f->fail_submits--;
        return D2EV_ERR_STATE;
    }
    assert_true(f->nreads < 256);
    assert_non_null(oem_vid);
    snprintf(f->read_ids[f->nreads], 65, "%s", vid);
    f->reads[f->nreads++] = v;
    return 0;
}

static int f_telemetry(void *opaque, const struct d2ev_telemetry *t)
{
    struct fake *f = opaque;
    assert_true(f->nsamples < 256);
    f->samples[f->nsamples++] = *t;
    return 0;
}

static int f_session(void *opaque, const struct d2ev_session *s)
{
    struct fake *f = opaque;
    assert_true(f->nsessions < 256);
    f->sessions[f->nsessions++] = *s;
    return 0;
}

static const struct tel_core_ops fake_ops = { f_submit, f_telemetry, f_session };

struct fx {
    struct fake f;
    struct tel_core *c;
    struct tel_core_config cfg;
    int64_t now, mono;
};

static const struct tel_oem_info oems[] = {
    { "tesla", true, 50, 100 },
    { "enode", false, 20, 40 },
};

static int setup(void **state)
{
    d2ev_log_init("test", D2EV_LOG_ERROR);
    struct fx *x = calloc(1, sizeof(*x));
    x->now = T0;
    x->mono = d2ev_clock_mono_ms();
    d2ev_clock_set_manual(x->now);
    tel_core_config_default(&x->cfg);
    x->c = tel_core_create(&x->cfg, oems, 2, &fake_ops, &x->f, 99, NULL);
    assert_non_null(x->c);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    tel_core_destroy(x->c);
    free(x);
    d2ev_metrics_reset();
    return 0;
}

static void reconfigure(struct fx *x)
{
    tel_core_destroy(x->c);
    x->c = tel_core_create(&x->cfg, oems, 2, &fake_ops, &x->f, 99, NULL);
    assert_non_null(x->c);
}

static void advance(struct fx *x, int64_t ms)
{
    x->now += ms;
    x->mono += ms;
    d2ev_clock_set_manual(x->now);
}

static void tick(struct fx *x)
{
    tel_core_tick(x->c, x->now, x->mono);
}

/* Advance in steps of `step`, ticking, for `total`. */
static void run_for(struct fx *x, int64_t total, int64_t step)
{
    for (int64_t t = 0; t < total; t += step) {
        advance(x, step);
        tick(x);
    }
}

static void add_vehicle(struct fx *x, const char *id, const char *oem, int32_t partition,
                        int64_t offset, enum d2ev_vehicle_status status)
{
    struct d2ev_vehicle v;
    memset(&v, 0, sizeof(v));
    snprintf(v.vehicle_id, sizeof(v.vehicle_id), "%s", id);
    snprintf(v.oem, sizeof(v.oem), "%s", oem);
    snprintf(v.oem_vehicle_id, sizeof(v.oem_vehicle_id), "oem-%s", id);
    snprintf(v.region, sizeof(v.region), "GB");
    v.has_battery_kwh = true;
    v.battery_kwh = 60;
    v.has_max_power_kw = true;
    v.max_power_kw = 7;
    v.status = status;
    assert_int_equal(tel_core_on_vehicle(x->c, &v, partition, offset, x->now), 0);
}

/* Answer read i with a charge state (reported `age` ms ago). */
static void answer_ok(struct fx *x, int i, double soc, enum d2ev_charging_state st, double kwh,
                      int64_t age)
{
    struct d2ev_oem_state s;
    memset(&s, 0, sizeof(s));
    s.struct_size = sizeof(s);
    s.fields = D2EV_OEM_F_SOC | D2EV_OEM_F_CHARGING_STATE | D2EV_OEM_F_PLUGGED_IN |
               D2EV_OEM_F_REPORTED_AT | D2EV_OEM_F_ENERGY_ADDED | D2EV_OEM_F_POWER_KW |
               D2EV_OEM_F_CHARGE_LIMIT;
    s.soc_pct = soc;
    s.charging_state = st;
    s.plugged_in = st != D2EV_CHG_DISCONNECTED;
    s.reported_at_ms = x->now - age;
    s.energy_added_kwh = kwh;
    s.power_kw = st == D2EV_CHG_CHARGING ? 7 : 0;
    s.charge_limit_pct = 80;
    struct d2ev_oem_outcome o = { .cls = D2EV_OEM_OK, .state = &s };
    tel_core_on_outcome(x->c, x->f.reads[i], &o, x->now);
}

static void answer_err(struct fx *x, int i, uint32_t cls, int64_t retry_after_ms)
{
    struct d2ev_oem_outcome o = { .cls = cls, .retry_after_ms = retry_after_ms, .message = "x" };
    tel_core_on_outcome(x->c, x->f.reads[i], &o, x->now);
}

static int reads_of(const struct fx *x, const char *id, int from)
{
    int n = 0;
    for (int i = from; i < x->f.nreads; i++)
        n += !strcmp(x->f.read_ids[i], id);
    return n;
}

/* ------------------------------------------------------------ tests */

static void test_only_pollable_vehicles_are_polled_and_only_live(void **state)
{
    struct fx *x = *state;
    add_vehicle(x, "t-1", "tesla", 0, 1, D2EV_VEHICLE_ACTIVE);
    add_vehicle(x, "e-1", "enode", 0, 2, D2EV_VEHICLE_ACTIVE);
    add_vehicle(x, "x-1", "nissan", 0, 3, D2EV_VEHICLE_ACTIVE);
    add_vehicle(x, "s-1", "enode", 0, 4, D2EV_VEHICLE_SUSPENDED);
    assert_int_equal(tel_core_class_count(x->c, TEL_CLASS_NO_CREDENTIALS), 1);
    assert_int_equal(tel_core_class_count(x->c, TEL_CLASS_UNKNOWN_OEM), 1);
    assert_int_equal(tel_core_class_count(x->c, TEL_CLASS_STOPPED), 1);
    assert_int_equal(tel_core_class_count(x->c, TEL_CLASS_NEW), 1);
    run_for(x, 2 * MIN, SEC);
    assert_int_equal(x->f.nreads, 0); /* not live: replaying */
    tel_core_set_live(x->c, true, x->now);
    run_for(x, 2 * MIN, SEC);
    assert_int_equal(x->f.nreads, 1);
    assert_string_equal(x->f.read_ids[0], "e-1");
    /* credentials arrive: the Tesla is polled too */
    tel_core_on_credentials(x->c, "t-1", 0, 10, true, x->now);
    run_for(x, 2 * MIN, SEC);
    assert_int_equal(reads_of(x, "t-1", 0), 1);
    assert_int_equal(reads_of(x, "x-1", 0) + reads_of(x, "s-1", 0), 0);
    assert_int_equal(tel_core_in_flight(x->c), 2);
}

static void test_samples_are_published_newest_wins(void **state)
{
    struct fx *x = *state;
    add_vehicle(x, "e-1", "enode", 0, 1, D2EV_VEHICLE_ACTIVE);
    tel_core_set_live(x->c, true, x->now);
    run_for(x, 2 * MIN, SEC);
    assert_int_equal(x->f.nreads, 1);
    answer_ok(x, 0, 50, D2EV_CHG_CHARGING, 1.0, 2 * SEC);
    assert_int_equal(x->f.nsamples, 1);
    struct d2ev_telemetry *t = &x->f.samples[0];
    assert_string_equal(t->vehicle_id, "e-1");
    assert_string_equal(t->oem, "enode");
    assert_int_equal(t->observed_at, x->now);
    assert_int_equal(t->reported_at, x->now - 2 * SEC);
    assert_true(t->plugged_in);
    assert_true(t->has_energy_added_kwh);
    assert_int_equal(x->f.nsessions, 1);
    assert_int_equal(x->f.sessions[0].event, D2EV_SESSION_PLUG_IN);
    struct tel_vehicle *v = tel_core_find(x->c, "e-1");
    assert_int_equal(v->cls, TEL_CLASS_CHARGING);
    /* next poll after the charging interval (+-10 %) */
    assert_true(v->timer.due >= x->now + 162 * SEC && v->timer.due <= x->now + 198 * SEC);
    run_for(x, 4 * MIN, SEC);
    assert_int_equal(x->f.nreads, 2);
    /* a late answer older than what was published is not published */
    answer_ok(x, 1, 49, D2EV_CHG_CHARGING, 0.9, 5 * MIN);
    assert_int_equal(x->f.nsamples, 1);
    assert_int_equal(tel_core_stats(x->c)->stale, 1);
    run_for(x, 4 * MIN, SEC);
    answer_ok(x, 2, 52, D2EV_CHG_CHARGING, 1.4, 0);
    assert_int_equal(x->f.nsamples, 2);
    /* a car clock far ahead cannot block later samples */
    run_for(x, 4 * MIN, SEC);
    struct d2ev_oem_state s = { .struct_size = sizeof(s) };
    s.fields = D2EV_OEM_F_SOC | D2EV_OEM_F_CHARGING_STATE | D2EV_OEM_F_REPORTED_AT;
    s.soc_pct = 53;
    s.charging_state = D2EV_CHG_CHARGING;
    s.reported_at_ms = x->now + 3600 * SEC;
    struct d2ev_oem_outcome o = { .cls = D2EV_OEM_OK, .state = &s };
    tel_core_on_outcome(x->c, x->f.reads[3], &o, x->now);
    assert_int_equal(x->f.nsamples, 3);
    assert_int_equal(x->f.samples[2].reported_at, x->now);
}

static void test_rate_limited_vehicle_waits_for_retry_after(void **state)
{
    struct fx *x = *state;
    add_vehicle(x, "e-1", "enode", 0, 1, D2EV_VEHICLE_ACTIVE);
    tel_core_set_live(x->c, true, x->now);
    run_for(x, 2 * MIN, SEC);
    answer_err(x, 0, D2EV_OEM_RATE_LIMITED, 40 * MIN);
    struct tel_vehicle *v = tel_core_find(x->c, "e-1");
    assert_int_equal(v->cls, TEL_CLASS_BACKOFF);
    assert_true(v->timer.due >= x->now + 40 * MIN);
    run_for(x, 39 * MIN, SEC);
    assert_int_equal(x->f.nreads, 1); /* nothing before Retry-After */
    run_for(x, 2 * MIN, SEC);
    assert_int_equal(x->f.nreads, 2);
    /* transient failures back off exponentially */
    answer_err(x, 1, D2EV_OEM_RETRY, 0);
    int64_t first = v->timer.due - x->now;
    run_for(x, first + SEC, SEC);
    answer_err(x, 2, D2EV_OEM_RETRY, 0);
    assert_true(v->timer.due - x->now >= first); /* grows (after jitter) */
    assert_int_equal(v->errors, 3);
}

static void test_permanent_error_stops_until_a_newer_record(void **state)
{
    struct fx *x = *state;
    add_vehicle(x, "t-1", "tesla", 0, 5, D2EV_VEHICLE_ACTIVE);
    tel_core_on_credentials(x->c, "t-1", 0, 7, true, x->now);
    tel_core_set_live(x->c, true, x->now);
    run_for(x, 2 * MIN, SEC);
    answer_err(x, 0, D2EV_OEM_PERMANENT, 0);
    assert_int_equal(tel_core_class_count(x->c, TEL_CLASS_STOPPED), 1);
    run_for(x, 120 * MIN, 10 * SEC);
    assert_int_equal(x->f.nreads, 1);
    /* the same records replayed (a rebalance) change nothing */
    add_vehicle(x, "t-1", "tesla", 0, 5, D2EV_VEHICLE_ACTIVE);
    tel_core_on_credentials(x->c, "t-1", 0, 7, true, x->now);
    run_for(x, 10 * MIN, 10 * SEC);
    assert_int_equal(x->f.nreads, 1);
    /* registration wrote new credentials (the driver linked the car again) */
    tel_core_on_credentials(x->c, "t-1", 0, 9, true, x->now);
    run_for(x, 2 * MIN, SEC);
    assert_int_equal(x->f.nreads, 2);
    assert_int_equal(tel_core_stats(x->c)->stopped, 1);
}

static void test_asleep_cars_are_polled_rarely(void **state)
{
    struct fx *x = *state;
    add_vehicle(x, "e-1", "enode", 0, 1, D2EV_VEHICLE_ACTIVE);
    tel_core_set_live(x->c, true, x->now);
    run_for(x, 2 * MIN, SEC);
    answer_err(x, 0, D2EV_OEM_ASLEEP, 0);
    struct tel_vehicle *v = tel_core_find(x->c, "e-1");
    assert_int_equal(v->cls, TEL_CLASS_ASLEEP);
    assert_true(v->timer.due >= x->now + 54 * MIN);
    /* Enode answers a sleeping car with its last state and isReachable false */
    run_for(x, 70 * MIN, 10 * SEC);
    assert_int_equal(x->f.nreads, 2);
    struct d2ev_oem_state s = { .struct_size = sizeof(s) };
    s.fields = D2EV_OEM_F_SOC | D2EV_OEM_F_CHARGING_STATE | D2EV_OEM_F_ONLINE;
    s.soc_pct = 60;
    s.charging_state = D2EV_CHG_STOPPED;
    s.online = 0;
    struct d2ev_oem_outcome o = { .cls = D2EV_OEM_OK, .state = &s };
    tel_core_on_outcome(x->c, x->f.reads[1], &o, x->now);
    assert_int_equal(v->cls, TEL_CLASS_ASLEEP);
}

static void test_vehicle_budget_caps_polls(void **state)
{
    struct fx *x = *state;
    x->cfg.policy.charging_ms = 10 * SEC;
    x->cfg.policy.min_gap_ms = SEC;
    x->cfg.policy.vehicle_per_hour = 6;
    x->cfg.policy.vehicle_burst = 2;
    reconfigure(x);
    add_vehicle(x, "e-1", "enode", 0, 1, D2EV_VEHICLE_ACTIVE);
    tel_core_set_live(x->c, true, x->now);
    double kwh = 0;
    int answered = 0;
    for (int64_t t = 0; t < 60 * MIN; t += SEC) {
        advance(x, SEC);
        tick(x);
        while (answered < x->f.nreads) {
            kwh += 0.1;
            answer_ok(x, answered++, 50 + kwh, D2EV_CHG_CHARGING, kwh, 0);
        }
    }
    /* charging wants a poll every 10 s; the budget allows 2 + 6 an hour */
    assert_true(x->f.nreads >= 6 && x->f.nreads <= 8);
    /* failures cannot spend more either */
    x->f.fail_submits = 1000;
    for (int64_t t = 0; t < 60 * MIN; t += SEC) {
        advance(x, SEC);
        tick(x);
    }
    assert_true(tel_core_stats(x->c)->submit_failed <= 7);
}

static void test_oem_budget_and_outstanding_cap(void **state)
{
    struct fx *x = *state;
    x->cfg.max_outstanding = 3;
    x->cfg.oem_budget_share = 1.0;
    reconfigure(x);
    char id[16];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "e-%d", i);
        add_vehicle(x, id, "enode", 0, i + 1, D2EV_VEHICLE_ACTIVE);
    }
    tel_core_set_live(x->c, true, x->now);
    run_for(x, 2 * MIN, SEC);
    assert_int_equal(x->f.nreads, 3);
    answer_ok(x, 0, 50, D2EV_CHG_STOPPED, 0, 0);
    tick(x);
    assert_int_equal(x->f.nreads, 4);
    /* half the partitions: half of the OEM's 20/s (burst 40), so at most 10 a
     * second once the burst is spent */
    x->cfg.max_outstanding = 1000;
    reconfigure(x);
    for (int i = 0; i < 60; i++) {
        snprintf(id, sizeof(id), "e-%d", i);
        add_vehicle(x, id, "enode", 0, i + 1, D2EV_VEHICLE_ACTIVE);
    }
    tel_core_set_share(x->c, 0.5, x->mono);
    tel_core_set_live(x->c, true, x->now);
    int before = x->f.nreads;
    advance(x, 61 * SEC); /* all due; the wall clock stands still */
    x->mono -= 61 * SEC;
    tick(x);
    assert_int_equal(x->f.nreads - before, 20); /* the burst */
    x->mono += SEC;
    tick(x);
    assert_int_equal(x->f.nreads - before, 30);
}

static void test_rebalance_parks_and_resumes(void **state)
{
    struct fx *x = *state;
    add_vehicle(x, "e-0", "enode", 0, 1, D2EV_VEHICLE_ACTIVE);
    add_vehicle(x, "e-1", "enode", 1, 1, D2EV_VEHICLE_ACTIVE);
    tel_core_set_live(x->c, true, x->now);
    run_for(x, 2 * MIN, SEC);
    assert_int_equal(x->f.nreads, 2);
    int i0 = strcmp(x->f.read_ids[0], "e-0") == 0 ? 0 : 1;
    answer_ok(x, 1 - i0, 50, D2EV_CHG_CHARGING, 1, 0); /* e-1 has a session */
    assert_int_equal(x->f.nsessions, 1);
    /* a rebalance revokes both partitions while e-0's read is out */
    int32_t all[] = { 0, 1 };
    tel_core_park(x->c, all, 2);
    assert_int_equal(tel_core_in_flight_gone(x->c), 1);
    answer_ok(x, i0, 40, D2EV_CHG_CHARGING, 1, 0);
    assert_int_equal(tel_core_in_flight_gone(x->c), 0);
    assert_int_equal(x->f.nsamples, 1); /* the parked vehicle's answer is dropped */
    run_for(x, 30 * MIN, 10 * SEC);
    assert_int_equal(x->f.nreads, 2); /* parked: not polled */
    /* only partition 1 comes back */
    int32_t mine[] = { 1 };
    tel_core_assign(x->c, mine, 1, x->now);
    assert_null(tel_core_find(x->c, "e-0"));
    struct tel_vehicle *v = tel_core_find(x->c, "e-1");
    assert_non_null(v);
    assert_true(v->sess.flags & TS_OPEN);
    run_for(x, SEC, SEC);
    assert_int_equal(x->f.nreads, 3); /* overdue: polled at once */
    assert_string_equal(x->f.read_ids[2], "e-1");
    assert_int_equal(tel_core_count(x->c), 1);
}

static void test_deleted_while_in_flight(void **state)
{
    struct fx *x = *state;
    add_vehicle(x, "e-1", "enode", 0, 1, D2EV_VEHICLE_ACTIVE);
    tel_core_set_live(x->c, true, x->now);
    run_for(x, 2 * MIN, SEC);
    tel_core_on_vehicle_deleted(x->c, "e-1");
    assert_null(tel_core_find(x->c, "e-1"));
    answer_ok(x, 0, 50, D2EV_CHG_CHARGING, 1, 0); /* freed here (ASan checks) */
    assert_int_equal(x->f.nsamples, 0);
    assert_int_equal(tel_core_in_flight(x->c), 0);
    assert_int_equal(tel_core_count(x->c), 0);
}

/* Relinked to another OEM while a read was out: the answer is not the new
 * car's, and each OEM's count of reads out stays right. */
static void test_oem_change_while_in_flight(void **state)
{
    struct fx *x = *state;
    x->cfg.max_outstanding = 1;
    reconfigure(x);
    add_vehicle(x, "v-1", "enode", 0, 1, D2EV_VEHICLE_ACTIVE);
    add_vehicle(x, "v-2", "tesla", 0, 2, D2EV_VEHICLE_ACTIVE);
    tel_core_on_credentials(x->c, "v-1", 0, 3, true, x->now);
    tel_core_on_credentials(x->c, "v-2", 0, 4, true, x->now);
    tel_core_set_live(x->c, true, x->now);
    run_for(x, 2 * MIN, SEC);
    assert_int_equal(x->f.nreads, 2); /* one read out per OEM */
    int i1 = strcmp(x->f.read_ids[0], "v-1") == 0 ? 0 : 1;
    add_vehicle(x, "v-1", "tesla", 0, 5, D2EV_VEHICLE_ACTIVE);
    answer_ok(x, i1, 50, D2EV_CHG_CHARGING, 1, 0);
    assert_int_equal(x->f.nsamples, 0); /* an Enode answer for what is now a Tesla */
    answer_ok(x, 1 - i1, 50, D2EV_CHG_CHARGING, 1, 0);
    assert_int_equal(x->f.nsamples, 1);
    assert_int_equal(tel_core_in_flight(x->c), 0);
    run_for(x, 10 * MIN, SEC); /* the Tesla queue allows one out at a time */
    assert_int_equal(reads_of(x, "v-1", 2), 1);
    assert_int_equal(tel_core_in_flight(x->c), 1);
}

/* Credentials and schedules of a car with no record leave nothing behind. */
static void test_tombstones_of_recordless_entries(void **state)
{
    struct fx *x = *state;
    tel_core_set_live(x->c, true, x->now);
    tel_core_on_credentials(x->c, "ghost", 0, 1, true, x->now);
    assert_non_null(tel_core_find(x->c, "ghost"));
    tel_core_on_credentials(x->c, "ghost", 0, 2, false, x->now);
    assert_null(tel_core_find(x->c, "ghost"));
    assert_int_equal(tel_core_count(x->c), 0);
}

static void test_schedule_boundary_brings_the_poll_forward(void **state)
{
    struct fx *x = *state;
    add_vehicle(x, "e-1", "enode", 0, 1, D2EV_VEHICLE_ACTIVE);
    tel_core_set_live(x->c, true, x->now);
    run_for(x, 2 * MIN, SEC);
    answer_ok(x, 0, 50, D2EV_CHG_STOPPED, 0, 0);
    struct tel_vehicle *v = tel_core_find(x->c, "e-1");
    assert_int_equal(v->cls, TEL_CLASS_PLUGGED);
    assert_true(v->timer.due >= x->now + 13 * MIN);
    struct d2ev_window w = { x->now + 40 * MIN, x->now + 100 * MIN, 5 };
    struct d2ev_schedule s;
    memset(&s, 0, sizeof(s));
    snprintf(s.vehicle_id, sizeof(s.vehicle_id), "e-1");
    s.version = 1;
    s.created_at = x->now;
    s.nwindows = 1;
    s.windows = &w;
    assert_int_equal(tel_core_on_schedule(x->c, &s, 0, x->now), 0);
    /* every 15 minutes until the boundary is near, then every 2, and one just after it */
    int at_start = 0;
    while (x->now < w.start + 5 * MIN) {
        advance(x, 5 * SEC);
        tick(x);
        while (x->f.nreads > at_start + 1) {
            at_start++;
            answer_ok(x, at_start, 50, D2EV_CHG_STOPPED, 0, 0);
        }
    }
    int polls = at_start;
    assert_true(polls >= 6 && polls <= 12); /* ~15, ~30, then every 2 minutes */
    assert_int_equal(v->cls, TEL_CLASS_BOUNDARY);
    /* an older version changes nothing */
    s.version = 0;
    s.nwindows = 0;
    assert_int_equal(tel_core_on_schedule(x->c, &s, 0, x->now), 0);
    assert_int_equal(v->sched->version, 1);
}

static void test_restored_session_continues_with_its_id(void **state)
{
    struct fx *x = *state;
    struct d2ev_session ev;
    memset(&ev, 0, sizeof(ev));
    snprintf(ev.vehicle_id, sizeof(ev.vehicle_id), "e-1");
    snprintf(ev.session_id, sizeof(ev.session_id), "s-%lld", (long long)(x->now - 60 * MIN));
    ev.event = D2EV_SESSION_UPDATE;
    ev.started_at = x->now - 60 * MIN;
    ev.at = x->now - 10 * MIN;
    ev.soc_start = 40;
    ev.soc_now = 45;
    ev.energy_kwh = 3;
    ev.charging_s = 3000;
    ev.idle_s = 0;
    assert_int_equal(tel_core_restore_session(x->c, &ev, 0), 0);
    /* a restored vehicle without a record is forgotten when going live */
    struct d2ev_session other = ev;
    snprintf(other.vehicle_id, sizeof(other.vehicle_id), "gone");
    tel_core_restore_session(x->c, &other, 0);
    add_vehicle(x, "e-1", "enode", 0, 1, D2EV_VEHICLE_ACTIVE);
    tel_core_set_live(x->c, true, x->now);
    assert_null(tel_core_find(x->c, "gone"));
    run_for(x, 2 * MIN, SEC); /* polled soon: it is new to this process */
    assert_int_equal(x->f.nreads, 1);
    answer_ok(x, 0, 47, D2EV_CHG_CHARGING, 5, 0);
    assert_int_equal(x->f.nsamples, 1);
    /* no plug_in: the session goes on */
    for (int i = 0; i < x->f.nsessions; i++)
        assert_int_not_equal(x->f.sessions[i].event, D2EV_SESSION_PLUG_IN);
    struct tel_vehicle *v = tel_core_find(x->c, "e-1");
    assert_int_equal(v->sess.started_at, ev.started_at);
    assert_float_equal(v->sess.energy_kwh, 3 + 1.2, 1e-3); /* 2 % of 60 kWh */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_only_pollable_vehicles_are_polled_and_only_live, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_samples_are_published_newest_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limited_vehicle_waits_for_retry_after, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_permanent_error_stops_until_a_newer_record, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_asleep_cars_are_polled_rarely, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vehicle_budget_caps_polls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oem_budget_and_outstanding_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebalance_parks_and_resumes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_while_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oem_change_while_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tombstones_of_recordless_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schedule_boundary_brings_the_poll_forward, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restored_session_continues_with_its_id, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
