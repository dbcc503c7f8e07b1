/* api_http.c: routing, auth and handlers of the ops API (see api_http.h). */
#include "api_http.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "d2ev/clock.h"
#include "d2ev/json.h"
#include "d2ev/log.h"
#include "d2ev/metrics.h"
#include "d2ev/timefmt.h"
#include "d2ev/topics.h"
#include "d2ev/util.h"

#include "export_report.h"

#include "api_cursor.h"
#include "api_render.h"
#include "api_text.h"
#include "api_ui.h"

#define MAX_SEGS  6
#define MAX_PATH  512
#define UI_COOKIE "d2ev_token"
#define REALM     "Bearer realm=\"d2ev\""
#define UI_CSP                                                                                     \
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'none'; "    \
    "frame-ancestors 'none'; base-uri 'none'"

struct ctx {
    struct d2ev_api *api;
    const struct d2ev_http_request *req;
    struct d2ev_http_response *resp;
    const struct route *route;
    const struct d2ev_api_token *token;  /* NULL on public routes */
    char param[D2EV_VEHICLE_ID_MAX + 1]; /* {id} or {region} */
    bool param_ok;                       /* param fits the id alphabet and length */
    int64_t now;
};

typedef void (*route_fn)(struct ctx *c);

struct route {
    struct d2ev_api_route_info info;
    route_fn fn;
};

/* ------------------------------------------------------------ responses */

static bool is_ui(const struct ctx *c)
{
    return c->route && c->route->info.ui;
}

static void fail(struct ctx *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(struct ctx *c, int status, const char *code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!is_ui(c)) {
        d2ev_http_respond_error(c->resp, status, code, "%s", msg);
        return;
    }
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    d2ev_api_ui_error(&sb, status, code, msg);
    size_t len = 0;
    char *body = d2ev_strbuf_steal(&sb, &len);
    if (body)
        d2ev_http_respond_owned(c->resp, status, "text/html; charset=utf-8", body, len);
    else
        d2ev_http_respond_error(c->resp, 500, "internal", "out of memory");
}

/* Hand a built body to the response (500 when building ran out of memory). */
static void respond(struct ctx *c, int status, const char *type, struct d2ev_strbuf *sb)
{
    size_t len = 0;
    char *body = d2ev_strbuf_failed(sb) ? NULL : d2ev_strbuf_steal(sb, &len);
    d2ev_strbuf_free(sb);
    if (!body) {
        fail(c, 500, "internal", "out of memory");
        return;
    }
    d2ev_http_respond_owned(c->resp, status, type, body, len);
}

static void respond_json(struct ctx *c, struct d2ev_strbuf *sb)
{
    respond(c, 200, "application/json", sb);
}

/* ------------------------------------------------------------ parameters */

/* The query parameter name, or NULL. Values are percent-decoded by
 * libmicrohttpd; anything outside the expected alphabet is refused. */
static const char *query(const struct ctx *c, const char *name)
{
    return d2ev_http_query(c->req, name);
}

struct param_check {
    const char *allowed;
    bool bad;
    char first_bad[33];
};

static bool listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p = e ? e + 1 : p + len;
    }
    return false;
}

static enum MHD_Result check_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct param_check *pc = cls;
    if (!listed(pc->allowed, key)) {
        pc->bad = true;
        if (d2ev_api_id_valid(key, sizeof(pc->first_bad) - 1))
            d2ev_strlcpy(pc->first_bad, key, sizeof(pc->first_bad));
        return MHD_NO;
    }
    return MHD_YES;
}

static bool params_known(struct ctx *c)
{
    struct param_check pc = { .allowed = c->route->info.params };
    MHD_get_connection_values(c->req->conn, MHD_GET_ARGUMENT_KIND, check_param, &pc);
    if (!pc.bad)
        return true;
    fail(c, 400, "invalid_parameter", "unknown query parameter%s%s%s (this endpoint takes: %s)",
         pc.first_bad[0] ? " \"" : "", pc.first_bad, pc.first_bad[0] ? "\"" : "",
         *c->route->info.params ? c->route->info.params : "none");
    return false;
}

static bool parse_limit(struct ctx *c, size_t *limit, size_t def)
{
    const char *s = query(c, "limit");
    *limit = def;
    if (!s)
        return true;
    size_t n = strlen(s);
    if (n == 0 || n > 3 || strspn(s, "0123456789") != n || atoi(s) < 1 ||
        atoi(s) > D2EV_API_LIMIT_MAX) {
        fail(c, 400, "invalid_parameter", "limit: want an integer from 1 to %d",
             D2EV_API_LIMIT_MAX);
        return false;
    }
    *limit = (size_t)atoi(s);
    return true;
}

