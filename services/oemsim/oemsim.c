/*
 * oemsim.c: d2ev-oemsim's configuration, the simulator's life cycle and the
 * HTTP server that routes /smartcar, /tesla, /enode and /_sim requests.
 */
#include "oemsim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "d2ev/clock.h"
#include "d2ev/log.h"
#include "sim.h"

#define F(field) offsetof(struct oemsim_config, field)
const struct d2ev_cfg_entry oemsim_config_table[] = {
    { "sim-port", D2EV_CFG_INT, F(port), "8090", "API port of the simulated OEM clouds (0 = any)",
      0, 65535 },
    { "sim-bind", D2EV_CFG_STR, F(bind), "0.0.0.0", "address the API server binds" },
    { "sim-threads", D2EV_CFG_INT, F(threads), "8",
      "HTTP worker threads (injected latency holds one per request)", 1, 256 },
    { "sim-max-body", D2EV_CFG_INT, F(max_body), "16384",
      "largest request body in bytes (larger get 413)", 1024, 1048576 },
    { "sim-vehicles", D2EV_CFG_INT, F(vehicles), "1000", "vehicles in the simulated fleet", 0,
      4000000 },
    { "sim-seed", D2EV_CFG_INT, F(seed), "1", "fleet seed: the same seed gives the same fleet", 0,
      9.2e18 },
    { "sim-oem-mix", D2EV_CFG_STR, F(oem_mix), "smartcar=40,tesla=30,enode=30",
      "relative share of each OEM in the fleet" },
    { "sim-utc-offset-min", D2EV_CFG_INT, F(utc_offset_min), "0",
      "local time of the plug-in pattern = UTC + this many minutes", -840, 840 },
    { "sim-plug-schedule", D2EV_CFG_BOOL, F(plug_schedule), "true",
      "cars plug in and unplug by a daily pattern (false: only when told)" },
    { "sim-enode-autolink", D2EV_CFG_BOOL, F(enode_autolink), "false",
      "Enode vehicles are visible without an /_sim/.../authorize first" },
    { "sim-sleep-after-s", D2EV_CFG_INT, F(sleep_after_s), "900",
      "simulated seconds idle (not charging, no commands) before a car sleeps; 0 = never", 0,
      86400 * 30 },
    { "sim-wake-delay-s", D2EV_CFG_INT, F(wake_delay_s), "15",
      "simulated seconds a Tesla takes to come online after wake_up", 0, 3600 },
    { "sim-command-delay-s", D2EV_CFG_INT, F(command_delay_s), "0",
      "simulated seconds between a Smartcar/Tesla command and the car applying it", 0, 3600 },
    { "sim-action-delay-s", D2EV_CFG_INT, F(action_delay_s), "30",
      "simulated seconds an Enode action stays PENDING before it applies and resolves", 0, 3600 },
    { "sim-max-actions", D2EV_CFG_INT, F(max_actions), "65536",
      "Enode actions kept (older ones are forgotten)", 16, 16777216 },
    { "sim-smartcar-access-ttl-s", D2EV_CFG_INT, F(smartcar_access_ttl_s), "7200",
      "Smartcar access token lifetime (simulated seconds)", 1, 1e9 },
    { "sim-smartcar-refresh-ttl-s", D2EV_CFG_INT, F(smartcar_refresh_ttl_s), "5184000",
      "Smartcar refresh token lifetime (simulated seconds)", 1, 1e9 },
    { "sim-tesla-access-ttl-s", D2EV_CFG_INT, F(tesla_access_ttl_s), "28800",
      "Tesla access token lifetime (simulated seconds)", 1, 1e9 },
    { "sim-tesla-refresh-ttl-s", D2EV_CFG_INT, F(tesla_refresh_ttl_s), "7776000",
      "Tesla refresh token lifetime (simulated seconds)", 1, 1e9 },
    { "sim-enode-access-ttl-s", D2EV_CFG_INT, F(enode_access_ttl_s), "3600",
      "Enode (client credentials) token lifetime (simulated seconds)", 1, 1e9 },
    { "sim-code-ttl-s", D2EV_CFG_INT, F(code_ttl_s), "600",
      "authorisation code lifetime (simulated seconds)", 1, 1e9 },
    { "sim-redirect-uri", D2EV_CFG_STR, F(redirect_uri), "http://127.0.0.1:8080/oauth/callback",
      "redirect_uri of codes minted without one" },
    { "sim-smartcar-client-id", D2EV_CFG_STR, F(smartcar_client_id), "sim-smartcar-client",
      "Smartcar client id the token endpoint accepts" },
    { "sim-smartcar-client-secret", D2EV_CFG_SECRET, F(smartcar_client_secret),
      "sim-smartcar-secret", "Smartcar client secret the token endpoint accepts" },
    { "sim-tesla-client-id", D2EV_CFG_STR, F(tesla_client_id), "sim-tesla-client",
      "Tesla client id the token endpoint accepts" },
    { "sim-tesla-client-secret", D2EV_CFG_SECRET, F(tesla_client_secret), "sim-tesla-secret",
      "Tesla client secret the token endpoint accepts" },
    { "sim-enode-client-id", D2EV_CFG_STR, F(enode_client_id), "sim-enode-client",
      "Enode client id the token endpoint accepts" },
    { "sim-enode-client-secret", D2EV_CFG_SECRET, F(enode_client_secret), "sim-enode-secret",
      "Enode client secret the token endpoint accepts" },
    { "sim-latency-ms", D2EV_CFG_INT, F(latency_ms), "0",
      "fault: real milliseconds added to every OEM API response", 0, 60000 },
    { "sim-latency-jitter-ms", D2EV_CFG_INT, F(latency_jitter_ms), "0",
      "fault: plus a uniform random 0..this many milliseconds", 0, 60000 },
    { "sim-error-rate", D2EV_CFG_DOUBLE, F(error_rate), "0",
      "fault: share of OEM API requests answered with a 5xx", 0, 1 },
    { "sim-rate-limit-vehicle-per-min", D2EV_CFG_DOUBLE, F(rate_limit_vehicle_per_min), "0",
      "fault: requests per simulated minute per vehicle before 429 (0 = no limit)", 0, 1e6 },
    { "sim-rate-limit-vehicle-burst", D2EV_CFG_DOUBLE, F(rate_limit_vehicle_burst), "5",
      "fault: burst of the per-vehicle limit", 1, 1e6 },
    { "sim-rate-limit-app-per-min", D2EV_CFG_DOUBLE, F(rate_limit_app_per_min), "0",
      "fault: requests per simulated minute per application (OEM) before 429 (0 = no limit)", 0,
      1e9 },
    { "sim-rate-limit-app-burst", D2EV_CFG_DOUBLE, F(rate_limit_app_burst), "100",
      "fault: burst of the per-application limit", 1, 1e9 },
    { "sim-ignore-rate", D2EV_CFG_DOUBLE, F(ignore_rate), "0",
      "fault: share of commands accepted but not applied", 0, 1 },
    { "sim-action-fail-rate", D2EV_CFG_DOUBLE, F(action_fail_rate), "0",
      "fault: share of Enode actions that end FAILED", 0, 1 },
    { "sim-ignore-share", D2EV_CFG_DOUBLE, F(ignore_share), "0",
      "fault: share of vehicles (picked by the seed) that ignore every command", 0, 1 },
    { "sim-unreachable-share", D2EV_CFG_DOUBLE, F(unreachable_share), "0",
      "fault: share of vehicles (picked by the seed) that are unreachable", 0, 1 },
    D2EV_CFG_END,
};
#undef F

