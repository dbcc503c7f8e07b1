/*
 * sim_http.c: the pipeline every OEM request goes through, and the small
 * HTTP helpers the dialects share (JSON replies, forms, credentials).
 *
 *   route -> count -> latency -> injected 5xx -> (token endpoints: handler)
 *   -> bearer token -> application rate limit -> vehicle lookup -> consent
 *   -> vehicle rate limit -> handler
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "d2ev/clock.h"
#include "d2ev/json.h"
#include "d2ev/timefmt.h"
#include "d2ev/util.h"
#include "sim.h"

/* ------------------------------------------------------------ replies */

void sim_reply(struct d2ev_http_response *resp, int status, const char *content_type, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(body);
    if (!text) {
        d2ev_http_respond_error(resp, 500, "internal", "could not encode the response");
        return;
    }
    d2ev_http_respond_owned(resp, status, content_type ? content_type : "application/json", text,
                            strlen(text));
}

void sim_time_text(int64_t ms, bool with_ms, char out[32])
{
    d2ev_time_format(ms, out);
    if (!with_ms && strlen(out) >= 20) {
        out[19] = 'Z';
        out[20] = '\0';
    }
}

double sim_round(double v, int digits)
{
    double f = 1;
    for (int i = 0; i < digits; i++)
        f *= 10;
    return (double)llround(v * f) / f;
}

/* ------------------------------------------------------------ requests */

/* Percent-decode s[0..len) into out (size bytes). False if malformed or too long. */
static bool form_decode(const char *s, size_t len, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= len)
                return false;
            int hi = sim_hexval(s[i + 1]), lo = sim_hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (c == '\0' || o + 1 >= size)
            return false;
        out[o++] = c;
    }
    out[o] = '\0';
    return true;
}

void sim_retry_after(struct d2ev_http_response *resp, const char *header, int64_t seconds)
{
    if (seconds <= 0)
        return;
    char v[32];
    snprintf(v, sizeof(v), "%lld", (long long)seconds);
    d2ev_http_add_header(resp, header, v);
}

bool sim_form_get(const char *body, size_t len, const char *key, char *out, size_t size)
{
    const char *p = body, *end = body + len;
    size_t klen = strlen(key);
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (eq && (size_t)(eq - p) == klen && !memcmp(p, key, klen))
            return form_decode(eq + 1, (size_t)(stop - eq - 1), out, size);
        p = stop + 1;
    }
    return false;
}

bool sim_basic_auth(const struct d2ev_http_request *req, char *id, size_t id_size, char *secret,
                    size_t secret_size)
{
    const char *h = d2ev_http_header(req, "Authorization");
    if (!h || strncasecmp(h, "Basic ", 6) != 0)
        return false;
    h += 6;
    while (*h == ' ')
        h++;
    size_t n = strlen(h);
    if (n == 0 || n > 1024)
        return false;
    char buf[1024];
    size_t out_len = 0;
    if (d2ev_base64_decode(h, n, buf, &out_len) != D2EV_OK || out_len >= sizeof(buf))
        return false;
    buf[out_len] = '\0';
    if (strlen(buf) != out_len)
        return false;
    char *colon = strchr(buf, ':');
    if (!colon)
        return false;
    *colon = '\0';
    return d2ev_strlcpy(id, buf, id_size) && d2ev_strlcpy(secret, colon + 1, secret_size);
}

const char *sim_bearer(const struct d2ev_http_request *req, size_t *len)
{
    const char *h = d2ev_http_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    size_t n = strlen(h);
    while (n && h[n - 1] == ' ')
        n--;
    *len = n;
    return n ? h : NULL;
}

bool sim_secret_equal(const char *a, const char *b)
{
    if (!a || !b)
        return false;
    return d2ev_ct_equal(a, strlen(a), b, strlen(b));
}

void sim_read(struct sim_req *r, struct sim_snapshot *out)
{
    struct sim_fleet *f = &r->sim->fleet;
    uint32_t idx = (uint32_t)r->idx;
    sim_lock(f, idx);
    sim_vehicle_snapshot(&f->v[idx], &r->sim->params, idx, r->now, out);
    sim_unlock(f, idx);
}

enum sim_cmd sim_parse_action(const struct sim_req *r, char *why, size_t why_size)
{
    static const char *const actions[] = { "START", "STOP" };
    static const char *const keys[] = { "action" };
    struct d2ev_err err = { 0 };
    int which = -1;
    json_t *body = d2ev_json_parse(r->http->body, r->http->body_len, 4096, &err);
    if (!body || d2ev_json_only_keys(body, keys, 1, &err) ||
        d2ev_json_req_enum(body, "action", actions, 2, &which, &err)) {
        snprintf(why, why_size, "%s", err.msg[0] ? err.msg : "body: want {\"action\": \"START\"}");
        json_decref(body);
        return SIM_CMD_NONE;
    }
    json_decref(body);
    return which == 0 ? SIM_CMD_START : SIM_CMD_STOP;
}

/* ------------------------------------------------------------ routing */