/* limit, cursor (before a sequence number) and since, for histories. */
static bool parse_page(struct ctx *c, struct d2ev_api_page *p)
{
    memset(p, 0, sizeof(*p));
    if (!parse_limit(c, &p->limit, D2EV_API_LIMIT_DEFAULT))
        return false;
    const char *cursor = query(c, "cursor");
    if (cursor) {
        if (d2ev_api_cursor_parse_seq(cursor, &p->before_seq) != D2EV_OK) {
            fail(c, 400, "invalid_cursor",
                 "cursor: not a cursor of this listing; pass next_cursor back unchanged");
            return false;
        }
        p->has_before = true;
    }
    const char *since = query(c, "since");
    if (since) {
        struct d2ev_err err = { 0 };
        if (!d2ev_utf8_valid(since, strlen(since)) ||
            d2ev_time_parse(since, &p->since, &err) != D2EV_OK) {
            fail(c, 400, "invalid_parameter",
                 "since: want an RFC 3339 time such as 2026-11-21T07:30:00Z");
            return false;
        }
        p->has_since = true;
    }
    return true;
}

/* Append the listing filters of this request to a URL in sb, the first one
 * after sep. Only values of the id alphabet pass (every valid filter value
 * does), so the URL needs no escaping. */
static void append_filters(struct ctx *c, struct d2ev_strbuf *sb, char sep)
{
    static const char *const keep[] = { "oem", "status", "plug", "state" };
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        const char *v = query(c, keep[i]);
        if (v && d2ev_api_id_valid(v, 32)) {
            d2ev_strbuf_printf(sb, "%c%s=%s", sep, keep[i], v);
            sep = '&';
        }
    }
}

/* oem, status, plug and state, for the vehicle listings. */
static bool parse_filter(struct ctx *c, struct d2ev_api_filter *f)
{
    f->oem = query(c, "oem");
    f->status = f->plug = f->state = -1;
    if (f->oem && !d2ev_api_id_valid(f->oem, D2EV_OEM_MAX)) {
        fail(c, 400, "invalid_parameter", "oem: want an OEM code such as tesla");
        return false;
    }
    const char *s;
    if ((s = query(c, "status")) && (f->status = d2ev_api_vstatus_parse(s)) < 0) {
        fail(c, 400, "invalid_parameter", "status: want active or suspended");
        return false;
    }
    if ((s = query(c, "plug")) && (f->plug = d2ev_api_plug_parse(s)) < 0) {
        fail(c, 400, "invalid_parameter", "plug: want plugged, unplugged or unknown");
        return false;
    }
    if ((s = query(c, "state")) && (f->state = d2ev_api_state_parse(s)) < 0) {
        fail(c, 400, "invalid_parameter",
             "state: want charging, paused, plugged, unplugged or unknown");
        return false;
    }
    return true;
}

static bool parse_after(struct ctx *c, char after[D2EV_VEHICLE_ID_MAX + 1], bool *has)
{
    const char *cursor = query(c, "cursor");
    *has = cursor != NULL;
    if (cursor && d2ev_api_cursor_parse_id(cursor, after) != D2EV_OK) {
        fail(c, 400, "invalid_cursor",
             "cursor: not a cursor of this listing; pass next_cursor back unchanged");
        return false;
    }
    return true;
}

/* The {id} of the path must be a vehicle id. */
static bool vehicle_param(struct ctx *c)
{
    if (!c->param_ok) {
        fail(c, 400, "invalid_id", "vehicle id: want 1..%d characters of A-Z a-z 0-9 . _ : @ -",
             D2EV_VEHICLE_ID_MAX);
        return false;
    }
    return true;
}

static void vehicle_not_found(struct ctx *c)
{
    fail(c, 404, "vehicle_not_found", "no vehicle %s", c->param);
}

/* ------------------------------------------------------------ read handlers */

static void get_openapi(struct ctx *c)
{
    d2ev_http_respond_text(c->resp, 200, "application/json", (const char *)d2ev_api_openapi_json,
                           d2ev_api_openapi_json_len);
}

