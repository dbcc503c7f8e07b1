/* api_service.c: d2ev-api's settings and run loop (see api.h). */
#include "api.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "d2ev/kafka_sync.h"
#include "d2ev/log.h"
#include "d2ev/metrics.h"
#include "d2ev/topics.h"

#include "api_auth.h"
#include "api_http.h"
#include "api_model.h"

struct api_config {
    int64_t http_port;
    const char *http_bind;
    int64_t http_threads;
    int64_t http_max_body;
    int64_t http_max_connections;
    const char *api_tokens;
    bool ui_public;
    bool ui_cookie_secure;
    const char *export_dir;
    int64_t write_timeout_ms;
};

#define C(field) offsetof(struct api_config, field)
static const struct d2ev_cfg_entry config_table[] = {
    { "http-port", D2EV_CFG_INT, C(http_port), "8081", "port of the ops API and UI (0 = any)", 0,
      65535 },
    { "http-bind", D2EV_CFG_STR, C(http_bind), "0.0.0.0", "address the ops API binds" },
    { "http-threads", D2EV_CFG_INT, C(http_threads), "4", "HTTP worker threads", 1, 64 },
    { "http-max-body", D2EV_CFG_INT, C(http_max_body), "16384",
      "largest request body in bytes (larger: 413)", 256, 1048576 },
    { "http-max-connections", D2EV_CFG_INT, C(http_max_connections), "1024",
      "concurrent HTTP connections", 16, 65536 },
    { "api-tokens", D2EV_CFG_SECRET, C(api_tokens), NULL,
      "bearer tokens, <token>:<role>,... with roles read, operator, app (see docs/api.md)" },
    { "ui-public", D2EV_CFG_BOOL, C(ui_public), "false",
      "serve /ui without a token (local demo only: anyone who reaches the port sees the fleet)" },
    { "ui-cookie-secure", D2EV_CFG_BOOL, C(ui_cookie_secure), "false",
      "mark the UI's token cookie Secure (set when the UI is served over HTTPS)" },
    { "export-dir", D2EV_CFG_STR, C(export_dir), NULL,
      "d2ev-exporter's directory (read-only), to serve GET /v1/reports/daily/{date}" },
    { "write-timeout-ms", D2EV_CFG_INT, C(write_timeout_ms), "10000",
      "how long boost and replan wait for Kafka before answering 503", 500, 120000 },
    D2EV_CFG_END,
};
#undef C

static const char *const input_topics[] = {
    D2EV_TOPIC_VEHICLES,  D2EV_TOPIC_SCHEDULES,   D2EV_TOPIC_TELEMETRY,
    D2EV_TOPIC_SESSIONS,  D2EV_TOPIC_DISPATCH,    D2EV_TOPIC_NOTIFICATIONS,
    D2EV_TOPIC_FORECASTS, D2EV_TOPIC_REG_RESULTS, NULL,
};
#define NINPUTS (sizeof(input_topics) / sizeof(input_topics[0]) - 1)

struct api_run {
    struct d2ev_api_model *model;
    struct d2ev_sync_producer *producer;
    struct d2ev_metric *m_applied[NINPUTS];
    struct d2ev_metric *m_rejected[NINPUTS];
    struct d2ev_metric *m_vehicles;
    uint64_t rejected;
};

static size_t topic_index(const char *topic)
{
    for (size_t i = 0; i < NINPUTS; i++) {
        if (strcmp(input_topics[i], topic) == 0)
            return i;
    }
    return 0;
}

static int handle(void *opaque, rd_kafka_message_t *msg)
{
    struct api_run *r = opaque;
    const char *topic = rd_kafka_topic_name(msg->rkt);
    char key[D2EV_VEHICLE_ID_MAX + 2];
    bool key_ok = msg->key && msg->key_len < sizeof(key) - 1;
    if (key_ok)
        d2ev_msg_key(msg, key, sizeof(key));
    struct d2ev_err err = { 0 };
    int rc =
        d2ev_api_model_apply(r->model, topic, key_ok ? key : NULL, msg->payload, msg->len, &err);
    size_t t = topic_index(topic);
    if (rc == D2EV_OK) {
        d2ev_metric_inc(r->m_applied[t]);
        return D2EV_OK;
    }
    if (rc == D2EV_ERR_NOMEM) {
        d2ev_log_error("out of memory applying a record", D2EV_LF_STR("topic", topic));
        return rc; /* restart with a fresh view rather than serve a partial one */
    }
    /* The services that consume these topics in groups dead-letter bad
     * records; every API replica re-reads everything at each start, so
     * dead-lettering here would repeat them. Count and log instead. */
    d2ev_metric_inc(r->m_rejected[t]);
    if (++r->rejected <= 20 || r->rejected % 1000 == 0)
        d2ev_log_warn("record rejected", D2EV_LF_STR("topic", topic),
                      D2EV_LF_INT("partition", msg->partition), D2EV_LF_INT("offset", msg->offset),
                      D2EV_LF_STR("reason", err.msg),
                      D2EV_LF_INT("rejected_total", (long long)r->rejected));
    return D2EV_OK;
}

