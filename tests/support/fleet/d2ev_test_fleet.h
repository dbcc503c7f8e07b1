/*
 * Test fixture for services that talk to OEMs: start d2ev-oemsim, and link a
 * simulated car the way d2ev-registration does (the driver authorises, the
 * code is exchanged through the real adapter and engine, and the vehicle and
 * sealed credentials records are published), so telemetry and dispatch can be
 * tested before or without the registration service.
 *
 * Helpers fail the current cmocka test on setup errors.
 */
#ifndef D2EV_TEST_FLEET_H
#define D2EV_TEST_FLEET_H

#include <jansson.h>

#include "d2ev/crypto.h"
#include "d2ev/events.h"
#include "d2ev_test.h"

struct d2ev_test_oemsim {
    struct d2ev_test_proc proc;
    int port;
    int admin_port;
    char base[64];        /* http://127.0.0.1:<port> */
    char config_dir[512]; /* adapter configs pointing at this simulator */
};

/* Start d2ev-oemsim with n vehicles from seed. args and env are extra
 * NULL-terminated lists (may be NULL), e.g. "--sim-plug-schedule=false" and
 * the D2EV_CLOCK_* settings. Writes <tmpdir>/oem-config/<oem>.json and sets
 * the simulator's client secrets in this process's environment, so adapters
 * opened with d2ev_oem_open(..., config_dir, ...) talk to it. */
void d2ev_test_oemsim_start(struct d2ev_test_oemsim *s, const char *tmpdir, int nvehicles, int seed,
                            const char *const *args, const char *const *env);
void d2ev_test_oemsim_stop(struct d2ev_test_oemsim *s);

/* Control API: GET or POST (body may be NULL) a /_sim/ path; returns the
 * parsed JSON answer (new reference) and fails the test on a non-2xx. */
json_t *d2ev_test_oemsim_get(const struct d2ev_test_oemsim *s, const char *path);
json_t *d2ev_test_oemsim_post(const struct d2ev_test_oemsim *s, const char *path, const char *body);

/* Ids of the first n simulated vehicles of oem (NULL = any OEM), as a JSON
 * array of strings (new reference). */
json_t *d2ev_test_oemsim_ids(const struct d2ev_test_oemsim *s, const char *oem, int n);

struct d2ev_test_car {
    char vehicle_id[D2EV_VEHICLE_ID_MAX + 1];
    char oem[D2EV_OEM_MAX + 1];
    char oem_vehicle_id[D2EV_OEM_VEHICLE_ID_MAX + 1];
};

/* Link simulated car sim_id as vehicle_id: authorise, exchange the code
 * (per-vehicle OEMs), and publish to bootstrap the vehicle record (prefs, or
 * the defaults when NULL; time zone Europe/London, region "GB") and the
 * credentials sealed with kr, as d2ev-registration would. */
void d2ev_test_link_car(const struct d2ev_test_oemsim *s, const char *bootstrap,
                        const struct d2ev_keyring *kr, const char *sim_id, const char *vehicle_id,
                        const struct d2ev_prefs *prefs, struct d2ev_test_car *out);

#endif