static void get_vehicles(struct ctx *c)
{
    struct d2ev_api_filter f;
    size_t limit;
    char after[D2EV_VEHICLE_ID_MAX + 1];
    bool has_after, more = false;
    if (!parse_limit(c, &limit, D2EV_API_LIMIT_DEFAULT) || !parse_filter(c, &f) ||
        !parse_after(c, after, &has_after))
        return;
    struct d2ev_api_row *rows = malloc(limit * sizeof(*rows));
    if (!rows) {
        fail(c, 500, "internal", "out of memory");
        return;
    }
    size_t n = d2ev_api_model_rows(c->api->model, &f, has_after ? after : NULL, c->now, rows, limit,
                                   &more);
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    d2ev_strbuf_puts(&sb, "{\"items\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            d2ev_strbuf_puts(&sb, ",");
        d2ev_api_render_row(&sb, &rows[i]);
    }
    char cursor[D2EV_API_CURSOR_MAX];
    if (more)
        d2ev_strbuf_printf(&sb, "],\"next_cursor\":\"%s\"}",
                           d2ev_api_cursor_after_id(cursor, rows[n - 1].vehicle_id));
    else
        d2ev_strbuf_puts(&sb, "],\"next_cursor\":null}");
    free(rows);
    respond_json(c, &sb);
}

static void get_vehicle(struct ctx *c)
{
    if (!vehicle_param(c))
        return;
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    if (d2ev_api_model_vehicle(c->api->model, c->param, c->now, &sb) != D2EV_OK) {
        d2ev_strbuf_free(&sb);
        vehicle_not_found(c);
        return;
    }
    respond_json(c, &sb);
}

static void get_schedule(struct ctx *c)
{
    if (!vehicle_param(c))
        return;
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    bool no_schedule = false;
    if (d2ev_api_model_schedule(c->api->model, c->param, &sb, &no_schedule) != D2EV_OK) {
        d2ev_strbuf_free(&sb);
        if (no_schedule)
            fail(c, 404, "schedule_not_found", "vehicle %s has no schedule yet", c->param);
        else
            vehicle_not_found(c);
        return;
    }
    respond_json(c, &sb);
}

static void history(struct ctx *c, enum d2ev_api_hist kind)
{
    struct d2ev_api_page p;
    if (!vehicle_param(c) || !parse_page(c, &p))
        return;
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    if (d2ev_api_model_history(c->api->model, c->param, kind, &p, &sb) != D2EV_OK) {
        d2ev_strbuf_free(&sb);
        vehicle_not_found(c);
        return;
    }
    respond_json(c, &sb);
}

static void get_schedules(struct ctx *c)
{
    history(c, D2EV_API_HIST_SCHEDULES);
}

static void get_sessions(struct ctx *c)
{
    history(c, D2EV_API_HIST_SESSIONS);
}

static void get_dispatch(struct ctx *c)
{
    history(c, D2EV_API_HIST_DISPATCH);
}

static void get_status(struct ctx *c)
{
    if (!vehicle_param(c))
        return;
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    if (d2ev_api_model_status(c->api->model, c->param, c->now, &sb) != D2EV_OK) {
        d2ev_strbuf_free(&sb);
        vehicle_not_found(c);
        return;
    }
    respond_json(c, &sb);
}

static void get_forecast(struct ctx *c)
{
    if (!c->param_ok || strlen(c->param) > D2EV_REGION_MAX) {
        fail(c, 400, "invalid_id", "region: want 1..%d characters of A-Z a-z 0-9 . _ : @ -",
             D2EV_REGION_MAX);
        return;
    }
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    if (d2ev_api_model_forecast(c->api->model, c->param, &sb) != D2EV_OK) {
        d2ev_strbuf_free(&sb);
        fail(c, 404, "forecast_not_found", "no forecast for region %s", c->param);
        return;
    }
    respond_json(c, &sb);
}

/* GET /v1/reports/daily/{date}: the exporter's maintenance report of a UTC day. */
static void get_report(struct ctx *c)
{
    if (!c->api->export_dir || !*c->api->export_dir) {
        fail(c, 404, "reports_not_configured",
             "daily reports need the exporter's directory: set D2EV_EXPORT_DIR for d2ev-api");
        return;
    }
    struct d2ev_err err = { 0 };
    json_t *report =
        c->param_ok ? d2ev_export_report_get(c->api->export_dir, c->param, &err) : NULL;
    if (!c->param_ok || (!report && err.code == D2EV_ERR_INVALID)) {
        fail(c, 400, "invalid_date", "date: want YYYY-MM-DD");
        return;
    }
    if (!report && err.code == D2EV_ERR_NOT_FOUND) {
        fail(c, 404, "report_not_found", "no exported data for %s", c->param);
        return;
    }
    if (!report) {
        d2ev_log_error("cannot build the daily report", D2EV_LF_STR("date", c->param),
                       D2EV_LF_STR("error", err.msg));
        fail(c, 500, "internal", "the report could not be built");
        return;
    }
    char *text = json_dumps(report, JSON_COMPACT);
    json_decref(report);
    if (!text) {
        fail(c, 500, "internal", "out of memory");
        return;
    }
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    d2ev_strbuf_puts(&sb, text);
    free(text);
    respond_json(c, &sb);
}

