/*
 * sim_control.c: the simulator's own API under /_sim/ (docs/oemsim.md):
 * true vehicle state, command logs, authorisation codes, state changes,
 * faults, statistics and the clock. Errors use the d2ev format
 * {"error": {"code", "message"}}.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev/json.h"
#include "d2ev/util.h"
#include "sim.h"

#define LIST_MAX 1000
#define URI_MAX  512

struct ctl {
    struct oemsim *sim;
    const struct d2ev_http_request *req;
    struct d2ev_http_response *resp;
    int64_t now;
    int64_t idx; /* the {id} vehicle, or -1 */
};

static const char *charge_state_name(enum sim_charge_state s)
{
    static const char *const names[] = { "disconnected", "charging", "stopped", "complete" };
    return names[s];
}

static void hhmm(unsigned minutes, char out[8])
{
    snprintf(out, 8, "%02u:%02u", (minutes / 60) % 24, minutes % 60);
}

/* The true state of vehicle idx (a new reference). */
static json_t *vehicle_json(struct oemsim *sim, uint32_t idx, int64_t now)
{
    struct sim_vehicle *v = &sim->fleet.v[idx];
    struct sim_snapshot s;
    sim_lock(&sim->fleet, idx);
    sim_vehicle_snapshot(v, &sim->params, idx, now, &s);
    struct sim_vehicle c = *v; /* static fields and pending command, read under the lock */
    uint32_t ncommands = v->log ? v->log->total : 0;
    sim_unlock(&sim->fleet, idx);

    char id[40], at[32], plug[8], unplug[8];
    sim_vehicle_id_text(&c, id);
    sim_time_text(now, true, at);
    hhmm(c.plug_min, plug);
    hhmm(c.unplug_min, unplug);
    json_t *o = json_pack(
        "{s:s, s:s, s:I, s:f, s:b, s:b, s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:I, s:f, s:f, "
        "s:f, s:f, s:f, s:f, s:I, s:I, s:s, s:s, s:f, s:I, s:s}",
        "id", id, "oem", sim_oem_name((enum sim_oem)c.oem), "index", (json_int_t)idx, "soc",
        sim_round(s.soc * 100, 4), "plugged", s.plugged, "charging", s.state == SIM_CHARGING,
        "state", charge_state_name(s.state), "paused_by_command", (c.flags & SIM_F_STOPPED) != 0,
        "asleep", s.asleep, "waking", s.waking, "reachable", !s.offline, "ignore_commands",
        (c.flags & SIM_F_IGNORE) != 0, "revoked", (c.flags & SIM_F_REVOKED) != 0, "auto_plug",
        !(c.flags & SIM_F_MANUAL) && sim->params.plug_schedule, "limit", (json_int_t)c.limit,
        "capacity_kwh", sim_round(s.capacity_kwh, 2), "max_power_kw", sim_round(s.max_kw, 2),
        "power_kw", sim_round(s.power_kw, 3), "energy_added_kwh", sim_round(s.session_kwh, 4),
        "range_km", sim_round(s.range_km, 1), "minutes_to_limit", sim_round(s.minutes_to_limit, 1),
        "wake_count", (json_int_t)s.wakes, "commands", (json_int_t)ncommands, "plug_in_time", plug,
        "unplug_time", unplug, "plug_in_chance", c.plug_pct / 100.0, "consumption_wh_per_km",
        (json_int_t)c.wh_per_km, "as_of", at);
    if (c.pending_cmd != SIM_CMD_NONE) {
        char when[32];
        sim_time_text(c.pending_at_ms, true, when);
        json_object_set_new(
            o, "pending_command",
            json_string(sim_cmd_name((enum sim_oem)c.oem, (enum sim_cmd)c.pending_cmd)));
        json_object_set_new(o, "pending_at", json_string(when));
    } else {
        json_object_set_new(o, "pending_command", json_null());
        json_object_set_new(o, "pending_at", json_null());
    }
    if (c.oem == SIM_TESLA) {
        char vin[18];
        sim_vehicle_vin(&sim->params, idx, vin);
        json_object_set_new(o, "vin", json_string(vin));
    } else if (c.oem == SIM_ENODE) {
        char user[37];
        sim_vehicle_user_id(&sim->params, idx, user);
        json_object_set_new(o, "user_id", json_string(user));
        json_object_set_new(o, "vendor", json_string(sim_vehicle_vendor(&sim->params, idx)));
        json_object_set_new(o, "linked",
                            json_boolean((c.flags & SIM_F_LINKED) || sim->cfg.enode_autolink));
    }
    return o;
}