bool sim_route_match(const char *pattern, const char *path, char *id, size_t id_size)
{
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (!strncmp(p, "{id}", 4)) {
            size_t n = strcspn(s, "/");
            if (n == 0)
                return false;
            if (n < id_size) {
                memcpy(id, s, n);
                id[n] = '\0';
            } else {
                id[0] = '\0'; /* too long to be an id: found by nobody */
            }
            s += n;
            p += 4;
            continue;
        }
        if (*p != *s)
            return false;
        p++;
        s++;
    }
    return !*p && !*s;
}

static void real_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Does the request's token give access to vehicle r->idx? Answers the error
 * when not. Caller holds the vehicle's lock. */
static bool authorise(const struct sim_dialect *d, struct sim_req *r, struct sim_vehicle *v)
{
    struct oemsim *sim = r->sim;
    if (r->token.kind == SIM_TOK_APP) {
        /* Enode: the application sees the vehicles its users linked */
        if (!(v->flags & SIM_F_LINKED) && !sim->cfg.enode_autolink) {
            d->error(r, SIM_E_NOT_FOUND, 0, "Vehicle not found.");
            return false;
        }
        if (v->flags & SIM_F_REVOKED) {
            d->error(r, SIM_E_FORBIDDEN, 0, "The user revoked access to this vehicle.");
            return false;
        }
        return true;
    }
    struct sim_grant *g = sim_grant_get(&sim->tokens, r->token.slot);
    if (!g || g->vehicle != (uint32_t)r->idx) {
        d->error(r, SIM_E_FORBIDDEN, 0, "The access token does not grant access to this vehicle.");
        return false;
    }
    if (g->state != SIM_GRANT_ACTIVE || g->epoch != v->epoch || (v->flags & SIM_F_REVOKED)) {
        d->error(r, SIM_E_FORBIDDEN, 0, "The vehicle owner revoked access.");
        return false;
    }
    return true;
}

void sim_dialect_serve(const struct sim_dialect *d, struct oemsim *sim,
                       const struct d2ev_http_request *req, struct d2ev_http_response *resp)
{
    char id[80] = "";
    struct sim_req r = {
        .sim = sim,
        .http = req,
        .resp = resp,
        .oem = d->oem,
        .ep = SIM_EP_UNKNOWN,
        .idx = -1,
    };
    r.now = d2ev_clock_now_ms();
    sim_faults_get(&sim->faults, d->oem, &r.faults);
    const char *path = req->path + strlen(d->prefix);
    const struct sim_route *route = NULL;
    bool path_known = false;
    for (size_t i = 0; i < d->nroutes && !route; i++) {
        if (sim_route_match(d->routes[i].pattern, path, id, sizeof(id))) {
            path_known = true;
            if (!strcmp(d->routes[i].method, req->method))
                route = &d->routes[i];
        }
    }
    if (!route) {
        sim_count(&sim->stats.requests[d->oem][SIM_EP_UNKNOWN]);
        d->error(&r, SIM_E_NO_ROUTE, 0,
                 path_known ? "This method is not supported on this path."
                            : "The requested resource does not exist.");
        return;
    }
    r.ep = route->ep;
    r.vehicle_id = id;
    sim_count(&sim->stats.requests[d->oem][r.ep]);

    if (r.faults.latency_ms > 0 || r.faults.jitter_ms > 0)
        real_sleep_ms(r.faults.latency_ms +
                      (int64_t)(sim_rand_unit() * (double)(r.faults.jitter_ms + 1)));
    if (r.faults.error_rate > 0 && sim_rand_unit() < r.faults.error_rate) {
        sim_count(&sim->stats.server_errors[d->oem]);
        d->error(&r, SIM_E_SERVER, 0, "Injected server error.");
        return;
    }
    if (route->ep == SIM_EP_TOKEN) {
        route->handle(&r);
        return;
    }
    const char *why = NULL;
    if (!sim_authenticate(&r, &why)) {
        d->error(&r, SIM_E_UNAUTHORIZED, 0, why);
        return;
    }
    int64_t retry = sim_faults_take_app(&sim->faults, &r.faults, d->oem, r.now);
    if (retry > 0) {
        sim_count(&sim->stats.rate_limited_app[d->oem]);
        d->error(&r, SIM_E_RATE_APP, retry, "Application rate limit reached.");
        return;
    }
    if (route->vehicle) {
        r.idx = sim_fleet_find(&sim->fleet, d->oem, id);
        if (r.idx < 0) {
            d->error(&r, SIM_E_NOT_FOUND, 0, "Vehicle not found.");
            return;
        }
        uint32_t idx = (uint32_t)r.idx;
        sim_lock(&sim->fleet, idx);
        bool ok = authorise(d, &r, &sim->fleet.v[idx]);
        if (ok)
            retry = sim_faults_take_vehicle(&sim->faults, &r.faults, idx, r.now);
        sim_unlock(&sim->fleet, idx);
        if (!ok)
            return;
        if (retry > 0) {
            sim_count(&sim->stats.rate_limited_vehicle[d->oem]);
            d->error(&r, SIM_E_RATE_VEHICLE, retry, "Vehicle rate limit reached.");
            return;
        }
    }
    route->handle(&r);
}
