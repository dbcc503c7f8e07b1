/*
 * sim_physics.c: one vehicle's battery, daily plug pattern, sleep and commands.
 *
 * The state is exact as of v->updated_ms and advanced lazily to any later
 * time: between events (plug-in, unplug, a pending command) the charging
 * curve has a closed form, so the result does not depend on how often the car
 * is read or on the clock's speed.
 *
 * Charging: full power up to 80 % SoC, then a linear taper to 20 % of full
 * power at 100 %: P(s) = Pmax * (4.2 - 4 s) for s >= 0.8. With C the capacity,
 * C ds/dt = P(s) gives s(t) = 1.05 - (1.05 - s0) * exp(-4 Pmax t / C) above
 * 80 %, and a straight line below.
 */
#include <math.h>

#include "sim.h"

#define MIN_MS              60000LL
#define HOUR_MS             3600000LL
#define DAY_MS              86400000LL
#define TAPER_FROM          0.8
#define SOC_EPS             1e-9
#define MIN_SOC_AFTER_DRIVE 0.03

double sim_charge_power_kw(double max_kw, double soc)
{
    if (soc < TAPER_FROM)
        return max_kw;
    double p = max_kw * (4.2 - 4.0 * soc);
    return p < 0.2 * max_kw ? 0.2 * max_kw : p;
}

double sim_charge_soc_after(double cap_kwh, double max_kw, double soc0, double limit, int64_t dt_ms)
{
    if (dt_ms <= 0 || soc0 >= limit)
        return soc0;
    double h = (double)dt_ms / (double)HOUR_MS;
    double s = soc0;
    if (s < TAPER_FROM) {
        double to80 = (TAPER_FROM - s) * cap_kwh / max_kw;
        if (h <= to80) {
            s += h * max_kw / cap_kwh;
            return s < limit ? s : limit;
        }
        h -= to80;
        s = TAPER_FROM;
    }
    double k = 4.0 * max_kw / cap_kwh;
    s = 1.05 - (1.05 - s) * exp(-k * h);
    return s < limit ? s : limit;
}

int64_t sim_charge_time_ms(double cap_kwh, double max_kw, double soc0, double soc1)
{
    if (soc1 <= soc0)
        return 0;
    double h = 0;
    if (soc0 < TAPER_FROM) {
        double end = soc1 < TAPER_FROM ? soc1 : TAPER_FROM;
        h += (end - soc0) * cap_kwh / max_kw;
        soc0 = end;
    }
    if (soc1 > soc0) {
        double k = 4.0 * max_kw / cap_kwh;
        h += log((1.05 - soc0) / (1.05 - soc1)) / k;
    }
    return (int64_t)ceil(h * (double)HOUR_MS);
}

/* ------------------------------------------------------------ plug pattern */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

enum { SALT_PLUG_JITTER = 1, SALT_UNPLUG_JITTER, SALT_PLUGS, SALT_DRIVE };

static uint64_t day_hash(const struct sim_params *p, uint32_t idx, int64_t day, int salt)
{
    return sim_hash(p->seed, idx, ((uint64_t)day << 3) | (uint64_t)salt);
}

/* Jitter in whole minutes, uniform in [-span, span]. */
static int64_t jitter_min(uint64_t h, int64_t span)
{
    return (int64_t)(h % (uint64_t)(2 * span + 1)) - span;
}

static int64_t unplug_time(const struct sim_vehicle *v, const struct sim_params *p, uint32_t idx,
                           int64_t day)
{
    int64_t m = v->unplug_min + jitter_min(day_hash(p, idx, day, SALT_UNPLUG_JITTER), 30);
    return day * DAY_MS + m * MIN_MS - p->utc_offset_ms;
}

static int64_t plug_time(const struct sim_vehicle *v, const struct sim_params *p, uint32_t idx,
                         int64_t day)
{
    int64_t m = v->plug_min + jitter_min(day_hash(p, idx, day, SALT_PLUG_JITTER), 45);
    return day * DAY_MS + m * MIN_MS - p->utc_offset_ms;
}

static bool plugs_on(const struct sim_vehicle *v, const struct sim_params *p, uint32_t idx,
                     int64_t day)
{
    return day_hash(p, idx, day, SALT_PLUGS) % 100 < v->plug_pct;
}

static int64_t local_day(const struct sim_params *p, int64_t t)
{
    return floor_div(t + p->utc_offset_ms, DAY_MS);
}

double sim_day_drive_kwh(const struct sim_vehicle *v, const struct sim_params *p, uint32_t idx,
                         int64_t day)
{
    uint64_t h = day_hash(p, idx, day, SALT_DRIVE);
    double km = 5.0 + 75.0 * (double)(h >> 11) / 9007199254740992.0;
    return km * v->wh_per_km / 1000.0;
}

