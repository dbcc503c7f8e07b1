/*
 * Adapter unit tests: load an adapter .so with dlopen and drive it through a
 * FAKE host table (allocation counting, captured logs, a fixed clock), as
 * collectd's plugin_mock.c does for its plugins. Recorded responses live in
 * tests/adapters/recorded/<oem>/<name>.http as raw HTTP answers:
 *
 *   HTTP/1.1 409 Conflict
 *   Content-Type: application/json
 *
 *   {"type": "VEHICLE_STATE", ...}
 *
 * Every helper fails the current cmocka test on setup errors.
 */
#ifndef D2EV_ADAPTER_FIXTURE_H
#define D2EV_ADAPTER_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "d2ev/oem_adapter.h"

/* The fake host: counts allocations, keeps the last log lines. */
const struct d2ev_oem_host *fake_host(void);
/* Host allocations not yet freed. */
long fake_host_live(void);
/* All log text written through the fake host since the last reset. */
const char *fake_host_logs(void);
void fake_host_reset_logs(void);
/* The fake host's clock (ms since the epoch). */
#define FAKE_HOST_NOW_MS 1795246200000LL

struct fx {
    void *dl;
    const struct d2ev_oem_adapter *a;
    void *inst;
    struct d2ev_oem_desc desc;
    struct d2ev_oem_request req; /* last build */
    struct d2ev_oem_result res;  /* last parse */
    struct d2ev_oem_state state;
    struct d2ev_oem_tokens tokens;
    struct d2ev_oem_flow flow;
    char errbuf[320];
};

/* Load <dir>/d2ev_oem_<name>.so (dir NULL = the build's adapters/) and create
 * an instance from config (NULL = "{}") and secret. */
void fx_open(struct fx *f, const char *dir, const char *name, const char *config,
             const char *secret);
/* create() expected to fail: returns its code and leaves the message in errbuf. */
int fx_open_fails(struct fx *f, const char *name, const char *config, const char *secret);
/* Destroy the instance, free the last request/result, check no host memory
 * is left, dlclose. */
void fx_close(struct fx *f);

/* Build op for vehicle at flow step (f->flow; set f->flow.ref first if
 * needed). Returns build's code; the request is in f->req. */
int fx_build(struct fx *f, uint32_t op, const char *vehicle);
int fx_build_call(struct fx *f, const struct d2ev_oem_call *call);

/* Parse the recorded answer tests/adapters/recorded/<oem>/<file> for op.
 * Returns res.cls; the result is in f->res (state in f->state). */
uint32_t fx_parse(struct fx *f, uint32_t op, const char *oem, const char *file);
/* Parse an inline answer. */
uint32_t fx_parse_text(struct fx *f, uint32_t op, int status, const char *headers,
                       const char *body);

/* Build a token operation (REFRESH or EXCHANGE_CODE) with these arguments. */
int fx_build_token(struct fx *f, uint32_t op, const char *refresh_token, const char *code,
                   const char *redirect_uri);

/* One row of an OEM's error table: a recorded answer and the class it must get. */
struct fx_case {
    const char *file;
    uint32_t cls;
};

/* Parse every case for every operation first_op..last_op and fail on a class
 * that differs from the table; each must end the flow with a message. */
void fx_check_classes(struct fx *f, const char *oem, const struct fx_case *cases, size_t n,
                      uint32_t first_op, uint32_t last_op);

/* The request's header with this name (case-insensitive) or NULL. */
const char *fx_req_header(const struct fx *f, const char *name);
/* The request body as a string ("" when none). */
const char *fx_req_body(const struct fx *f);

/* Assert that the request body is JSON equal to want_json. */
void fx_assert_json_body(const struct fx *f, const char *want_json);

#endif
