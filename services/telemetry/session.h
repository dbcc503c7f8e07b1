/*
 * session.h: turn one vehicle's telemetry samples into charging sessions
 * (pure: no Kafka, no clock; time comes from the samples).
 *
 * A session runs from the first sample that shows the car plugged in to the
 * first that shows it unplugged. Between two samples the tracker adds:
 *   - energy: the OEM's session counter when both samples have it, else the
 *     SoC rise times the battery size (a sum of SoC steps telescopes, so
 *     whole-percent SoC costs one step of accuracy per session, not per poll);
 *   - charging versus idle time: all of it when both samples charge, none
 *     when neither does and no energy flowed, else energy / power (where in
 *     the interval depends on which end was charging); when the state changed
 *     but no energy was seen, what the OEM could not show yet (one percent of
 *     the battery for whole-percent SoC, nothing for finer SoC) at most half
 *     the interval;
 *   - cost and carbon: that energy (divided by the charging efficiency: grid
 *     energy is what is paid for) times the time-weighted mean price and
 *     carbon intensity of the vehicle's region over the charging part.
 * It emits plug_in, update (on a charging/idle change and every update_ms),
 * full (the car stopped at or near its limit), anomaly zombie (flow was
 * expected, because the car says it charges or its schedule says it should,
 * but no energy came for zombie_ms over zombie_samples samples although the
 * expected energy is clearly measurable) and anomaly eternal (charging without
 * a stop for eternal_ms, far more energy than its limit needs, or still
 * charging eternal_grace_ms after its schedule paused it), and unplug.
 * A drop of the OEM's energy counter or of the SoC by replug_soc_drop points
 * between two samples means the car was unplugged and plugged in again
 * unseen: the tracker closes the session and opens a new one.
 *
 * Ownership: plain values; emit() receives an event borrowed for the call.
 */
#ifndef D2EV_TEL_SESSION_H
#define D2EV_TEL_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "d2ev/events.h"
#include "forecasts.h"
#include "sched_view.h"

/* Presence bits of tel_point.has. */
#define TP_PLUGGED (1u << 0) /* the car is plugged in (a value, not a presence bit) */
#define TP_POWER   (1u << 1)
#define TP_ENERGY  (1u << 2) /* the OEM's energy-added counter */
#define TP_LIMIT   (1u << 3)
#define TP_BATTERY (1u << 4)
#define TP_ASLEEP  (1u << 5) /* the OEM said the car is offline or asleep */

/* One sample as sessions and polling see it (kept per vehicle: small). */
struct tel_point {
    int64_t t;     /* reported_at */
    float soc;     /* % */
    uint8_t state; /* enum d2ev_charging_state */
    uint8_t has;   /* TP_* */
    float power_kw;
    float energy_kwh; /* the OEM's counter for its current session */
    float limit;      /* % */
    float battery_kwh;
};

bool tel_point_charging(const struct tel_point *p);
static inline bool tel_point_plugged(const struct tel_point *p)
{
    return (p->has & TP_PLUGGED) != 0;
}

/* Flags of tel_session.flags. */
#define TS_OPEN    (1u << 0)
#define TS_FULL    (1u << 1) /* "full" sent (re-armed when charging resumes below the limit) */
#define TS_ZOMBIE  (1u << 2) /* zombie sent for the current stall */
#define TS_ETERNAL (1u << 3) /* eternal sent for the current charging run */
#define TS_RESUMED (1u << 4) /* restored from d2ev.sessions after a restart */
#define TS_FINE    (1u << 5) /* the OEM reports SoC finer than whole percent */

struct tel_session {
    int64_t started_at;
    int64_t last_event_at;  /* `at` of the last event sent */
    int64_t charging_since; /* start of the current charging run; 0 = not charging */
    int64_t stall_since;    /* flow expected but none since then; 0 = none */
    double energy_kwh, charging_s, idle_s, cost, carbon_g;
    float soc_start;
    float unpriced_kwh; /* energy with no price forecast for its time */
    float uncarbon_kwh; /* energy with no carbon forecast for its time */
    uint16_t stall_samples;
    uint8_t flags; /* TS_* */
    char currency[D2EV_CURRENCY_MAX + 1];
};

struct tel_session_conf {
    double efficiency;       /* battery kWh per grid kWh (0, 1] */
    double default_power_kw; /* when neither the sample nor the record has one */
    double default_battery_kwh;
    double full_margin_pct; /* "near its limit" */
    double replug_soc_drop; /* SoC points; a larger drop while plugged means a new session */
    int64_t zombie_ms;
    uint32_t zombie_samples;
    double zombie_min_kwh; /* expected energy that must be missing before a zombie */
    int64_t eternal_ms;
    int64_t eternal_grace_ms;
    double eternal_energy_factor;
    int64_t sched_slack_ms; /* a schedule made this long before plug-in still applies */
    int64_t update_ms;
};

void tel_session_conf_default(struct tel_session_conf *c);

/* What the tracker knows about the vehicle besides its samples. All borrowed. */
struct tel_session_ctx {
    const char *vehicle_id;
    const char *region;
    double battery_kwh;             /* from the vehicle record; 0 = unknown */
    double max_power_kw;            /* from the vehicle record; 0 = unknown */
    const struct tel_sched *sched;  /* may be NULL */
    const struct tel_forecasts *fc; /* may be NULL */
};

typedef void (*tel_session_emit_fn)(void *arg, const struct d2ev_session *ev);

/* Feed the next sample cur (strictly newer than prev; prev is the vehicle's
 * previous sample or NULL when there is none). Emits 0..3 events. */
void tel_session_feed(struct tel_session *s, const struct tel_session_conf *c,
                      const struct tel_session_ctx *x, const struct tel_point *prev,
                      const struct tel_point *cur, tel_session_emit_fn emit, void *arg);

/* Send an update for an open session whose last sample (last) is newer than
 * its last event, so whoever takes the vehicle over (after a rebalance or a
 * restart) resumes from exact figures. Returns true when one was sent. */
bool tel_session_checkpoint(struct tel_session *s, const struct tel_session_ctx *x,
                            const struct tel_point *last, tel_session_emit_fn emit, void *arg);

/* Restore from an event telemetry sent for the vehicle (after a restart or
 * when the vehicle moved here from another replica); call it for each event
 * read back, oldest first. The last one sets the figures; full and anomaly
 * flags of earlier events of the same session are kept. An unplug leaves no
 * open session. Fills *last with the sample the event describes (time `at`,
 * SoC soc_now, state unknown) for the next interval. */
void tel_session_restore(struct tel_session *s, const struct d2ev_session *ev,
                         struct tel_point *last);

/* "s-<started_at ms>": deterministic, so a restored session keeps its id. */
void tel_session_id(const struct tel_session *s, char out[65]);

#endif
