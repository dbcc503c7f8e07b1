/* Unit tests of the session tracker: energy, charging/idle split, cost and
 * carbon, full, zombie, eternal, replugs and restore, on hand-made samples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "forecasts.h"
#include "session.h"

#define MIN      60000LL
#define DAY      (1440 * MIN)
#define T0       (20000 * DAY) /* a midnight, UTC */
#define AT(h, m) (T0 + ((h)*60 + (m)) * MIN)

struct rec {
    struct d2ev_session ev[64];
    int n;
};

static void capture(void *arg, const struct d2ev_session *s)
{
    struct rec *r = arg;
    assert_true(r->n < 64);
    r->ev[r->n++] = *s;
}

static int count(const struct rec *r, enum d2ev_session_event e)
{
    int n = 0;
    for (int i = 0; i < r->n; i++)
        n += r->ev[i].event == e;
    return n;
}

static const struct d2ev_session *last_of(const struct rec *r, enum d2ev_session_event e)
{
    for (int i = r->n - 1; i >= 0; i--) {
        if (r->ev[i].event == e)
            return &r->ev[i];
    }
    return NULL;
}

/* Prices 0.20 GBP/kWh until 19:00, 0.40 after (30-minute slots); carbon 100
 * g/kWh, hourly. */
static struct tel_forecasts *forecasts(void)
{
    struct tel_forecasts *fc = tel_forecasts_create();
    double price[48], carbon[24];
    for (int i = 0; i < 48; i++)
        price[i] = i < 38 ? 0.20 : 0.40;
    for (int i = 0; i < 24; i++)
        carbon[i] = 100;
    struct d2ev_forecast f;
    memset(&f, 0, sizeof(f));
    snprintf(f.env.id, sizeof(f.env.id), "p1");
    snprintf(f.region, sizeof(f.region), "GB");
    f.kind = D2EV_FORECAST_PRICE;
    snprintf(f.unit, sizeof(f.unit), "GBP/kWh");
    f.issued_at = T0;
    f.start = T0;
    f.slot_minutes = 30;
    f.n = 48;
    f.values = price;
    assert_int_equal(tel_forecasts_offer(fc, &f), 1);
    snprintf(f.env.id, sizeof(f.env.id), "c1");
    f.kind = D2EV_FORECAST_CARBON;
    snprintf(f.unit, sizeof(f.unit), "gCO2/kWh");
    f.slot_minutes = 60;
    f.n = 24;
    f.values = carbon;
    assert_int_equal(tel_forecasts_offer(fc, &f), 1);
    return fc;
}

struct car {
    struct tel_session s;
    struct tel_session_conf conf;
    struct tel_session_ctx ctx;
    struct tel_point last;
    bool has_last;
    struct rec rec;
    struct tel_forecasts *fc;
};

static void car_init(struct car *c, double battery, double power)
{
    memset(c, 0, sizeof(*c));
    tel_session_conf_default(&c->conf);
    c->conf.efficiency = 1.0;
    c->fc = forecasts();
    c->ctx = (struct tel_session_ctx){ .vehicle_id = "v-1",
                                       .region = "GB",
                                       .battery_kwh = battery,
                                       .max_power_kw = power,
                                       .fc = c->fc };
}

static void car_done(struct car *c)
{
    tel_forecasts_destroy(c->fc);
}

/* One sample: state, SoC, optional counter (< 0: none), power (< 0: none). */
static void feed(struct car *c, int64_t t, enum d2ev_charging_state st, double soc, double counter,
                 double power, double limit)
{
    struct tel_point p = { .t = t, .soc = (float)soc, .state = (uint8_t)st };
    if (st != D2EV_CHG_DISCONNECTED && st != D2EV_CHG_UNKNOWN)
        p.has |= TP_PLUGGED;
    if (counter >= 0) {
        p.has |= TP_ENERGY;
        p.energy_kwh = (float)counter;
    }
    if (power >= 0) {
        p.has |= TP_POWER;
        p.power_kw = (float)power;
    }
    if (limit > 0) {
        p.has |= TP_LIMIT;
        p.limit = (float)limit;
    }
    tel_session_feed(&c->s, &c->conf, &c->ctx, c->has_last ? &c->last : NULL, &p, capture, &c->rec);
    c->last = p;
    c->has_last = true;
}