/* ------------------------------------------------------------ endpoints */

const char *sim_endpoint_name(enum sim_oem oem, enum sim_endpoint ep)
{
    static const char *const names[SIM_OEM_COUNT][SIM_EP_COUNT] = {
        [SIM_SMARTCAR] = { [SIM_EP_TOKEN] = "token",
                           [SIM_EP_VEHICLES] = "vehicles",
                           [SIM_EP_BATTERY] = "battery",
                           [SIM_EP_CAPACITY] = "battery_capacity",
                           [SIM_EP_CHARGE] = "charge",
                           [SIM_EP_LIMIT] = "charge_limit",
                           [SIM_EP_BATCH] = "batch",
                           [SIM_EP_START] = "charge_command",
                           [SIM_EP_UNKNOWN] = "unknown" },
        [SIM_TESLA] = { [SIM_EP_TOKEN] = "token",
                        [SIM_EP_VEHICLES] = "vehicles",
                        [SIM_EP_VEHICLE] = "vehicle",
                        [SIM_EP_VEHICLE_DATA] = "vehicle_data",
                        [SIM_EP_WAKE_UP] = "wake_up",
                        [SIM_EP_START] = "charge_start",
                        [SIM_EP_STOP] = "charge_stop",
                        [SIM_EP_UNKNOWN] = "unknown" },
        [SIM_ENODE] = { [SIM_EP_TOKEN] = "token",
                        [SIM_EP_VEHICLE] = "vehicle",
                        [SIM_EP_START] = "charging",
                        [SIM_EP_ACTION] = "action",
                        [SIM_EP_UNKNOWN] = "unknown" },
    };
    return (unsigned)oem < SIM_OEM_COUNT && (unsigned)ep < SIM_EP_COUNT ? names[oem][ep] : NULL;
}