static bool query_long(struct ctl *c, const char *name, long def, long min, long max, long *out)
{
    const char *s = d2ev_http_query(c->req, name);
    if (!s) {
        *out = def;
        return true;
    }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !*s || *end || v < min || v > max) {
        d2ev_http_respond_error(c->resp, 400, "invalid_parameter",
                                "%s: want an integer between %ld and %ld", name, min, max);
        return false;
    }
    *out = v;
    return true;
}

/* Parse the request body as a JSON object (an empty body is {}). */
static json_t *body_object(struct ctl *c)
{
    if (c->req->body_len == 0)
        return json_object();
    struct d2ev_err err = { 0 };
    json_t *o = d2ev_json_parse(c->req->body, c->req->body_len, 65536, &err);
    if (!o)
        d2ev_http_respond_error(c->resp, 400, "invalid_body", "%s", err.msg);
    return o;
}

/* ------------------------------------------------------------ vehicles */

static void list_vehicles(struct ctl *c)
{
    long offset, limit;
    const char *oem_s = d2ev_http_query(c->req, "oem");
    int oem = oem_s ? sim_oem_parse(oem_s) : -1;
    if (oem_s && oem < 0) {
        d2ev_http_respond_error(c->resp, 400, "invalid_parameter",
                                "oem: want smartcar, tesla or enode");
        return;
    }
    if (!query_long(c, "offset", 0, 0, INT32_MAX, &offset) ||
        !query_long(c, "limit", 100, 1, LIST_MAX, &limit))
        return;
    struct sim_fleet *f = &c->sim->fleet;
    json_t *list = json_array();
    long matched = 0;
    for (uint32_t i = 0; i < f->n; i++) {
        if (oem >= 0 && f->v[i].oem != oem) /* the OEM never changes: no lock needed */
            continue;
        if (matched >= offset && matched < offset + limit)
            json_array_append_new(list, vehicle_json(c->sim, i, c->now));
        matched++;
    }
    d2ev_http_respond_json(c->resp, 200,
                           json_pack("{s:I, s:I, s:I, s:o}", "total", (json_int_t)matched, "offset",
                                     (json_int_t)offset, "limit", (json_int_t)limit, "vehicles",
                                     list));
}

static void get_vehicle(struct ctl *c)
{
    d2ev_http_respond_json(c->resp, 200, vehicle_json(c->sim, (uint32_t)c->idx, c->now));
}

