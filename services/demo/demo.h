/*
 * The whole platform on one machine, for the README's run command
 * (d2ev-demo, started by scripts/run-local.sh) and the end-to-end tests.
 *
 *   platform  start the devbroker, the OEM simulator, every service and a
 *             forecast source on one shared scaled clock, with generated
 *             secrets and adapter configs pointing at the simulator;
 *   fleet     link simulated cars the way a driver does: consent at the OEM
 *             (the simulator's authorize), then a signed registration
 *             through d2ev-bridge, with ready-by times that fit each car's
 *             habits;
 *   observe   watch the night: fleet state from the ops API, commands from
 *             dispatch's metrics, each car's true SoC at its ready-by time
 *             from the simulator, and the schedules each car was given;
 *   summary   targets met, energy shifted, cost and carbon against the
 *             charge-at-plug-in baseline.
 *
 * Ownership: every struct here is the caller's value; strings inside are
 * copies. Not thread-safe.
 */
#ifndef D2EV_DEMO_H
#define D2EV_DEMO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "d2ev/error.h"
#include "d2ev/events.h"
#include "d2ev/proc.h"

/* ------------------------------------------------------------ platform */

enum demo_svc {
    DEMO_DEVBROKER = 0,
    DEMO_OEMSIM,
    DEMO_REGISTRATION,
    DEMO_BRIDGE,
    DEMO_TELEMETRY,
    DEMO_SCHEDULER,
    DEMO_DISPATCH,
    DEMO_API,
    DEMO_EXPORTER,
    DEMO_FORECAST,        /* prices (and carbon, when generated) */
    DEMO_CARBON_FORECAST, /* carbon, when prices come from a CSV file */
    DEMO_NSVC
};

struct demo_conf {
    const char *bin_dir;     /* the d2ev-* binaries */
    const char *adapter_dir; /* the d2ev_oem_*.so files */
    const char *run_dir;     /* logs, secrets, configs, exports; created */
    int cars;                /* simulated fleet size (all are linked) */
    int seed;
    double speed;         /* simulated seconds per real second */
    int64_t sim_start_ms; /* simulated time when the platform starts */
    int partitions;
    bool fixed_ports;            /* the documented default ports (else free ports) */
    const char *forecast_csv;    /* optional real price data; NULL = the generator */
    const char *forecast_format; /* its d2ev-forecast format */
    const char *carbon_csv;      /* optional real carbon data */
    const char *region;          /* forecast region of every car, e.g. "GB" */
    int oem_request_timeout_ms;  /* real ms per OEM request; 0 = each adapter's default */
};

struct demo_platform {
    struct demo_conf conf;
    struct d2ev_proc proc[DEMO_NSVC];
    int admin_port[DEMO_NSVC];
    int http_port[DEMO_NSVC]; /* oemsim, bridge, api; 0 otherwise */
    char bootstrap[128];
    char hmac_secret[80];
    char api_read_token[80];
    char api_operator_token[80];
    char keyring[128];
    int64_t clock_origin_ms; /* real time when simulated time was sim_start_ms */
    /* environment every process shares ("K=V") */
    char env_store[24][640];
    const char *env[25];
};

const char *demo_svc_name(enum demo_svc s);

/* Start everything and wait until every service is ready. On failure the
 * message names the service and its log file; call demo_platform_stop. */
int demo_platform_start(struct demo_platform *p, const struct demo_conf *conf,
                        struct d2ev_err *err);

/* SIGTERM every process (reverse order) and wait for each. Returns the
 * number that did not exit 0 within the deadline. */
int demo_platform_stop(struct demo_platform *p);

/* Start one service again (after a kill); waits until it is healthy. */
int demo_platform_restart(struct demo_platform *p, enum demo_svc s, struct d2ev_err *err);

/* Kill one service with sig (SIGKILL for a crash). */
void demo_platform_kill(struct demo_platform *p, enum demo_svc s, int sig);

/* Base URLs: http://127.0.0.1:<port> of a service's API (oemsim, bridge,
 * api) or admin port. Static buffer per call site is not used: out has
 * room for 64 bytes. */
void demo_url(const struct demo_platform *p, enum demo_svc s, bool admin, char out[64]);

