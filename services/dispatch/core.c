/*
 * core.c: per-vehicle intended vs confirmed state, timers, retries, alerts and
 * the fail-safe rules of d2ev-dispatch (see core.h and docs/dispatch.md).
 */
#include "core.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/htab.h"
#include "d2ev/log.h"
#include "d2ev/oem_adapter.h"
#include "d2ev/util.h"
#include "timers.h"

/* The detail of a "skipped" record that means the car already was in the
 * wanted state (the OEM said so). Other skipped records (superseded, unplugged)
 * say nothing about the car. Replay reads this prefix back. */
#define ALREADY_PREFIX "already "
/* The detail of a "sent" record that ends its command (no confirmation will
 * follow: the car was deregistered). */
#define FINAL_PREFIX "final: "

/* What the schedule (or the fail-safe rules) want now. */
enum want {
    WANT_NONE = 0, /* nothing to do (not plugged in) */
    WANT_CHARGE,   /* inside a charge window */
    WANT_PAUSE,    /* outside the windows */
    WANT_RESUME,   /* fail-safe: charging, if we paused it */
};

struct intent {
    enum want want;
    int32_t window; /* the window a command would carry; -1 for fail-safe */
    int32_t seg;    /* 2i = the pause before window i, 2i+1 = window i; -1 fail-safe */
    int64_t until;  /* when this intent may change (next boundary); DSP_TIMER_NONE */
    const char *why;
};

struct command {
    enum dsp_phase phase;
    enum d2ev_command command;
    char id[65];
    int64_t version;
    int32_t window;
    int32_t attempt;
    int64_t first_at; /* first send */
    int64_t since;    /* telemetry observed at or after this may confirm it */
    int64_t due;      /* AWAITING: confirmation deadline; BACKOFF: re-send time */
    uint64_t token;   /* of the submission in flight */
    bool disobeyed;   /* telemetry after acceptance showed the car not obeying */
};

struct veh {
    struct d2ev_htab_node node;
    struct dsp_timer timer;
    char id[D2EV_VEHICLE_ID_MAX + 1];
    char oem[D2EV_OEM_MAX + 1];
    char oem_vehicle_id[D2EV_OEM_VEHICLE_ID_MAX + 1];
    char user_id[D2EV_USER_ID_MAX + 1];
    int32_t partition;
    bool has_vehicle, suspended;
    bool creds_deferred; /* a credentials tombstone waits until we are done */
    /* the newest schedule */
    bool has_schedule, has_version;
    int64_t version; /* newest seen, kept after a tombstone */
    enum d2ev_schedule_status status;
    int64_t created_at, ready_by;
    double target_soc;
    size_t nwin;
    struct d2ev_window *win;
    /* the car */
    enum dsp_car car;
    int64_t car_at;  /* when `car` was true */
    int64_t tele_at; /* observed_at of the newest telemetry */
    bool paused_by_us;
    /* the command under way, and the one given up on */
    struct command cmd;
    bool gave_up;
    enum d2ev_command gave_up_cmd;
    int64_t last_event_at; /* `at` of the newest d2ev.dispatch record */
};

struct dsp_core {
    struct dsp_config conf;
    const struct dsp_output_ops *ops;
    void *opaque;
    struct d2ev_htab vehicles;
    struct dsp_timers timers;
    bool live;
    uint64_t token;
    uint64_t rng;
};

void dsp_config_default(struct dsp_config *c)
{
    memset(c, 0, sizeof(*c));
    c->confirm_timeout_ms = 10 * 60000;
    c->max_attempts = 3;
    c->retry =
        (struct d2ev_backoff){ .base_ms = 60000, .max_ms = 600000, .factor = 2, .jitter = 0.2 };
    c->schedule_max_age_ms = 24 * 3600000LL;
    c->ready_by_grace_ms = 10 * 60000;
}

