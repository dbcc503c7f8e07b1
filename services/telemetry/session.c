/* session.c: charging sessions from telemetry samples (see session.h). */
#include "session.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "d2ev/util.h"

#define HOUR_MS       3600000.0
#define FLOW_EPS_KWH  0.02 /* less than this between two samples is "no energy" */
#define SOC_STEP_PCT  1.5  /* SoC rises an OEM might not show yet (whole-percent OEMs) */
#define COUNTER_STEP  0.05 /* kWh an energy counter might not show yet */
#define DETAIL_PREFIX 200

void tel_session_conf_default(struct tel_session_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->efficiency = 0.9;
    c->default_power_kw = 7.4;
    c->default_battery_kwh = 60;
    c->full_margin_pct = 1.5;
    c->replug_soc_drop = 5;
    c->zombie_ms = 20 * 60000;
    c->zombie_samples = 3;
    c->zombie_min_kwh = 0.5;
    c->eternal_ms = 24 * 3600000LL;
    c->eternal_grace_ms = 30 * 60000;
    c->eternal_energy_factor = 1.3;
    c->sched_slack_ms = 60000;
    c->update_ms = 30 * 60000;
}

bool tel_point_charging(const struct tel_point *p)
{
    return p->state == D2EV_CHG_CHARGING ||
           (p->state == D2EV_CHG_UNKNOWN && (p->has & TP_POWER) && p->power_kw > 0.1f);
}

void tel_session_id(const struct tel_session *s, char out[65])
{
    snprintf(out, 65, "s-%lld", (long long)s->started_at);
}

/* ------------------------------------------------------------ helpers */

static double capacity(const struct tel_session_conf *c, const struct tel_session_ctx *x,
                       const struct tel_point *p)
{
    if (x->battery_kwh > 0)
        return x->battery_kwh;
    if (p && (p->has & TP_BATTERY) && p->battery_kwh > 0)
        return p->battery_kwh;
    return c->default_battery_kwh;
}

static double limit_of(const struct tel_point *p)
{
    return (p->has & TP_LIMIT) && p->limit > 0 ? p->limit : 100.0;
}

/* The charge power to expect: what a charging sample says, else the record's. */
static double power_of(const struct tel_session_conf *c, const struct tel_session_ctx *x,
                       const struct tel_point *a, const struct tel_point *b)
{
    if (b && tel_point_charging(b) && (b->has & TP_POWER) && b->power_kw > 0.1f)
        return b->power_kw;
    if (a && tel_point_charging(a) && (a->has & TP_POWER) && a->power_kw > 0.1f)
        return a->power_kw;
    return x->max_power_kw > 0 ? x->max_power_kw : c->default_power_kw;
}

static double round_to(double v, double unit)
{
    return round(v / unit) * unit;
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Does the vehicle's schedule apply to this session? A schedule made before
 * the car was plugged in (e.g. "not_plugged") is about another session. */
static const struct tel_sched *sched_for(const struct tel_session *s,
                                         const struct tel_session_conf *c,
                                         const struct tel_session_ctx *x)
{
    if (!x->sched || x->sched->created_at < s->started_at - c->sched_slack_ms)
        return NULL;
    return x->sched;
}

static void emit_event(struct tel_session *s, const struct tel_session_ctx *x,
                       enum d2ev_session_event ev, enum d2ev_anomaly an, int64_t at,
                       int64_t ended_at, double soc_now, const char *detail,
                       tel_session_emit_fn emit, void *arg)
{
    struct d2ev_session e;
    memset(&e, 0, sizeof(e));
    d2ev_strlcpy(e.vehicle_id, x->vehicle_id, sizeof(e.vehicle_id));
    tel_session_id(s, e.session_id);
    e.event = ev;
    e.anomaly = an;
    e.started_at = s->started_at;
    e.ended_at = ended_at;
    e.at = at < s->started_at ? s->started_at : at;
    e.soc_start = clampd(round_to(s->soc_start, 0.01), 0, 100);
    e.soc_now = clampd(round_to(soc_now, 0.01), 0, 100);
    e.energy_kwh = clampd(round_to(s->energy_kwh, 0.001), 0, 1000);
    e.charging_s = clampd(round_to(s->charging_s, 0.001), 0, 1e9);
    e.idle_s = clampd(round_to(s->idle_s, 0.001), 0, 1e9);
    e.cost = clampd(round_to(s->cost, 0.0001), -1e6, 1e6);
    e.carbon_g = clampd(round_to(s->carbon_g, 0.1), 0, 1e9);
    if (s->currency[0])
        d2ev_strlcpy(e.currency, s->currency, sizeof(e.currency));
    else
        e.cost = 0;
    char text[D2EV_REASON_MAX + 1] = "";
    size_t n = 0;
    if (detail && *detail)
        n = (size_t)snprintf(text, DETAIL_PREFIX, "%s", detail);
    if (n >= DETAIL_PREFIX)
        n = DETAIL_PREFIX - 1;
    if (s->unpriced_kwh >= 0.001f)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%.3f kWh without a price forecast",
                              n ? "; " : "", s->unpriced_kwh);
    if (n < sizeof(text) && s->uncarbon_kwh >= 0.001f)
        snprintf(text + n, sizeof(text) - n, "%s%.3f kWh without a carbon forecast", n ? "; " : "",
                 s->uncarbon_kwh);
    d2ev_strlcpy(e.detail, text, sizeof(e.detail));
    s->last_event_at = e.at;
    emit(arg, &e);
}