static void counter_init(struct sim_counter *c, const char *name, const char *help,
                         const char *labels)
{
    atomic_store(&c->n, 0);
    c->m = d2ev_metric_counter(name, help, labels);
}

static void stats_init(struct sim_stats *st)
{
    char l[128];
    for (int o = 0; o < SIM_OEM_COUNT; o++) {
        const char *oem = sim_oem_name((enum sim_oem)o);
        for (int e = 0; e < SIM_EP_COUNT; e++) {
            const char *ep = sim_endpoint_name((enum sim_oem)o, (enum sim_endpoint)e);
            snprintf(l, sizeof(l), "oem=\"%s\",endpoint=\"%s\"", oem, ep ? ep : "none");
            counter_init(&st->requests[o][e], "d2ev_oemsim_requests_total",
                         "OEM API requests by endpoint", l);
        }
        snprintf(l, sizeof(l), "oem=\"%s\",scope=\"app\"", oem);
        counter_init(&st->rate_limited_app[o], "d2ev_oemsim_rate_limited_total",
                     "429 answers served", l);
        snprintf(l, sizeof(l), "oem=\"%s\",scope=\"vehicle\"", oem);
        counter_init(&st->rate_limited_vehicle[o], "d2ev_oemsim_rate_limited_total",
                     "429 answers served", l);
        snprintf(l, sizeof(l), "oem=\"%s\"", oem);
        counter_init(&st->server_errors[o], "d2ev_oemsim_injected_errors_total",
                     "injected 5xx answers", l);
        counter_init(&st->refresh_reuse[o], "d2ev_oemsim_refresh_reuse_total",
                     "spent refresh tokens presented again", l);
        counter_init(&st->wakes[o], "d2ev_oemsim_wakes_total", "cars woken by API calls", l);
        counter_init(&st->asleep_rejections[o], "d2ev_oemsim_asleep_rejections_total",
                     "requests refused because the car sleeps", l);
        counter_init(&st->tokens_issued[o], "d2ev_oemsim_tokens_issued_total",
                     "token endpoint successes", l);
        for (int r = 0; r < 4; r++) {
            snprintf(l, sizeof(l), "oem=\"%s\",result=\"%s\"", oem,
                     sim_result_name((enum sim_result)r));
            counter_init(&st->commands[o][r], "d2ev_oemsim_commands_total",
                         "commands that reached a car, by result", l);
        }
    }
    counter_init(&st->control, "d2ev_oemsim_control_requests_total", "/_sim/ requests", NULL);
}

/* ------------------------------------------------------------ life cycle */

/* Flag a share of the fleet, picked by a hash of the seed (deterministic). */
static void flag_share(struct oemsim *sim, double share, uint8_t flag, uint64_t salt)
{
    for (uint32_t i = 0; i < sim->fleet.n; i++)
        if (sim_share_picks(sim->params.seed, i, salt, share))
            sim->fleet.v[i].flags |= flag;
}