const char *dsp_car_name(enum dsp_car s)
{
    static const char *const names[] = { "unknown",  "charging", "stopped",
                                         "complete", "no_power", "unplugged" };
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

static const char *const oem_class_names[] = { "",       "permanent",    "retry",
                                               "asleep", "rate_limited", "unauthorized" };

static const char *class_name(uint32_t cls)
{
    return cls < sizeof(oem_class_names) / sizeof(oem_class_names[0]) ? oem_class_names[cls]
                                                                      : "retry";
}

/* ------------------------------------------------------------ vehicles */

static struct veh *find(const struct dsp_core *c, const char *id)
{
    struct d2ev_htab_node *n = d2ev_htab_find(&c->vehicles, id, strlen(id));
    return n ? D2EV_HTAB_ENTRY(n, struct veh, node) : NULL;
}

static struct veh *get(struct dsp_core *c, const char *id, int32_t partition)
{
    struct veh *v = find(c, id);
    if (v) {
        v->partition = partition;
        return v;
    }
    v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    d2ev_strlcpy(v->id, id, sizeof(v->id));
    v->node.key = v->id;
    v->node.klen = strlen(v->id);
    v->partition = partition;
    if (d2ev_htab_insert(&c->vehicles, &v->node) != 0) {
        free(v);
        return NULL;
    }
    return v;
}

static void veh_free(struct dsp_core *c, struct veh *v)
{
    dsp_timers_disarm(&c->timers, &v->timer);
    d2ev_htab_remove(&c->vehicles, &v->node);
    free(v->win);
    free(v);
}

/* ------------------------------------------------------------ decisions */

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static void intent_of(const struct dsp_core *c, const struct veh *v, int64_t now, struct intent *in)
{
    in->window = -1;
    in->seg = -1;
    in->until = DSP_TIMER_NONE;
    in->want = WANT_RESUME;
    if (!v->has_vehicle) {
        in->why = "the vehicle is not registered";
        return;
    }
    if (v->suspended) {
        in->why = "the vehicle is suspended";
        return;
    }
    if (!v->has_schedule) {
        in->why = "the vehicle has no schedule";
        return;
    }
    if (v->status == D2EV_SCHED_NOT_PLUGGED) {
        in->want = WANT_NONE;
        in->why = "not plugged in";
        return;
    }
    if (v->status == D2EV_SCHED_NO_FORECAST) {
        in->why = "the schedule has no forecast";
        return;
    }
    if (now >= v->ready_by + c->conf.ready_by_grace_ms) {
        in->why = "the schedule's ready-by time has passed";
        return;
    }
    if (now >= v->ready_by) { /* the plan is over; hold for the next one */
        in->want = WANT_NONE;
        in->until = v->ready_by + c->conf.ready_by_grace_ms;
        in->why = "the ready-by time has passed: waiting for the next plan";
        return;
    }
    int64_t stale_at = v->created_at + c->conf.schedule_max_age_ms;
    if (now >= stale_at) {
        in->why = "the schedule is stale";
        return;
    }
    in->until = min64(v->ready_by, stale_at);
    size_t i = 0;
    while (i < v->nwin && v->win[i].end <= now)
        i++;
    if (i < v->nwin && v->win[i].start <= now) {
        in->want = WANT_CHARGE;
        in->window = (int32_t)i;
        in->seg = (int32_t)(2 * i + 1);
        in->until = min64(in->until, v->win[i].end);
        in->why = "inside a charge window";
        return;
    }
    in->want = WANT_PAUSE;
    in->seg = (int32_t)(2 * i);
    if (i < v->nwin) {
        in->window = i ? (int32_t)(i - 1) : 0;
        in->until = min64(in->until, v->win[i].start);
    } else {
        in->window = v->nwin ? (int32_t)(v->nwin - 1) : 0;
    }
    in->why = "outside the charge windows";
}

/* The command the intent asks for, whatever the car does; -1 for none. */
static int wanted_command(const struct intent *in)
{
    switch (in->want) {
    case WANT_CHARGE:
    case WANT_RESUME:
        return D2EV_CMD_START;
    case WANT_PAUSE:
        return D2EV_CMD_STOP;
    default:
        return -1;
    }
}

/* Would the car in state s have carried out command? */
static bool obeys(enum d2ev_command command, enum dsp_car s)
{
    if (command == D2EV_CMD_STOP)
        return s == DSP_CAR_STOPPED || s == DSP_CAR_COMPLETE || s == DSP_CAR_NO_POWER;
    return s == DSP_CAR_CHARGING || s == DSP_CAR_COMPLETE;
}

/* Does a car paused by us still need a START to be left charging? */
static bool needs_resume(const struct veh *v)
{
    if (!v->paused_by_us || v->car == DSP_CAR_CHARGING || v->car == DSP_CAR_UNPLUGGED ||
        v->car == DSP_CAR_COMPLETE)
        return false;
    return !(v->gave_up && v->gave_up_cmd == D2EV_CMD_START);
}

/* The command the car needs now given what we know of it; -1 for none.
 * STOP only on positive knowledge that it charges; START inside a window
 * when it is known to be stopped (or we paused it); fail-safe START only
 * when we paused it. */
static int needed_command(const struct veh *v, const struct intent *in)
{
    switch (in->want) {
    case WANT_PAUSE:
        return v->car == DSP_CAR_CHARGING ? D2EV_CMD_STOP : -1;
    case WANT_CHARGE:
        if (v->car == DSP_CAR_STOPPED)
            return D2EV_CMD_START;
        if ((v->car == DSP_CAR_UNKNOWN || v->car == DSP_CAR_NO_POWER) && v->paused_by_us)
            return D2EV_CMD_START;
        return -1;
    case WANT_RESUME:
        return v->paused_by_us && v->car != DSP_CAR_CHARGING && v->car != DSP_CAR_UNPLUGGED &&
                       v->car != DSP_CAR_COMPLETE
                   ? D2EV_CMD_START
                   : -1;
    default:
        return -1;
    }
}

static bool needs_credentials(const struct veh *v)
{
    return v->cmd.phase != DSP_IDLE || needs_resume(v);
}

/* ------------------------------------------------------------ outputs */

static int emit(struct dsp_core *c, struct veh *v, enum d2ev_command command,
                enum d2ev_dispatch_result result, int64_t latency_ms, const char *error_class,
                const char *detail, int64_t now)
{
    struct d2ev_dispatch d;
    memset(&d, 0, sizeof(d));
    d2ev_strlcpy(d.vehicle_id, v->id, sizeof(d.vehicle_id));
    d2ev_strlcpy(d.command_id, v->cmd.id, sizeof(d.command_id));
    d.command = command;
    d.schedule_version = v->cmd.version;
    d.window = v->cmd.window;
    d.attempt = v->cmd.attempt;
    d.result = result;
    d.latency_ms = latency_ms < 0 ? 0 : latency_ms > 86400000 ? 86400000 : latency_ms;
    if (error_class)
        d2ev_strlcpy(d.error_class, error_class, sizeof(d.error_class));
    if (detail)
        d2ev_strlcpy(d.detail, detail, sizeof(d.detail));
    /* strictly increasing per vehicle, so replay can tell old from new */
    d.at = now > v->last_event_at ? now : v->last_event_at + 1;
    v->last_event_at = d.at;
    return c->ops->dispatch(c->opaque, &d, v->oem);
}

static int notify(struct dsp_core *c, struct veh *v, enum d2ev_command command, int64_t now)
{
    struct d2ev_notification n;
    memset(&n, 0, sizeof(n));
    d2ev_strlcpy(n.vehicle_id, v->id, sizeof(n.vehicle_id));
    d2ev_strlcpy(n.user_id, v->user_id, sizeof(n.user_id));
    n.has_time = true;
    n.time = v->cmd.first_at ? v->cmd.first_at : now;
    if (command == D2EV_CMD_STOP) {
        d2ev_strlcpy(n.kind, "charge_not_paused", sizeof(n.kind));
        d2ev_strlcpy(n.message,
                     "Your car kept charging when it was asked to pause, so tonight's charge "
                     "may cost more than planned.",
                     sizeof(n.message));
    } else {
        d2ev_strlcpy(n.kind, "charge_not_started", sizeof(n.kind));
        d2ev_strlcpy(n.message,
                     "Your car did not start charging when it was asked to, so it may not "
                     "reach its target by the ready-by time. Please check the charger.",
                     sizeof(n.message));
        if (v->has_schedule) {
            n.has_soc = true;
            n.soc = v->target_soc;
        }
    }
    return c->ops->notify(c->opaque, &n);
}

static void command_clear(struct veh *v)
{
    v->cmd.phase = DSP_IDLE;
    v->cmd.token = 0;
    v->cmd.disobeyed = false;
}

/* Stop trying command for this intent: alert (or failed), and tell the
 * driver when the car is known not to have obeyed. */
static int give_up(struct dsp_core *c, struct veh *v, enum d2ev_dispatch_result result,
                   const char *error_class, const char *detail, bool tell_driver,
                   int64_t latency_ms, int64_t now)
{
    enum d2ev_command command = v->cmd.command;
    int rc = emit(c, v, command, result, latency_ms, error_class, detail, now);
    if (!rc && tell_driver)
        rc = notify(c, v, command, now);
    d2ev_log_warn(result == D2EV_DISPATCH_ALERT ? "car did not obey" : "command failed",
                  D2EV_LF_STR("vehicle_id", v->id),
                  D2EV_LF_STR("command", d2ev_command_name(command)),
                  D2EV_LF_INT("attempts", v->cmd.attempt), D2EV_LF_STR("detail", detail));
    v->gave_up = true;
    v->gave_up_cmd = command;
    command_clear(v);
    return rc;
}

/* The car is (now) in the state command asked for. */
static void car_obeyed(struct veh *v, enum d2ev_command command, int64_t at)
{
    if (at >= v->car_at) {
        v->car = command == D2EV_CMD_STOP ? DSP_CAR_STOPPED : DSP_CAR_CHARGING;
        v->car_at = at;
    }
    v->paused_by_us = command == D2EV_CMD_STOP;
    v->gave_up = false;
}

/* Submit attempt `attempt` of the current command (set up by the caller). */
static int submit(struct dsp_core *c, struct veh *v, int32_t attempt, int64_t now)
{
    v->cmd.attempt = attempt;
    v->cmd.phase = DSP_INFLIGHT;
    v->cmd.token = ++c->token;
    v->cmd.disobeyed = false;
    if (attempt == 1)
        v->cmd.first_at = now;
    if (v->cmd.command == D2EV_CMD_STOP)
        v->paused_by_us = true; /* from now on the fail-safe must undo it */
    struct dsp_command_req req = { .vehicle_id = v->id,
                                   .oem = v->oem,
                                   .oem_vehicle_id = v->oem_vehicle_id,
                                   .command = v->cmd.command,
                                   .token = v->cmd.token };
    const char *why = NULL;
    if (!v->oem[0] || !v->oem_vehicle_id[0])
        why = "the vehicle's OEM is not known";
    else if (c->ops->submit(c->opaque, &req, &why) == 0)
        return 0;
    char detail[D2EV_REASON_MAX + 1];
    snprintf(detail, sizeof(detail), "cannot send: %s", why ? why : "refused");
    if (v->cmd.command == D2EV_CMD_STOP)
        v->paused_by_us = false;
    return give_up(c, v, D2EV_DISPATCH_FAILED, "permanent", detail, true, 0, now);
}

static int start_command(struct dsp_core *c, struct veh *v, const struct intent *in,
                         enum d2ev_command command, int64_t now)
{
    memset(&v->cmd, 0, sizeof(v->cmd));
    v->cmd.command = command;
    v->cmd.version = v->has_version ? v->version : 0;
    v->cmd.window = in->want == WANT_RESUME ? -1 : in->window;
    if (in->want == WANT_RESUME)
        snprintf(v->cmd.id, sizeof(v->cmd.id), "%" PRId64 "-fs-%s", v->cmd.version,
                 d2ev_command_name(command));
    else
        snprintf(v->cmd.id, sizeof(v->cmd.id), "%" PRId64 "-%d-%s", v->cmd.version, in->seg,
                 d2ev_command_name(command));
    d2ev_log_debug("sending", D2EV_LF_STR("vehicle_id", v->id),
                   D2EV_LF_STR("command", d2ev_command_name(command)),
                   D2EV_LF_STR("command_id", v->cmd.id), D2EV_LF_STR("why", in->why),
                   D2EV_LF_STR("car", dsp_car_name(v->car)));
    return submit(c, v, 1, now);
}

/* The car was seen (or said to be) not obeying by the deadline. */
static int deadline_passed(struct dsp_core *c, struct veh *v, int64_t now)
{
    char detail[D2EV_REASON_MAX + 1];
    const char *state = v->cmd.command == D2EV_CMD_STOP ? "still charging" : "still not charging";
    long minutes = (long)((now - v->cmd.since) / 60000);
    if (v->cmd.disobeyed)
        snprintf(detail, sizeof(detail), "the car was %s %ld min after the command (attempt %d)",
                 state, minutes, v->cmd.attempt);
    else
        snprintf(detail, sizeof(detail),
                 "no telemetry confirmed the command within %ld min (attempt %d)", minutes,
                 v->cmd.attempt);
    int64_t latency = now - v->cmd.first_at;
    if ((uint32_t)v->cmd.attempt >= c->conf.max_attempts)
        return give_up(c, v, D2EV_DISPATCH_ALERT, NULL, detail, v->cmd.disobeyed, latency, now);
    int rc = emit(c, v, v->cmd.command, D2EV_DISPATCH_RETRY, latency, NULL, detail, now);
    v->cmd.phase = DSP_BACKOFF;
    v->cmd.due = now + d2ev_backoff_delay_ms(&c->conf.retry, (unsigned)v->cmd.attempt, &c->rng);
    return rc;
}

static void arm(struct dsp_core *c, struct veh *v, const struct intent *in, int64_t now)
{
    int64_t due = in->until;
    if (v->cmd.phase == DSP_AWAITING || v->cmd.phase == DSP_BACKOFF)
        due = min64(due, v->cmd.due);
    if (due != DSP_TIMER_NONE && due <= now)
        due = now + 1;
    if (dsp_timers_arm(&c->timers, &v->timer, due) != 0)
        d2ev_log_error("out of memory arming a timer", D2EV_LF_STR("vehicle_id", v->id));
}

/* Decide what v needs now and do it. May free v (a deregistered car with
 * nothing left to do): callers must not touch v afterwards. */
static int evaluate(struct dsp_core *c, struct veh *v, int64_t now)
{
    if (!c->live)
        return 0;
    int rc = 0;
    struct intent in;
    intent_of(c, v, now, &in);
    int wanted = wanted_command(&in);
    if (v->gave_up && (int)v->gave_up_cmd != wanted)
        v->gave_up = false; /* the intent moved on: a later command may try again */
    switch (v->cmd.phase) {
    case DSP_INFLIGHT:
        break; /* decide again when the OEM answers */
    case DSP_AWAITING:
    case DSP_BACKOFF:
        if ((int)v->cmd.command != wanted) {
            rc = emit(c, v, v->cmd.command, D2EV_DISPATCH_SKIPPED, now - v->cmd.first_at, NULL,
                      "superseded: the intended state changed before it was confirmed", now);
            command_clear(v);
            if (!rc)
                return evaluate(c, v, now);
        } else if (v->cmd.phase == DSP_BACKOFF && now >= v->cmd.due) {
            /* re-send unless the car now does it (or was unplugged); a
             * start that never flowed (no power) is sent again too */
            if (!obeys(v->cmd.command, v->car) && v->car != DSP_CAR_UNPLUGGED) {
                rc = submit(c, v, v->cmd.attempt + 1, now);
            } else {
                char detail[D2EV_REASON_MAX + 1];
                snprintf(detail, sizeof(detail), "no longer needed: the car is %s",
                         dsp_car_name(v->car));
                rc = emit(c, v, v->cmd.command, D2EV_DISPATCH_SKIPPED, now - v->cmd.first_at, NULL,
                          detail, now);
                command_clear(v);
            }
        }
        break;
    case DSP_IDLE: {
        int need = needed_command(v, &in);
        if (need >= 0 && !(v->gave_up && (int)v->gave_up_cmd == need))
            rc = start_command(c, v, &in, (enum d2ev_command)need, now);
        break;
    }
    }
    if (v->creds_deferred && !needs_credentials(v)) {
        v->creds_deferred = false;
        if (c->ops->release_credentials)
            c->ops->release_credentials(c->opaque, v->id);
    }
    if (!v->has_vehicle && !v->has_schedule && !needs_credentials(v)) {
        d2ev_log_info("vehicle forgotten", D2EV_LF_STR("vehicle_id", v->id));
        veh_free(c, v);
        return rc;
    }
    arm(c, v, &in, now);
    return rc;
}

/* ------------------------------------------------------------ lifecycle */

struct dsp_core *dsp_core_create(const struct dsp_config *conf, const struct dsp_output_ops *ops,
                                 void *opaque)
{
    struct dsp_core *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->conf = *conf;
    if (c->conf.max_attempts < 1)
        c->conf.max_attempts = 1;
    c->ops = ops;
    c->opaque = opaque;
    c->rng = conf->seed ? conf->seed : 0x5d15a7c4u;
    return c;
}

static void free_each(struct d2ev_htab_node *n, void *arg)
{
    struct dsp_core *c = arg;
    veh_free(c, D2EV_HTAB_ENTRY(n, struct veh, node));
}

void dsp_core_destroy(struct dsp_core *c)
{
    if (!c)
        return;
    d2ev_htab_each(&c->vehicles, free_each, c);
    d2ev_htab_free(&c->vehicles);
    dsp_timers_free(&c->timers);
    free(c);
}

/* Argument of the per-vehicle walks below. */
struct each_arg {
    struct dsp_core *c;
    int64_t now;
    int32_t partition;
};

static void wake_each(struct d2ev_htab_node *n, void *arg)
{
    struct each_arg *a = arg;
    struct veh *v = D2EV_HTAB_ENTRY(n, struct veh, node);
    /* a restored command gets a fresh confirmation window: the telemetry that
     * would confirm it may still be waiting behind the committed offset */
    if (v->cmd.phase == DSP_AWAITING || v->cmd.phase == DSP_BACKOFF) {
        int64_t floor = a->now + a->c->conf.confirm_timeout_ms;
        if (v->cmd.due < floor)
            v->cmd.due = floor;
    }
    dsp_timers_arm(&a->c->timers, &v->timer, a->now);
}

void dsp_core_set_live(struct dsp_core *c, bool live, int64_t now)
{
    if (live == c->live)
        return;
    c->live = live;
    if (live) {
        struct each_arg a = { c, now, 0 };
        d2ev_htab_each(&c->vehicles, wake_each, &a);
    }
}

/* ------------------------------------------------------------ inputs */

#define GET_OR_FAIL(v, id, partition)                                                              \
    struct veh *v = get(c, (id), (partition));                                                     \
    if (!v)                                                                                        \
        return D2EV_ERR_NOMEM;

int dsp_core_on_vehicle(struct dsp_core *c, const struct d2ev_vehicle *rec, int32_t partition,
                        int64_t now)
{
    GET_OR_FAIL(v, rec->vehicle_id, partition)
    v->has_vehicle = true;
    v->suspended = rec->status == D2EV_VEHICLE_SUSPENDED;
    d2ev_strlcpy(v->oem, rec->oem, sizeof(v->oem));
    d2ev_strlcpy(v->oem_vehicle_id, rec->oem_vehicle_id, sizeof(v->oem_vehicle_id));
    d2ev_strlcpy(v->user_id, rec->user_id, sizeof(v->user_id));
    return evaluate(c, v, now);
}

int dsp_core_on_vehicle_deleted(struct dsp_core *c, const char *vehicle_id, int64_t now)
{
    struct veh *v = find(c, vehicle_id);
    if (!v)
        return 0;
    v->has_vehicle = false;
    v->suspended = false;
    return evaluate(c, v, now);
}

int dsp_core_on_schedule(struct dsp_core *c, const struct d2ev_schedule *s, int32_t partition,
                         int64_t now, enum dsp_apply *applied)
{
    GET_OR_FAIL(v, s->vehicle_id, partition)
    if (v->has_version && s->version <= v->version) {
        if (applied)
            *applied = DSP_STALE;
        return 0;
    }
    struct d2ev_window *win = NULL;
    if (s->nwindows) {
        win = malloc(s->nwindows * sizeof(*win));
        if (!win)
            return D2EV_ERR_NOMEM;
        memcpy(win, s->windows, s->nwindows * sizeof(*win));
    }
    free(v->win);
    v->win = win;
    v->nwin = s->nwindows;
    v->has_schedule = v->has_version = true;
    v->version = s->version;
    v->status = s->status;
    v->created_at = s->created_at;
    v->ready_by = s->ready_by;
    v->target_soc = s->target_soc;
    if (applied)
        *applied = DSP_APPLIED;
    d2ev_log_debug("schedule", D2EV_LF_STR("vehicle_id", v->id), D2EV_LF_INT("version", s->version),
                   D2EV_LF_STR("status", d2ev_schedule_status_name(s->status)),
                   D2EV_LF_INT("windows", (int64_t)s->nwindows),
                   D2EV_LF_STR("car", dsp_car_name(v->car)));
    return evaluate(c, v, now);
}

int dsp_core_on_schedule_deleted(struct dsp_core *c, const char *vehicle_id, int64_t now)
{
    struct veh *v = find(c, vehicle_id);
    if (!v)
        return 0;
    v->has_schedule = false;
    free(v->win);
    v->win = NULL;
    v->nwin = 0;
    return evaluate(c, v, now);
}

static enum dsp_car car_of(const struct d2ev_telemetry *t)
{
    switch (t->charging_state) {
    case D2EV_CHG_CHARGING:
    case D2EV_CHG_STARTING:
        return DSP_CAR_CHARGING;
    case D2EV_CHG_STOPPED:
        return DSP_CAR_STOPPED;
    case D2EV_CHG_COMPLETE:
        return DSP_CAR_COMPLETE;
    case D2EV_CHG_NO_POWER:
        return DSP_CAR_NO_POWER;
    case D2EV_CHG_DISCONNECTED:
        return DSP_CAR_UNPLUGGED;
    default:
        return t->plugged_in ? DSP_CAR_UNKNOWN : DSP_CAR_UNPLUGGED;
    }
}

int dsp_core_on_telemetry(struct dsp_core *c, const struct d2ev_telemetry *t, int32_t partition,
                          int64_t now)
{
    GET_OR_FAIL(v, t->vehicle_id, partition)
    if (t->observed_at <= v->tele_at)
        return 0; /* redelivered or older */
    v->tele_at = t->observed_at;
    enum dsp_car car = car_of(t);
    /* older than what a confirmed command told us (telemetry re-delivered
     * after a restart): it may still confirm a command below, nothing more */
    bool newest = t->observed_at >= v->car_at;
    if (newest) {
        v->car = car;
        v->car_at = t->observed_at;
        if (car == DSP_CAR_CHARGING || car == DSP_CAR_UNPLUGGED)
            v->paused_by_us = false;
    }
    int rc = 0;
    bool waiting = v->cmd.phase == DSP_AWAITING || v->cmd.phase == DSP_BACKOFF;
    if (waiting && t->observed_at >= v->cmd.since) {
        if (obeys(v->cmd.command, car)) {
            rc = emit(c, v, v->cmd.command, D2EV_DISPATCH_CONFIRMED,
                      t->observed_at - v->cmd.first_at, NULL, NULL, now);
            car_obeyed(v, v->cmd.command, t->observed_at);
            command_clear(v);
        } else if (car == DSP_CAR_UNPLUGGED) {
            rc = emit(c, v, v->cmd.command, D2EV_DISPATCH_SKIPPED, t->observed_at - v->cmd.first_at,
                      NULL, "no longer needed: the car was unplugged", now);
            command_clear(v);
        } else if (car != DSP_CAR_UNKNOWN) {
            v->cmd.disobeyed = true;
        }
    }
    if (newest && v->gave_up && obeys(v->gave_up_cmd, car))
        v->gave_up = false;
    if (rc)
        return rc;
    return evaluate(c, v, now);
}

int dsp_core_on_history(struct dsp_core *c, const struct d2ev_dispatch *d, int32_t partition,
                        int64_t now)
{
    GET_OR_FAIL(v, d->vehicle_id, partition)
    if (d->at <= v->last_event_at)
        return 0; /* our own echo, or older than what we know */
    v->last_event_at = d->at;
    if (d->command == D2EV_CMD_WAKE)
        return 0;
    if (v->cmd.phase == DSP_INFLIGHT)
        return 0; /* a live submission is newer than any record */
    bool same = !strcmp(v->cmd.id, d->command_id) && v->cmd.phase != DSP_IDLE;
    switch (d->result) {
    case D2EV_DISPATCH_SENT:
    case D2EV_DISPATCH_RETRY:
        if (!same) {
            memset(&v->cmd, 0, sizeof(v->cmd));
            d2ev_strlcpy(v->cmd.id, d->command_id, sizeof(v->cmd.id));
            v->cmd.command = d->command;
            v->cmd.version = d->schedule_version;
            v->cmd.window = d->window;
            v->cmd.first_at = d->at;
            v->cmd.since = d->at;
        }
        v->cmd.attempt = d->attempt;
        if (d->result == D2EV_DISPATCH_SENT &&
            !strncmp(d->detail, FINAL_PREFIX, strlen(FINAL_PREFIX))) {
            command_clear(v);
            v->paused_by_us = false;
        } else if (d->result == D2EV_DISPATCH_SENT) {
            v->cmd.phase = DSP_AWAITING;
            v->cmd.since = d->at;
            v->cmd.due = d->at + c->conf.confirm_timeout_ms;
            if (d->command == D2EV_CMD_STOP)
                v->paused_by_us = true;
        } else {
            v->cmd.phase = DSP_BACKOFF;
            v->cmd.due =
                d->at + d2ev_backoff_delay_ms(&c->conf.retry, (unsigned)d->attempt, &c->rng);
        }
        break;
    case D2EV_DISPATCH_CONFIRMED:
        command_clear(v);
        car_obeyed(v, d->command, d->at);
        break;
    case D2EV_DISPATCH_SKIPPED:
        command_clear(v);
        if (!strncmp(d->detail, ALREADY_PREFIX, strlen(ALREADY_PREFIX)))
            car_obeyed(v, d->command, d->at);
        break;
    case D2EV_DISPATCH_ALERT:
    case D2EV_DISPATCH_FAILED:
        command_clear(v);
        v->gave_up = true;
        v->gave_up_cmd = d->command;
        break;
    }
    return evaluate(c, v, now);
}

bool dsp_core_on_credentials_deleted(struct dsp_core *c, const char *vehicle_id, int32_t partition)
{
    struct veh *v = find(c, vehicle_id);
    if (c->live && (!v || !needs_credentials(v)))
        return true;
    /* while replaying, our own history may not have told us yet whether we
     * paused the car: keep the credentials until we know */
    if (!v) {
        v = get(c, vehicle_id, partition);
        if (!v)
            return true;
    }
    v->creds_deferred = true;
    return false;
}

bool dsp_core_on_credentials(struct dsp_core *c, const char *vehicle_id)
{
    struct veh *v = find(c, vehicle_id);
    if (!v || !v->creds_deferred)
        return false;
    v->creds_deferred = false;
    return true;
}

int dsp_core_on_result(struct dsp_core *c, const char *vehicle_id, uint64_t token,
                       const struct dsp_result *r, int64_t now)
{
    struct veh *v = find(c, vehicle_id);
    if (!v || v->cmd.phase != DSP_INFLIGHT || v->cmd.token != token)
        return 0;
    v->cmd.token = 0;
    int rc = 0;
    enum d2ev_command command = v->cmd.command;
    const char *msg = r->message && *r->message ? r->message : NULL;
    if (r->woke) {
        char detail[D2EV_REASON_MAX + 1];
        snprintf(detail, sizeof(detail), "woken to take the %s command",
                 d2ev_command_name(command));
        rc = emit(c, v, D2EV_CMD_WAKE, D2EV_DISPATCH_SENT, r->latency_ms, NULL, detail, now);
    }
    if (rc)
        return rc;
    if (r->cls == D2EV_OEM_OK && r->command == D2EV_OEM_CMD_ALREADY) {
        char detail[D2EV_REASON_MAX + 1];
        snprintf(detail, sizeof(detail), ALREADY_PREFIX "%s (the OEM said so)",
                 command == D2EV_CMD_STOP ? "not charging" : "charging");
        rc = emit(c, v, command, D2EV_DISPATCH_SKIPPED, r->latency_ms, NULL, detail, now);
        car_obeyed(v, command, now);
        command_clear(v);
    } else if (r->cls == D2EV_OEM_OK && !v->has_vehicle) {
        /* a deregistered car is no longer polled: no telemetry will confirm
         * its fail-safe start, so the OEM's word ends it */
        rc = emit(c, v, command, D2EV_DISPATCH_SENT, r->latency_ms, NULL,
                  FINAL_PREFIX "the vehicle is deregistered, no telemetry will confirm it", now);
        v->paused_by_us = false;
        command_clear(v);
    } else if (r->cls == D2EV_OEM_OK) {
        rc = emit(c, v, command, D2EV_DISPATCH_SENT, r->latency_ms, NULL,
                  r->command == D2EV_OEM_CMD_CONFIRMED ? "the OEM confirmed it" : NULL, now);
        v->cmd.phase = DSP_AWAITING;
        v->cmd.since = now;
        v->cmd.due = now + c->conf.confirm_timeout_ms;
    } else if (r->cls == D2EV_OEM_PERMANENT || r->cls == D2EV_OEM_UNAUTHORIZED) {
        if (command == D2EV_CMD_STOP && v->car != DSP_CAR_STOPPED)
            v->paused_by_us = false;
        rc = give_up(c, v, D2EV_DISPATCH_FAILED, class_name(r->cls), msg ? msg : "refused", true,
                     r->latency_ms, now);
    } else if ((uint32_t)v->cmd.attempt >= c->conf.max_attempts) {
        rc = give_up(c, v, D2EV_DISPATCH_ALERT, class_name(r->cls), msg, true, r->latency_ms, now);
    } else {
        rc = emit(c, v, command, D2EV_DISPATCH_RETRY, r->latency_ms, class_name(r->cls), msg, now);
        int64_t delay = d2ev_backoff_delay_ms(&c->conf.retry, (unsigned)v->cmd.attempt, &c->rng);
        if (r->retry_after_ms > delay)
            delay = r->retry_after_ms;
        v->cmd.phase = DSP_BACKOFF;
        if (!v->cmd.since)
            v->cmd.since = v->cmd.first_at;
        v->cmd.due = now + delay;
    }
    if (rc)
        return rc;
    return evaluate(c, v, now);
}

int dsp_core_tick(struct dsp_core *c, int64_t now)
{
    if (!c->live)
        return 0;
    int fired = 0;
    struct dsp_timer *t;
    while ((t = dsp_timers_pop_due(&c->timers, now)) != NULL) {
        struct veh *v = D2EV_HTAB_ENTRY(t, struct veh, timer);
        int rc = 0;
        if (v->cmd.phase == DSP_AWAITING && now >= v->cmd.due)
            rc = deadline_passed(c, v, now);
        if (!rc)
            rc = evaluate(c, v, now);
        if (rc)
            return rc;
        fired++;
    }
    return fired;
}

int64_t dsp_core_next_due(const struct dsp_core *c)
{
    return dsp_timers_next(&c->timers);
}

static void drop_each(struct d2ev_htab_node *n, void *arg)
{
    struct each_arg *a = arg;
    struct veh *v = D2EV_HTAB_ENTRY(n, struct veh, node);
    if (v->partition == a->partition)
        veh_free(a->c, v);
}

void dsp_core_drop_partition(struct dsp_core *c, int32_t partition)
{
    struct each_arg a = { c, 0, partition };
    d2ev_htab_each(&c->vehicles, drop_each, &a);
}

/* ------------------------------------------------------------ inspection */

void dsp_core_view(const struct dsp_core *c, const char *vehicle_id, struct dsp_vehicle_view *out)
{
    memset(out, 0, sizeof(*out));
    struct veh *v = find(c, vehicle_id);
    if (!v)
        return;
    out->found = true;
    out->has_vehicle = v->has_vehicle;
    out->has_schedule = v->has_schedule;
    out->schedule_version = v->version;
    out->car = v->car;
    out->paused_by_us = v->paused_by_us;
    out->phase = v->cmd.phase;
    out->command = v->cmd.command;
    out->attempt = v->cmd.attempt;
    out->window = v->cmd.window;
    out->gave_up = v->gave_up;
    out->next_due = dsp_timer_armed(&v->timer) ? v->timer.due : DSP_TIMER_NONE;
}

size_t dsp_core_vehicle_count(const struct dsp_core *c)
{
    return c->vehicles.count;
}