static void get_fleet(struct ctx *c)
{
    struct d2ev_api_fleet f;
    struct d2ev_strbuf alerts = D2EV_STRBUF_INIT, sb = D2EV_STRBUF_INIT;
    d2ev_api_model_fleet(c->api->model, c->now, &f, 10, &alerts);
    d2ev_api_render_fleet(&sb, &f, alerts.buf ? alerts.buf : "[]", alerts.buf ? alerts.len : 2);
    d2ev_strbuf_free(&alerts);
    respond_json(c, &sb);
}

static void get_alerts(struct ctx *c)
{
    struct d2ev_api_page p;
    if (!parse_page(c, &p))
        return;
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    d2ev_api_model_alerts(c->api->model, &p, &sb);
    respond_json(c, &sb);
}

/* ------------------------------------------------------------ write handlers */

/* The request body as a JSON object. An empty body is {} when optional. */
static json_t *json_body(struct ctx *c, bool required)
{
    if (c->req->body_len == 0 && !required)
        return json_object();
    const char *ct = d2ev_http_header(c->req, "Content-Type");
    size_t n = strlen("application/json");
    if (!ct || strncasecmp(ct, "application/json", n) != 0 || (ct[n] && ct[n] != ';')) {
        fail(c, 415, "unsupported_media_type", "send the body as Content-Type: application/json");
        return NULL;
    }
    struct d2ev_err err = { 0 };
    json_t *o = d2ev_json_parse(c->req->body, c->req->body_len, D2EV_JSON_MAX_BYTES, &err);
    if (!o)
        fail(c, 400, "invalid_json", "body: %s", err.msg);
    return o;
}

typedef int (*check_fn)(const char *text, size_t len, struct d2ev_err *err);

static int check_reg_request(const char *text, size_t len, struct d2ev_err *err)
{
    struct d2ev_reg_request r;
    int rc = d2ev_reg_request_decode(text, len, &r, err);
    d2ev_reg_request_clear(&r);
    return rc;
}

static int check_control(const char *text, size_t len, struct d2ev_err *err)
{
    struct d2ev_control ctl;
    return d2ev_control_decode(text, len, &ctl, err);
}

/* Serialise msg (stolen), check that the consumer's own decoder accepts it,
 * send it keyed by the vehicle and answer 202 once Kafka has it. */
static void produce(struct ctx *c, const char *action, const char *topic, json_t *msg,
                    check_fn check, const char *request_id)
{
    char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    char event_id[D2EV_EVENT_ID_MAX + 1] = "";
    if (msg)
        d2ev_strlcpy(event_id, json_string_value(json_object_get(msg, "id")), sizeof(event_id));
    json_decref(msg);
    struct d2ev_err err = { 0 };
    int rc = text ? check(text, strlen(text), &err) : d2ev_err_set(&err, D2EV_ERR_NOMEM, "oom");
    if (rc != D2EV_OK) {
        d2ev_log_error("cannot build the event", D2EV_LF_STR("action", action),
                       D2EV_LF_STR("error", err.msg));
        free(text);
        fail(c, 500, "internal", "could not build the %s event", action);
        return;
    }
    rc = c->api->sink.send(c->api->sink.opaque, topic, c->param, text, strlen(text), &err);
    free(text);
    char labels[64];
    snprintf(labels, sizeof(labels), "action=\"%s\",result=\"%s\"", action,
             rc == D2EV_OK ? "accepted" : "failed");
    d2ev_metric_inc(
        d2ev_metric_counter("d2ev_api_writes_total", "Write requests by outcome", labels));
    d2ev_log_info(rc == D2EV_OK ? "write accepted" : "write failed", D2EV_LF_STR("action", action),
                  D2EV_LF_STR("vehicle_id", c->param), D2EV_LF_STR("event_id", event_id),
                  D2EV_LF_STR("caller", c->token ? c->token->fingerprint : ""),
                  D2EV_LF_STR("error", rc == D2EV_OK ? "" : err.msg));
    if (rc != D2EV_OK) {
        d2ev_http_add_header(c->resp, "Retry-After", "1");
        fail(c, 503, "unavailable", "could not hand the request to Kafka; retry");
        return;
    }
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    d2ev_strbuf_puts(&sb, "{\"status\":\"accepted\",\"event_id\":");
    d2ev_api_json_str(&sb, event_id);
    if (request_id) {
        d2ev_strbuf_puts(&sb, ",\"request_id\":");
        d2ev_api_json_str(&sb, request_id);
    }
    d2ev_strbuf_puts(&sb, ",\"topic\":");
    d2ev_api_json_str(&sb, topic);
    d2ev_strbuf_puts(&sb, "}");
    respond(c, 202, "application/json", &sb);
}