/* Price energy kwh (into the battery) charged during [a, b). */
static void price(struct tel_session *s, const struct tel_session_conf *c,
                  const struct tel_session_ctx *x, int64_t a, int64_t b, double kwh)
{
    if (kwh <= 0)
        return;
    double grid = kwh / c->efficiency, v;
    char cur[D2EV_CURRENCY_MAX + 1] = "";
    if (x->region && tel_forecasts_mean(x->fc, x->region, D2EV_FORECAST_PRICE, a, b, &v, cur) &&
        (!s->currency[0] || !strcmp(cur, s->currency))) {
        s->cost += grid * v;
        memcpy(s->currency, cur, sizeof(cur));
    } else {
        s->unpriced_kwh += (float)kwh;
    }
    if (x->region && tel_forecasts_mean(x->fc, x->region, D2EV_FORECAST_CARBON, a, b, &v, NULL))
        s->carbon_g += grid * v;
    else
        s->uncarbon_kwh += (float)kwh;
}

/* ------------------------------------------------------------ open / account */

static void open_session(struct tel_session *s, const struct tel_session_conf *c,
                         const struct tel_session_ctx *x, const struct tel_point *prev,
                         const struct tel_point *cur, tel_session_emit_fn emit, void *arg)
{
    memset(s, 0, sizeof(*s));
    s->flags = TS_OPEN;
    s->started_at = cur->t;
    s->soc_start = cur->soc;
    /* The OEM's counter already holds energy charged before this first sample
     * (the car was plugged in since the last poll). Trust it only from a car
     * that charges or has just finished: a paused car may still show the
     * previous session's counter. */
    bool fresh = tel_point_charging(cur) || cur->state == D2EV_CHG_COMPLETE;
    if ((cur->has & TP_ENERGY) && cur->energy_kwh > 0.01f && fresh) {
        double e0 = cur->energy_kwh;
        int64_t dur = (int64_t)(e0 / power_of(c, x, NULL, cur) * HOUR_MS);
        int64_t earliest = prev ? prev->t : cur->t - dur;
        if (cur->t - dur < earliest)
            dur = cur->t - earliest;
        if (dur < 0)
            dur = 0;
        s->started_at = cur->t - dur;
        s->energy_kwh = e0;
        s->charging_s = (double)dur / 1000.0;
        s->soc_start = (float)fmax(0, cur->soc - e0 / capacity(c, x, cur) * 100.0);
        price(s, c, x, s->started_at, cur->t, e0);
    }
    if (tel_point_charging(cur))
        s->charging_since = s->started_at;
    emit_event(s, x, D2EV_SESSION_PLUG_IN, D2EV_ANOMALY_NONE, cur->t, 0, cur->soc, NULL, emit, arg);
}

/* Energy the OEM may have delivered without showing it yet. */
static double unseen_kwh(const struct tel_session *s, const struct tel_session_conf *c,
                         const struct tel_session_ctx *x, const struct tel_point *cur)
{
    if (cur->has & TP_ENERGY)
        return COUNTER_STEP;
    return (s->flags & TS_FINE) ? 0 : SOC_STEP_PCT / 100.0 * capacity(c, x, cur);
}

