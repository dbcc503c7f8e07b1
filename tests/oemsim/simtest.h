/*
 * simtest.h: fixtures for the d2ev-oemsim tests. A simulator runs in the
 * test process on the manual clock (so every time-dependent answer is exact),
 * and these helpers talk to it over real HTTP with libcurl.
 */
#ifndef D2EV_SIMTEST_H
#define D2EV_SIMTEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>

#include "oemsim.h"

/* 2026-11-21T07:29:58Z, the docs' example time */
#define SIMTEST_T0 1795246198000LL

struct simtest {
    struct oemsim *sim;
    struct d2ev_config *cfg_handle;
    struct oemsim_config cfg;
    char base[64]; /* http://127.0.0.1:<port> */
};

/* Start a simulator on the manual clock at SIMTEST_T0 with the given extra
 * flags (NULL-terminated; "--sim-port=0" and a small fleet are implied). */
void simtest_start(struct simtest *t, const char *const *flags);
void simtest_stop(struct simtest *t);

struct simresp {
    long status;
    char *body;
    size_t body_len;
    char *headers; /* raw header block */
    json_t *json;  /* parsed body, or NULL */
};

/* One request. path is appended to t->base. headers: NULL-terminated
 * "Name: value" lines or NULL. body may be NULL. */
void simtest_http(struct simtest *t, struct simresp *r, const char *method, const char *path,
                  const char *const *headers, const char *body);
void simresp_free(struct simresp *r);
/* Value of a response header (case-insensitive name) into out; false when absent. */
bool simresp_header(const struct simresp *r, const char *name, char *out, size_t size);

/* GET/POST helpers on the control API; return the parsed JSON (caller
 * json_decref()s) and assert the status. */
json_t *simtest_get(struct simtest *t, const char *path, long want_status);
json_t *simtest_post(struct simtest *t, const char *path, const char *body, long want_status);

/* The id of the n-th vehicle of an OEM, into out[40]. */
void simtest_vehicle(struct simtest *t, const char *oem, int n, char out[40]);
/* Set a vehicle's state through the control API (JSON body). */
void simtest_set(struct simtest *t, const char *id, const char *state_json);
/* The vehicle's true state (caller json_decref()s). */
json_t *simtest_truth(struct simtest *t, const char *id);
double simtest_truth_num(struct simtest *t, const char *id, const char *key);

/* Link a vehicle: authorize + exchange the code on its OEM's token endpoint.
 * Fills access[72] and refresh[72] (refresh is empty for Enode, whose access
 * token is the application's). */
void simtest_link(struct simtest *t, const char *oem, const char *id, char *access, char *refresh);
/* The Authorization header line for a token, into out[96]. */
const char *simtest_bearer(const char *token, char out[96]);

/* A stats counter at a JSON path like "refresh_reuse.tesla". */
long long simtest_stat(struct simtest *t, const char *dotted);

/* A number as the simulator writes it (jansson, 10 significant digits). */
const char *simtest_real(double v, char out[32]);
/* Round to digits decimals, as the simulator does. */
double simtest_round(double v, int digits);
/* Assert that obj's keys are exactly the comma-separated list, in order. */
void simtest_assert_keys(const json_t *obj, const char *keys);
/* Advance the manual clock. */
void simtest_advance(int64_t ms);

/* Format into one of four rotating static buffers. */
const char *simtest_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