/* A write needs a vehicle the model knows. */
static bool known_vehicle(struct ctx *c)
{
    if (!vehicle_param(c))
        return false;
    if (!d2ev_api_model_exists(c->api->model, c->param)) {
        vehicle_not_found(c);
        return false;
    }
    return true;
}

static void post_boost(struct ctx *c)
{
    if (!known_vehicle(c))
        return;
    const char *idem = d2ev_http_header(c->req, "Idempotency-Key");
    if (idem && !d2ev_api_id_valid(idem, 64)) {
        fail(c, 400, "invalid_parameter",
             "Idempotency-Key: want 1..64 characters of A-Z a-z 0-9 . _ : @ -");
        return;
    }
    json_t *body = json_body(c, true);
    if (!body)
        return;
    static const char *const keys[] = { "until" };
    struct d2ev_err err = { 0 };
    json_t *until = json_object_get(body, "until");
    int64_t t = 0;
    if (d2ev_json_only_keys(body, keys, 1, &err) != D2EV_OK) {
        fail(c, 400, "invalid_body", "%s", err.msg);
    } else if (!until) {
        fail(c, 400, "invalid_body", "until: required (an RFC 3339 time, or null to end a boost)");
    } else if (!json_is_null(until) && d2ev_json_req_time(body, "until", &t, &err) != D2EV_OK) {
        fail(c, 400, "invalid_body", "%s", err.msg);
    } else if (!json_is_null(until) && (t <= c->now || t - c->now > D2EV_API_BOOST_MAX_MS)) {
        fail(c, 400, "invalid_body", "until: must be in the future and at most 7 days ahead");
    } else {
        struct d2ev_reg_request r;
        memset(&r, 0, sizeof(r));
        char uuid[D2EV_UUID_STR_LEN + 1];
        d2ev_uuid_v4(uuid);
        snprintf(r.request_id, sizeof(r.request_id), "ops-%s", uuid);
        r.action = D2EV_REG_UPDATE_PREFERENCES;
        d2ev_strlcpy(r.vehicle_id, c->param, sizeof(r.vehicle_id));
        d2ev_strlcpy(r.source, "ops", sizeof(r.source));
        if (idem)
            d2ev_strlcpy(r.idempotency_key, idem, sizeof(r.idempotency_key));
        r.prefs_patch = json_object();
        if (r.prefs_patch)
            json_object_set(r.prefs_patch, "boost_until", until);
        json_t *msg = r.prefs_patch ? d2ev_reg_request_encode(&r) : NULL;
        json_decref(r.prefs_patch);
        produce(c, "boost", D2EV_TOPIC_REG_REQUESTS, msg, check_reg_request, r.request_id);
    }
    json_decref(body);
}

static void post_replan(struct ctx *c)
{
    if (!known_vehicle(c))
        return;
    json_t *body = json_body(c, false);
    if (!body)
        return;
    static const char *const keys[] = { "reason" };
    struct d2ev_err err = { 0 };
    struct d2ev_control ctl;
    memset(&ctl, 0, sizeof(ctl));
    bool present = false;
    if (d2ev_json_only_keys(body, keys, 1, &err) != D2EV_OK ||
        d2ev_json_opt_str(body, "reason", ctl.reason, D2EV_REASON_MAX, D2EV_CS_ANY, &present,
                          &err) != D2EV_OK) {
        fail(c, 400, "invalid_body", "%s", err.msg);
    } else {
        d2ev_strlcpy(ctl.vehicle_id, c->param, sizeof(ctl.vehicle_id));
        ctl.action = D2EV_CONTROL_REPLAN;
        snprintf(ctl.requested_by, sizeof(ctl.requested_by), "api-token:%s",
                 c->token ? c->token->fingerprint : "none");
        produce(c, "replan", D2EV_TOPIC_CONTROL, d2ev_control_encode(&ctl), check_control, NULL);
    }
    json_decref(body);
}

