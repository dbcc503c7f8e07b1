/*
 * tel_fixture.h: what the telemetry integration tests share: a devbroker, the
 * OEM simulator on a scaled clock this test process shares too, cars linked
 * as registration would, d2ev-telemetry processes, and readers of what they
 * publish. Helpers fail the current cmocka test on setup errors.
 */
#ifndef D2EV_TEL_FIXTURE_H
#define D2EV_TEL_FIXTURE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "d2ev/crypto.h"
#include "d2ev/events.h"
#include "d2ev_test.h"
#include "d2ev_test_fleet.h"

struct tel_it {
    char tmp[512];
    struct d2ev_test_broker broker;
    struct d2ev_test_oemsim sim;
    char *keys; /* keyring text */
    struct d2ev_keyring *kr;
    char env[8][600];
    const char *envp[9];
};

struct tel_proc {
    struct d2ev_test_proc proc;
    int admin_port;
};

/* Start a devbroker (partitions), and d2ev-oemsim with nvehicles cars that
 * plug in only when told, on a clock running `speed` times real time from
 * 2026-11-21T17:00:00Z (speed 1: the real clock). sim_args are extra
 * simulator flags (NULL-terminated, may be NULL). */
void tel_it_start(struct tel_it *t, const char *tag, int partitions, int nvehicles, double speed,
                  const char *const *sim_args);
void tel_it_stop(struct tel_it *t);

/* Start d2ev-telemetry (name: its log file) with extra flags and wait until
 * it is ready. */
void tel_it_telemetry(struct tel_it *t, struct tel_proc *p, const char *name,
                      const char *const *args);
/* SIGTERM it and check it exits 0. */
void tel_it_telemetry_stop(struct tel_proc *p);

/* Link the first n simulated cars of oem (NULL: any) as vehicles <prefix>-<i>,
 * starting at car `skip` of that OEM. Returns how many were linked. */
int tel_it_link(struct tel_it *t, const char *oem, int skip, int n, const char *prefix,
                struct d2ev_test_car *out);

/* POST /_sim/vehicles/<car>/state with body; returns nothing. */
void tel_it_set(struct tel_it *t, const struct d2ev_test_car *c, const char *body);
/* The simulator's true state of a car (new reference). */
json_t *tel_it_truth(struct tel_it *t, const struct d2ev_test_car *c);
/* /_sim/stats (new reference). */
json_t *tel_it_sim_stats(struct tel_it *t);

/* Publish a forecast of region and kind: n slots of slot_minutes from start. */
void tel_it_forecast(struct tel_it *t, const char *region, enum d2ev_forecast_kind kind,
                     int64_t start, int slot_minutes, const double *values, size_t n);
/* Publish a schedule for a vehicle: windows [w[2i], w[2i+1]). */
void tel_it_schedule(struct tel_it *t, const char *vehicle_id, int64_t version, const int64_t *w,
                     size_t nwindows);

/* Every record of topic (parsed values) whose key is vehicle_id (NULL: all),
 * in offset order per vehicle; new reference. Waits up to timeout_ms for at
 * least min records. */
json_t *tel_it_records(struct tel_it *t, const char *topic, const char *vehicle_id, size_t min,
                       int timeout_ms);
/* Wait until some record of topic for vehicle_id satisfies pred. */
bool tel_it_wait_record(struct tel_it *t, const char *topic, const char *vehicle_id,
                        bool (*pred)(json_t *value, void *arg), void *arg, int timeout_ms);
/* Predicate: a session event whose "event" equals (const char *)arg. */
bool tel_it_is_event(json_t *value, void *arg);

/* Sum of the values of a metric family on p's /metrics whose label text
 * contains `labels` (NULL or "" = every series). */
double tel_it_metric(const struct tel_proc *p, const char *name, const char *labels);

/* The d2ev clock of this test (shared with the simulator). */
int64_t tel_it_now(void);
/* Wait until the d2ev clock reaches t (condition-based; fails after
 * max_real_ms). */
void tel_it_sleep_until(int64_t t, int max_real_ms);

#endif
