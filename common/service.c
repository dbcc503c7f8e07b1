/* service.c: process runtime shared by every d2ev binary (see d2ev/service.h). */
#include "d2ev/service.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "d2ev/clock.h"
#include "d2ev/log.h"
#include "d2ev/metrics.h"
#include "d2ev/signals.h"

#define MAX_ROUTES          4
#define LIVENESS_TIMEOUT_MS 60000

struct route {
    char prefix[64];
    d2ev_http_handler_fn fn;
    void *opaque;
};

struct d2ev_service {
    const struct d2ev_service_def *def;
    struct d2ev_common_config common;
    struct d2ev_kafka_conf kafka;
    char group[160];
    char instance[128];
    char client_id[200];
    struct d2ev_http_server *admin;
    _Atomic bool ready;
    pthread_mutex_t reason_lock;
    char not_ready_reason[160];
    _Atomic int64_t heartbeat_ms;
    struct route routes[MAX_ROUTES];
    _Atomic size_t nroutes;
    int64_t started_ms;
    struct d2ev_metric *m_ready;
};

#define C(field) offsetof(struct d2ev_common_config, field)
const struct d2ev_cfg_entry d2ev_common_config_table[] = {
    { "kafka-brokers", D2EV_CFG_STR, C(kafka_brokers), NULL,
      "Kafka bootstrap servers, host:port[,host:port] (the devbroker prints its address)" },
    { "kafka-security-protocol", D2EV_CFG_STR, C(kafka_security_protocol), "plaintext",
      "plaintext, ssl, sasl_plaintext or sasl_ssl" },
    { "kafka-sasl-mechanism", D2EV_CFG_STR, C(kafka_sasl_mechanism), NULL,
      "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512" },
    { "kafka-sasl-username", D2EV_CFG_STR, C(kafka_sasl_username), NULL, "SASL user name" },
    { "kafka-sasl-password", D2EV_CFG_SECRET, C(kafka_sasl_password), NULL, "SASL password" },
    { "kafka-ssl-ca-location", D2EV_CFG_STR, C(kafka_ssl_ca_location), NULL,
      "CA certificate file for TLS to Kafka" },
    { "kafka-extra", D2EV_CFG_STR, C(kafka_extra), NULL,
      "extra librdkafka properties, k=v,k=v (advanced)" },
    { "kafka-group", D2EV_CFG_STR, C(kafka_group), NULL,
      "consumer group id (default d2ev-<service>)" },
    { "admin-port", D2EV_CFG_INT, C(admin_port), NULL,
      "port of /healthz, /readyz and /metrics (0 = any free port)", 0, 65535 },
    { "admin-bind", D2EV_CFG_STR, C(admin_bind), "0.0.0.0", "address the admin server binds" },
    { "log-level", D2EV_CFG_STR, C(log_level), "info", "debug, info, warn or error" },
    { "clock-speed", D2EV_CFG_STR, C(clock_speed), "1",
      "scaled clock: simulated seconds per real second (shared by all processes)" },
    { "clock-origin", D2EV_CFG_STR, C(clock_origin), NULL,
      "scaled clock: real time (RFC 3339 or epoch ms) at which simulated time is clock-start" },
    { "clock-start", D2EV_CFG_STR, C(clock_start), NULL,
      "scaled clock: simulated time at clock-origin (default: clock-origin)" },
    { "instance-id", D2EV_CFG_STR, C(instance_id), NULL,
      "name of this replica in logs and Kafka client ids (default: host name)" },
    { "shutdown-timeout-ms", D2EV_CFG_INT, C(shutdown_timeout_ms), "9500",
      "after SIGTERM, exit by force if draining takes longer than this", 1000, 600000 },
    D2EV_CFG_END,
};
#undef C

const struct d2ev_common_config *d2ev_service_common(const struct d2ev_service *svc)
{
    return &svc->common;
}

const struct d2ev_kafka_conf *d2ev_service_kafka(const struct d2ev_service *svc)
{
    return &svc->kafka;
}

const char *d2ev_service_name(const struct d2ev_service *svc)
{
    return svc->def->name;
}

const char *d2ev_service_group(const struct d2ev_service *svc)
{
    return svc->group;
}

const char *d2ev_service_instance(const struct d2ev_service *svc)
{
    return svc->instance;
}