/* ------------------------------------------------------------ UI handlers */

static void ui_fleet(struct ctx *c)
{
    struct d2ev_api_filter f;
    char after[D2EV_VEHICLE_ID_MAX + 1];
    bool has_after, more = false;
    if (!parse_filter(c, &f) || !parse_after(c, after, &has_after))
        return;
    struct d2ev_api_row *rows = malloc(D2EV_API_UI_ROWS * sizeof(*rows));
    if (!rows) {
        fail(c, 500, "internal", "out of memory");
        return;
    }
    size_t n = d2ev_api_model_rows(c->api->model, &f, has_after ? after : NULL, c->now, rows,
                                   D2EV_API_UI_ROWS, &more);
    struct d2ev_api_fleet fleet;
    struct d2ev_strbuf alerts = D2EV_STRBUF_INIT, sb = D2EV_STRBUF_INIT, next = D2EV_STRBUF_INIT;
    d2ev_api_model_fleet(c->api->model, c->now, &fleet, 10, &alerts);
    if (more) {
        /* every value here was checked against a plain alphabet above */
        char cursor[D2EV_API_CURSOR_MAX];
        d2ev_strbuf_printf(&next, "/ui/fleet?cursor=%s",
                           d2ev_api_cursor_after_id(cursor, rows[n - 1].vehicle_id));
        append_filters(c, &next, '&');
    }
    d2ev_api_ui_fleet(&sb, &fleet, alerts.buf ? alerts.buf : "[]", rows, n, more ? next.buf : NULL,
                      c->now);
    d2ev_strbuf_free(&alerts);
    d2ev_strbuf_free(&next);
    free(rows);
    respond(c, 200, "text/html; charset=utf-8", &sb);
}

static void ui_vehicle(struct ctx *c)
{
    if (!vehicle_param(c))
        return;
    struct d2ev_api_snapshot snap;
    int rc = d2ev_api_model_snapshot(c->api->model, c->param, c->now, &snap);
    if (rc == D2EV_ERR_NOT_FOUND) {
        vehicle_not_found(c);
        return;
    }
    if (rc != D2EV_OK) {
        fail(c, 500, "internal", "out of memory");
        return;
    }
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    d2ev_api_ui_vehicle(&sb, &snap, c->now);
    d2ev_api_snapshot_clear(&snap);
    respond(c, 200, "text/html; charset=utf-8", &sb);
}

/* ------------------------------------------------------------ routes */

#define PAGE    "limit cursor since"
#define FILTERS "oem status plug state"