static void get_commands(struct ctl *c)
{
    struct oemsim *sim = c->sim;
    uint32_t idx = (uint32_t)c->idx;
    struct sim_cmdlog log = { 0 };
    sim_lock(&sim->fleet, idx);
    if (sim->fleet.v[idx].log)
        log = *sim->fleet.v[idx].log;
    char id[40];
    sim_vehicle_id_text(&sim->fleet.v[idx], id);
    sim_unlock(&sim->fleet, idx);
    json_t *list = json_array();
    uint32_t first = log.total > SIM_CMDLOG_SIZE ? log.total - SIM_CMDLOG_SIZE : 0;
    for (uint32_t i = first; i < log.total; i++) {
        const struct sim_cmdlog_entry *e = &log.e[i % SIM_CMDLOG_SIZE];
        char at[32];
        sim_time_text(e->at_ms, true, at);
        json_array_append_new(list,
                              json_pack("{s:s, s:s, s:s, s:s, s:s}", "at", at, "oem",
                                        sim_oem_name((enum sim_oem)e->oem), "command",
                                        sim_cmd_name((enum sim_oem)e->oem, (enum sim_cmd)e->cmd),
                                        "result", sim_result_name((enum sim_result)e->result),
                                        "reason", sim_reason_name((enum sim_reason)e->reason)));
    }
    d2ev_http_respond_json(c->resp, 200,
                           json_pack("{s:s, s:I, s:I, s:o}", "id", id, "total",
                                     (json_int_t)log.total, "kept", (json_int_t)SIM_CMDLOG_SIZE,
                                     "commands", list));
}

static void authorize(struct ctl *c)
{
    static const char *const keys[] = { "redirect_uri" };
    struct oemsim *sim = c->sim;
    json_t *body = body_object(c);
    if (!body)
        return;
    char uri[URI_MAX + 1];
    bool present = false;
    struct d2ev_err err = { 0 };
    if (d2ev_json_only_keys(body, keys, 1, &err) ||
        d2ev_json_opt_str(body, "redirect_uri", uri, URI_MAX, D2EV_CS_PRINTABLE, &present, &err)) {
        json_decref(body);
        d2ev_http_respond_error(c->resp, 400, "invalid_body", "%s", err.msg);
        return;
    }
    json_decref(body);
    if (!present)
        d2ev_strlcpy(uri, sim->cfg.redirect_uri, sizeof(uri));
    uint32_t idx = (uint32_t)c->idx;
    char code[72], id[40];
    sim_lock(&sim->fleet, idx);
    bool ok = sim_authorize(sim, idx, uri, c->now, code);
    enum sim_oem oem = (enum sim_oem)sim->fleet.v[idx].oem;
    sim_vehicle_id_text(&sim->fleet.v[idx], id);
    sim_unlock(&sim->fleet, idx);
    if (!ok) {
        d2ev_http_respond_error(c->resp, 503, "grants_full",
                                "no room for another authorisation (4 M grants)");
        return;
    }
    d2ev_http_respond_json(c->resp, 200,
                           json_pack("{s:s, s:s, s:s, s:s, s:I}", "code", code, "oem",
                                     sim_oem_name(oem), "oem_vehicle_id", id, "redirect_uri", uri,
                                     "expires_in", (json_int_t)(sim->code_ttl_ms / 1000)));
}

static void set_flag(struct sim_vehicle *v, uint8_t flag, bool on)
{
    v->flags = (uint8_t)(on ? (v->flags | flag) : (v->flags & ~flag));
}

/* A change of one vehicle's state (POST .../state, POST /_sim/fleet/state). */
enum { P_PLUGGED, P_ASLEEP, P_IGNORE, P_REVOKED, P_REACHABLE, P_AUTO, P_PAUSED, P_NBOOL };

struct patch {
    bool b[P_NBOOL], has[P_NBOOL];
    bool has_soc, has_limit;
    double soc;
    int64_t limit;
};

static int parse_patch(const json_t *o, struct patch *p, struct d2ev_err *err)
{
    static const char *const keys[] = { "plugged",         "asleep",    "ignore_commands",
                                        "revoked",         "reachable", "auto_plug",
                                        "charging_paused", "soc",       "limit" };
    memset(p, 0, sizeof(*p));
    if (!json_is_object(o))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "state: want an object");
    int rc = d2ev_json_only_keys(o, keys, sizeof(keys) / sizeof(keys[0]), err);
    for (int i = 0; rc == D2EV_OK && i < P_NBOOL; i++)
        rc = d2ev_json_opt_bool(o, keys[i], &p->b[i], &p->has[i], err);
    if (rc == D2EV_OK)
        rc = d2ev_json_opt_num(o, "soc", 0, 100, &p->soc, &p->has_soc, err);
    if (rc == D2EV_OK)
        rc = d2ev_json_opt_int(o, "limit", 50, 100, &p->limit, &p->has_limit, err);
    return rc;
}