int d2ev_service_admin_port(const struct d2ev_service *svc)
{
    return d2ev_http_server_port(svc->admin);
}

bool d2ev_service_running(const struct d2ev_service *svc)
{
    return !d2ev_signals_stop_requested();
}

void d2ev_service_set_ready(struct d2ev_service *svc, bool ready, const char *reason)
{
    pthread_mutex_lock(&svc->reason_lock);
    snprintf(svc->not_ready_reason, sizeof(svc->not_ready_reason), "%s",
             ready ? "" : (reason ? reason : "starting"));
    pthread_mutex_unlock(&svc->reason_lock);
    if (atomic_exchange(&svc->ready, ready) != ready)
        d2ev_log_info(ready ? "ready" : "not ready", D2EV_LF_STR("reason", reason ? reason : ""));
    d2ev_metric_set(svc->m_ready, ready ? 1 : 0);
}

void d2ev_service_heartbeat(struct d2ev_service *svc)
{
    atomic_store(&svc->heartbeat_ms, d2ev_clock_mono_ms());
}

int d2ev_service_admin_route(struct d2ev_service *svc, const char *prefix,
                             d2ev_http_handler_fn handler, void *opaque)
{
    size_t n = atomic_load(&svc->nroutes);
    if (n >= MAX_ROUTES)
        return D2EV_ERR_LIMIT;
    snprintf(svc->routes[n].prefix, sizeof(svc->routes[n].prefix), "%s", prefix);
    svc->routes[n].fn = handler;
    svc->routes[n].opaque = opaque;
    atomic_store(&svc->nroutes, n + 1); /* publish after the entry is written */
    return D2EV_OK;
}

static void admin_handler(void *opaque, const struct d2ev_http_request *req,
                          struct d2ev_http_response *resp)
{
    struct d2ev_service *svc = opaque;
    size_t nroutes = atomic_load(&svc->nroutes);
    for (size_t i = 0; i < nroutes; i++) {
        if (strncmp(req->path, svc->routes[i].prefix, strlen(svc->routes[i].prefix)) == 0) {
            svc->routes[i].fn(svc->routes[i].opaque, req, resp);
            return;
        }
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        d2ev_http_respond_error(resp, 405, "method_not_allowed", "%s is not allowed here",
                                req->method);
        return;
    }
    if (strcmp(req->path, "/healthz") == 0) {
        int64_t age = d2ev_clock_mono_ms() - atomic_load(&svc->heartbeat_ms);
        bool live = age < LIVENESS_TIMEOUT_MS;
        json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I}", "status", live ? "ok" : "stalled",
                              "service", svc->def->name, "version", D2EV_VERSION, "uptime_s",
                              (json_int_t)((d2ev_clock_mono_ms() - svc->started_ms) / 1000),
                              "last_heartbeat_ms_ago", (json_int_t)age);
        d2ev_http_respond_json(resp, live ? 200 : 503, o);
    } else if (strcmp(req->path, "/readyz") == 0) {
        bool ready = atomic_load(&svc->ready) && !d2ev_signals_stop_requested();
        char reason[160];
        pthread_mutex_lock(&svc->reason_lock);
        snprintf(reason, sizeof(reason), "%s",
                 d2ev_signals_stop_requested() ? "shutting down" : svc->not_ready_reason);
        pthread_mutex_unlock(&svc->reason_lock);
        json_t *o = ready ? json_pack("{s:s}", "status", "ready")
                          : json_pack("{s:s, s:s}", "status", "not_ready", "reason", reason);
        d2ev_http_respond_json(resp, ready ? 200 : 503, o);
    } else if (strcmp(req->path, "/metrics") == 0) {
        size_t len = 0;
        char *text = d2ev_metrics_render(&len);
        if (!text)
            d2ev_http_respond_error(resp, 500, "internal", "cannot render metrics");
        else
            d2ev_http_respond_owned(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text,
                                    len);
    } else {
        d2ev_http_respond_error(resp, 404, "not_found",
                                "no such endpoint; try /healthz, /readyz or /metrics");
    }
}

