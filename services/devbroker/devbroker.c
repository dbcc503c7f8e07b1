/*
 * devbroker.c: a local Kafka-protocol broker for development and tests.
 *
 * It holds librdkafka's mock cluster (rdkafka_mock.h) open in this process.
 * The mock brokers listen on 127.0.0.1 and speak the real Kafka protocol, so
 * every d2ev service, kcat and other clients can use them. Data lives in
 * memory only. The control interface on the admin port injects faults.
 */
#include "devbroker.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "d2ev/clock.h"
#include "d2ev/log.h"
#include "d2ev/service.h"
#include "d2ev/topics.h"

struct devbroker_config {
    int64_t partitions;
    int64_t brokers;
    const char *address_file;
};

struct devbroker {
    struct devbroker_config *cfg;
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
    char bootstrap[256];
    bool down;
    pthread_mutex_t lock; /* held while the cluster is used or destroyed */
};

/* Static: the admin server (and so the control route) outlives run(). */
static struct devbroker g_db = { .lock = PTHREAD_MUTEX_INITIALIZER };

#define F(field) offsetof(struct devbroker_config, field)
static const struct d2ev_cfg_entry devbroker_table[] = {
    { "partitions", D2EV_CFG_INT, F(partitions), "6",
      "partitions of every d2ev topic (vehicle-keyed topics must match)", 1, 256 },
    { "brokers", D2EV_CFG_INT, F(brokers), "1", "number of mock brokers", 1, 5 },
    { "address-file", D2EV_CFG_STR, F(address_file), NULL,
      "write the bootstrap address to this file (removed on exit)" },
    D2EV_CFG_END,
};
#undef F

/* Kafka API names accepted by the control interface. */
static const struct {
    const char *name;
    int16_t key;
} apis[] = {
    { "Produce", 0 },          { "Fetch", 1 },        { "ListOffsets", 2 },
    { "Metadata", 3 },         { "OffsetCommit", 8 }, { "OffsetFetch", 9 },
    { "FindCoordinator", 10 }, { "JoinGroup", 11 },   { "Heartbeat", 12 },
    { "LeaveGroup", 13 },      { "SyncGroup", 14 },   { "ApiVersions", 18 },
    { "InitProducerId", 22 },
};

static int parse_api(const char *s, int16_t *key)
{
    if (!s)
        return -1;
    for (size_t i = 0; i < sizeof(apis) / sizeof(apis[0]); i++) {
        if (!strcasecmp(s, apis[i].name)) {
            *key = apis[i].key;
            return 0;
        }
    }
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end && v >= 0 && v < 100) {
        *key = (int16_t)v;
        return 0;
    }
    return -1;
}

static int parse_kafka_error(const char *s, rd_kafka_resp_err_t *out)
{
    if (!s)
        return -1;
    const struct rd_kafka_err_desc *descs;
    size_t n;
    rd_kafka_get_err_descs(&descs, &n);
    for (size_t i = 0; i < n; i++) {
        if (descs[i].name && !strcasecmp(descs[i].name, s)) {
            *out = descs[i].code;
            return 0;
        }
    }
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end) {
        *out = (rd_kafka_resp_err_t)v;
        return 0;
    }
    return -1;
}