int oemsim_config_load(struct oemsim_config *cfg, struct d2ev_config **handle, int argc,
                       char **argv, struct d2ev_err *err)
{
    memset(cfg, 0, sizeof(*cfg));
    struct d2ev_cfg_section section = { "OEM simulator", oemsim_config_table, cfg };
    struct d2ev_cfg_program prog = { "d2ev-oemsim", "" };
    bool exit_now = false;
    int rc = d2ev_config_load(handle, &prog, &section, 1, argc, argv, NULL, &exit_now, err);
    if (rc == D2EV_OK && exit_now)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "help or version requested");
    return rc;
}

struct oemsim *oemsim_create(const struct oemsim_config *cfg, struct d2ev_err *err)
{
    double weights[SIM_OEM_COUNT];
    if (sim_parse_mix(cfg->oem_mix, weights, err))
        return NULL;
    struct oemsim *sim = calloc(1, sizeof(*sim));
    if (!sim) {
        d2ev_err_set(err, D2EV_ERR_NOMEM, "oemsim: out of memory");
        return NULL;
    }
    sim->cfg = *cfg;
    sim->params = (struct sim_params){
        .sleep_after_ms = cfg->sleep_after_s * 1000,
        .wake_delay_ms = cfg->wake_delay_s * 1000,
        .command_delay_ms = cfg->command_delay_s * 1000,
        .action_delay_ms = cfg->action_delay_s * 1000,
        .utc_offset_ms = cfg->utc_offset_min * 60000,
        .plug_schedule = cfg->plug_schedule,
        .seed = (uint64_t)cfg->seed,
    };
    sim->ttl_access_ms[SIM_SMARTCAR] = cfg->smartcar_access_ttl_s * 1000;
    sim->ttl_access_ms[SIM_TESLA] = cfg->tesla_access_ttl_s * 1000;
    sim->ttl_access_ms[SIM_ENODE] = cfg->enode_access_ttl_s * 1000;
    sim->ttl_refresh_ms[SIM_SMARTCAR] = cfg->smartcar_refresh_ttl_s * 1000;
    sim->ttl_refresh_ms[SIM_TESLA] = cfg->tesla_refresh_ttl_s * 1000;
    sim->ttl_refresh_ms[SIM_ENODE] = cfg->enode_access_ttl_s * 1000;
    sim->code_ttl_ms = cfg->code_ttl_s * 1000;
    struct sim_faults faults = {
        .latency_ms = cfg->latency_ms,
        .jitter_ms = cfg->latency_jitter_ms,
        .error_rate = cfg->error_rate,
        .vehicle_rate_per_min = cfg->rate_limit_vehicle_per_min,
        .vehicle_burst = cfg->rate_limit_vehicle_burst,
        .app_rate_per_min = cfg->rate_limit_app_per_min,
        .app_burst = cfg->rate_limit_app_burst,
        .ignore_rate = cfg->ignore_rate,
        .action_fail_rate = cfg->action_fail_rate,
    };
    stats_init(&sim->stats);
    if (sim_fleet_init(&sim->fleet, &sim->params, (uint32_t)cfg->vehicles, weights,
                       d2ev_clock_now_ms(), err) ||
        !(sim->parts |= PART_FLEET) || sim_tokens_init(&sim->tokens, err) ||
        !(sim->parts |= PART_TOKENS) ||
        sim_faults_init(&sim->faults, &faults, (uint32_t)cfg->vehicles, err) ||
        !(sim->parts |= PART_FAULTS) ||
        sim_actions_init(&sim->actions, (uint32_t)cfg->max_actions, err) ||
        !(sim->parts |= PART_ACTIONS)) {
        oemsim_destroy(sim);
        return NULL;
    }
    flag_share(sim, cfg->ignore_share, SIM_F_IGNORE, 0x16e0);
    flag_share(sim, cfg->unreachable_share, SIM_F_OFFLINE, 0x0ff1);
    return sim;
}

static bool has_prefix(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    return !strncmp(path, prefix, n) && (path[n] == '/' || path[n] == '\0');
}