/* Tesla-like: an energy counter, 6 kW, 18:00-19:30 charging, full, unplug at 21:00. */
static void test_counter_session_energy_split_and_cost(void **state)
{
    struct car c;
    car_init(&c, 60, 11);
    feed(&c, AT(17, 50), D2EV_CHG_DISCONNECTED, 50, 0, -1, 80);
    assert_int_equal(c.rec.n, 0);
    /* plugged in at 18:00 (unseen); first seen at 18:06 with 0.6 kWh in */
    feed(&c, AT(18, 6), D2EV_CHG_CHARGING, 51, 0.6, 6, 80);
    assert_int_equal(c.rec.n, 1);
    const struct d2ev_session *e = &c.rec.ev[0];
    assert_int_equal(e->event, D2EV_SESSION_PLUG_IN);
    assert_int_equal(e->started_at, AT(18, 0));
    assert_int_equal(e->at, AT(18, 6));
    assert_float_equal(e->energy_kwh, 0.6, 1e-3);
    assert_float_equal(e->soc_start, 50, 0.01);
    char id[65];
    snprintf(id, sizeof(id), "s-%lld", (long long)AT(18, 0));
    assert_string_equal(e->session_id, id);
    double kwh = 0.6;
    for (int m = 9; m <= 87; m += 3) { /* 18:09 .. 19:27 */
        kwh += 0.3;
        feed(&c, AT(18, 0) + m * MIN, D2EV_CHG_CHARGING, 51 + m / 4.0, kwh, 6, 80);
    }
    assert_int_equal(count(&c.rec, D2EV_SESSION_FULL), 0);
    /* it stopped at its limit at 19:30, seen at 19:33 */
    feed(&c, AT(19, 33), D2EV_CHG_COMPLETE, 80, 9.0, 0, 80);
    assert_int_equal(count(&c.rec, D2EV_SESSION_FULL), 1);
    feed(&c, AT(19, 48), D2EV_CHG_COMPLETE, 80, 9.0, 0, 80);
    feed(&c, AT(20, 3), D2EV_CHG_COMPLETE, 80, 9.0, 0, 80);
    assert_int_equal(count(&c.rec, D2EV_SESSION_FULL), 1); /* once */
    feed(&c, AT(21, 0), D2EV_CHG_DISCONNECTED, 80, 9.0, -1, 80);
    e = last_of(&c.rec, D2EV_SESSION_UNPLUG);
    assert_non_null(e);
    assert_int_equal(e->ended_at, AT(21, 0));
    assert_float_equal(e->energy_kwh, 9.0, 1e-3);
    assert_float_equal(e->charging_s, 90 * 60, 1);
    assert_float_equal(e->idle_s, 90 * 60, 1);
    /* 6 kWh at 0.20 before 19:00, 3 kWh at 0.40 after */
    assert_float_equal(e->cost, 2.4, 1e-3);
    assert_string_equal(e->currency, "GBP");
    assert_float_equal(e->carbon_g, 900, 0.5);
    assert_float_equal(e->soc_now, 80, 0.01);
    assert_string_equal(e->detail, "");
    /* periodic updates while it was plugged in, none after the unplug */
    assert_int_equal(count(&c.rec, D2EV_SESSION_UPDATE), 3); /* 18:36, 19:06, 20:03 */
    assert_int_equal(c.s.flags, 0);
    int before = c.rec.n;
    feed(&c, AT(21, 30), D2EV_CHG_DISCONNECTED, 80, 9.0, -1, 80);
    assert_int_equal(c.rec.n, before);
    car_done(&c);
}