static const struct route routes[] = {
    { { "GET", "/v1/openapi.json", D2EV_API_PERM_PUBLIC, false, "" }, get_openapi },
    { { "GET", "/v1/vehicles", D2EV_API_PERM_READ, false, "limit cursor " FILTERS }, get_vehicles },
    { { "GET", "/v1/vehicles/{id}", D2EV_API_PERM_READ, false, "" }, get_vehicle },
    { { "GET", "/v1/vehicles/{id}/schedule", D2EV_API_PERM_READ, false, "" }, get_schedule },
    { { "GET", "/v1/vehicles/{id}/schedules", D2EV_API_PERM_READ, false, PAGE }, get_schedules },
    { { "GET", "/v1/vehicles/{id}/sessions", D2EV_API_PERM_READ, false, PAGE }, get_sessions },
    { { "GET", "/v1/vehicles/{id}/dispatch", D2EV_API_PERM_READ, false, PAGE }, get_dispatch },
    { { "GET", "/v1/vehicles/{id}/status", D2EV_API_PERM_STATUS, false, "" }, get_status },
    { { "POST", "/v1/vehicles/{id}/boost", D2EV_API_PERM_WRITE, false, "" }, post_boost },
    { { "POST", "/v1/vehicles/{id}/replan", D2EV_API_PERM_WRITE, false, "" }, post_replan },
    { { "GET", "/v1/forecasts/{region}", D2EV_API_PERM_READ, false, "" }, get_forecast },
    { { "GET", "/v1/fleet/summary", D2EV_API_PERM_READ, false, "" }, get_fleet },
    { { "GET", "/v1/alerts", D2EV_API_PERM_READ, false, PAGE }, get_alerts },
    { { "GET", "/v1/reports/daily/{date}", D2EV_API_PERM_READ, false, "" }, get_report },
    { { "GET", "/ui/fleet", D2EV_API_PERM_READ, true, "cursor token " FILTERS }, ui_fleet },
    { { "GET", "/ui/vehicles/{id}", D2EV_API_PERM_READ, true, "token" }, ui_vehicle },
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

const struct d2ev_api_route_info *d2ev_api_routes(size_t *n)
{
    static struct d2ev_api_route_info info[NROUTES];
    for (size_t i = 0; i < NROUTES; i++)
        info[i] = routes[i].info;
    *n = NROUTES;
    return info;
}

/* Split path into at most MAX_SEGS segments (copied into buf). Returns the
 * count, or -1 for an empty segment, a path too long or too deep. */
static int split(const char *path, char *buf, size_t size, char **segs)
{
    size_t len = strlen(path);
    if (path[0] != '/' || len >= size)
        return -1;
    memcpy(buf, path + 1, len);
    int n = 0;
    for (char *p = buf;;) {
        if (n == MAX_SEGS)
            return -1;
        segs[n++] = p;
        char *slash = strchr(p, '/');
        if (!slash)
            break;
        *slash = '\0';
        p = slash + 1;
    }
    for (int i = 0; i < n; i++) {
        if (!*segs[i])
            return -1;
    }
    return n;
}

/* Does pattern match segs? Captures the one {param}. */
static bool match(const char *pattern, char **segs, int n, const char **param)
{
    const char *p = pattern + 1;
    int i = 0;
    *param = NULL;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (i == n)
            return false;
        if (p[0] == '{')
            *param = segs[i];
        else if (strlen(segs[i]) != len || strncmp(p, segs[i], len) != 0)
            return false;
        i++;
        p += len + (e ? 1 : 0);
    }
    return i == n;
}

/* ------------------------------------------------------------ auth */

static void auth_failure(struct ctx *c, int status, const char *reason)
{
    char labels[48];
    snprintf(labels, sizeof(labels), "reason=\"%s\"", reason);
    d2ev_metric_inc(d2ev_metric_counter("d2ev_api_auth_failures_total",
                                        "Requests refused by authentication", labels));
    d2ev_log_debug("request refused", D2EV_LF_STR("reason", reason),
                   D2EV_LF_STR("method", c->req->method),
                   D2EV_LF_STR("route", c->route->info.pattern));
}

static void unauthorized(struct ctx *c, bool invalid)
{
    auth_failure(c, 401, invalid ? "invalid" : "missing");
    d2ev_http_add_header(c->resp, "WWW-Authenticate",
                         invalid ? REALM ", error=\"invalid_token\"" : REALM);
    if (is_ui(c))
        fail(c, 401, "unauthorized",
             invalid ? "the token is not valid"
                     : "this page needs a read token: open it once as ?token=<read token>; the "
                       "browser then keeps the token in a cookie");
    else
        fail(c, 401, "unauthorized",
             invalid ? "the bearer token is not valid" : "send Authorization: Bearer <token>");
}

/* Check a presented token against the route. True when the request may go on. */
static bool admit(struct ctx *c, const char *tok, size_t len)
{
    c->token = d2ev_api_tokens_find(c->api->tokens, tok, len);
    if (!c->token) {
        unauthorized(c, true);
        return false;
    }
    if ((d2ev_api_role_perms(c->token->role) & c->route->info.perm) != c->route->info.perm) {
        auth_failure(c, 403, "forbidden");
        fail(c, 403, "forbidden", "the %s role may not use this endpoint",
             d2ev_api_role_name(c->token->role));
        return false;
    }
    return true;
}

/* UI: ui_public, or a token in the Authorization header, the cookie, or once
 * in ?token= (answered with a redirect that moves it into the cookie). */