/* Apply p to vehicle idx at now (takes the vehicle's lock). */
static void apply_patch(struct oemsim *sim, uint32_t idx, const struct patch *p, int64_t now)
{
    struct sim_vehicle *v = &sim->fleet.v[idx];
    sim_lock(&sim->fleet, idx);
    sim_vehicle_advance(v, &sim->params, idx, now);
    if (p->has_soc)
        v->soc = p->soc / 100.0;
    if (p->has_limit)
        v->limit = (uint8_t)p->limit;
    if (p->has[P_AUTO])
        set_flag(v, SIM_F_MANUAL, !p->b[P_AUTO]);
    if (p->has[P_PLUGGED])
        sim_vehicle_set_plugged(v, p->b[P_PLUGGED], now);
    if (p->has[P_PAUSED])
        set_flag(v, SIM_F_STOPPED, p->b[P_PAUSED]);
    if (p->has[P_REACHABLE])
        set_flag(v, SIM_F_OFFLINE, !p->b[P_REACHABLE]);
    if (p->has[P_IGNORE])
        set_flag(v, SIM_F_IGNORE, p->b[P_IGNORE]);
    if (p->has[P_REVOKED]) {
        if (p->b[P_REVOKED] && !(v->flags & SIM_F_REVOKED))
            v->epoch++; /* every grant made before dies, even after re-consent */
        set_flag(v, SIM_F_REVOKED, p->b[P_REVOKED]);
    }
    if (p->has[P_ASLEEP]) {
        v->wake_at_ms = 0;
        if (p->b[P_ASLEEP]) {
            v->flags |= SIM_F_FORCED;
            v->active_ms = now; /* asleep since now */
        } else if (sim_vehicle_asleep(v, &sim->params, now)) {
            v->flags = (uint8_t)(v->flags & ~SIM_F_FORCED);
            v->active_ms = now; /* awake, and not a counted wake */
        }
    }
    sim_unlock(&sim->fleet, idx);
}

static void set_state(struct ctl *c)
{
    json_t *body = body_object(c);
    if (!body)
        return;
    struct patch p;
    struct d2ev_err err = { 0 };
    int rc = parse_patch(body, &p, &err);
    json_decref(body);
    if (rc != D2EV_OK) {
        d2ev_http_respond_error(c->resp, 400, "invalid_body", "%s", err.msg);
        return;
    }
    apply_patch(c->sim, (uint32_t)c->idx, &p, c->now);
    get_vehicle(c);
}

/* POST /_sim/fleet/state {"share": 0.1, "oem": "tesla", "seed": 1, "state": {...}}:
 * the same change to a share of the fleet, picked by a hash of the seed and
 * the vehicle (the same request picks the same vehicles). */
