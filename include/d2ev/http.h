/*
 * A small HTTP server on libmicrohttpd, shared by the admin endpoints, the
 * bridge, the ops API and the OEM simulator.
 *
 * The server collects the request body (up to max_body bytes; larger requests
 * get 413 with a JSON error and the handler is not called), then calls the
 * handler once with the whole request. The handler fills a response.
 * Handlers run on the server's threads: with threads > 1 they must be
 * thread-safe.
 *
 * Ownership: the request and everything it points to are borrowed for the
 * duration of the handler call. The response body is owned by the response
 * and freed by the server after sending.
 */
#ifndef D2EV_HTTP_H
#define D2EV_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "d2ev/error.h"

struct MHD_Connection;

struct d2ev_http_request {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* URL path without the query string */
    const char *body;   /* NUL-terminated copy of the body (may contain NULs) */
    size_t body_len;
    struct MHD_Connection *conn;
};

#define D2EV_HTTP_MAX_HEADERS 8

struct d2ev_http_response {
    int status;               /* default 200 */
    const char *content_type; /* static string; default "application/json" */
    char *body;               /* malloc'd; owned by the response */
    size_t body_len;
    size_t nheaders;
    struct {
        char name[48];
        char value[256];
    } headers[D2EV_HTTP_MAX_HEADERS];
};

typedef void (*d2ev_http_handler_fn)(void *opaque, const struct d2ev_http_request *req,
                                     struct d2ev_http_response *resp);

struct d2ev_http_server_conf {
    const char *name;      /* for logs and metrics, e.g. "admin" */
    const char *bind_addr; /* IPv4 address; NULL = 0.0.0.0 */
    int port;              /* 0 = pick a free port (see d2ev_http_server_port) */
    size_t max_body;       /* bytes; 0 = 64 KiB */
    unsigned threads;      /* worker threads; 0 = 1 */
    unsigned conn_limit;   /* 0 = 1024 */
    unsigned timeout_s;    /* idle connection timeout; 0 = 30 */
};

/* Start listening. Returns NULL with err set (e.g. port in use). */
struct d2ev_http_server *d2ev_http_server_start(const struct d2ev_http_server_conf *conf,
                                                d2ev_http_handler_fn handler, void *opaque,
                                                struct d2ev_err *err);

/* The TCP port actually bound. */
int d2ev_http_server_port(const struct d2ev_http_server *s);

/* Stop accepting, finish in-flight requests, free. NULL is a no-op. */
void d2ev_http_server_stop(struct d2ev_http_server *s);

/* Request accessors. Returned strings are borrowed from the request. */
const char *d2ev_http_header(const struct d2ev_http_request *req, const char *name);
const char *d2ev_http_query(const struct d2ev_http_request *req, const char *name);

/* Response helpers. Each replaces any body already set. */
void d2ev_http_respond_json(struct d2ev_http_response *resp, int status, json_t *body_stolen);
void d2ev_http_respond_text(struct d2ev_http_response *resp, int status, const char *content_type,
                            const char *text, size_t len);
/* {"error":{"code":"<code>","message":"<formatted>"}} with the given status. */
void d2ev_http_respond_error(struct d2ev_http_response *resp, int status, const char *code,
                             const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Take ownership of a malloc'd body. */
void d2ev_http_respond_owned(struct d2ev_http_response *resp, int status, const char *content_type,
                             char *body, size_t len);
void d2ev_http_add_header(struct d2ev_http_response *resp, const char *name, const char *value);

#endif
