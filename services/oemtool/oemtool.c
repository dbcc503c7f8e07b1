/* oemtool.c: d2ev-oem, one adapter operation through the OEM engine (see oemtool.h). */
#include "oemtool.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev/config.h"
#include "d2ev/json.h"
#include "d2ev/log.h"
#include "d2ev/oem.h"
#include "d2ev/oem_engine.h"
#include "d2ev/service.h"

#define CONFIG_MAX (256 * 1024)

struct tool_config {
    const char *adapter;
    const char *op;
    const char *vehicle;
    const char *key;
    const char *base_url;
    const char *token_url;
    const char *client_id;
    const char *redirect_uri;
    const char *config;
    const char *token;
    const char *refresh_token;
    const char *client_secret;
    const char *code;
    int64_t timeout_ms;
    bool no_wake;
    bool show_tokens;
    const char *log_level;
};

#define C(f) offsetof(struct tool_config, f)
static const struct d2ev_cfg_entry tool_table[] = {
    { "adapter", D2EV_CFG_STR, C(adapter), NULL, "adapter name: smartcar, tesla, enode, ...", 0, 0,
      true },
    { "op", D2EV_CFG_STR, C(op), NULL,
      "operation: read, start, stop, wake, refresh or exchange-code", 0, 0, true },
    { "vehicle", D2EV_CFG_STR, C(vehicle), NULL, "the OEM's vehicle id (read, start, stop, wake)" },
    { "key", D2EV_CFG_STR, C(key), NULL, "token key (default: the vehicle id)" },
    { "base-url", D2EV_CFG_STR, C(base_url), NULL,
      "the OEM API root, e.g. http://127.0.0.1:8090/tesla (overrides the config file)" },
    { "token-url", D2EV_CFG_STR, C(token_url), NULL,
      "the OEM token endpoint (overrides the config)" },
    { "client-id", D2EV_CFG_STR, C(client_id), NULL, "OAuth client id (overrides the config)" },
    { "redirect-uri", D2EV_CFG_STR, C(redirect_uri), NULL, "redirect URI for exchange-code" },
    { "config", D2EV_CFG_STR, C(config), NULL,
      "adapter config file (JSON); default <oem-config-dir>/<adapter>.json when that is set" },
    { "token", D2EV_CFG_SECRET, C(token), NULL, "access token" },
    { "refresh-token", D2EV_CFG_SECRET, C(refresh_token), NULL,
      "refresh token (refresh; or to recover from a 401)" },
    { "client-secret", D2EV_CFG_SECRET, C(client_secret), NULL,
      "OAuth client secret (default: D2EV_OEM_<ADAPTER>_CLIENT_SECRET[_FILE])" },
    { "code", D2EV_CFG_SECRET, C(code), NULL, "authorisation code for exchange-code" },
    { "timeout-ms", D2EV_CFG_INT, C(timeout_ms), "60000", "give up after this long", 1, 3600000 },
    { "no-wake", D2EV_CFG_BOOL, C(no_wake), "false", "start/stop: never wake a sleeping car" },
    { "show-tokens", D2EV_CFG_BOOL, C(show_tokens), "false",
      "refresh/exchange-code: print the tokens themselves (secrets!)" },
    { "log-level", D2EV_CFG_STR, C(log_level), "warn", "debug, info, warn or error (stderr)" },
    D2EV_CFG_END,
};
#undef C

/* ------------------------------------------------------------ a one-vehicle token source */

struct one_token {
    char *access;
    char *refresh;
    int64_t expires_at_ms;
    bool stored;
};

static int one_get(void *opaque, const char *oem, const char *key, struct d2ev_oem_token *out)
{
    struct one_token *t = opaque;
    if (!t->access && !t->refresh)
        return D2EV_ERR_NOT_FOUND;
    out->access_token = t->access ? t->access : "";
    out->refresh_token = t->refresh;
    out->expires_at_ms = t->expires_at_ms;
    return 0;
}

static void one_store(void *opaque, const char *oem, const char *key,
                      const struct d2ev_oem_token *tok)
{
    struct one_token *t = opaque;
    free(t->access);
    free(t->refresh);
    t->access = tok->access_token ? strdup(tok->access_token) : NULL;
    t->refresh = tok->refresh_token ? strdup(tok->refresh_token) : NULL;
    t->expires_at_ms = tok->expires_at_ms;
    t->stored = true;
}

/* ------------------------------------------------------------ helpers */

static int parse_op(const char *s, uint32_t *op)
{
    static const char *const names[] = {
        "read", "start", "stop", "wake", "refresh", "exchange-code"
    };
    for (uint32_t i = 0; i < D2EV_OEM_OP_COUNT; i++) {
        if (!strcmp(s, names[i]) || !strcmp(s, d2ev_oem_op_name(i))) {
            *op = i;
            return 0;
        }
    }
    return D2EV_ERR_INVALID;
}

/* The adapter config: the file (if any) with the command line's overrides. */
static char *build_config(const struct tool_config *c, const struct d2ev_oem_paths *paths,
                          struct d2ev_err *err)
{
    char path[1024] = "";
    if (c->config && *c->config)
        snprintf(path, sizeof(path), "%s", c->config);
    else if (paths->config_dir && *paths->config_dir)
        snprintf(path, sizeof(path), "%s/%s.json", paths->config_dir, c->adapter);
    json_t *cfg = NULL;
    if (path[0]) {
        json_error_t je;
        cfg = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(cfg)) {
            json_decref(cfg);
            d2ev_err_set(err, D2EV_ERR_INVALID, "config %s: %s", path,
                         je.text[0] ? je.text : "not a JSON object");
            return NULL;
        }
    } else {
        cfg = json_object();
    }
    const struct {
        const char *key, *value;
    } over[] = { { "base_url", c->base_url },
                 { "token_url", c->token_url },
                 { "client_id", c->client_id },
                 { "redirect_uri", c->redirect_uri } };
    for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
        if (over[i].value && *over[i].value)
            json_object_set_new(cfg, over[i].key, json_string(over[i].value));
    }
    char *text = json_dumps(cfg, JSON_COMPACT);
    json_decref(cfg);
    if (!text)
        d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    return text;
}