static void set_fleet_state(struct ctl *c)
{
    static const char *const keys[] = { "share", "oem", "seed", "state" };
    json_t *body = body_object(c), *state = NULL;
    if (!body)
        return;
    struct d2ev_err err = { 0 };
    struct patch p;
    double share = 0;
    int64_t seed = 1;
    char oem_s[16] = "";
    bool has_oem = false;
    int rc = d2ev_json_only_keys(body, keys, 4, &err);
    if (rc == D2EV_OK)
        rc = d2ev_json_req_num(body, "share", 0, 1, &share, &err);
    if (rc == D2EV_OK)
        rc = d2ev_json_opt_int(body, "seed", 0, INT64_MAX, &seed, NULL, &err);
    if (rc == D2EV_OK)
        rc =
            d2ev_json_opt_str(body, "oem", oem_s, sizeof(oem_s) - 1, D2EV_CS_LOWER, &has_oem, &err);
    int oem = has_oem ? sim_oem_parse(oem_s) : -1;
    if (rc == D2EV_OK && has_oem && oem < 0)
        rc = d2ev_err_set(&err, D2EV_ERR_INVALID, "oem: want smartcar, tesla or enode");
    if (rc == D2EV_OK)
        rc = d2ev_json_req_object(body, "state", &state, &err);
    if (rc == D2EV_OK && parse_patch(state, &p, &err) != D2EV_OK)
        rc = d2ev_err_prefix(&err, "state");
    json_decref(body);
    if (rc != D2EV_OK) {
        d2ev_http_respond_error(c->resp, 400, "invalid_body", "%s", err.msg);
        return;
    }
    struct sim_fleet *f = &c->sim->fleet;
    json_t *ids = json_array();
    size_t changed = 0;
    for (uint32_t i = 0; i < f->n; i++) {
        if ((oem >= 0 && f->v[i].oem != oem) || !sim_share_picks((uint64_t)seed, i, 0xf1ee7, share))
            continue;
        apply_patch(c->sim, i, &p, c->now);
        if (changed++ < 1000) {
            char id[40];
            sim_vehicle_id_text(&f->v[i], id);
            json_array_append_new(ids, json_string(id));
        }
    }
    d2ev_http_respond_json(c->resp, 200,
                           json_pack("{s:I, s:o}", "changed", (json_int_t)changed, "ids", ids));
}

/* ------------------------------------------------------------ faults */

static json_t *faults_json(const struct sim_faults *f)
{
    return json_pack("{s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "latency_ms",
                     (json_int_t)f->latency_ms, "jitter_ms", (json_int_t)f->jitter_ms, "error_rate",
                     f->error_rate, "vehicle_rate_per_min", f->vehicle_rate_per_min,
                     "vehicle_burst", f->vehicle_burst, "app_rate_per_min", f->app_rate_per_min,
                     "app_burst", f->app_burst, "ignore_rate", f->ignore_rate, "action_fail_rate",
                     f->action_fail_rate);
}

static void get_faults(struct ctl *c)
{
    json_t *o = json_object();
    for (int i = 0; i < SIM_OEM_COUNT; i++) {
        struct sim_faults f;
        sim_faults_get(&c->sim->faults, (enum sim_oem)i, &f);
        json_object_set_new(o, sim_oem_name((enum sim_oem)i), faults_json(&f));
    }
    d2ev_http_respond_json(c->resp, 200, o);
}

/* Apply the fields present in body to f. */
static int patch_faults(const json_t *body, struct sim_faults *f, struct d2ev_err *err)
{
    const struct {
        const char *key;
        double *v;
    } nums[] = {
        { "error_rate", &f->error_rate },
        { "vehicle_rate_per_min", &f->vehicle_rate_per_min },
        { "vehicle_burst", &f->vehicle_burst },
        { "app_rate_per_min", &f->app_rate_per_min },
        { "app_burst", &f->app_burst },
        { "ignore_rate", &f->ignore_rate },
        { "action_fail_rate", &f->action_fail_rate },
    };
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        if (d2ev_json_opt_num(body, nums[i].key, 0, 1e9, nums[i].v, NULL, err))
            return err->code;
    if (d2ev_json_opt_int(body, "latency_ms", 0, 60000, &f->latency_ms, NULL, err) ||
        d2ev_json_opt_int(body, "jitter_ms", 0, 60000, &f->jitter_ms, NULL, err))
        return err->code;
    return sim_faults_check(f, err);
}

