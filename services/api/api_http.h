/*
 * The ops API's HTTP front: routing, bearer-token auth, parameter checks,
 * JSON errors, the write endpoints and the UI. docs/api.md is the user's
 * guide; openapi.json (served at /v1/openapi.json) the contract.
 *
 * d2ev_api_handle() is a d2ev_http_handler_fn: it runs on the HTTP server's
 * threads, concurrently. It only reads the model (under its read lock) and
 * calls the sink, which must be thread-safe.
 *
 * Ownership: struct d2ev_api borrows everything it points to; the caller
 * keeps the model, the tokens and the sink alive while the server runs.
 */
#ifndef D2EV_API_HTTP_H
#define D2EV_API_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/error.h"
#include "d2ev/http.h"

#include "api_auth.h"
#include "api_model.h"

/* Where write endpoints send their events. send() returns 0 only once Kafka
 * acknowledged the message (then the API answers 202), D2EV_ERR_TIMEOUT or
 * another code otherwise (503). value is borrowed for the call. */
struct d2ev_api_sink {
    int (*send)(void *opaque, const char *topic, const char *key, const char *value, size_t len,
                struct d2ev_err *err);
    void *opaque;
};

struct d2ev_api {
    struct d2ev_api_model *model;
    const struct d2ev_api_tokens *tokens;
    struct d2ev_api_sink sink;
    bool ui_public;        /* serve /ui without a token (local demo only) */
    bool ui_cookie_secure; /* mark the UI's token cookie Secure (HTTPS only) */
    const char *export_dir; /* d2ev-exporter's files, for daily reports; NULL = none */
    int64_t (*now)(void);  /* NULL = d2ev_clock_now_ms */
};

void d2ev_api_handle(void *api, const struct d2ev_http_request *req,
                     struct d2ev_http_response *resp);

/* The route table, for the OpenAPI check: method, path template (with
 * {id} / {region}) and what the route needs. */
struct d2ev_api_route_info {
    const char *method;
    const char *pattern;
    unsigned perm;      /* enum d2ev_api_perm mask; 0 = public */
    bool ui;            /* an HTML page (UI authentication rules) */
    const char *params; /* query parameters it takes, space-separated */
};
const struct d2ev_api_route_info *d2ev_api_routes(size_t *n);

/* The OpenAPI document embedded at build time (services/api/openapi.json). */
extern const unsigned char d2ev_api_openapi_json[];
extern const size_t d2ev_api_openapi_json_len;

/* Limits. */
#define D2EV_API_LIMIT_DEFAULT 50
#define D2EV_API_LIMIT_MAX     500
#define D2EV_API_BOOST_MAX_MS  (7LL * 24 * 3600 * 1000) /* how far ahead a boost may end */
#define D2EV_API_UI_ROWS       100                      /* vehicles per fleet page */

#endif
