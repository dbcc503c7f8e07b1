/* http.c: libmicrohttpd wrapper with body limits and JSON errors (see d2ev/http.h). */
#include "d2ev/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev/log.h"
#include "d2ev/metrics.h"
#include "d2ev/strbuf.h"
#include "d2ev/util.h"

struct d2ev_http_server {
    struct MHD_Daemon *daemon;
    d2ev_http_handler_fn handler;
    void *opaque;
    size_t max_body;
    char name[32];
    int port;
    struct d2ev_metric *by_class[6]; /* requests by status class 1xx..5xx */
    struct d2ev_metric *latency;
};

struct conn_ctx {
    char *body;
    size_t len;
    size_t cap;
    bool too_large;
    int64_t started_ms;
};

const char *d2ev_http_header(const struct d2ev_http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *d2ev_http_query(const struct d2ev_http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

static void set_body(struct d2ev_http_response *resp, char *body, size_t len)
{
    free(resp->body);
    resp->body = body;
    resp->body_len = len;
}

void d2ev_http_respond_owned(struct d2ev_http_response *resp, int status, const char *content_type,
                             char *body, size_t len)
{
    resp->status = status;
    resp->content_type = content_type;
    set_body(resp, body, len);
}

void d2ev_http_respond_text(struct d2ev_http_response *resp, int status, const char *content_type,
                            const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy) {
        memcpy(copy, text, len);
        copy[len] = '\0';
    }
    d2ev_http_respond_owned(resp, copy ? status : 500, content_type, copy, copy ? len : 0);
}

void d2ev_http_respond_json(struct d2ev_http_response *resp, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        d2ev_http_respond_error(resp, 500, "internal", "could not encode the response");
        return;
    }
    d2ev_http_respond_owned(resp, status, "application/json", text, strlen(text));
}

void d2ev_http_respond_error(struct d2ev_http_response *resp, int status, const char *code,
                             const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    d2ev_strbuf_puts(&sb, "{\"error\":{\"code\":");
    d2ev_strbuf_json_string(&sb, code, strlen(code));
    d2ev_strbuf_puts(&sb, ",\"message\":");
    d2ev_strbuf_json_string(&sb, msg, strlen(msg));
    d2ev_strbuf_puts(&sb, "}}");
    size_t len = 0;
    char *body = d2ev_strbuf_steal(&sb, &len);
    d2ev_http_respond_owned(resp, status, "application/json", body, body ? len : 0);
}

void d2ev_http_add_header(struct d2ev_http_response *resp, const char *name, const char *value)
{
    if (resp->nheaders >= D2EV_HTTP_MAX_HEADERS)
        return;
    d2ev_strlcpy(resp->headers[resp->nheaders].name, name, sizeof(resp->headers[0].name));
    d2ev_strlcpy(resp->headers[resp->nheaders].value, value, sizeof(resp->headers[0].value));
    resp->nheaders++;
}

