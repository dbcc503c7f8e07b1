/* demo_fleet.c: link simulated cars through the signed bridge, as drivers do (see demo.h). */
#include "demo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge_sign.h"
#include "d2ev/clock.h"
#include "d2ev/httpc.h"
#include "d2ev/json.h"
#include "d2ev/timefmt.h"
#include "d2ev/util.h"

#define DAY_MS 86400000LL

/* A control-API call to the simulator; returns parsed JSON or NULL. */
static json_t *sim(struct demo_platform *p, const char *method, const char *path,
                   struct d2ev_err *err)
{
    char url[256], base[64];
    demo_url(p, DEMO_OEMSIM, false, base);
    snprintf(url, sizeof(url), "%s/_sim%s", base, path);
    const char *hdr[] = { "Content-Type: application/json", NULL };
    char *body = NULL;
    long st = d2ev_httpc_request(method, url, hdr, strcmp(method, "POST") ? NULL : "{}",
                                 strcmp(method, "POST") ? 0 : 2, 10000, &body, NULL);
    json_t *j = st >= 200 && st < 300 && body ? json_loads(body, 0, NULL) : NULL;
    if (!j)
        d2ev_err_set(err, D2EV_ERR_IO, "simulator %s %s answered %ld", method, path, st);
    free(body);
    return j;
}

/* A request to the bridge, signed as the app backend signs it. */
static long bridge(struct demo_platform *p, const char *method, const char *path, const char *body,
                   char **out)
{
    char ts[24], sig[BRIDGE_SIG_HEX_LEN + 1], url[256], base[64];
    snprintf(ts, sizeof(ts), "%lld", (long long)(d2ev_clock_real_ms() / 1000));
    size_t len = body ? strlen(body) : 0;
    bridge_sign(p->hmac_secret, strlen(p->hmac_secret), ts, method, path, body ? body : "", len,
                sig);
    char h_ts[64], h_sig[96];
    snprintf(h_ts, sizeof(h_ts), "X-D2EV-Timestamp: %s", ts);
    snprintf(h_sig, sizeof(h_sig), "X-D2EV-Signature: v1=%s", sig);
    const char *hdr[] = { h_ts, h_sig, "Content-Type: application/json", NULL };
    demo_url(p, DEMO_BRIDGE, false, base);
    snprintf(url, sizeof(url), "%s%s", base, path);
    return d2ev_httpc_request(method, url, hdr, body, len, 10000, out, NULL);
}

static int hhmm(const char *s)
{
    int h, m;
    return s && sscanf(s, "%d:%d", &h, &m) == 2 ? h * 60 + m : -1;
}

/* The driver's wishes, varied by car so the night shows every feature. */
static json_t *wishes(struct demo_car *c, size_t i)
{
    char t[8];
    snprintf(t, sizeof(t), "%02d:%02d", c->ready_by_min / 60, c->ready_by_min % 60);
    json_t *ready = json_object();
    static const char *const days[] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };
    for (int d = 0; d < 7; d++)
        json_object_set_new(ready, days[d], json_string(t));
    c->target_soc = i % 10 == 3 ? 90 : i % 10 == 7 ? 70 : 80;
    /* most drivers ask for what their car allows; one in seven asks for more
     * than the limit set in the car (d2ev tells them to raise it) */
    if (c->car_limit > 0 && c->target_soc > c->car_limit && i % 7 != 0)
        c->target_soc = c->car_limit;
    json_t *prefs = json_pack("{s:o, s:f}", "ready_by", ready, "target_soc", c->target_soc);
    if (i % 6 == 1)
        json_object_set_new(prefs, "min_soc", json_real(30)); /* charge to 30 % at once */
    if (i % 5 == 2)
        json_object_set_new(prefs, "mode", json_string("carbon"));
    if (i % 9 == 4) {
        json_object_set_new(prefs, "max_windows", json_integer(2));
        json_object_set_new(prefs, "min_window_minutes", json_integer(60));
    }
    return prefs;
}

/* Ready by an hour before the car's usual departure (which varies by up to
 * 45 minutes a day), on 5-minute marks, the first such time after the
 * platform started. */
static void plan_ready_by(struct demo_platform *p, struct demo_car *c, const char *unplug)
{
    int dep = hhmm(unplug);
    if (dep < 0)
        dep = 7 * 60 + 30;
    c->ready_by_min = (dep - 60) / 5 * 5;
    int64_t day0 = p->conf.sim_start_ms - (p->conf.sim_start_ms % DAY_MS);
    c->ready_by_ms = day0 + (int64_t)c->ready_by_min * 60000;
    while (c->ready_by_ms <= p->conf.sim_start_ms + 3600000)
        c->ready_by_ms += DAY_MS;
}