/* Smartcar-like: SoC only, no power, no counter: energy from the SoC rise. */
static void test_soc_session_uses_battery_size(void **state)
{
    struct car c;
    car_init(&c, 50, 5); /* 5 kW into 50 kWh: 10 % an hour */
    feed(&c, AT(18, 0), D2EV_CHG_CHARGING, 40, -1, -1, 90);
    for (int m = 3; m <= 60; m += 3)
        feed(&c, AT(18, 0) + m * MIN, D2EV_CHG_CHARGING, 40 + m / 6.0, -1, -1, 90);
    /* paused by a command at 19:00; the car stays at 50 % */
    feed(&c, AT(19, 15), D2EV_CHG_STOPPED, 50, -1, -1, 90);
    feed(&c, AT(19, 30), D2EV_CHG_STOPPED, 50, -1, -1, 90);
    assert_int_equal(count(&c.rec, D2EV_SESSION_FULL), 0); /* far from its limit */
    feed(&c, AT(20, 0), D2EV_CHG_DISCONNECTED, 50, -1, -1, 90);
    const struct d2ev_session *e = last_of(&c.rec, D2EV_SESSION_UNPLUG);
    assert_non_null(e);
    assert_float_equal(e->energy_kwh, 5.0, 1e-3);
    assert_float_equal(e->charging_s, 3600, 1);
    assert_float_equal(e->idle_s, 3600, 1);
    assert_float_equal(e->cost, 1.0, 1e-3);
    /* the pause shows as an update when it was seen */
    int changes = 0;
    for (int i = 0; i < c.rec.n; i++)
        changes += !strcmp(c.rec.ev[i].detail, "not charging");
    assert_int_equal(changes, 1);
    car_done(&c);
}

static void test_unpriced_energy_is_reported(void **state)
{
    struct car c;
    car_init(&c, 50, 5);
    c.ctx.region = "NOWHERE";
    feed(&c, AT(18, 0), D2EV_CHG_CHARGING, 40, -1, -1, 90);
    feed(&c, AT(18, 30), D2EV_CHG_CHARGING, 45, -1, -1, 90);
    feed(&c, AT(18, 40), D2EV_CHG_DISCONNECTED, 45, -1, -1, 90);
    const struct d2ev_session *e = last_of(&c.rec, D2EV_SESSION_UNPLUG);
    assert_float_equal(e->cost, 0, 0);
    assert_string_equal(e->currency, "");
    assert_non_null(strstr(e->detail, "2.500 kWh without a price forecast"));
    car_done(&c);
}

static void test_full_when_plugged_in_at_its_limit(void **state)
{
    struct car c;
    car_init(&c, 60, 7);
    feed(&c, AT(18, 0), D2EV_CHG_STOPPED, 79.5, -1, -1, 80);
    assert_int_equal(c.rec.n, 2);
    assert_int_equal(c.rec.ev[0].event, D2EV_SESSION_PLUG_IN);
    assert_int_equal(c.rec.ev[1].event, D2EV_SESSION_FULL);
    car_done(&c);
}

/* Says "charging", but nothing flows. */
static void test_zombie_when_charging_takes_no_energy(void **state)
{
    struct car c;
    car_init(&c, 60, 7);
    feed(&c, AT(18, 0), D2EV_CHG_CHARGING, 40, 0, 7, 80);
    for (int m = 5; m <= 15; m += 5)
        feed(&c, AT(18, 0) + m * MIN, D2EV_CHG_CHARGING, 40, 0, 7, 80);
    assert_int_equal(count(&c.rec, D2EV_SESSION_ANOMALY), 0); /* 15 minutes: not yet */
    feed(&c, AT(18, 20), D2EV_CHG_CHARGING, 40, 0, 7, 80);
    assert_int_equal(count(&c.rec, D2EV_SESSION_ANOMALY), 1);
    const struct d2ev_session *e = last_of(&c.rec, D2EV_SESSION_ANOMALY);
    assert_int_equal(e->anomaly, D2EV_ANOMALY_ZOMBIE);
    assert_non_null(strstr(e->detail, "took no energy for 20 min"));
    feed(&c, AT(18, 40), D2EV_CHG_CHARGING, 40, 0, 7, 80);
    assert_int_equal(count(&c.rec, D2EV_SESSION_ANOMALY), 1); /* once per stall */
    /* energy flows again: re-armed, no new anomaly */
    feed(&c, AT(18, 45), D2EV_CHG_CHARGING, 41, 0.5, 7, 80);
    feed(&c, AT(18, 50), D2EV_CHG_CHARGING, 42, 1.0, 7, 80);
    assert_int_equal(count(&c.rec, D2EV_SESSION_ANOMALY), 1);
    assert_false(c.s.flags & TS_ZOMBIE);
    car_done(&c);
}