static enum MHD_Result send_response(struct d2ev_http_server *s, struct MHD_Connection *conn,
                                     struct d2ev_http_response *r, int64_t started_ms)
{
    if (r->status < 100 || r->status > 599)
        r->status = 500;
    struct MHD_Response *mr = MHD_create_response_from_buffer_with_free_callback(
        r->body_len, r->body ? r->body : (void *)"", r->body ? free : NULL);
    if (!mr) {
        free(r->body);
        return MHD_NO;
    }
    r->body = NULL; /* now owned by libmicrohttpd */
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r->content_type ? r->content_type : "application/json");
    MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
    for (size_t i = 0; i < r->nheaders; i++)
        MHD_add_response_header(mr, r->headers[i].name, r->headers[i].value);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    d2ev_metric_inc(s->by_class[r->status / 100]);
    d2ev_metric_observe(s->latency, (double)(d2ev_clock_mono_ms() - started_ms) / 1000.0);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct d2ev_http_server *s = cls;
    struct conn_ctx *ctx = *con_cls;
    if (!ctx) {
        ctx = calloc(1, sizeof(*ctx));
        if (!ctx)
            return MHD_NO;
        ctx->started_ms = d2ev_clock_mono_ms();
        *con_cls = ctx;
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->max_body) {
            /* refuse before reading the upload; libmicrohttpd then closes */
            struct d2ev_http_response resp = { .status = 413 };
            d2ev_http_respond_error(&resp, 413, "payload_too_large",
                                    "request body is larger than the %zu-byte limit", s->max_body);
            return send_response(s, conn, &resp, ctx->started_ms);
        }
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (!ctx->too_large) {
            if (ctx->len + *upload_size > s->max_body) {
                ctx->too_large = true;
                free(ctx->body);
                ctx->body = NULL;
                ctx->len = ctx->cap = 0;
            } else {
                if (ctx->len + *upload_size + 1 > ctx->cap) {
                    size_t cap = ctx->cap ? ctx->cap : 1024;
                    while (cap < ctx->len + *upload_size + 1)
                        cap *= 2;
                    char *nb = realloc(ctx->body, cap);
                    if (!nb)
                        return MHD_NO;
                    ctx->body = nb;
                    ctx->cap = cap;
                }
                memcpy(ctx->body + ctx->len, upload, *upload_size);
                ctx->len += *upload_size;
                ctx->body[ctx->len] = '\0';
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }

    struct d2ev_http_response resp = { .status = 200 };
    if (ctx->too_large) {
        d2ev_http_respond_error(&resp, 413, "payload_too_large",
                                "request body is larger than the %zu-byte limit", s->max_body);
    } else {
        struct d2ev_http_request req = {
            .method = method,
            .path = url,
            .body = ctx->body ? ctx->body : "",
            .body_len = ctx->len,
            .conn = conn,
        };
        s->handler(s->opaque, &req, &resp);
        if (!resp.body && resp.status != 204 && resp.status != 304)
            d2ev_http_respond_text(&resp, resp.status, "application/json", "{}", 2);
    }
    return send_response(s, conn, &resp, ctx->started_ms);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct conn_ctx *ctx = *con_cls;
    if (ctx) {
        free(ctx->body);
        free(ctx);
        *con_cls = NULL;
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode in place, except that "%00" stays encoded: libmicrohttpd's
 * default decodes it and the NUL then silently cuts the path or value short
 * ("/v1/vehicles/v-1%00/x" would be served as "/v1/vehicles/v-1"). Kept
 * encoded, it fails every id check instead. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    char *w = s;
    for (const char *r = s; *r;) {
        int hi, lo;
        if (r[0] == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0 &&
            (hi | lo) != 0) {
            *w++ = (char)(hi * 16 + lo);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    d2ev_log_debug("libmicrohttpd", D2EV_LF_STR("server", (const char *)cls),
                   D2EV_LF_STR("detail", buf));
}

struct d2ev_http_server *d2ev_http_server_start(const struct d2ev_http_server_conf *conf,
                                                d2ev_http_handler_fn handler, void *opaque,
                                                struct d2ev_err *err)
{
    struct d2ev_http_server *s = calloc(1, sizeof(*s));
    if (!s) {
        d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    s->handler = handler;
    s->opaque = opaque;
    s->max_body = conf->max_body ? conf->max_body : 64 * 1024;
    snprintf(s->name, sizeof(s->name), "%s", conf->name ? conf->name : "http");

    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)conf->port) };
    const char *bind = conf->bind_addr && *conf->bind_addr ? conf->bind_addr : "0.0.0.0";
    if (inet_pton(AF_INET, bind, &addr.sin_addr) != 1) {
        d2ev_err_set(err, D2EV_ERR_INVALID, "%s server: bind address '%.64s' is not IPv4", s->name,
                     bind);
        free(s);
        return NULL;
    }
    unsigned threads = conf->threads ? conf->threads : 1;
    /* poll(), not epoll: with libmicrohttpd 0.9.75's edge-triggered epoll mode a
     * keep-alive connection whose next request arrives while the previous
     * answer is being sent can stall until the connection timeout (seen under
     * load by bench/oem_polls: requests left unread in the socket for 30 s). */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG;
    struct MHD_OptionItem opts[] = {
        { MHD_OPTION_SOCK_ADDR, 0, &addr },
        { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL },
        { MHD_OPTION_CONNECTION_LIMIT, conf->conn_limit ? conf->conn_limit : 1024, NULL },
        { MHD_OPTION_CONNECTION_TIMEOUT, conf->timeout_s ? conf->timeout_s : 30, NULL },
        { MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_logger, s->name },
        { MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape, NULL },
        { threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, NULL },
        { MHD_OPTION_END, 0, NULL },
    };
    s->daemon = MHD_start_daemon(flags, (uint16_t)conf->port, NULL, NULL, on_request, s,
                                 MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!s->daemon) {
        d2ev_err_set(err, D2EV_ERR_IO, "%s server: cannot listen on %s:%d (port in use?)", s->name,
                     bind, conf->port);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : conf->port;
    char labels[96];
    static const char *cls_names[] = { "0xx", "1xx", "2xx", "3xx", "4xx", "5xx" };
    for (int i = 1; i < 6; i++) {
        snprintf(labels, sizeof(labels), "server=\"%s\",code=\"%s\"", s->name, cls_names[i]);
        s->by_class[i] =
            d2ev_metric_counter("d2ev_http_requests_total", "HTTP requests served", labels);
    }
    snprintf(labels, sizeof(labels), "server=\"%s\"", s->name);
    s->latency =
        d2ev_metric_histogram("d2ev_http_request_seconds", "HTTP request latency", labels, NULL, 0);
    return s;
}

int d2ev_http_server_port(const struct d2ev_http_server *s)
{
    return s ? s->port : -1;
}

void d2ev_http_server_stop(struct d2ev_http_server *s)
{
    if (!s)
        return;
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    free(s);
}