static const char *client_secret(const struct tool_config *c)
{
    if (c->client_secret && *c->client_secret)
        return c->client_secret;
    char var[96];
    snprintf(var, sizeof(var), "D2EV_OEM_%s_CLIENT_SECRET", c->adapter);
    for (char *p = var; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return getenv(var);
}

struct result {
    bool done;
    int status;
    FILE *out;
    bool show_tokens;
};

static void on_done(void *arg, const struct d2ev_oem_outcome *o)
{
    struct result *r = arg;
    json_t *j = d2ev_oem_outcome_to_json(o, r->show_tokens);
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    fprintf(r->out, "%s\n", text ? text : "{}");
    free(text);
    json_decref(j);
    if (o->cls != D2EV_OEM_OK)
        fprintf(stderr, "d2ev-oem: %s failed (%s): %s\n", d2ev_oem_op_name(o->op),
                d2ev_oem_class_name(o->cls), o->message);
    r->status = o->cls == D2EV_OEM_OK ? D2EV_EXIT_OK : D2EV_EXIT_FAILURE;
    r->done = true;
}

static int usage_error(const char *msg)
{
    fprintf(stderr, "d2ev-oem: %s\n", msg);
    return D2EV_EXIT_USAGE;
}

/* ------------------------------------------------------------ main */

static int run(const struct tool_config *c, const struct d2ev_oem_paths *paths, FILE *out)
{
    uint32_t op;
    if (parse_op(c->op, &op) != 0)
        return usage_error("--op: want read, start, stop, wake, refresh or exchange-code");
    struct d2ev_err err = { 0 };
    char *cfg = build_config(c, paths, &err);
    if (!cfg)
        return usage_error(err.msg);
    struct d2ev_oem *oem =
        d2ev_oem_load(paths->adapter_dir, c->adapter, cfg, strlen(cfg), client_secret(c), &err);
    free(cfg);
    if (!oem)
        return usage_error(err.msg);

    struct one_token tok = {
        .access = c->token ? strdup(c->token) : NULL,
        .refresh = c->refresh_token ? strdup(c->refresh_token) : NULL,
    };
    struct d2ev_oem_token_source src = { .opaque = &tok, .get = one_get, .store = one_store };
    struct d2ev_oem_engine_conf econf = { .tokens = &src, .default_deadline_ms = c->timeout_ms };
    struct d2ev_oem_engine *e = d2ev_oem_engine_create(&econf, &err);
    struct result res = { .out = out, .status = D2EV_EXIT_FAILURE, .show_tokens = c->show_tokens };
    int status = D2EV_EXIT_FAILURE;
    if (!e || d2ev_oem_engine_add(e, oem, &err) != 0) {
        fprintf(stderr, "d2ev-oem: %s\n", err.msg);
        goto out;
    }
    struct d2ev_oem_task task = {
        .oem = c->adapter,
        .op = op,
        .vehicle = c->vehicle,
        .key = c->key ? c->key : (c->vehicle ? c->vehicle : "cli"),
        .code = c->code,
        .redirect_uri = c->redirect_uri,
        .no_wake = c->no_wake,
    };
    if (d2ev_oem_engine_submit(e, &task, on_done, &res, NULL, &err) != 0) {
        status = usage_error(err.msg);
        goto out;
    }
    d2ev_oem_engine_drain(e, c->timeout_ms + 5000);
    status = res.done ? res.status : D2EV_EXIT_FAILURE;
out:
    d2ev_oem_engine_destroy(e);
    d2ev_oem_unload(oem);
    free(tok.access);
    free(tok.refresh);
    return status;
}

int d2ev_oemtool_main(int argc, char **argv, FILE *out)
{
    struct tool_config c = { 0 };
    struct d2ev_oem_paths paths = { 0 };
    const struct d2ev_cfg_section sections[] = {
        { "Operation", tool_table, &c },
        { "OEM adapters", d2ev_oem_paths_table, &paths },
    };
    const struct d2ev_cfg_program prog = {
        "d2ev-oem",
        "Runs one OEM adapter operation (read, start, stop, wake, refresh, exchange-code) "
        "through the OEM engine, without Kafka, and prints the normalised result as JSON. "
        "Exit status 0 on success, 1 when the operation failed (the JSON's \"class\" says "
        "how: permanent, retry, asleep, rate_limited or unauthorized), 64 on usage errors.",
    };
    struct d2ev_config *cfg = NULL;
    bool exit_now = false;
    struct d2ev_err err = { 0 };
    int status;
    if (!out)
        out = stdout;
    if (d2ev_config_load(&cfg, &prog, sections, 2, argc, argv, out, &exit_now, &err) != 0) {
        status = usage_error(err.msg);
    } else if (exit_now) {
        status = D2EV_EXIT_OK;
    } else {
        enum d2ev_log_level level;
        if (d2ev_log_level_parse(c.log_level, &level) != 0) {
            status = usage_error("--log-level: want debug, info, warn or error");
        } else {
            d2ev_log_init("oem", level);
            status = run(&c, &paths, out);
        }
    }
    d2ev_config_destroy(cfg);
    return status;
}