static int tick(void *opaque)
{
    struct api_run *r = opaque;
    d2ev_api_model_publish(r->model);
    d2ev_metric_set(r->m_vehicles, (double)d2ev_api_model_count(r->model));
    return D2EV_OK;
}

static int sink_send(void *opaque, const char *topic, const char *key, const char *value,
                     size_t len, struct d2ev_err *err)
{
    return d2ev_sync_producer_send(opaque, topic, key, value, len, err);
}

static void metrics_init(struct api_run *r)
{
    char labels[96];
    for (size_t i = 0; i < NINPUTS; i++) {
        snprintf(labels, sizeof(labels), "topic=\"%s\"", input_topics[i]);
        r->m_applied[i] = d2ev_metric_counter("d2ev_api_records_total",
                                              "Records applied to the read model", labels);
        r->m_rejected[i] = d2ev_metric_counter("d2ev_api_records_rejected_total",
                                               "Records the read model refused", labels);
    }
    r->m_vehicles = d2ev_metric_gauge("d2ev_api_vehicles", "Vehicles in the read model", NULL);
}

static int run(struct d2ev_service *svc, void *config)
{
    const struct api_config *cfg = config;
    struct d2ev_err err = { 0 };
    struct d2ev_api_tokens tokens;
    if (d2ev_api_tokens_parse(cfg->api_tokens, &tokens, &err) != D2EV_OK) {
        d2ev_log_error("refusing to start: D2EV_API_TOKENS is malformed",
                       D2EV_LF_STR("error", err.msg));
        fprintf(stderr, "d2ev-api: %s\n", err.msg);
        return D2EV_EXIT_USAGE;
    }
    if (tokens.n == 0)
        d2ev_log_warn("no API tokens configured: every /v1 request but /v1/openapi.json is "
                      "refused with 401 (set D2EV_API_TOKENS or D2EV_API_TOKENS_FILE)");
    for (size_t i = 0; i < tokens.n; i++)
        d2ev_log_info("api token", D2EV_LF_STR("fingerprint", tokens.items[i].fingerprint),
                      D2EV_LF_STR("role", d2ev_api_role_name(tokens.items[i].role)));
    if (cfg->ui_public)
        d2ev_log_warn("D2EV_UI_PUBLIC is on: /ui is served without a token");

    int status = D2EV_EXIT_FAILURE;
    struct api_run r = { 0 };
    struct d2ev_consumer *consumer = NULL;
    struct d2ev_http_server *http = NULL;
    metrics_init(&r);
    r.model = d2ev_api_model_create(&err);
    if (r.model)
        r.producer =
            d2ev_sync_producer_create(d2ev_service_kafka(svc), (int)cfg->write_timeout_ms, &err);
    if (!r.model || !r.producer) {
        d2ev_log_error("cannot start", D2EV_LF_STR("error", err.msg));
        goto out;
    }
    struct d2ev_consumer_conf cc = {
        .kafka = d2ev_service_kafka(svc),
        .group_id = NULL, /* a reader: every replica reads every partition */
        .topics = input_topics,
        .instance_id = d2ev_service_instance(svc),
    };
    consumer = d2ev_consumer_create(&cc, &err);
    if (!consumer) {
        d2ev_log_error("cannot create consumer", D2EV_LF_STR("error", err.msg));
        goto out;
    }
    struct d2ev_api api = {
        .model = r.model,
        .tokens = &tokens,
        .sink = { sink_send, r.producer },
        .ui_public = cfg->ui_public,
        .ui_cookie_secure = cfg->ui_cookie_secure,
        .export_dir = cfg->export_dir,
    };
    struct d2ev_http_server_conf hc = {
        .name = "api",
        .bind_addr = cfg->http_bind,
        .port = (int)cfg->http_port,
        .max_body = (size_t)cfg->http_max_body,
        .threads = (unsigned)cfg->http_threads,
        .conn_limit = (unsigned)cfg->http_max_connections,
    };
    http = d2ev_http_server_start(&hc, d2ev_api_handle, &api, &err);
    if (!http) {
        d2ev_log_error("cannot start the API server", D2EV_LF_STR("error", err.msg));
        goto out;
    }
    d2ev_log_info("ops API listening", D2EV_LF_INT("port", d2ev_http_server_port(http)));
    struct d2ev_loop loop = { .consumer = consumer, .handle = handle, .tick = tick, .opaque = &r };
    int rc = d2ev_service_loop(svc, &loop);
    status = rc == D2EV_OK ? D2EV_EXIT_OK : D2EV_EXIT_FAILURE;
out:
    d2ev_http_server_stop(http); /* in-flight requests finish first */
    d2ev_consumer_close(consumer);
    d2ev_sync_producer_destroy(r.producer);
    d2ev_api_model_destroy(r.model);
    d2ev_api_tokens_clear(&tokens);
    return status;
}

const struct d2ev_service_def d2ev_api_def = {
    .name = "api",
    .summary = "Operations HTTP API and schedule views: read models of every topic, bearer "
               "tokens with read, operator and app roles, an OpenAPI document and "
               "server-rendered HTML pages (docs/api.md)",
    .default_admin_port = 9106,
    .needs_kafka = true,
    .config_title = "Ops API",
    .config = config_table,
    .config_size = sizeof(struct api_config),
    .run = run,
};