/* Energy into the battery between prev and cur. */
static double energy_between(const struct tel_session_conf *c, const struct tel_session_ctx *x,
                             const struct tel_point *prev, const struct tel_point *cur)
{
    if ((prev->has & TP_ENERGY) && (cur->has & TP_ENERGY) && cur->energy_kwh >= prev->energy_kwh)
        return cur->energy_kwh - prev->energy_kwh;
    double rise = cur->soc - prev->soc;
    return rise > 0 ? rise / 100.0 * capacity(c, x, cur) : 0;
}

/* Add the interval (prev, cur] to the session; returns its energy. */
static double account(struct tel_session *s, const struct tel_session_conf *c,
                      const struct tel_session_ctx *x, const struct tel_point *prev,
                      const struct tel_point *cur)
{
    int64_t dt = cur->t - prev->t;
    double de = energy_between(c, x, prev, cur);
    bool pc = tel_point_charging(prev), sc = tel_point_charging(cur);
    int64_t ch;
    if (pc && sc)
        ch = dt;
    else if (de > FLOW_EPS_KWH)
        ch = (int64_t)fmin((double)dt, de / power_of(c, x, prev, cur) * HOUR_MS);
    else if (pc || sc)
        ch = (int64_t)fmin((double)dt / 2,
                           unseen_kwh(s, c, x, cur) / power_of(c, x, prev, cur) * HOUR_MS);
    else
        ch = 0;
    int64_t a, b;
    if (pc && !sc) {
        a = prev->t; /* it stopped during the interval */
        b = a + ch;
    } else if (!pc && sc) {
        b = cur->t; /* it started during the interval */
        a = b - ch;
    } else {
        a = prev->t + (dt - ch) / 2;
        b = a + ch;
    }
    s->charging_s += (double)ch / 1000.0;
    s->idle_s += (double)(dt - ch) / 1000.0;
    s->energy_kwh += de;
    price(s, c, x, a, b, de);
    return de;
}

/* ------------------------------------------------------------ detection */

static void check_full(struct tel_session *s, const struct tel_session_conf *c,
                       const struct tel_session_ctx *x, const struct tel_point *cur, bool *sent,
                       tel_session_emit_fn emit, void *arg)
{
    bool sc = tel_point_charging(cur);
    bool near = cur->soc >= limit_of(cur) - c->full_margin_pct;
    if ((s->flags & TS_FULL) && sc && !near)
        s->flags &= ~TS_FULL; /* the limit went up: charging again */
    if (s->flags & TS_FULL)
        return;
    bool stopped = cur->state == D2EV_CHG_STOPPED || cur->state == D2EV_CHG_NO_POWER;
    if (cur->state != D2EV_CHG_COMPLETE && !(stopped && near))
        return;
    char why[96];
    snprintf(why, sizeof(why), "stopped taking energy at %.1f %% (limit %.0f %%)", cur->soc,
             limit_of(cur));
    s->flags |= TS_FULL;
    emit_event(s, x, D2EV_SESSION_FULL, D2EV_ANOMALY_NONE, cur->t, 0, cur->soc, why, emit, arg);
    *sent = true;
}

