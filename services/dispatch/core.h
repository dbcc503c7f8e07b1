/*
 * core.h: the dispatcher's decisions, without Kafka or HTTP.
 *
 * Per vehicle the core keeps what it should be doing (the intended state,
 * from the newest schedule and the fail-safe rules) and what the car is doing
 * (the confirmed state, from telemetry and confirmed commands), and closes the
 * loop between them:
 *
 *   intended != confirmed  -> send START or STOP (through ops->submit)
 *   OEM accepted           -> "sent"; wait for telemetry up to confirm_timeout
 *   telemetry agrees       -> "confirmed"
 *   deadline, or OEM error -> "retry" with backoff, up to max_attempts
 *   still not obeyed       -> "alert" (+ notification charge_not_paused /
 *                             charge_not_started); permanent OEM error -> "failed"
 *
 * Every command and outcome goes out through ops->dispatch as a struct
 * d2ev_dispatch, and the same records fed back with dsp_core_on_history()
 * (the service replays its own d2ev.dispatch at start-up) restore in-flight
 * and confirmed commands, so a restarted dispatcher neither forgets a pause
 * nor re-sends a confirmed command.
 *
 * Fail-safe (never strand a driver): without an active vehicle record, without
 * a schedule, with a stale schedule (older than schedule_max_age_ms, or past
 * its ready-by by more than ready_by_grace_ms), or with status no_forecast,
 * the car is left charging: if the dispatcher paused it, it resumes it (START,
 * window -1). It never sends STOP then. During the grace after ready-by it
 * sends nothing, so the scheduler's plan for the next day arrives before a
 * resume that plan would undo.
 *
 * Time: every time here is ms on the d2ev clock (`now` is passed in, so tests
 * drive a manual clock), except the OEM round-trip latencies reported in
 * struct dsp_result, which are real ms.
 *
 * Ownership: the core copies everything it keeps; structs passed in are
 * borrowed for the call. Callbacks receive borrowed structs. Not thread-safe:
 * one thread drives the core, the engine and the consumer.
 */
#ifndef D2EV_DISPATCH_CORE_H
#define D2EV_DISPATCH_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/events.h"
#include "d2ev/resilience.h"

struct dsp_config {
    int64_t confirm_timeout_ms;  /* telemetry must confirm a command within this */
    uint32_t max_attempts;       /* sends per command before alerting (>= 1) */
    struct d2ev_backoff retry;   /* delay before each re-send */
    int64_t schedule_max_age_ms; /* a schedule older than this is stale */
    int64_t ready_by_grace_ms;   /* after ready-by, hold this long for the next plan */
    uint64_t seed;               /* backoff jitter; 0 = fixed seed */
};

/* Defaults: confirm within 10 min, 3 attempts, backoff 1 min doubling to
 * 10 min with 20 % jitter, schedules stale after 24 h, 10 min of grace after
 * ready-by. */
void dsp_config_default(struct dsp_config *c);

/* A command the core wants sent. Strings are borrowed for the call. */
struct dsp_command_req {
    const char *vehicle_id;     /* d2ev id: the OEM engine's token key */
    const char *oem;            /* adapter name */
    const char *oem_vehicle_id; /* the OEM's id */
    enum d2ev_command command;  /* START or STOP */
    uint64_t token;             /* hand back to dsp_core_on_result() */
};

/* How the OEM engine answered a submitted command (d2ev_oem_outcome). */
struct dsp_result {
    uint32_t cls;           /* enum d2ev_oem_class */
    uint32_t command;       /* enum d2ev_oem_command_outcome */
    bool woke;              /* the car was woken first */
    int64_t latency_ms;     /* real ms, submit to answer */
    int64_t retry_after_ms; /* rate_limited: on the d2ev clock (the caller converts) */
    const char *message;    /* may be NULL */
};

struct dsp_output_ops {
    /* Send a command. Return 0 when accepted (dsp_core_on_result() follows,
     * later, exactly once), or a negative code: the core then treats it as a
     * permanent failure. */
    int (*submit)(void *opaque, const struct dsp_command_req *req, const char **why);
    /* Publish a d2ev.dispatch record. Return 0, or negative to stop. */
    int (*dispatch)(void *opaque, const struct d2ev_dispatch *d, const char *oem);
    /* Publish a d2ev.notifications record. */
    int (*notify)(void *opaque, const struct d2ev_notification *n);
    /* The core no longer needs the vehicle's credentials (a deferred
     * credentials tombstone may now be applied). May be NULL. */
    void (*release_credentials)(void *opaque, const char *vehicle_id);
};