static void fill_identity(struct d2ev_service *svc)
{
    if (svc->common.instance_id && *svc->common.instance_id) {
        snprintf(svc->instance, sizeof(svc->instance), "%s", svc->common.instance_id);
    } else if (gethostname(svc->instance, sizeof(svc->instance) - 1) != 0) {
        snprintf(svc->instance, sizeof(svc->instance), "local");
    }
    svc->instance[sizeof(svc->instance) - 1] = '\0';
    if (svc->common.kafka_group && *svc->common.kafka_group)
        snprintf(svc->group, sizeof(svc->group), "%s", svc->common.kafka_group);
    else
        snprintf(svc->group, sizeof(svc->group), "d2ev-%s", svc->def->name);
    snprintf(svc->client_id, sizeof(svc->client_id), "d2ev-%s-%s", svc->def->name, svc->instance);
    svc->kafka = (struct d2ev_kafka_conf){
        .brokers = svc->common.kafka_brokers,
        .security_protocol = svc->common.kafka_security_protocol,
        .sasl_mechanism = svc->common.kafka_sasl_mechanism,
        .sasl_username = svc->common.kafka_sasl_username,
        .sasl_password = svc->common.kafka_sasl_password,
        .ssl_ca_location = svc->common.kafka_ssl_ca_location,
        .client_id = svc->client_id,
        .extra = svc->common.kafka_extra,
    };
}

int d2ev_service_main(const struct d2ev_service_def *def, int argc, char **argv)
{
    struct d2ev_service *svc = calloc(1, sizeof(*svc));
    void *own = def->config_size ? calloc(1, def->config_size) : NULL;
    int status = D2EV_EXIT_USAGE;
    struct d2ev_config *cfg = NULL;
    if (!svc || (def->config_size && !own)) {
        fprintf(stderr, "d2ev-%s: out of memory\n", def->name);
        free(svc);
        free(own);
        return D2EV_EXIT_FAILURE;
    }
    svc->def = def;
    pthread_mutex_init(&svc->reason_lock, NULL);
    snprintf(svc->not_ready_reason, sizeof(svc->not_ready_reason), "starting");

    char program[64], summary[1024], port_def[16];
    snprintf(program, sizeof(program), "d2ev-%s", def->name);
    snprintf(summary, sizeof(summary), "%s", def->summary ? def->summary : "");
    snprintf(port_def, sizeof(port_def), "%d", def->default_admin_port);

    /* the common table with this service's default admin port */
    size_t ncommon = 0;
    while (d2ev_common_config_table[ncommon].name)
        ncommon++;
    struct d2ev_cfg_entry common[ncommon + 1];
    memcpy(common, d2ev_common_config_table, sizeof(common));
    for (size_t i = 0; i < ncommon; i++) {
        if (!strcmp(common[i].name, "admin-port"))
            common[i].def = port_def;
        if (!strcmp(common[i].name, "kafka-brokers") && def->needs_kafka)
            common[i].required = true;
    }
    struct d2ev_cfg_section sections[8] = {
        { "Common", common, &svc->common },
    };
    size_t nsections = 1;
    if (def->config)
        sections[nsections++] = (struct d2ev_cfg_section){
            def->config_title ? def->config_title : def->name, def->config, own
        };
    for (const struct d2ev_service_section *x = def->sections; x && x->title && nsections < 8;
         x++)
        sections[nsections++] =
            (struct d2ev_cfg_section){ x->title, x->entries, (char *)own + x->offset };
    struct d2ev_cfg_program prog = { program, summary };
    bool exit_now = false;
    struct d2ev_err err = { 0 };
    if (d2ev_config_load(&cfg, &prog, sections, nsections, argc, argv, stdout, &exit_now, &err)) {
        fprintf(stderr, "%s: %s\n", program, err.msg);
        goto out;
    }
    if (exit_now) {
        status = D2EV_EXIT_OK;
        goto out;
    }

    enum d2ev_log_level level;
    if (d2ev_log_level_parse(svc->common.log_level, &level) != D2EV_OK) {
        fprintf(stderr, "%s: D2EV_LOG_LEVEL: want debug, info, warn or error\n", program);
        goto out;
    }
    d2ev_log_init(def->name, level);
    if (d2ev_clock_configure(svc->common.clock_speed, svc->common.clock_origin,
                             svc->common.clock_start, &err) != D2EV_OK) {
        fprintf(stderr, "%s: %s\n", program, err.msg);
        goto out;
    }
    fill_identity(svc);
    d2ev_config_log(sections, nsections);
    d2ev_signals_install((int)svc->common.shutdown_timeout_ms);

    svc->started_ms = d2ev_clock_mono_ms();
    d2ev_service_heartbeat(svc);
    svc->m_ready = d2ev_metric_gauge("d2ev_ready", "1 when the service is ready", NULL);
    d2ev_metric_set(
        d2ev_metric_gauge("d2ev_build_info", "Build information", "version=\"" D2EV_VERSION "\""),
        1);

    struct d2ev_http_server_conf hc = {
        .name = "admin",
        .bind_addr = svc->common.admin_bind,
        .port = (int)svc->common.admin_port,
        .max_body = 64 * 1024,
        .threads = 1,
    };
    svc->admin = d2ev_http_server_start(&hc, admin_handler, svc, &err);
    if (!svc->admin) {
        d2ev_log_error("cannot start admin server", D2EV_LF_STR("error", err.msg));
        status = D2EV_EXIT_FAILURE;
        goto out;
    }
    d2ev_log_info("starting", D2EV_LF_STR("version", D2EV_VERSION),
                  D2EV_LF_STR("git", D2EV_GIT_DESC), D2EV_LF_STR("instance", svc->instance),
                  D2EV_LF_INT("admin_port", d2ev_http_server_port(svc->admin)),
                  D2EV_LF_STR("kafka_brokers", svc->common.kafka_brokers),
                  D2EV_LF_DBL("clock_speed", d2ev_clock_speed()));

    status = def->run(svc, own);
    d2ev_log_info("stopped", D2EV_LF_INT("status", status));
out:
    d2ev_http_server_stop(svc->admin);
    d2ev_config_destroy(cfg);
    pthread_mutex_destroy(&svc->reason_lock);
    free(own);
    free(svc);
    return status;
}

