/*
 * oemsim.h: d2ev-oemsim, simulated OEM clouds (Smartcar v2.0, Tesla Fleet
 * API, Enode) over one fleet of simulated vehicles with battery physics.
 * docs/oemsim.md describes the behaviour and the /_sim/ control API;
 * docs/oem-apis.md the wire formats.
 *
 * The binary runs it through d2ev_service_main(&d2ev_oemsim_def, ...). Tests
 * may also run it in-process: fill a struct oemsim_config (oemsim_config_load
 * applies the table's defaults and flags), then oemsim_create() and
 * oemsim_listen().
 */
#ifndef D2EV_OEMSIM_H
#define D2EV_OEMSIM_H

#include <stdbool.h>
#include <stdint.h>

#include "d2ev/config.h"
#include "d2ev/error.h"
#include "d2ev/service.h"

struct oemsim_config {
    /* server */
    int64_t port;
    const char *bind;
    int64_t threads;
    int64_t max_body;
    /* fleet */
    int64_t vehicles;
    int64_t seed;
    const char *oem_mix;
    int64_t utc_offset_min;
    bool plug_schedule;
    bool enode_autolink;
    /* behaviour (simulated seconds) */
    int64_t sleep_after_s;
    int64_t wake_delay_s;
    int64_t command_delay_s;
    int64_t action_delay_s;
    int64_t max_actions;
    /* OAuth */
    int64_t smartcar_access_ttl_s;
    int64_t smartcar_refresh_ttl_s;
    int64_t tesla_access_ttl_s;
    int64_t tesla_refresh_ttl_s;
    int64_t enode_access_ttl_s;
    int64_t code_ttl_s;
    const char *redirect_uri;
    const char *smartcar_client_id;
    const char *smartcar_client_secret;
    const char *tesla_client_id;
    const char *tesla_client_secret;
    const char *enode_client_id;
    const char *enode_client_secret;
    /* faults at start-up (all OEMs; change them at run time via /_sim/faults) */
    int64_t latency_ms;
    int64_t latency_jitter_ms;
    double error_rate;
    double rate_limit_vehicle_per_min;
    double rate_limit_vehicle_burst;
    double rate_limit_app_per_min;
    double rate_limit_app_burst;
    double ignore_rate;
    double action_fail_rate;
    double ignore_share;      /* vehicles that ignore every command */
    double unreachable_share; /* vehicles that are unreachable */
};

/* The configuration table (--help, docs/configuration.md). */
extern const struct d2ev_cfg_entry oemsim_config_table[];

extern const struct d2ev_service_def d2ev_oemsim_def;

struct oemsim;

/* Fill cfg from the table's defaults, the environment and argv (argv[0] is
 * skipped). *handle owns strings; destroy it with d2ev_config_destroy() after
 * the simulator. Returns 0 or a negative code with err set. */
int oemsim_config_load(struct oemsim_config *cfg, struct d2ev_config **handle, int argc,
                       char **argv, struct d2ev_err *err);

/* Build the fleet and state as of d2ev_clock_now_ms(). cfg is copied; its
 * strings are borrowed and must outlive the simulator. Returns NULL with err
 * set. */
struct oemsim *oemsim_create(const struct oemsim_config *cfg, struct d2ev_err *err);

/* Start serving on cfg->port (0 = any free port). Returns 0 or an error. */
int oemsim_listen(struct oemsim *sim, struct d2ev_err *err);

/* The API port bound by oemsim_listen(), or -1. */
int oemsim_port(const struct oemsim *sim);

/* Number of vehicles. */
uint32_t oemsim_vehicle_count(const struct oemsim *sim);

/* Stop serving (if listening) and free everything. NULL is a no-op. */
void oemsim_destroy(struct oemsim *sim);

#endif