static bool ui_admit(struct ctx *c)
{
    if (c->api->ui_public)
        return true;
    const char *tok;
    size_t len;
    const char *h = d2ev_http_header(c->req, "Authorization");
    if (h) {
        if (d2ev_api_bearer(h, &tok, &len))
            return admit(c, tok, len);
        unauthorized(c, true);
        return false;
    }
    const char *q = query(c, "token");
    if (q) {
        if (!d2ev_api_token_wellformed(q, strlen(q))) {
            unauthorized(c, true);
            return false;
        }
        if (!admit(c, q, strlen(q)))
            return false;
        char cookie[256];
        snprintf(cookie, sizeof(cookie), UI_COOKIE "=%s; Path=/ui; HttpOnly; SameSite=Strict%s", q,
                 c->api->ui_cookie_secure ? "; Secure" : "");
        d2ev_http_add_header(c->resp, "Set-Cookie", cookie);
        /* back to the page without the token, built from checked parts only */
        struct d2ev_strbuf loc = D2EV_STRBUF_INIT;
        if (strstr(c->route->info.pattern, "{id}") && c->param_ok) {
            d2ev_strbuf_printf(&loc, "/ui/vehicles/%s", c->param);
        } else {
            d2ev_strbuf_puts(&loc, "/ui/fleet");
            append_filters(c, &loc, '?');
        }
        d2ev_http_add_header(c->resp, "Location", loc.buf ? loc.buf : "/ui/fleet");
        d2ev_strbuf_free(&loc);
        d2ev_http_respond_text(c->resp, 303, "text/plain; charset=utf-8", "see other\n", 10);
        return false;
    }
    const char *ck = MHD_lookup_connection_value(c->req->conn, MHD_COOKIE_KIND, UI_COOKIE);
    if (ck) {
        if (!d2ev_api_token_wellformed(ck, strlen(ck))) {
            unauthorized(c, true);
            return false;
        }
        return admit(c, ck, strlen(ck));
    }
    unauthorized(c, false);
    return false;
}

static bool api_admit(struct ctx *c)
{
    const char *h = d2ev_http_header(c->req, "Authorization");
    const char *tok;
    size_t len;
    if (!h) {
        unauthorized(c, false);
        return false;
    }
    if (!d2ev_api_bearer(h, &tok, &len)) {
        unauthorized(c, true);
        return false;
    }
    return admit(c, tok, len);
}

/* ------------------------------------------------------------ entry */

static void security_headers(struct ctx *c)
{
    d2ev_http_add_header(c->resp, "Cache-Control", "no-store");
    if (is_ui(c)) {
        d2ev_http_add_header(c->resp, "Content-Security-Policy", UI_CSP);
        d2ev_http_add_header(c->resp, "Referrer-Policy", "no-referrer");
        d2ev_http_add_header(c->resp, "X-Frame-Options", "DENY");
    }
}

void d2ev_api_handle(void *opaque, const struct d2ev_http_request *req,
                     struct d2ev_http_response *resp)
{
    struct ctx c = { .api = opaque, .req = req, .resp = resp };
    c.now = c.api->now ? c.api->now() : d2ev_clock_now_ms();
    char buf[MAX_PATH];
    char *segs[MAX_SEGS];
    int n = split(req->path, buf, sizeof(buf), segs);
    bool head = strcmp(req->method, "HEAD") == 0;
    const char *method = head ? "GET" : req->method;
    char allow[32] = "";
    const char *param = NULL;
    for (size_t i = 0; n > 0 && i < NROUTES; i++) {
        const char *p;
        if (!match(routes[i].info.pattern, segs, n, &p))
            continue;
        if (strcmp(routes[i].info.method, method) == 0) {
            c.route = &routes[i];
            param = p;
            break;
        }
        snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s", allow[0] ? ", " : "",
                 routes[i].info.method);
        if (!strcmp(routes[i].info.method, "GET"))
            snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), ", HEAD");
    }
    if (!c.route) {
        if (allow[0]) {
            d2ev_http_add_header(resp, "Allow", allow);
            d2ev_http_respond_error(resp, 405, "method_not_allowed", "this endpoint takes %s",
                                    allow);
        } else {
            d2ev_http_respond_error(resp, 404, "not_found",
                                    "no such endpoint; see /v1/openapi.json");
        }
        d2ev_http_add_header(resp, "Cache-Control", "no-store");
        return;
    }
    security_headers(&c);
    if (param) {
        c.param_ok = d2ev_api_id_valid(param, D2EV_VEHICLE_ID_MAX);
        d2ev_strlcpy(c.param, c.param_ok ? param : "", sizeof(c.param));
    }
    if (c.route->info.perm != D2EV_API_PERM_PUBLIC) {
        bool ok = c.route->info.ui ? ui_admit(&c) : api_admit(&c);
        if (!ok)
            return;
    }
    if (!params_known(&c))
        return;
    c.route->fn(&c);
}