static void check_zombie(struct tel_session *s, const struct tel_session_conf *c,
                         const struct tel_session_ctx *x, const struct tel_point *prev,
                         const struct tel_point *cur, double de, bool *sent,
                         tel_session_emit_fn emit, void *arg)
{
    const struct tel_sched *sched = sched_for(s, c, x);
    int64_t win = tel_sched_window_start(sched, cur->t);
    bool says_charging = tel_point_charging(cur) || cur->state == D2EV_CHG_STARTING;
    bool should = win != TEL_NO_TIME_BEFORE;
    bool near = cur->soc >= limit_of(cur) - c->full_margin_pct;
    bool expect = (says_charging || should) && !near && cur->state != D2EV_CHG_COMPLETE;
    if (!expect || de > FLOW_EPS_KWH) {
        s->stall_since = 0;
        s->stall_samples = 0;
        s->flags &= ~TS_ZOMBIE;
        return;
    }
    if (!s->stall_since) {
        /* nothing flowed since the previous sample if flow was expected then too */
        int64_t since = cur->t;
        if (prev && tel_point_charging(prev))
            since = prev->t;
        if (should && prev && !says_charging)
            since = win > prev->t ? win : prev->t;
        s->stall_since = since;
    }
    s->stall_samples++;
    if (s->flags & TS_ZOMBIE)
        return;
    int64_t stalled = cur->t - s->stall_since;
    double expected = power_of(c, x, NULL, cur) * (double)stalled / HOUR_MS;
    double unseen = unseen_kwh(s, c, x, cur);
    if (stalled < c->zombie_ms || s->stall_samples < c->zombie_samples ||
        expected < fmax(c->zombie_min_kwh, unseen))
        return;
    char why[160];
    if (says_charging)
        snprintf(why, sizeof(why),
                 "reports %s but took no energy for %lld min (%u samples; %.1f kWh expected)",
                 d2ev_charging_state_name(cur->state), (long long)(stalled / 60000),
                 s->stall_samples, expected);
    else
        snprintf(why, sizeof(why),
                 "its schedule has it charging but no energy came for %lld min (%s; %.1f kWh "
                 "expected)",
                 (long long)(stalled / 60000), d2ev_charging_state_name(cur->state), expected);
    s->flags |= TS_ZOMBIE;
    emit_event(s, x, D2EV_SESSION_ANOMALY, D2EV_ANOMALY_ZOMBIE, cur->t, 0, cur->soc, why, emit,
               arg);
    *sent = true;
}

static void check_eternal(struct tel_session *s, const struct tel_session_conf *c,
                          const struct tel_session_ctx *x, const struct tel_point *cur, bool *sent,
                          tel_session_emit_fn emit, void *arg)
{
    if (!tel_point_charging(cur)) {
        s->flags &= ~TS_ETERNAL;
        return;
    }
    if (s->flags & TS_ETERNAL)
        return;
    char why[160] = "";
    int64_t run = s->charging_since ? cur->t - s->charging_since : 0;
    double cap = capacity(c, x, cur), lim = limit_of(cur);
    double need = cap * fmax(0, lim - s->soc_start) / 100.0;
    const struct tel_sched *sched = sched_for(s, c, x);
    int64_t paused = tel_sched_paused_since(sched, cur->t);
    if (run >= c->eternal_ms) {
        snprintf(why, sizeof(why), "charging without a stop for %.1f h", (double)run / HOUR_MS);
    } else if (s->energy_kwh > need * c->eternal_energy_factor + 1.0) {
        snprintf(why, sizeof(why),
                 "took %.1f kWh where %.1f kWh reach its %.0f %% limit from %.1f %%", s->energy_kwh,
                 need, lim, s->soc_start);
    } else if (sched && paused) {
        int64_t since = paused;
        if (since < s->started_at)
            since = s->started_at;
        if (since < sched->created_at)
            since = sched->created_at;
        if (s->charging_since > since)
            since = s->charging_since;
        if (s->charging_since && cur->t - since >= c->eternal_grace_ms)
            snprintf(why, sizeof(why),
                     "still charging %lld min after its schedule (version %lld) paused it",
                     (long long)((cur->t - since) / 60000), (long long)sched->version);
    }
    if (!why[0])
        return;
    s->flags |= TS_ETERNAL;
    emit_event(s, x, D2EV_SESSION_ANOMALY, D2EV_ANOMALY_ETERNAL, cur->t, 0, cur->soc, why, emit,
               arg);
    *sent = true;
}

/* ------------------------------------------------------------ feed */

static bool fine_soc(const struct tel_point *p)
{
    return fabs(p->soc - roundf(p->soc)) > 1e-3;
}