/* Whole-percent SoC and no counter: a slow charger's SoC may not move for a
 * while; that is not a zombie. */
static void test_no_zombie_for_slow_whole_percent_soc(void **state)
{
    struct car c;
    car_init(&c, 100, 3.7); /* 3.7 % an hour */
    double soc = 30;
    for (int m = 0; m <= 120; m += 3) {
        double s = 30 + 3.7 * m / 60.0;
        soc = (double)(long)s; /* the OEM shows whole percent */
        feed(&c, AT(18, 0) + m * MIN, D2EV_CHG_CHARGING, soc, -1, 3.7, 80);
    }
    assert_int_equal(count(&c.rec, D2EV_SESSION_ANOMALY), 0);
    car_done(&c);
}

static struct tel_sched *schedule(int64_t created, int64_t a, int64_t b, int64_t version)
{
    struct d2ev_window w = { a, b, 5 };
    struct d2ev_schedule s;
    memset(&s, 0, sizeof(s));
    s.version = version;
    s.created_at = created;
    s.nwindows = a ? 1 : 0;
    s.windows = &w;
    return tel_sched_from(&s);
}

/* Its schedule says charge from 19:00; the car never starts. */
static void test_zombie_when_a_scheduled_start_never_flows(void **state)
{
    struct car c;
    car_init(&c, 60, 7);
    struct tel_sched *s = schedule(AT(18, 6), AT(19, 0), AT(21, 0), 1);
    c.ctx.sched = s;
    feed(&c, AT(18, 5), D2EV_CHG_STOPPED, 40, 0, 0, 80);
    feed(&c, AT(18, 30), D2EV_CHG_STOPPED, 40, 0, 0, 80);
    feed(&c, AT(18, 55), D2EV_CHG_STOPPED, 40, 0, 0, 80);
    assert_int_equal(count(&c.rec, D2EV_SESSION_ANOMALY), 0); /* paused by plan: fine */
    for (int m = 2; m <= 18; m += 2)
        feed(&c, AT(19, m), D2EV_CHG_STOPPED, 40, 0, 0, 80);
    assert_int_equal(count(&c.rec, D2EV_SESSION_ANOMALY), 0);
    feed(&c, AT(19, 20), D2EV_CHG_STOPPED, 40, 0, 0, 80);
    assert_int_equal(count(&c.rec, D2EV_SESSION_ANOMALY), 1);
    const struct d2ev_session *e = last_of(&c.rec, D2EV_SESSION_ANOMALY);
    assert_int_equal(e->anomaly, D2EV_ANOMALY_ZOMBIE);
    assert_non_null(strstr(e->detail, "schedule has it charging"));
    free(s);
    car_done(&c);
}

/* A schedule made before the plug-in ("not_plugged") is about another session. */
static void test_old_schedules_do_not_apply(void **state)
{
    struct car c;
    car_init(&c, 60, 7);
    struct tel_sched *s = schedule(AT(10, 0), AT(18, 0), AT(23, 0), 1);
    c.ctx.sched = s;
    for (int m = 0; m <= 60; m += 5)
        feed(&c, AT(18, 5) + m * MIN, D2EV_CHG_STOPPED, 40, 0, 0, 80);
    assert_int_equal(count(&c.rec, D2EV_SESSION_ANOMALY), 0);
    free(s);
    car_done(&c);
}