int64_t sim_next_plug_event(const struct sim_vehicle *v, const struct sim_params *p, uint32_t idx,
                            int64_t t, bool *plug)
{
    /* Unplugs fall between 06:00 and 09:00 local, plug-ins between 16:15
     * and 21:45, so each day's events are in that day and in this order. */
    for (int64_t d = local_day(p, t);; d++) {
        int64_t u = unplug_time(v, p, idx, d);
        if (u > t) {
            *plug = false;
            return u;
        }
        if (plugs_on(v, p, idx, d)) {
            int64_t q = plug_time(v, p, idx, d);
            if (q > t) {
                *plug = true;
                return q;
            }
        }
    }
}

bool sim_pattern_plugged(const struct sim_vehicle *v, const struct sim_params *p, uint32_t idx,
                         int64_t t)
{
    int64_t d = local_day(p, t);
    if (plugs_on(v, p, idx, d) && plug_time(v, p, idx, d) <= t)
        return true;
    if (unplug_time(v, p, idx, d) <= t)
        return false;
    return plugs_on(v, p, idx, d - 1);
}

/* ------------------------------------------------------------ state */

bool sim_vehicle_charging(const struct sim_vehicle *v)
{
    return (v->flags & SIM_F_PLUGGED) && !(v->flags & SIM_F_STOPPED) &&
           v->soc < v->limit / 100.0 - SOC_EPS;
}

/* Activity restarts the sleep timer, except on a car the control API put to
 * sleep (it stays asleep until something really wakes it). */
static void touch(struct sim_vehicle *v, int64_t t)
{
    if (!(v->flags & SIM_F_FORCED) && t > v->active_ms)
        v->active_ms = t;
}

/* Charge (if charging) from v->updated_ms to b. */
static void integrate(struct sim_vehicle *v, int64_t b)
{
    int64_t a = v->updated_ms;
    if (b <= a)
        return;
    v->updated_ms = b;
    if (!sim_vehicle_charging(v))
        return;
    double lim = v->limit / 100.0;
    double s0 = v->soc;
    int64_t to_limit = sim_charge_time_ms(v->capacity_kwh, v->max_kw, s0, lim);
    int64_t end;
    if (to_limit <= b - a) {
        v->soc = lim;
        end = a + to_limit;
    } else {
        v->soc = sim_charge_soc_after(v->capacity_kwh, v->max_kw, s0, lim, b - a);
        end = b;
    }
    v->session_kwh += (float)((v->soc - s0) * v->capacity_kwh);
    touch(v, end); /* a charging car is awake */
}

static void plug_in(struct sim_vehicle *v, int64_t t)
{
    v->flags = (uint8_t)((v->flags | SIM_F_PLUGGED) & ~(SIM_F_STOPPED | SIM_F_FORCED));
    v->session_kwh = 0;
    touch(v, t);
}

static void unplug(struct sim_vehicle *v, int64_t t)
{
    v->flags = (uint8_t)(v->flags & ~(SIM_F_PLUGGED | SIM_F_FORCED));
    touch(v, t);
}

static void plug_event(struct sim_vehicle *v, const struct sim_params *p, uint32_t idx, int64_t t,
                       bool plug)
{
    bool plugged = v->flags & SIM_F_PLUGGED;
    if (plug && !plugged) {
        /* the day's driving comes off the battery when the car comes home */
        double used = sim_day_drive_kwh(v, p, idx, local_day(p, t)) / v->capacity_kwh;
        if (v->soc - used > MIN_SOC_AFTER_DRIVE)
            v->soc -= used;
        else if (v->soc > MIN_SOC_AFTER_DRIVE)
            v->soc = MIN_SOC_AFTER_DRIVE;
        plug_in(v, t);
    } else if (!plug && plugged) {
        unplug(v, t);
    }
}

void sim_vehicle_apply(struct sim_vehicle *v, enum sim_cmd cmd, int64_t now)
{
    if (cmd == SIM_CMD_START)
        v->flags = (uint8_t)(v->flags & ~SIM_F_STOPPED);
    else if (cmd == SIM_CMD_STOP)
        v->flags = (uint8_t)(v->flags | SIM_F_STOPPED);
    touch(v, now);
}

void sim_vehicle_schedule(struct sim_vehicle *v, enum sim_cmd cmd, int64_t at, int64_t now)
{
    if (at <= now) {
        sim_vehicle_apply(v, cmd, now);
        v->pending_cmd = SIM_CMD_NONE;
        return;
    }
    v->pending_cmd = (uint8_t)cmd;
    v->pending_at_ms = at;
    touch(v, now);
}