void tel_session_feed(struct tel_session *s, const struct tel_session_conf *c,
                      const struct tel_session_ctx *x, const struct tel_point *prev,
                      const struct tel_point *cur, tel_session_emit_fn emit, void *arg)
{
    if (!(s->flags & TS_OPEN)) {
        if (!tel_point_plugged(cur))
            return;
        open_session(s, c, x, prev, cur, emit, arg);
        if (fine_soc(cur))
            s->flags |= TS_FINE;
        bool sent = false;
        check_full(s, c, x, cur, &sent, emit, arg);
        check_zombie(s, c, x, NULL, cur, 0, &sent, emit, arg);
        return;
    }
    if (!prev || cur->t <= prev->t)
        return; /* newest wins: the caller never feeds an older sample */
    bool counter_reset = (prev->has & TP_ENERGY) && (cur->has & TP_ENERGY) &&
                         cur->energy_kwh < prev->energy_kwh - COUNTER_STEP;
    if (counter_reset || cur->soc < prev->soc - c->replug_soc_drop) {
        /* unplugged and plugged in again between two polls */
        emit_event(s, x, D2EV_SESSION_UNPLUG, D2EV_ANOMALY_NONE, prev->t, prev->t, prev->soc,
                   "unplugged between two polls", emit, arg);
        memset(s, 0, sizeof(*s));
        if (tel_point_plugged(cur))
            tel_session_feed(s, c, x, prev, cur, emit, arg);
        return;
    }
    if (fine_soc(cur))
        s->flags |= TS_FINE;
    double de = account(s, c, x, prev, cur);
    if (!tel_point_plugged(cur)) {
        emit_event(s, x, D2EV_SESSION_UNPLUG, D2EV_ANOMALY_NONE, cur->t, cur->t, cur->soc, NULL,
                   emit, arg);
        memset(s, 0, sizeof(*s));
        return;
    }
    bool pc = tel_point_charging(prev), sc = tel_point_charging(cur);
    if (sc && !s->charging_since)
        s->charging_since = pc ? prev->t : cur->t;
    else if (!sc)
        s->charging_since = 0;
    bool sent = false;
    check_full(s, c, x, cur, &sent, emit, arg);
    check_zombie(s, c, x, prev, cur, de, &sent, emit, arg);
    check_eternal(s, c, x, cur, &sent, emit, arg);
    bool changed = pc != sc && !(prev->state == D2EV_CHG_UNKNOWN && !(prev->has & TP_POWER));
    if (!sent && (changed || cur->t - s->last_event_at >= c->update_ms))
        emit_event(s, x, D2EV_SESSION_UPDATE, D2EV_ANOMALY_NONE, cur->t, 0, cur->soc,
                   changed ? (sc ? "charging" : "not charging") : NULL, emit, arg);
}

bool tel_session_checkpoint(struct tel_session *s, const struct tel_session_ctx *x,
                            const struct tel_point *last, tel_session_emit_fn emit, void *arg)
{
    if (!(s->flags & TS_OPEN) || last->t <= s->last_event_at)
        return false;
    emit_event(s, x, D2EV_SESSION_UPDATE, D2EV_ANOMALY_NONE, last->t, 0, last->soc, "handover",
               emit, arg);
    return true;
}

void tel_session_restore(struct tel_session *s, const struct d2ev_session *ev,
                         struct tel_point *last)
{
    memset(last, 0, sizeof(*last));
    last->t = ev->at;
    last->soc = (float)ev->soc_now;
    last->state = D2EV_CHG_UNKNOWN;
    struct tel_session before = *s;
    memset(s, 0, sizeof(*s));
    s->flags = before.flags;
    s->started_at = before.started_at;
    if (ev->event == D2EV_SESSION_UNPLUG) {
        s->flags = 0;
        s->started_at = 0;
        last->state = D2EV_CHG_DISCONNECTED;
        return;
    }
    last->has = TP_PLUGGED;
    /* events are restored oldest first: what an earlier event of the same
     * session said (full, an anomaly) still holds */
    uint8_t kept = (s->flags & TS_OPEN) && s->started_at == ev->started_at
                       ? s->flags & (TS_FULL | TS_ZOMBIE | TS_ETERNAL | TS_FINE)
                       : 0;
    s->flags = TS_OPEN | TS_RESUMED | kept;
    if (ev->event == D2EV_SESSION_FULL)
        s->flags |= TS_FULL;
    if (ev->event == D2EV_SESSION_ANOMALY)
        s->flags |= ev->anomaly == D2EV_ANOMALY_ZOMBIE ? TS_ZOMBIE : TS_ETERNAL;
    s->started_at = ev->started_at;
    s->last_event_at = ev->at;
    s->energy_kwh = ev->energy_kwh;
    s->charging_s = ev->charging_s;
    s->idle_s = ev->idle_s;
    s->cost = ev->cost;
    s->carbon_g = ev->carbon_g;
    s->soc_start = (float)ev->soc_start;
    d2ev_strlcpy(s->currency, ev->currency, sizeof(s->currency));
}