static int query_int(const struct d2ev_http_request *req, const char *name, long def, long min,
                     long max, long *out, struct d2ev_http_response *resp)
{
    const char *s = d2ev_http_query(req, name);
    if (!s) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !*s || *end || v < min || v > max) {
        d2ev_http_respond_error(resp, 400, "invalid_parameter",
                                "%s: want an integer between %ld and %ld", name, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

static json_t *status_json(struct devbroker *db)
{
    json_t *topics = json_array();
    for (size_t i = 0; i < d2ev_topic_spec_count; i++)
        json_array_append_new(topics, json_string(d2ev_topic_specs[i].name));
    return json_pack("{s:s, s:I, s:I, s:b, s:o}", "bootstrap", db->bootstrap, "brokers",
                     (json_int_t)db->cfg->brokers, "partitions", (json_int_t)db->cfg->partitions,
                     "down", db->down, "topics", topics);
}

/* POST /control/brokers/{down,up}, /control/rtt, /control/errors,
 * /control/errors/clear, /control/topics; GET /control/status. */
static void control_action(struct devbroker *db, const struct d2ev_http_request *req,
                           struct d2ev_http_response *resp)
{
    const char *p = req->path + strlen("/control");
    bool get = !strcmp(req->method, "GET");
    if (!strcmp(p, "/status") && get) {
        d2ev_http_respond_json(resp, 200, status_json(db));
        return;
    }
    if (strcmp(req->method, "POST") != 0) {
        d2ev_http_respond_error(resp, 405, "method_not_allowed",
                                "use POST for control actions (GET only for /control/status)");
        return;
    }
    long broker;
    if (query_int(req, "broker", -1, -1, 64, &broker, resp))
        return;
    if (!strcmp(p, "/brokers/down") || !strcmp(p, "/brokers/up")) {
        bool down = !strcmp(p, "/brokers/down");
        rd_kafka_resp_err_t e = down ? rd_kafka_mock_broker_set_down(db->mc, (int32_t)broker)
                                     : rd_kafka_mock_broker_set_up(db->mc, (int32_t)broker);
        if (e) {
            d2ev_http_respond_error(resp, 400, "kafka_error", "%s", rd_kafka_err2str(e));
            return;
        }
        db->down = down;
        d2ev_log_warn(down ? "fault: broker down" : "fault cleared: broker up",
                      D2EV_LF_INT("broker", broker));
        d2ev_http_respond_json(resp, 200, status_json(db));
    } else if (!strcmp(p, "/rtt")) {
        long ms;
        if (query_int(req, "ms", 0, 0, 60000, &ms, resp))
            return;
        rd_kafka_mock_broker_set_rtt(db->mc, (int32_t)broker, (int)ms);
        d2ev_log_warn("fault: broker round-trip time", D2EV_LF_INT("ms", ms));
        d2ev_http_respond_json(resp, 200, json_pack("{s:i}", "rtt_ms", (int)ms));
    } else if (!strcmp(p, "/errors") || !strcmp(p, "/errors/clear")) {
        int16_t api;
        if (parse_api(d2ev_http_query(req, "api"), &api)) {
            d2ev_http_respond_error(resp, 400, "invalid_parameter",
                                    "api: want a Kafka API name such as Produce, Fetch, "
                                    "OffsetCommit, JoinGroup, or its numeric key");
            return;
        }
        if (!strcmp(p, "/errors/clear")) {
            rd_kafka_mock_clear_request_errors(db->mc, api);
            d2ev_http_respond_json(resp, 200, json_pack("{s:i, s:b}", "api", api, "cleared", 1));
            return;
        }
        long count;
        rd_kafka_resp_err_t code;
        if (query_int(req, "count", 1, 1, 100000, &count, resp))
            return;
        if (parse_kafka_error(d2ev_http_query(req, "error"), &code)) {
            d2ev_http_respond_error(resp, 400, "invalid_parameter",
                                    "error: want a Kafka error name such as "
                                    "NOT_LEADER_FOR_PARTITION or REQUEST_TIMED_OUT, or a code");
            return;
        }
        rd_kafka_resp_err_t *errs = calloc((size_t)count, sizeof(*errs));
        if (!errs) {
            d2ev_http_respond_error(resp, 500, "internal", "out of memory");
            return;
        }
        for (long i = 0; i < count; i++)
            errs[i] = code;
        rd_kafka_mock_push_request_errors_array(db->mc, api, (size_t)count, errs);
        free(errs);
        d2ev_log_warn("fault: request errors injected", D2EV_LF_INT("api", api),
                      D2EV_LF_INT("count", count), D2EV_LF_STR("error", rd_kafka_err2name(code)));
        d2ev_http_respond_json(resp, 200,
                               json_pack("{s:i, s:I, s:s}", "api", api, "count", (json_int_t)count,
                                         "error", rd_kafka_err2name(code)));
    } else if (!strcmp(p, "/topics")) {
        const char *name = d2ev_http_query(req, "name");
        long parts;
        if (query_int(req, "partitions", db->cfg->partitions, 1, 256, &parts, resp))
            return;
        if (!name || !*name || strlen(name) > 200) {
            d2ev_http_respond_error(resp, 400, "invalid_parameter", "name: topic name required");
            return;
        }
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(db->mc, name, (int)parts, 1);
        if (e) {
            d2ev_http_respond_error(resp, 409, "kafka_error", "%s", rd_kafka_err2str(e));
            return;
        }
        d2ev_http_respond_json(resp, 201,
                               json_pack("{s:s, s:i}", "topic", name, "partitions", (int)parts));
    } else {
        d2ev_http_respond_error(
            resp, 404, "not_found",
            "control actions: GET /control/status; POST /control/brokers/down, "
            "/control/brokers/up, /control/rtt?ms=, /control/errors?api=&error=&count=, "
            "/control/errors/clear?api=, /control/topics?name=&partitions=");
    }
}

static void control_handler(void *opaque, const struct d2ev_http_request *req,
                            struct d2ev_http_response *resp)
{
    struct devbroker *db = opaque;
    pthread_mutex_lock(&db->lock);
    if (db->mc)
        control_action(db, req, resp);
    else
        d2ev_http_respond_error(resp, 503, "shutting_down", "the broker is shutting down");
    pthread_mutex_unlock(&db->lock);
}

static int write_address_file(const char *path, const char *addr)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "%s\n", addr);
    if (fflush(f) || fsync(fileno(f)) || fclose(f))
        return -1;
    return rename(tmp, path);
}

