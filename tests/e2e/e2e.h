/*
 * Shared by the end-to-end tests: start the whole platform with a linked
 * fleet on a scaled clock, and read what the simulated cars were told.
 *
 * Ownership: the platform and fleet are the caller's (stop with
 * demo_platform_stop, free with demo_fleet_free); returned JSON is the
 * caller's to json_decref. Failures end the test (cmocka fail_msg).
 */
#ifndef D2EV_E2E_H
#define D2EV_E2E_H

#include <jansson.h>
#include <stdbool.h>

#include "demo.h"

/* Start every process in a fresh run directory named after tag, starting at
 * 16:00 UTC today on the d2ev clock, and link all `cars` through the bridge.
 * conf may preset fields (e.g. oem_request_timeout_ms); the rest is filled. */
void e2e_start(struct demo_platform *p, struct demo_fleet *f, struct demo_conf *conf,
               const char *tag, int cars, int seed, double speed);

/* The simulator's command log of a car: {"commands": [{"at","command","result"}]}. */
json_t *e2e_commands_of(const struct demo_platform *p, const struct demo_car *c);

/* One look at the night (demo_observe, which may fail while the ops API
 * restarts); fails the test when a process died unasked; then naps ms. */
void e2e_watch(struct demo_platform *p, struct demo_fleet *f, int nap_ms);

/* The night is over: read the sessions, summarise, print the summary and
 * every car that missed its target. */
void e2e_summary(struct demo_platform *p, struct demo_fleet *f, struct demo_summary *sum);

bool e2e_is_stop(const char *cmd);
bool e2e_is_start(const char *cmd);

#endif