static void post_faults(struct ctl *c)
{
    static const char *const keys[] = {
        "oem",           "latency_ms",       "jitter_ms", "error_rate",  "vehicle_rate_per_min",
        "vehicle_burst", "app_rate_per_min", "app_burst", "ignore_rate", "action_fail_rate"
    };
    json_t *body = body_object(c);
    if (!body)
        return;
    struct d2ev_err err = { 0 };
    char oem_s[16] = "all";
    int rc = d2ev_json_only_keys(body, keys, sizeof(keys) / sizeof(keys[0]), &err);
    if (rc == D2EV_OK)
        rc = d2ev_json_opt_str(body, "oem", oem_s, sizeof(oem_s) - 1, D2EV_CS_LOWER, NULL, &err);
    int oem = strcmp(oem_s, "all") ? sim_oem_parse(oem_s) : -1;
    if (rc == D2EV_OK && strcmp(oem_s, "all") && oem < 0)
        rc = d2ev_err_set(&err, D2EV_ERR_INVALID, "oem: want all, smartcar, tesla or enode");
    /* validate against every target first, so a bad body changes nothing */
    struct sim_faults f[SIM_OEM_COUNT];
    for (int i = 0; rc == D2EV_OK && i < SIM_OEM_COUNT; i++) {
        sim_faults_get(&c->sim->faults, (enum sim_oem)i, &f[i]);
        if (oem < 0 || oem == i)
            rc = patch_faults(body, &f[i], &err);
    }
    json_decref(body);
    for (int i = 0; rc == D2EV_OK && i < SIM_OEM_COUNT; i++)
        if (oem < 0 || oem == i)
            rc = sim_faults_set(&c->sim->faults, (enum sim_oem)i, &f[i], &err);
    if (rc != D2EV_OK) {
        d2ev_http_respond_error(c->resp, 400, "invalid_body", "%s", err.msg);
        return;
    }
    get_faults(c);
}

/* ------------------------------------------------------------ stats and clock */

static json_t *per_oem(struct sim_counter *counters, uint64_t *total)
{
    json_t *o = json_object();
    for (int i = 0; i < SIM_OEM_COUNT; i++) {
        uint64_t n = sim_counter_get(&counters[i]);
        *total += n;
        json_object_set_new(o, sim_oem_name((enum sim_oem)i), json_integer((json_int_t)n));
    }
    return o;
}

static void get_stats(struct ctl *c)
{
    struct oemsim *sim = c->sim;
    struct sim_stats *st = &sim->stats;
    json_t *requests = json_object(), *rate = json_object(), *commands = json_object();
    for (int o = 0; o < SIM_OEM_COUNT; o++) {
        json_t *eps = json_object();
        for (int e = 0; e < SIM_EP_COUNT; e++) {
            const char *name = sim_endpoint_name((enum sim_oem)o, (enum sim_endpoint)e);
            if (name)
                json_object_set_new(eps, name,
                                    json_integer((json_int_t)sim_counter_get(&st->requests[o][e])));
        }
        const char *oem = sim_oem_name((enum sim_oem)o);
        json_object_set_new(requests, oem, eps);
        json_object_set_new(
            rate, oem,
            json_pack("{s:I, s:I}", "app", (json_int_t)sim_counter_get(&st->rate_limited_app[o]),
                      "vehicle", (json_int_t)sim_counter_get(&st->rate_limited_vehicle[o])));
        json_t *cmd = json_object();
        for (int r = 0; r < 4; r++)
            json_object_set_new(cmd, sim_result_name((enum sim_result)r),
                                json_integer((json_int_t)sim_counter_get(&st->commands[o][r])));
        json_object_set_new(commands, oem, cmd);
    }
    uint64_t n429 = 0, n5xx = 0, reuse = 0, wakes = 0, asleep = 0, tokens = 0;
    for (int o = 0; o < SIM_OEM_COUNT; o++)
        n429 += sim_counter_get(&st->rate_limited_app[o]) +
                sim_counter_get(&st->rate_limited_vehicle[o]);
    size_t bytes = sim_fleet_bytes(&sim->fleet);
    json_t *o = json_pack("{s:I, s:I, s:f, s:I, s:o, s:o, s:I}", "vehicles",
                          (json_int_t)sim->fleet.n, "fleet_bytes", (json_int_t)bytes,
                          "bytes_per_vehicle", sim->fleet.n ? (double)bytes / sim->fleet.n : 0.0,
                          "grants", (json_int_t)atomic_load(&sim->tokens.ngrants), "requests",
                          requests, "rate_limited", rate, "rate_limited_total", (json_int_t)n429);
    json_object_set_new(o, "server_errors", per_oem(st->server_errors, &n5xx));
    json_object_set_new(o, "server_errors_total", json_integer((json_int_t)n5xx));
    json_object_set_new(o, "refresh_reuse", per_oem(st->refresh_reuse, &reuse));
    json_object_set_new(o, "refresh_reuse_total", json_integer((json_int_t)reuse));
    json_object_set_new(o, "wakes", per_oem(st->wakes, &wakes));
    json_object_set_new(o, "wakes_total", json_integer((json_int_t)wakes));
    json_object_set_new(o, "asleep_rejections", per_oem(st->asleep_rejections, &asleep));
    json_object_set_new(o, "tokens_issued", per_oem(st->tokens_issued, &tokens));
    json_object_set_new(o, "commands", commands);
    json_object_set_new(o, "control_requests",
                        json_integer((json_int_t)sim_counter_get(&st->control)));
    d2ev_http_respond_json(c->resp, 200, o);
}