/* Charges on although its schedule paused it. */
static void test_eternal_when_charging_while_paused(void **state)
{
    struct car c;
    car_init(&c, 60, 7);
    struct tel_sched *s = schedule(AT(18, 6), AT(20, 0), AT(21, 0), 4);
    c.ctx.sched = s;
    double kwh = 0.1;
    feed(&c, AT(18, 5), D2EV_CHG_CHARGING, 40, kwh, 7, 90);
    for (int m = 10; m < 35; m += 3) {
        kwh += 0.35;
        feed(&c, AT(18, 0) + m * MIN, D2EV_CHG_CHARGING, 40 + m / 10.0, kwh, 7, 90);
    }
    assert_int_equal(count(&c.rec, D2EV_SESSION_ANOMALY), 0);
    kwh += 0.35;
    feed(&c, AT(18, 37), D2EV_CHG_CHARGING, 44, kwh, 7, 90);
    assert_int_equal(count(&c.rec, D2EV_SESSION_ANOMALY), 1);
    const struct d2ev_session *e = last_of(&c.rec, D2EV_SESSION_ANOMALY);
    assert_int_equal(e->anomaly, D2EV_ANOMALY_ETERNAL);
    assert_non_null(strstr(e->detail, "after its schedule (version 4) paused it"));
    kwh += 0.35;
    feed(&c, AT(18, 40), D2EV_CHG_CHARGING, 44, kwh, 7, 90);
    assert_int_equal(count(&c.rec, D2EV_SESSION_ANOMALY), 1);
    free(s);
    car_done(&c);
}

static void test_eternal_by_duration_and_by_energy(void **state)
{
    struct car c;
    car_init(&c, 60, 7);
    c.conf.eternal_ms = 2 * 60 * MIN;
    double kwh = 0, soc = 20;
    for (int m = 0; m < 120; m += 5) {
        feed(&c, AT(12, 0) + m * MIN, D2EV_CHG_CHARGING, soc, kwh, 3, 100);
        kwh += 0.25;
        soc += 0.4;
    }
    assert_int_equal(count(&c.rec, D2EV_SESSION_ANOMALY), 0);
    feed(&c, AT(14, 0), D2EV_CHG_CHARGING, soc, kwh, 3, 100);
    assert_int_equal(count(&c.rec, D2EV_SESSION_ANOMALY), 1);
    assert_non_null(strstr(last_of(&c.rec, D2EV_SESSION_ANOMALY)->detail, "without a stop"));
    car_done(&c);

    /* 50 % -> 80 % of 50 kWh needs 15 kWh; the counter runs past 20.5 */
    car_init(&c, 50, 11);
    kwh = 0;
    for (int m = 0; m <= 120; m += 3) {
        feed(&c, AT(12, 0) + m * MIN, D2EV_CHG_CHARGING, m < 90 ? 50 + m / 3.0 : 79, kwh, 11, 80);
        kwh += 0.55;
    }
    assert_int_equal(count(&c.rec, D2EV_SESSION_ANOMALY), 1);
    const struct d2ev_session *e = last_of(&c.rec, D2EV_SESSION_ANOMALY);
    assert_int_equal(e->anomaly, D2EV_ANOMALY_ETERNAL);
    assert_non_null(strstr(e->detail, "reach its 80 % limit"));
    assert_true(e->energy_kwh > 20.5);
    car_done(&c);
}

/* Unplugged and plugged in again between two polls: the counter restarts. */
static void test_replug_between_polls(void **state)
{
    struct car c;
    car_init(&c, 60, 7);
    feed(&c, AT(18, 0), D2EV_CHG_CHARGING, 40, 0.2, 7, 80);
    feed(&c, AT(18, 30), D2EV_CHG_CHARGING, 45, 3.7, 7, 80);
    feed(&c, AT(19, 0), D2EV_CHG_CHARGING, 41, 0.7, 7, 80);
    assert_int_equal(count(&c.rec, D2EV_SESSION_PLUG_IN), 2);
    assert_int_equal(count(&c.rec, D2EV_SESSION_UNPLUG), 1);
    const struct d2ev_session *u = last_of(&c.rec, D2EV_SESSION_UNPLUG);
    assert_int_equal(u->ended_at, AT(18, 30));
    assert_float_equal(u->energy_kwh, 3.7, 1e-3);
    const struct d2ev_session *p = last_of(&c.rec, D2EV_SESSION_PLUG_IN);
    assert_string_not_equal(p->session_id, u->session_id);
    assert_float_equal(p->energy_kwh, 0.7, 1e-3);
    car_done(&c);
}