static int devbroker_run(struct d2ev_service *svc, void *config)
{
    struct devbroker *db = &g_db;
    db->cfg = config;
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* The handle only anchors the mock cluster; it never connects anywhere. */
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
    db->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!db->rk) {
        d2ev_log_error("cannot create librdkafka handle", D2EV_LF_STR("error", errstr));
        return D2EV_EXIT_FAILURE;
    }
    db->mc = rd_kafka_mock_cluster_new(db->rk, (int)db->cfg->brokers);
    if (!db->mc) {
        d2ev_log_error("cannot create mock cluster");
        rd_kafka_destroy(db->rk);
        return D2EV_EXIT_FAILURE;
    }
    snprintf(db->bootstrap, sizeof(db->bootstrap), "%s", rd_kafka_mock_cluster_bootstraps(db->mc));
    for (size_t i = 0; i < d2ev_topic_spec_count; i++) {
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(db->mc, d2ev_topic_specs[i].name,
                                                           (int)db->cfg->partitions, 1);
        if (e) {
            d2ev_log_error("cannot create topic", D2EV_LF_STR("topic", d2ev_topic_specs[i].name),
                           D2EV_LF_STR("error", rd_kafka_err2str(e)));
            rd_kafka_mock_cluster_destroy(db->mc);
            rd_kafka_destroy(db->rk);
            return D2EV_EXIT_FAILURE;
        }
    }
    d2ev_service_admin_route(svc, "/control/", control_handler, db);
    int rc = D2EV_EXIT_OK;
    if (db->cfg->address_file && *db->cfg->address_file &&
        write_address_file(db->cfg->address_file, db->bootstrap) != 0) {
        d2ev_log_error("cannot write address file", D2EV_LF_STR("path", db->cfg->address_file),
                       D2EV_LF_STR("error", strerror(errno)));
        rc = D2EV_EXIT_FAILURE;
    } else {
        printf("%s\n", db->bootstrap);
        fflush(stdout);
        d2ev_log_info("broker ready", D2EV_LF_STR("bootstrap", db->bootstrap),
                      D2EV_LF_INT("partitions", db->cfg->partitions),
                      D2EV_LF_INT("topics", (long long)d2ev_topic_spec_count),
                      D2EV_LF_INT("control_port", d2ev_service_admin_port(svc)));
        d2ev_service_set_ready(svc, true, NULL);
        while (d2ev_service_running(svc)) {
            d2ev_service_heartbeat(svc);
            usleep(100 * 1000);
        }
    }
    if (db->cfg->address_file && *db->cfg->address_file)
        unlink(db->cfg->address_file);
    d2ev_service_set_ready(svc, false, "shutting down");
    pthread_mutex_lock(&db->lock);
    rd_kafka_mock_cluster_destroy(db->mc);
    db->mc = NULL;
    pthread_mutex_unlock(&db->lock);
    rd_kafka_destroy(db->rk);
    return rc;
}

const struct d2ev_service_def d2ev_devbroker_def = {
    .name = "devbroker",
    .summary = "A local Kafka-protocol broker for development and tests: librdkafka's mock\n"
               "cluster served on 127.0.0.1, with every d2ev topic created. It prints its\n"
               "bootstrap address on stdout (and to --address-file). Data is in memory only.\n"
               "Fault injection: POST /control/brokers/down|up, /control/rtt?ms=,\n"
               "/control/errors?api=Produce&error=REQUEST_TIMED_OUT&count=5 on the admin port.",
    .default_admin_port = 9100,
    .needs_kafka = false,
    .config_title = "Devbroker",
    .config = devbroker_table,
    .config_size = sizeof(struct devbroker_config),
    .run = devbroker_run,
};