static void get_clock(struct ctl *c)
{
    static const char *const modes[] = { "real", "scaled", "manual" };
    char now[32];
    sim_time_text(c->now, true, now);
    d2ev_http_respond_json(c->resp, 200,
                           json_pack("{s:s, s:I, s:s, s:f}", "now", now, "now_ms",
                                     (json_int_t)c->now, "mode", modes[d2ev_clock_mode()], "speed",
                                     d2ev_clock_speed()));
}

/* ------------------------------------------------------------ routing */

static const struct {
    const char *method;
    const char *pattern;
    bool vehicle;
    void (*handle)(struct ctl *c);
} routes[] = {
    { "GET", "/_sim/vehicles", false, list_vehicles },
    { "GET", "/_sim/vehicles/{id}", true, get_vehicle },
    { "GET", "/_sim/vehicles/{id}/commands", true, get_commands },
    { "POST", "/_sim/vehicles/{id}/authorize", true, authorize },
    { "POST", "/_sim/vehicles/{id}/state", true, set_state },
    { "POST", "/_sim/fleet/state", false, set_fleet_state },
    { "GET", "/_sim/faults", false, get_faults },
    { "POST", "/_sim/faults", false, post_faults },
    { "GET", "/_sim/stats", false, get_stats },
    { "GET", "/_sim/clock", false, get_clock },
};

void sim_control_serve(struct oemsim *sim, const struct d2ev_http_request *req,
                       struct d2ev_http_response *resp)
{
    struct ctl c = { .sim = sim, .req = req, .resp = resp, .now = d2ev_clock_now_ms(), .idx = -1 };
    sim_count(&sim->stats.control);
    char id[80];
    bool path_known = false;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (!sim_route_match(routes[i].pattern, req->path, id, sizeof(id)))
            continue;
        path_known = true;
        if (strcmp(routes[i].method, req->method) != 0)
            continue;
        if (routes[i].vehicle && (c.idx = sim_fleet_find_any(&sim->fleet, id)) < 0) {
            d2ev_http_respond_error(resp, 404, "not_found", "no vehicle with id '%.64s'", id);
            return;
        }
        routes[i].handle(&c);
        return;
    }
    if (path_known)
        d2ev_http_respond_error(resp, 405, "method_not_allowed", "%.8s is not allowed here",
                                req->method);
    else
        d2ev_http_respond_error(resp, 404, "not_found",
                                "no such control endpoint; see docs/oemsim.md");
}