/* After a restart the last event carries the session on. */
static void test_restore_continues_the_session(void **state)
{
    struct car c;
    car_init(&c, 60, 6);
    feed(&c, AT(18, 0), D2EV_CHG_CHARGING, 40, 0, 6, 80);
    feed(&c, AT(18, 30), D2EV_CHG_CHARGING, 45, 3.0, 6, 80);
    feed(&c, AT(18, 45), D2EV_CHG_CHARGING, 47.5, 4.5, 6, 80);
    /* the restarted process knows only the last event it sent (18:30) */
    const struct d2ev_session *u = last_of(&c.rec, D2EV_SESSION_UPDATE);
    assert_non_null(u);
    assert_int_equal(u->at, AT(18, 30));
    struct car r;
    car_init(&r, 60, 6);
    tel_session_restore(&r.s, u, &r.last);
    r.has_last = true;
    assert_true(r.s.flags & TS_RESUMED);
    /* the next sample it takes: the SoC rise since 18:30 bridges the gap */
    feed(&r, AT(19, 0), D2EV_CHG_CHARGING, 50, 6.0, 6, 80);
    feed(&r, AT(19, 30), D2EV_CHG_DISCONNECTED, 55, 9.0, -1, 80);
    const struct d2ev_session *e = last_of(&r.rec, D2EV_SESSION_UNPLUG);
    assert_non_null(e);
    assert_string_equal(e->session_id, u->session_id);
    assert_int_equal(e->started_at, AT(18, 0));
    /* 3 kWh before 18:30, 3 kWh (5 % of 60) to 19:00, then 3 kWh (counter) */
    assert_float_equal(e->energy_kwh, 9.0, 1e-3);
    assert_float_equal(e->charging_s + e->idle_s, 90 * 60, 1);
    assert_float_equal(e->cost, 6.0 * 0.2 + 3.0 * 0.4, 1e-3);
    car_done(&r);
    car_done(&c);
}

/* Handing a vehicle over sends its figures as of the last sample, once. */
static void test_checkpoint_on_handover(void **state)
{
    struct car c;
    car_init(&c, 60, 6);
    feed(&c, AT(18, 0), D2EV_CHG_CHARGING, 40, 0, 6, 80);
    feed(&c, AT(18, 10), D2EV_CHG_CHARGING, 41.7, 1.0, 6, 80);
    int n = c.rec.n;
    assert_true(tel_session_checkpoint(&c.s, &c.ctx, &c.last, capture, &c.rec));
    assert_int_equal(c.rec.n, n + 1);
    const struct d2ev_session *e = &c.rec.ev[n];
    assert_int_equal(e->event, D2EV_SESSION_UPDATE);
    assert_int_equal(e->at, AT(18, 10));
    assert_float_equal(e->energy_kwh, 1.0, 1e-3);
    assert_string_equal(e->detail, "handover");
    assert_false(tel_session_checkpoint(&c.s, &c.ctx, &c.last, capture, &c.rec));
    car_done(&c);
}

/* Read back oldest first: a session's earlier "full" still holds after a
 * later update, so a restarted process does not report it again. */