void sim_vehicle_advance(struct sim_vehicle *v, const struct sim_params *p, uint32_t idx,
                         int64_t now)
{
    while (v->updated_ms < now) {
        int64_t t_plug = INT64_MAX, t_cmd = INT64_MAX;
        bool plug = false;
        if (p->plug_schedule && !(v->flags & SIM_F_MANUAL))
            t_plug = sim_next_plug_event(v, p, idx, v->updated_ms, &plug);
        if (v->pending_cmd != SIM_CMD_NONE)
            t_cmd = v->pending_at_ms > v->updated_ms ? v->pending_at_ms : v->updated_ms;
        int64_t next = now;
        if (t_plug < next)
            next = t_plug;
        if (t_cmd < next)
            next = t_cmd;
        integrate(v, next);
        v->updated_ms = next;
        if (t_cmd == next) {
            sim_vehicle_apply(v, (enum sim_cmd)v->pending_cmd, next);
            v->pending_cmd = SIM_CMD_NONE;
        }
        if (t_plug == next)
            plug_event(v, p, idx, next, plug);
    }
    /* a command due exactly at the current time */
    if (v->pending_cmd != SIM_CMD_NONE && v->pending_at_ms <= now) {
        sim_vehicle_apply(v, (enum sim_cmd)v->pending_cmd, v->pending_at_ms);
        v->pending_cmd = SIM_CMD_NONE;
    }
}

bool sim_vehicle_asleep(const struct sim_vehicle *v, const struct sim_params *p, int64_t now)
{
    if (v->wake_at_ms > now || (v->flags & SIM_F_FORCED))
        return true;
    if (sim_vehicle_charging(v) || p->sleep_after_ms <= 0)
        return false;
    return now - v->active_ms >= p->sleep_after_ms;
}

bool sim_vehicle_wake(struct sim_vehicle *v, const struct sim_params *p, int64_t now,
                      int64_t delay_ms)
{
    if (v->wake_at_ms > now) /* already waking up */
        return false;
    bool was_asleep = sim_vehicle_asleep(v, p, now);
    v->flags = (uint8_t)(v->flags & ~SIM_F_FORCED);
    if (!was_asleep) {
        touch(v, now);
        return false;
    }
    v->wakes++;
    v->wake_at_ms = delay_ms > 0 ? now + delay_ms : 0;
    v->active_ms = now + (delay_ms > 0 ? delay_ms : 0);
    return true;
}

void sim_vehicle_set_plugged(struct sim_vehicle *v, bool plugged, int64_t now)
{
    bool is = v->flags & SIM_F_PLUGGED;
    if (plugged && !is)
        plug_in(v, now);
    else if (!plugged && is)
        unplug(v, now);
}

void sim_vehicle_snapshot(struct sim_vehicle *v, const struct sim_params *p, uint32_t idx,
                          int64_t now, struct sim_snapshot *out)
{
    sim_vehicle_advance(v, p, idx, now);
    double lim = v->limit / 100.0;
    bool charging = sim_vehicle_charging(v);
    out->now = now;
    out->soc = v->soc;
    out->limit = lim;
    out->plugged = v->flags & SIM_F_PLUGGED;
    if (!out->plugged)
        out->state = SIM_DISCONNECTED;
    else if (charging)
        out->state = SIM_CHARGING;
    else if (v->soc >= lim - SOC_EPS)
        out->state = SIM_COMPLETE;
    else
        out->state = SIM_STOPPED;
    out->asleep = sim_vehicle_asleep(v, p, now);
    out->waking = v->wake_at_ms > now;
    out->offline = v->flags & SIM_F_OFFLINE;
    out->power_kw = charging ? sim_charge_power_kw(v->max_kw, v->soc) : 0.0;
    out->capacity_kwh = v->capacity_kwh;
    out->max_kw = v->max_kw;
    out->session_kwh = v->session_kwh;
    out->range_km = v->soc * v->capacity_kwh * 1000.0 / v->wh_per_km;
    out->minutes_to_limit =
        charging ? (double)sim_charge_time_ms(v->capacity_kwh, v->max_kw, v->soc, lim) / MIN_MS
                 : 0.0;
    if (!out->asleep)
        out->asleep_since_ms = 0;
    else if (v->flags & SIM_F_FORCED)
        out->asleep_since_ms = v->active_ms;
    else if (out->waking)
        out->asleep_since_ms = now;
    else
        out->asleep_since_ms = v->active_ms + p->sleep_after_ms;
    out->wakes = v->wakes;
    out->flags = v->flags;
}