static int register_car(struct demo_platform *p, struct demo_car *c, size_t i, struct d2ev_err *err)
{
    char path[200];
    snprintf(path, sizeof(path), "/vehicles/%s/authorize", c->sim_id);
    json_t *auth = sim(p, "POST", path, err);
    if (!auth)
        return err->code;
    char user[32];
    snprintf(user, sizeof(user), "driver-%04zu", i);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "user_id", user, "oem", c->oem,
                             "oem_vehicle_id", c->sim_id, "timezone", "Europe/London", "region",
                             p->conf.region, "prefs", wishes(c, i));
    if (strcmp(c->oem, "enode") != 0) /* Enode links by the application's own token */
        json_object_set_new(
            body, "authorization",
            json_pack("{s:s, s:s}", "code", json_string_value(json_object_get(auth, "code")),
                      "redirect_uri", json_string_value(json_object_get(auth, "redirect_uri"))));
    json_decref(auth);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char *out = NULL;
    long st = bridge(p, "POST", "/v1/registrations", text, &out);
    free(text);
    json_t *ans = out ? json_loads(out, 0, NULL) : NULL;
    int rc = D2EV_OK;
    if (st != 202 || !ans) {
        rc = d2ev_err_set(err, D2EV_ERR_STATE, "bridge refused %s (%ld): %.200s", c->sim_id, st,
                          out ? out : "");
    } else {
        d2ev_strlcpy(c->request_id, json_string_value(json_object_get(ans, "request_id")),
                     sizeof(c->request_id));
        d2ev_strlcpy(c->vehicle_id, json_string_value(json_object_get(ans, "vehicle_id")),
                     sizeof(c->vehicle_id));
    }
    json_decref(ans);
    free(out);
    return rc;
}

/* Poll one outcome; true once decided. */
static bool poll_outcome(struct demo_platform *p, struct demo_car *c)
{
    char path[160], *out = NULL;
    snprintf(path, sizeof(path), "/v1/registrations/%s", c->request_id);
    c->polled_mono = d2ev_clock_mono_ms();
    long st = bridge(p, "GET", path, NULL, &out);
    json_t *ans = st == 200 && out ? json_loads(out, 0, NULL) : NULL;
    free(out);
    if (!ans)
        return false;
    const char *status = json_string_value(json_object_get(ans, "status"));
    bool decided = status && strcmp(status, "pending") != 0;
    if (decided) {
        c->linked = !strcmp(status, "accepted");
        c->rejected = !c->linked;
        const char *why = json_string_value(json_object_get(ans, "reason"));
        d2ev_strlcpy(c->reject_reason, why ? why : status, sizeof(c->reject_reason));
    }
    json_decref(ans);
    return decided;
}

int demo_fleet_link(struct demo_platform *p, struct demo_fleet *f, int timeout_ms,
                    struct d2ev_err *err)
{
    char path[64];
    snprintf(path, sizeof(path), "/vehicles?limit=%d", p->conf.cars > 1000 ? 1000 : p->conf.cars);
    json_t *list = sim(p, "GET", path, err);
    if (!list)
        return -1;
    json_t *vs = json_object_get(list, "vehicles");
    f->n = json_array_size(vs);
    f->cars = calloc(f->n ? f->n : 1, sizeof(*f->cars));
    if (!f->cars) {
        json_decref(list);
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    }
    size_t i;
    json_t *v;
    json_array_foreach(vs, i, v)
    {
        struct demo_car *c = &f->cars[i];
        d2ev_strlcpy(c->sim_id, json_string_value(json_object_get(v, "id")), sizeof(c->sim_id));
        d2ev_strlcpy(c->oem, json_string_value(json_object_get(v, "oem")), sizeof(c->oem));
        c->max_power_kw = json_number_value(json_object_get(v, "max_power_kw"));
        c->car_limit = json_number_value(json_object_get(v, "limit"));
        plan_ready_by(p, c, json_string_value(json_object_get(v, "unplug_time")));
        if (f->night_end_ms < c->ready_by_ms)
            f->night_end_ms = c->ready_by_ms;
    }
    json_decref(list);
    for (i = 0; i < f->n; i++) {
        if (register_car(p, &f->cars[i], i, err) != D2EV_OK)
            return -1;
    }
    int64_t deadline = d2ev_clock_mono_ms() + timeout_ms;
    size_t open = f->n;
    while (open > 0 && d2ev_clock_mono_ms() < deadline) {
        open = 0;
        for (i = 0; i < f->n; i++) {
            struct demo_car *c = &f->cars[i];
            if (c->linked || c->rejected)
                continue;
            /* one signed poll per car per second: the bridge refuses replays */
            if (d2ev_clock_mono_ms() - c->polled_mono < 1100 || !poll_outcome(p, c))
                open++;
        }
        if (open) {
            struct timespec ts = { 0, 100 * 1000000 };
            nanosleep(&ts, NULL);
        }
    }
    int linked = 0;
    for (i = 0; i < f->n; i++)
        linked += f->cars[i].linked;
    if (open)
        d2ev_err_set(err, D2EV_ERR_TIMEOUT, "%zu registration(s) undecided after %d s", open,
                     timeout_ms / 1000);
    return linked;
}

int demo_fleet_deregister(struct demo_platform *p, struct demo_car *c, struct d2ev_err *err)
{
    char path[160], *out = NULL;
    snprintf(path, sizeof(path), "/v1/vehicles/%s", c->vehicle_id);
    long st = bridge(p, "DELETE", path, NULL, &out);
    free(out);
    if (st != 202)
        return d2ev_err_set(err, D2EV_ERR_STATE, "deregistering %s: bridge answered %ld",
                            c->vehicle_id, st);
    c->deregistered = true;
    c->deregistered_at = d2ev_clock_now_ms();
    return D2EV_OK;
}

void demo_fleet_free(struct demo_fleet *f)
{
    free(f->cars);
    f->cars = NULL;
    f->n = 0;
}