static void test_restore_keeps_what_earlier_events_said(void **state)
{
    struct car c;
    car_init(&c, 60, 6);
    feed(&c, AT(18, 0), D2EV_CHG_CHARGING, 78, 0, 6, 80);
    feed(&c, AT(18, 5), D2EV_CHG_COMPLETE, 80, 1.2, 0, 80);
    feed(&c, AT(18, 40), D2EV_CHG_COMPLETE, 80, 1.2, 0, 80);
    /* plug_in, full, then a periodic update: the last event says nothing of full */
    assert_int_equal(c.rec.n, 3);
    assert_int_equal(c.rec.ev[2].event, D2EV_SESSION_UPDATE);
    struct car r;
    car_init(&r, 60, 6);
    for (int i = 0; i < c.rec.n; i++)
        tel_session_restore(&r.s, &c.rec.ev[i], &r.last);
    r.has_last = true;
    assert_true(r.s.flags & TS_FULL);
    feed(&r, AT(19, 0), D2EV_CHG_COMPLETE, 80, 1.2, 0, 80);
    assert_int_equal(count(&r.rec, D2EV_SESSION_FULL), 0);
    /* an unplug read back closes it; a new session starts clean */
    struct d2ev_session u = c.rec.ev[c.rec.n - 1];
    u.event = D2EV_SESSION_UNPLUG;
    u.ended_at = u.at;
    tel_session_restore(&r.s, &u, &r.last);
    assert_int_equal(r.s.flags, 0);
    car_done(&r);
    car_done(&c);
}

static void test_forecast_mean_over_slots_and_fallback(void **state)
{
    struct tel_forecasts *fc = forecasts();
    double v;
    char cur[4];
    assert_true(tel_forecasts_mean(fc, "GB", D2EV_FORECAST_PRICE, AT(18, 30), AT(19, 30), &v, cur));
    assert_float_equal(v, 0.30, 1e-9);
    assert_string_equal(cur, "GBP");
    assert_true(
        tel_forecasts_mean(fc, "GB", D2EV_FORECAST_PRICE, AT(19, 10), AT(19, 10), &v, NULL));
    assert_float_equal(v, 0.40, 1e-9);
    assert_false(
        tel_forecasts_mean(fc, "GB", D2EV_FORECAST_PRICE, AT(23, 50), AT(24, 10), &v, NULL));
    /* a newer forecast from 20:00 on: before it, the previous one still prices */
    double p2[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
    struct d2ev_forecast f;
    memset(&f, 0, sizeof(f));
    snprintf(f.env.id, sizeof(f.env.id), "p2");
    snprintf(f.region, sizeof(f.region), "GB");
    f.kind = D2EV_FORECAST_PRICE;
    snprintf(f.unit, sizeof(f.unit), "GBP/kWh");
    f.issued_at = AT(19, 45);
    f.start = AT(20, 0);
    f.slot_minutes = 30;
    f.n = 8;
    f.values = p2;
    assert_int_equal(tel_forecasts_offer(fc, &f), 1);
    assert_int_equal(tel_forecasts_offer(fc, &f), 0); /* the same event again */
    assert_true(
        tel_forecasts_mean(fc, "GB", D2EV_FORECAST_PRICE, AT(19, 30), AT(20, 30), &v, NULL));
    assert_float_equal(v, 0.70, 1e-9);
    f.issued_at = AT(10, 0); /* older: ignored */
    snprintf(f.env.id, sizeof(f.env.id), "p0");
    assert_int_equal(tel_forecasts_offer(fc, &f), 0);
    tel_forecasts_destroy(fc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_session_energy_split_and_cost),
        cmocka_unit_test(test_soc_session_uses_battery_size),
        cmocka_unit_test(test_unpriced_energy_is_reported),
        cmocka_unit_test(test_full_when_plugged_in_at_its_limit),
        cmocka_unit_test(test_zombie_when_charging_takes_no_energy),
        cmocka_unit_test(test_no_zombie_for_slow_whole_percent_soc),
        cmocka_unit_test(test_zombie_when_a_scheduled_start_never_flows),
        cmocka_unit_test(test_old_schedules_do_not_apply),
        cmocka_unit_test(test_eternal_when_charging_while_paused),
        cmocka_unit_test(test_eternal_by_duration_and_by_energy),
        cmocka_unit_test(test_replug_between_polls),
        cmocka_unit_test(test_restore_continues_the_session),
        cmocka_unit_test(test_checkpoint_on_handover),
        cmocka_unit_test(test_restore_keeps_what_earlier_events_said),
        cmocka_unit_test(test_forecast_mean_over_slots_and_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
