/*
 * policy.h: when to poll a vehicle next (pure: no Kafka, no clock).
 *
 * Every vehicle is in one poll class, decided from its last sample, its
 * schedule and the last outcome; each class has an interval (simulated time
 * on a scaled clock), spread by a little jitter so a fleet does not poll in
 * lock-step:
 *
 *   charging        the car charges                                    charging_ms
 *   boundary        plugged in and a schedule window starts or ends
 *                   within boundary_lead_ms (either side), or the
 *                   schedule says charge but the car does not          boundary_ms
 *   plugged         plugged in, idle                                   plugged_ms
 *   unplugged       not plugged in                                     unplugged_ms
 *   asleep          the OEM says the car sleeps (reads never wake it)  asleep_ms
 *   backoff         the last poll failed: Retry-After, else
 *                   exponential backoff with jitter                    backoff_*
 *   new             never polled: a random time within initial_spread_ms
 *
 * A plugged-in car is also polled when its next window boundary comes within
 * boundary_lead_ms, and boundary_after_ms after it, to see the car obey. On top of that each
 * vehicle has a poll budget (a token bucket of vehicle_per_hour polls, burst vehicle_burst): no
 * class or retry makes a vehicle poll faster than that.
 */
#ifndef D2EV_TEL_POLICY_H
#define D2EV_TEL_POLICY_H

#include <stdbool.h>
#include <stdint.h>

enum tel_class {
    TEL_CLASS_NEW = 0,
    TEL_CLASS_CHARGING,
    TEL_CLASS_BOUNDARY,
    TEL_CLASS_PLUGGED,
    TEL_CLASS_UNPLUGGED,
    TEL_CLASS_ASLEEP,
    TEL_CLASS_BACKOFF,
    /* not polled: */
    TEL_CLASS_NO_CREDENTIALS, /* no (readable) credentials for a per-vehicle-token OEM */
    TEL_CLASS_STOPPED,        /* consent revoked, unknown at the OEM, or suspended */
    TEL_CLASS_UNKNOWN_OEM,    /* no adapter loaded for its OEM */
    TEL_CLASS_IDLE,           /* no vehicle record yet, or parked during a rebalance */
};
#define TEL_CLASS_COUNT 11

/* "new", "charging", "boundary", "plugged", "unplugged", "asleep", "backoff",
 * "no_credentials", "stopped", "unknown_oem", "idle". Static strings. */
const char *tel_class_name(enum tel_class c);

struct tel_policy {
    int64_t charging_ms, boundary_ms, plugged_ms, unplugged_ms, asleep_ms;
    int64_t boundary_lead_ms;  /* "near" a window boundary, before or after it */
    int64_t boundary_after_ms; /* poll this long after a boundary */
    int64_t initial_spread_ms; /* first polls are spread over this */
    int64_t backoff_base_ms, backoff_max_ms;
    double jitter;           /* intervals vary by +-jitter (0..0.5) */
    double vehicle_per_hour; /* per-vehicle poll budget */
    double vehicle_burst;
    int64_t min_gap_ms; /* never poll one vehicle twice within this */
};

void tel_policy_default(struct tel_policy *p);

/* What the policy needs to know about a vehicle. */
struct tel_poll_input {
    bool has_sample;
    bool plugged, charging, asleep; /* from the last sample (or outcome) */
    bool sched_says_charge;         /* its schedule has it charging now */
    int64_t next_boundary;          /* TEL_NO_TIME_AFTER when none */
    int64_t prev_boundary;          /* TEL_NO_TIME_BEFORE when none */
};

/* The class of a vehicle that can be polled, from its state at now. */
enum tel_class tel_policy_class(const struct tel_policy *p, const struct tel_poll_input *in,
                                int64_t now);

/* When to poll next after a good answer (class from tel_policy_class). */
int64_t tel_policy_next(const struct tel_policy *p, enum tel_class cls,
                        const struct tel_poll_input *in, int64_t now, uint64_t *rng);

/* When to poll next after a failure: at Retry-After (retry_after_ms > 0) or
 * after exponential backoff for the errors-th consecutive failure, whichever
 * is later. */
int64_t tel_policy_backoff(const struct tel_policy *p, unsigned errors, int64_t retry_after_ms,
                           int64_t now, uint64_t *rng);

/* A vehicle's poll budget. */
struct tel_budget {
    float tokens;
    int64_t at; /* when tokens was computed */
};

void tel_budget_init(struct tel_budget *b, const struct tel_policy *p, int64_t now);
/* Take one poll; false (and nothing taken) when the budget is spent. */
bool tel_budget_take(struct tel_budget *b, const struct tel_policy *p, int64_t now);
/* The earliest time at or after `when` at which a poll is within budget. */
int64_t tel_budget_ready(const struct tel_budget *b, const struct tel_policy *p, int64_t when);

#endif