static void handle(void *opaque, const struct d2ev_http_request *req,
                   struct d2ev_http_response *resp)
{
    static const struct sim_dialect *const dialects[] = { &sim_smartcar_dialect, &sim_tesla_dialect,
                                                          &sim_enode_dialect };
    struct oemsim *sim = opaque;
    for (size_t i = 0; i < sizeof(dialects) / sizeof(dialects[0]); i++) {
        if (has_prefix(req->path, dialects[i]->prefix)) {
            sim_dialect_serve(dialects[i], sim, req, resp);
            return;
        }
    }
    if (has_prefix(req->path, "/_sim")) {
        sim_control_serve(sim, req, resp);
        return;
    }
    d2ev_http_respond_error(resp, 404, "not_found",
                            "no such path; the OEM APIs are under /smartcar, /tesla and /enode, "
                            "the control API under /_sim");
}

int oemsim_listen(struct oemsim *sim, struct d2ev_err *err)
{
    struct d2ev_http_server_conf hc = {
        .name = "oemsim",
        .bind_addr = sim->cfg.bind,
        .port = (int)sim->cfg.port,
        .max_body = (size_t)sim->cfg.max_body,
        .threads = (unsigned)sim->cfg.threads,
        .conn_limit = 4096,
        .timeout_s = 60,
    };
    sim->server = d2ev_http_server_start(&hc, handle, sim, err);
    return sim->server ? D2EV_OK : (err ? err->code : D2EV_ERR_IO);
}

int oemsim_port(const struct oemsim *sim)
{
    return sim && sim->server ? d2ev_http_server_port(sim->server) : -1;
}

uint32_t oemsim_vehicle_count(const struct oemsim *sim)
{
    return sim->fleet.n;
}

void oemsim_destroy(struct oemsim *sim)
{
    if (!sim)
        return;
    d2ev_http_server_stop(sim->server);
    if (sim->parts & PART_ACTIONS)
        sim_actions_free(&sim->actions);
    if (sim->parts & PART_FAULTS)
        sim_faults_free(&sim->faults);
    if (sim->parts & PART_TOKENS)
        sim_tokens_free(&sim->tokens);
    if (sim->parts & PART_FLEET)
        sim_fleet_free(&sim->fleet);
    free(sim);
}

/* ------------------------------------------------------------ the service */

static int oemsim_run(struct d2ev_service *svc, void *config)
{
    struct oemsim_config *cfg = config;
    struct d2ev_err err = { 0 };
    struct oemsim *sim = oemsim_create(cfg, &err);
    if (!sim) {
        d2ev_log_error("cannot build the fleet", D2EV_LF_STR("error", err.msg));
        return D2EV_EXIT_USAGE;
    }
    if (oemsim_listen(sim, &err)) {
        d2ev_log_error("cannot start the API server", D2EV_LF_STR("error", err.msg));
        oemsim_destroy(sim);
        return D2EV_EXIT_FAILURE;
    }
    d2ev_metric_set(d2ev_metric_gauge("d2ev_oemsim_vehicles", "vehicles in the fleet", NULL),
                    sim->fleet.n);
    d2ev_log_info("simulated OEM clouds ready", D2EV_LF_INT("port", oemsim_port(sim)),
                  D2EV_LF_INT("vehicles", sim->fleet.n), D2EV_LF_INT("seed", cfg->seed),
                  D2EV_LF_STR("oem_mix", cfg->oem_mix),
                  D2EV_LF_INT("fleet_bytes", (long long)sim_fleet_bytes(&sim->fleet)));
    d2ev_service_set_ready(svc, true, NULL);
    while (d2ev_service_running(svc)) {
        d2ev_service_heartbeat(svc);
        usleep(100 * 1000);
    }
    d2ev_service_set_ready(svc, false, "shutting down");
    oemsim_destroy(sim);
    return D2EV_EXIT_OK;
}

const struct d2ev_service_def d2ev_oemsim_def = {
    .name = "oemsim",
    .summary = "Simulated OEM clouds for development, tests and the demo: Smartcar v2.0,\n"
               "Tesla Fleet API and Enode on their wire formats (docs/oem-apis.md) under\n"
               "/smartcar, /tesla and /enode, over one seeded fleet with battery physics on\n"
               "the scaled clock. Control API under /_sim/ (docs/oemsim.md).",
    .default_admin_port = 9107,
    .needs_kafka = false,
    .config_title = "OEM simulator",
    .config = oemsim_config_table,
    .config_size = sizeof(struct oemsim_config),
    .run = oemsim_run,
};