/* What a schedule handed to dsp_core_on_schedule() did. */
enum dsp_apply {
    DSP_APPLIED = 0,
    DSP_STALE, /* version not newer than one already seen: ignored */
};

struct dsp_core;

struct dsp_core *dsp_core_create(const struct dsp_config *conf, const struct dsp_output_ops *ops,
                                 void *opaque);
void dsp_core_destroy(struct dsp_core *c);

/* While not live (replaying state topics) the core records inputs but sends
 * nothing and arms no command timers. Going live evaluates every vehicle. */
void dsp_core_set_live(struct dsp_core *c, bool live, int64_t now);

/* Inputs. `partition` is the Kafka partition the record came from (every
 * vehicle-keyed topic is co-partitioned), for dsp_core_drop_partition().
 * They return 0, or the negative code an output callback returned. */
int dsp_core_on_vehicle(struct dsp_core *c, const struct d2ev_vehicle *v, int32_t partition,
                        int64_t now);
int dsp_core_on_vehicle_deleted(struct dsp_core *c, const char *vehicle_id, int64_t now);
int dsp_core_on_schedule(struct dsp_core *c, const struct d2ev_schedule *s, int32_t partition,
                         int64_t now, enum dsp_apply *applied);
int dsp_core_on_schedule_deleted(struct dsp_core *c, const char *vehicle_id, int64_t now);
int dsp_core_on_telemetry(struct dsp_core *c, const struct d2ev_telemetry *t, int32_t partition,
                          int64_t now);
/* A d2ev.dispatch record (the core's own history). Older than what the core
 * knows of the vehicle (by `at`) is ignored, so the echo of a record the core
 * itself produced changes nothing. */
int dsp_core_on_history(struct dsp_core *c, const struct d2ev_dispatch *d, int32_t partition,
                        int64_t now);

/* A tombstone on d2ev.credentials. Returns true when the credentials may be
 * dropped now; false when the vehicle still needs them (the dispatcher paused
 * it and must resume it, or a command is under way): the core then calls
 * ops->release_credentials() once it is done with them. */
bool dsp_core_on_credentials_deleted(struct dsp_core *c, const char *vehicle_id, int32_t partition);

/* A new d2ev.credentials record arrives. Returns true when a deferred
 * tombstone of the vehicle must be applied before it (the record then starts
 * afresh, e.g. a re-registration whose version restarts). */
bool dsp_core_on_credentials(struct dsp_core *c, const char *vehicle_id);

/* The OEM engine's answer to the command with `token`. */
int dsp_core_on_result(struct dsp_core *c, const char *vehicle_id, uint64_t token,
                       const struct dsp_result *r, int64_t now);

/* Fire every timer due at now. Returns the number fired, or a negative code. */
int dsp_core_tick(struct dsp_core *c, int64_t now);

/* Earliest armed timer (INT64_MAX when none). */
int64_t dsp_core_next_due(const struct dsp_core *c);

/* Forget the vehicles of a revoked partition (their next owner takes over;
 * no fail-safe commands are sent for them). */
void dsp_core_drop_partition(struct dsp_core *c, int32_t partition);

/* ------------------------------------------------------------ inspection */

enum dsp_car {
    DSP_CAR_UNKNOWN = 0,
    DSP_CAR_CHARGING,  /* charging or starting */
    DSP_CAR_STOPPED,   /* plugged in, not charging */
    DSP_CAR_COMPLETE,  /* at its own charge limit */
    DSP_CAR_NO_POWER,  /* plugged in, the charger gives nothing */
    DSP_CAR_UNPLUGGED, /* disconnected */
};

enum dsp_phase {
    DSP_IDLE = 0, /* no command under way */
    DSP_INFLIGHT, /* submitted to the OEM engine */
    DSP_AWAITING, /* accepted by the OEM; waiting for telemetry */
    DSP_BACKOFF,  /* waiting to re-send */
};

/* A snapshot of one vehicle (tests, the admin view). */
struct dsp_vehicle_view {
    bool found;
    bool has_vehicle, has_schedule;
    int64_t schedule_version;
    enum dsp_car car;
    bool paused_by_us;
    enum dsp_phase phase;
    enum d2ev_command command; /* of the command under way */
    int32_t attempt;
    int32_t window;
    bool gave_up;
    int64_t next_due;
};

void dsp_core_view(const struct dsp_core *c, const char *vehicle_id, struct dsp_vehicle_view *out);
size_t dsp_core_vehicle_count(const struct dsp_core *c);
const char *dsp_car_name(enum dsp_car s);

#endif
