/*
 * The host side of the OEM adapter ABI (include/d2ev/oem_adapter.h): load an
 * adapter .so, make its instance from a config file and a secret from the
 * environment, and call it behind ABI guards. Part of the d2ev_oem library,
 * which the OEM engine (oem_engine.h) and the d2ev-oem tool build on.
 *
 * Files and settings
 *   adapter   <adapter_dir>/d2ev_oem_<name>.so      (D2EV_ADAPTER_DIR)
 *   config    <config_dir>/<name>.json               (D2EV_OEM_CONFIG_DIR)
 *   secret    D2EV_OEM_<NAME>_CLIENT_SECRET, or a file named by
 *             D2EV_OEM_<NAME>_CLIENT_SECRET_FILE (a mounted Secret)
 *
 * The config file is one JSON object holding the adapter's keys (base_url,
 * token_url, client_id, ...; see describe().config_keys) and the engine's keys
 * (rate_limit, vehicle_rate_limit, request_timeout_ms, ...; see
 * d2ev_oem_settings and docs/adapters.md). Unknown keys are rejected, and so
 * is any key naming a secret: secrets never live in the config file.
 *
 * Ownership: a struct d2ev_oem owns its dlopen handle, adapter instance and
 * copies of its config; d2ev_oem_unload() releases them. Strings passed in
 * are borrowed for the call.
 * Threads: a loaded struct d2ev_oem is immutable; d2ev_oem_build/parse may be
 * called from several threads at once. Load and unload from one thread.
 */
#ifndef D2EV_OEM_H
#define D2EV_OEM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/config.h"
#include "d2ev/error.h"
#include "d2ev/oem_adapter.h"
#include "d2ev/resilience.h"

/* Engine-level settings of one OEM, from its config file with defaults from
 * the adapter's describe(). */
struct d2ev_oem_settings {
    double rate_per_s; /* "rate_limit": {"per_second", "burst"} */
    double burst;
    double vehicle_rate_per_s; /* "vehicle_rate_limit" (null = none); 0 = none */
    double vehicle_burst;
    int64_t request_timeout_ms;      /* "request_timeout_ms" */
    int64_t connect_timeout_ms;      /* "connect_timeout_ms", default 5000 */
    uint32_t max_attempts;           /* "max_attempts": requests per step, default 4 */
    struct d2ev_backoff backoff;     /* "backoff": {"base_ms", "max_ms", "factor", "jitter"} */
    struct d2ev_breaker breaker;     /* "breaker": {"window_ms", "min_requests",
                                        "failure_ratio", "open_ms", "half_open_probes"} */
    int64_t token_refresh_margin_ms; /* "token_refresh_margin_ms": refresh this long before
                                        expiry, default 60000 */
    uint32_t max_in_flight;          /* "max_in_flight": concurrent requests, default 256 */
    uint32_t max_wakes;              /* "max_wakes": wakes per command, default 1 */
    int64_t refresh_wait_ms;         /* "refresh_wait_ms": wait for an external refresh,
                                        default 30000 */
};

struct d2ev_oem;

/* Load <dir>/d2ev_oem_<name>.so and create its instance from
 * config_json[0..len) (NULL/0 = "{}") and client_secret (may be NULL).
 * Fails with a clear message when the file is missing, the entry symbol is
 * missing, the ABI major differs, the adapter refuses this host, or the
 * config is invalid. Returns a handle for d2ev_oem_unload(), or NULL. */
struct d2ev_oem *d2ev_oem_load(const char *dir, const char *name, const char *config_json,
                               size_t len, const char *client_secret, struct d2ev_err *err);

/* The same with an explicit .so path (tests, tools). */
struct d2ev_oem *d2ev_oem_load_path(const char *path, const char *config_json, size_t len,
                                    const char *client_secret, struct d2ev_err *err);

/* Load adapter `name` the way services do: the .so from adapter_dir, the
 * config from <config_dir>/<name>.json (config_dir NULL or empty: "{}", the
 * adapter's production defaults), the secret from the environment. */
struct d2ev_oem *d2ev_oem_open(const char *adapter_dir, const char *config_dir, const char *name,
                               struct d2ev_err *err);

/* Release everything. NULL is a no-op. */
void d2ev_oem_unload(struct d2ev_oem *o);

/* Borrowed views, valid until unload. */
const char *d2ev_oem_name(const struct d2ev_oem *o);
const struct d2ev_oem_desc *d2ev_oem_describe(const struct d2ev_oem *o);
const struct d2ev_oem_settings *d2ev_oem_settings(const struct d2ev_oem *o);
bool d2ev_oem_supports(const struct d2ev_oem *o, uint32_t op);

/* The host function table handed to adapters (static, thread-safe). */
const struct d2ev_oem_host *d2ev_oem_host_table(void);

/* ------------------------------------------------------------ calling */

/* Zero req and set struct_size. */
void d2ev_oem_request_init(struct d2ev_oem_request *req);
/* Free (and wipe, for token requests) what the adapter put in req; req is
 * zeroed again. */
void d2ev_oem_request_clear(struct d2ev_oem_request *req);

/* Build flow->step of call into req (initialised). Checks the op is
 * supported and the request is well-formed (method, http(s) URL). Returns 0
 * or a negative d2ev_rc with err set; req is left for request_clear. */
int d2ev_oem_build(const struct d2ev_oem *o, const struct d2ev_oem_call *call,
                   const struct d2ev_oem_flow *flow, struct d2ev_oem_request *req,
                   struct d2ev_err *err);

/* Zero res, set struct_size and point it at the caller's state / tokens
 * outputs (either may be NULL; they are zeroed with struct_size set). */
void d2ev_oem_result_init(struct d2ev_oem_result *res, struct d2ev_oem_state *state,
                          struct d2ev_oem_tokens *tokens);
/* Free (and wipe) the token strings the adapter stored. */
void d2ev_oem_result_clear(struct d2ev_oem_result *res);

/* Parse resp into res (initialised). A class out of range or a failing
 * adapter becomes D2EV_OEM_PERMANENT with a message; returns 0 unless the
 * adapter returned an error (then err is set too). */
int d2ev_oem_parse(const struct d2ev_oem *o, const struct d2ev_oem_call *call,
                   struct d2ev_oem_flow *flow, const struct d2ev_oem_response *resp,
                   struct d2ev_oem_result *res, struct d2ev_err *err);

/* ------------------------------------------------------------ settings */

/* Where services find adapters and their configs; a section for a service's
 * config table: { "OEM adapters", d2ev_oem_paths_table, &paths }. */
struct d2ev_oem_paths {
    const char *adapter_dir; /* adapter-dir, D2EV_ADAPTER_DIR */
    const char *config_dir;  /* oem-config-dir, D2EV_OEM_CONFIG_DIR */
};
extern const struct d2ev_cfg_entry d2ev_oem_paths_table[];

/* The default adapter directory (the build tree's adapters/ unless the build
 * set D2EV_DEFAULT_ADAPTER_DIR). Static string. */
const char *d2ev_oem_default_adapter_dir(void);

/* The normalised state as a JSON object (only present fields; reported_at as
 * RFC 3339). Returns a new reference. */
json_t *d2ev_oem_state_to_json(const struct d2ev_oem_state *st);

#endif