/* ------------------------------------------------------------ fleet */

/* A schedule as the ops API shows it (the fields the demo needs). */
#define DEMO_MAX_WINDOWS 48
struct demo_plan {
    bool present;
    char status[24];
    int64_t created_at, ready_by;
    double target_soc, soc_at_plan, expected_soc;
    double expected_cost, baseline_cost, expected_carbon_g, baseline_carbon_g;
    char currency[8];
    size_t nwindows;
    struct d2ev_window windows[DEMO_MAX_WINDOWS];
};

struct demo_car {
    char sim_id[64];
    char oem[16];
    char vehicle_id[D2EV_VEHICLE_ID_MAX + 1];
    char request_id[72];
    int64_t polled_mono; /* last outcome poll (the bridge wants at most one a second) */
    bool linked;
    bool rejected;
    char reject_reason[160];
    /* the driver's wishes */
    double target_soc;
    int ready_by_min;    /* minutes after local (UTC) midnight */
    int64_t ready_by_ms; /* this night's ready-by, on the d2ev clock */
    double max_power_kw; /* the car's, from the simulator */
    double car_limit;    /* the charge limit set in the car (%), from the simulator */
    /* what happened */
    bool deregistered;
    int64_t deregistered_at;
    bool out_of_hands; /* d2ev cannot act on it (the driver revoked consent): not judged */
    bool checked;      /* the true SoC was read at ready-by */
    double soc_at_ready_by;
    bool plugged_at_ready_by;
    struct demo_plan first; /* the night's first plan (its baseline is from plug-in) */
    struct demo_plan last;  /* the night's last plan */
    bool unreachable;       /* some plan of the night said target_unreachable */
    bool flagged_now;       /* the newest plan seen says target_unreachable ... */
    int64_t unreachable_at; /* ... and has since this d2ev time */
    double session_cost, session_energy_kwh, session_carbon_g; /* measured by telemetry */
};

struct demo_fleet {
    struct demo_car *cars;
    size_t n;
    int64_t night_end_ms; /* the night ends at this d2ev time */
};

/* Link every car of the simulated fleet through the bridge and wait (up to
 * timeout_ms real) for each outcome. Returns the number accepted. */
int demo_fleet_link(struct demo_platform *p, struct demo_fleet *f, int timeout_ms,
                    struct d2ev_err *err);

/* Deregister one car through the bridge (DELETE /v1/vehicles/{id}). */
int demo_fleet_deregister(struct demo_platform *p, struct demo_car *c, struct d2ev_err *err);

void demo_fleet_free(struct demo_fleet *f);

/* ------------------------------------------------------------ observe */

struct demo_status {
    int64_t sim_now;
    int plugged, charging, paused, unplugged;
    double commands_sent, commands_confirmed, alerts;
    int ready_checked, ready_met;
};

/* One look at the platform at d2ev time `now`: fleet state, commands, and
 * the SoC of cars whose ready-by has just passed. */
int demo_observe(struct demo_platform *p, struct demo_fleet *f, struct demo_status *st,
                 struct d2ev_err *err);

/* One status line (no newline). */
void demo_status_line(const struct demo_status *st, char *out, size_t size);

struct demo_summary {
    int cars, linked;
    int checked;         /* cars whose ready-by passed while plugged in */
    int met;             /* ... and were at their target */
    int unreachable;     /* flagged by the scheduler: charged at once */
    int missed_feasible; /* not flagged, yet below target: a failure */
    double energy_kwh;   /* planned into the batteries */
    double shifted_kwh;  /* planned outside the charge-at-plug-in hours */
    double cost, baseline_cost;
    double carbon_g, baseline_carbon_g;
    char currency[8];
};

/* Once the night is over: read what telemetry measured for each car's
 * sessions since the platform started (cost, energy, carbon). */
void demo_collect_sessions(struct demo_platform *p, struct demo_fleet *f);

void demo_summarize(const struct demo_fleet *f, struct demo_summary *s);
void demo_summary_print(FILE *out, const struct demo_summary *s);

/* One line per car that missed its target (why, as far as the demo sees). */
void demo_print_misses(FILE *out, const struct demo_fleet *f);

#endif