int d2ev_service_loop(struct d2ev_service *svc, const struct d2ev_loop *loop)
{
    size_t max = loop->batch_max ? loop->batch_max : 500;
    int poll_ms = loop->poll_ms ? loop->poll_ms : 100;
    rd_kafka_message_t **msgs = calloc(max, sizeof(*msgs));
    if (!msgs)
        return D2EV_ERR_NOMEM;
    struct d2ev_metric *m_batch = d2ev_metric_histogram(
        "d2ev_batch_seconds", "Time to process, flush and commit one batch", NULL, NULL, 0);
    int rc = D2EV_OK;
    while (d2ev_service_running(svc)) {
        d2ev_service_heartbeat(svc);
        size_t n = d2ev_consumer_poll(loop->consumer, msgs, max, poll_ms);
        int64_t t0 = d2ev_clock_mono_ms();
        size_t handled = 0;
        for (; handled < n && rc == D2EV_OK; handled++)
            rc = loop->handle(loop->opaque, msgs[handled]);
        if (rc == D2EV_OK && n > 0) {
            struct d2ev_err err;
            if (loop->producer &&
                (rc = d2ev_producer_flush(loop->producer, 30000, &err)) != D2EV_OK) {
                d2ev_log_error("cannot deliver outputs; batch left uncommitted",
                               D2EV_LF_STR("error", err.msg));
            } else {
                d2ev_consumer_done(loop->consumer, msgs, n);
                if (d2ev_consumer_commit(loop->consumer, false, &err) != D2EV_OK)
                    d2ev_log_warn("offset commit failed", D2EV_LF_STR("error", err.msg));
            }
            d2ev_metric_observe(m_batch, (double)(d2ev_clock_mono_ms() - t0) / 1000.0);
        }
        for (size_t i = 0; i < n; i++)
            rd_kafka_message_destroy(msgs[i]);
        if (rc != D2EV_OK)
            break;
        if (loop->producer) {
            d2ev_producer_poll(loop->producer, 0);
            if (d2ev_producer_fatal(loop->producer)) {
                rc = D2EV_ERR_KAFKA;
                break;
            }
        }
        if (loop->tick && (rc = loop->tick(loop->opaque)) != D2EV_OK)
            break;
        bool caught_up = d2ev_consumer_caught_up(loop->consumer);
        d2ev_service_set_ready(svc, caught_up,
                               caught_up ? NULL : "waiting for partitions / catching up");
    }
    free(msgs);
    return rc;
}
