/*
 * core.h: the logic of d2ev-telemetry without Kafka or HTTP, so it can be
 * driven by unit tests on a manual clock.
 *
 * The core keeps one small entry per vehicle this replica owns (from
 * d2ev.vehicles, d2ev.credentials presence, d2ev.schedules, and the last
 * session event when it took the vehicle over), one poll queue per OEM (a
 * min-heap of next-poll times, a token bucket for the replica's share of the
 * OEM's rate limit, and a cap on reads outstanding), and the forecasts.
 *
 * tick() submits the reads that are due through ops->submit; the service
 * runs them on the OEM engine and hands each outcome back with
 * tel_core_on_outcome(), which publishes a telemetry sample (newest wins:
 * never one older than the last published for the vehicle), feeds the
 * vehicle's session (session.h) and decides the next poll (policy.h).
 *
 * Ownership: the core owns its vehicles and copies everything it is given.
 * struct tel_vehicle pointers handed to ops->submit stay valid until the
 * matching tel_core_on_outcome() returns, even if the vehicle was deleted or
 * moved away meanwhile. Not thread-safe: one thread drives it.
 */
#ifndef D2EV_TEL_CORE_H
#define D2EV_TEL_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/error.h"
#include "d2ev/events.h"
#include "d2ev/htab.h"
#include "d2ev/oem_engine.h"
#include "policy.h"
#include "poll_heap.h"
#include "session.h"

#define TEL_NO_OEM    0xff
#define TEL_NO_REGION 0xffff

/* tel_vehicle.flags */
#define TV_HAS_RECORD (1u << 0)  /* a vehicle record was seen */
#define TV_HAS_CREDS  (1u << 1)  /* credentials are held (per-vehicle-token OEMs) */
#define TV_SUSPENDED  (1u << 2)  /* the record says suspended */
#define TV_STOPPED    (1u << 3)  /* a permanent error: not polled until a newer record */
#define TV_IN_FLIGHT  (1u << 4)  /* a read is outstanding */
#define TV_PARKED     (1u << 5)  /* its partition was revoked: not polled */
#define TV_REMOVED    (1u << 6)  /* deleted while a read was in flight: freed on its outcome */
#define TV_HAS_SAMPLE (1u << 7)  /* `last` holds a sample (or a restored session's last point) */
#define TV_ASLEEP     (1u << 8)  /* the last answer said the car sleeps */
#define TV_PUBLISHED  (1u << 9)  /* `last` was published by this process (not restored) */
#define TV_POLLED     (1u << 10) /* this process has had an answer for it */

struct tel_vehicle {
    struct d2ev_htab_node node;
    struct poll_timer timer;
    struct tel_budget budget;
    int64_t rec_offset, cred_offset; /* of the last record applied (-1 none) */
    char *oem_vid;                   /* the OEM's id of the car (malloc'd) */
    struct tel_sched *sched;         /* malloc'd or NULL */
    struct tel_point last;           /* the last sample published (newest wins) */
    struct tel_session sess;
    float battery_kwh, max_power_kw; /* from the record; 0 = unknown */
    uint16_t flags;                  /* TV_* */
    uint16_t region;                 /* index into the core's regions */
    int32_t partition;
    uint8_t oem;        /* index into the core's OEMs, TEL_NO_OEM when not loaded */
    uint8_t flight_oem; /* the OEM queue of the read in flight */
    uint8_t cls;        /* enum tel_class */
    uint8_t errors;
    char id[]; /* the d2ev vehicle id */
};

struct tel_core_config {
    struct tel_policy policy;
    struct tel_session_conf session;
    double oem_budget_share;  /* share of each OEM's rate limit reads may use */
    uint32_t max_outstanding; /* reads outstanding per OEM */
};

void tel_core_config_default(struct tel_core_config *c);

/* An OEM the core polls through (strings copied). */
struct tel_oem_info {
    const char *name;
    bool per_vehicle_tokens;  /* vehicles need credentials to be polled */
    double rate_per_s, burst; /* the OEM's rate limit (the engine's settings) */
};

struct tel_core_ops {
    /* Start a READ of v (strings borrowed for the call). Return 0 when the
     * outcome will be handed to tel_core_on_outcome() later, negative when
     * the read could not be started. */
    int (*submit)(void *opaque, struct tel_vehicle *v, const char *oem, const char *oem_vehicle_id,
                  const char *vehicle_id);
    /* Publish a sample / a session event (borrowed). Return 0 or negative. */
    int (*telemetry)(void *opaque, const struct d2ev_telemetry *t);
    int (*session)(void *opaque, const struct d2ev_session *s);
};

struct tel_core_stats {
    uint64_t submitted, submit_failed;
    uint64_t outcomes[D2EV_OEM_CLASS_COUNT];
    uint64_t samples, stale;
    uint64_t sessions[5];  /* by enum d2ev_session_event */
    uint64_t anomalies[3]; /* by enum d2ev_anomaly */
    uint64_t stopped;
};

struct tel_core;

/* Returns NULL with err set. ops and opaque are borrowed. seed 0 = random. */
struct tel_core *tel_core_create(const struct tel_core_config *cfg, const struct tel_oem_info *oems,
                                 size_t noems, const struct tel_core_ops *ops, void *opaque,
                                 uint64_t seed, struct d2ev_err *err);
/* Frees every vehicle. Reads still outstanding must have completed (destroy
 * the engine first: it completes them). */
void tel_core_destroy(struct tel_core *c);

/* ------------------------------------------------------------ inputs */

/* A vehicle record (offset: its position in its partition, for telling a
 * newer record from a replayed one). */
int tel_core_on_vehicle(struct tel_core *c, const struct d2ev_vehicle *v, int32_t partition,
                        int64_t offset, int64_t now);
/* The vehicle was deregistered (tombstone): forget it, silently. */
void tel_core_on_vehicle_deleted(struct tel_core *c, const char *vehicle_id);
/* Credentials for the vehicle are now held (present) or gone. */
int tel_core_on_credentials(struct tel_core *c, const char *vehicle_id, int32_t partition,
                            int64_t offset, bool present, int64_t now);
/* A schedule (a newer version replaces the older; older ones are ignored). */
int tel_core_on_schedule(struct tel_core *c, const struct d2ev_schedule *s, int32_t partition,
                         int64_t now);
void tel_core_on_schedule_deleted(struct tel_core *c, const char *vehicle_id);
/* A forecast for pricing. Returns 1 stored, 0 ignored, negative on error. */
int tel_core_on_forecast(struct tel_core *c, const struct d2ev_forecast *f);
/* The last session event of a vehicle read back at takeover (session.h). */
int tel_core_restore_session(struct tel_core *c, const struct d2ev_session *ev, int32_t partition);

/* ------------------------------------------------------------ ownership */

/* Stop polling the vehicles of these partitions (revoked), keeping their
 * state in case they come back. */
void tel_core_park(struct tel_core *c, const int32_t *parts, size_t n);
/* After an assignment: parked vehicles of these partitions resume, the
 * other parked ones are forgotten. */
void tel_core_assign(struct tel_core *c, const int32_t *parts, size_t n, int64_t now);
/* Reads outstanding for parked or removed vehicles. */
size_t tel_core_in_flight_gone(const struct tel_core *c);
/* This replica's share of the fleet (0..1]: scales each OEM's read budget. */
void tel_core_set_share(struct tel_core *c, double share, int64_t mono);
/* Polls run only while live (inputs caught up). Going live forgets entries
 * that never got a vehicle record. */
void tel_core_set_live(struct tel_core *c, bool live, int64_t now);

/* ------------------------------------------------------------ running */

/* Submit the reads that are due (now: d2ev clock; mono: real monotonic ms
 * for the OEM budgets). Returns how many real ms the caller may wait before
 * calling again (at most 100). */
int64_t tel_core_tick(struct tel_core *c, int64_t now, int64_t mono);

/* The outcome of v's read (from the engine's callback). */
void tel_core_on_outcome(struct tel_core *c, struct tel_vehicle *v,
                         const struct d2ev_oem_outcome *o, int64_t now);

/* ------------------------------------------------------------ views */

struct tel_vehicle *tel_core_find(const struct tel_core *c, const char *vehicle_id);
size_t tel_core_count(const struct tel_core *c);
size_t tel_core_class_count(const struct tel_core *c, enum tel_class cls);
size_t tel_core_in_flight(const struct tel_core *c);
const struct tel_core_stats *tel_core_stats(const struct tel_core *c);
const char *tel_core_region(const struct tel_core *c, const struct tel_vehicle *v);

#endif
