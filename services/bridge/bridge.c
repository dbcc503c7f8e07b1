/*
 * bridge.c: d2ev-bridge. Serves the mobile app backend's signed HTTP API
 * (docs/bridge.md): each accepted request becomes a registration.request on
 * d2ev.registration.requests, produced and acknowledged before the answer
 * (202 with the request id). A group-less reader keeps the outcomes from
 * d2ev.registration.results (bounded), so any replica answers
 * GET /v1/registrations/{request_id}.
 *
 * Threads: libmicrohttpd's pool runs the handler; the main thread reads
 * results; the producer has its own delivery-report thread.
 */
#include "bridge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge_producer.h"
#include "bridge_replay.h"
#include "bridge_request.h"
#include "bridge_results.h"
#include "bridge_sign.h"
#include "d2ev/clock.h"
#include "d2ev/crypto.h"
#include "d2ev/log.h"
#include "d2ev/metrics.h"
#include "d2ev/timefmt.h"
#include "d2ev/topics.h"

#define SERVICE           "bridge"
#define MAX_OEMS          16
#define MIN_SECRET_LEN    16
#define RESULT_BATCH      1000
#define SHUTDOWN_FLUSH_MS 5000

struct bridge_config {
    int64_t http_port;
    const char *http_bind;
    int64_t http_threads;
    int64_t max_body;
    const char *hmac_secret;
    const char *hmac_secret_previous;
    const char *credentials_keys;
    const char *vehicle_id_key;
    int64_t tolerance_s;
    int64_t replay_entries;
    int64_t results_max;
    int64_t produce_timeout_ms;
    int64_t linger_ms;
    const char *oems;
};

#define F(x) offsetof(struct bridge_config, x)
static const struct d2ev_cfg_entry bridge_table[] = {
    { "http-port", D2EV_CFG_INT, F(http_port), "8080",
      "port of the app backend's HTTP API (0 = any free port)", 0, 65535 },
    { "http-bind", D2EV_CFG_STR, F(http_bind), "0.0.0.0", "address the HTTP API binds" },
    { "http-threads", D2EV_CFG_INT, F(http_threads), "32",
      "HTTP worker threads (each waits for Kafka to acknowledge its request)", 1, 1024 },
    { "max-body-bytes", D2EV_CFG_INT, F(max_body), "16384",
      "largest request body; larger ones get 413 before they are read", 256, 1048576 },
    { "bridge-hmac-secret", D2EV_CFG_SECRET, F(hmac_secret), NULL,
      "shared secret the app backend signs requests with (HMAC-SHA256, at least 16 bytes)", 0, 0,
      true },
    { "bridge-hmac-secret-previous", D2EV_CFG_SECRET, F(hmac_secret_previous), NULL,
      "the previous secret, also accepted while the backend switches to a new one" },
    { "credentials-keys", D2EV_CFG_SECRET, F(credentials_keys), NULL,
      "keyring \"kid:base64key,...\" (AES-256-GCM); the first key seals the OEM "
      "authorisation before it reaches Kafka",
      0, 0, true },
    { "vehicle-id-key", D2EV_CFG_SECRET, F(vehicle_id_key), NULL,
      "optional key that makes vehicle ids an HMAC of the OEM's id instead of a hash; never "
      "change it once set (every id would change)" },
    { "signature-tolerance-s", D2EV_CFG_INT, F(tolerance_s), "300",
      "accepted difference between a request's X-D2EV-Timestamp and this server's clock", 5, 3600 },
    { "replay-cache-entries", D2EV_CFG_INT, F(replay_entries), "1000000",
      "signatures remembered to refuse replays (about 40 bytes each); when all are live, "
      "requests get 503",
      1000, 100000000 },
    { "results-max", D2EV_CFG_INT, F(results_max), "100000",
      "registration results kept for GET /v1/registrations/{id} (oldest forgotten first)", 100,
      10000000 },
    { "produce-timeout-ms", D2EV_CFG_INT, F(produce_timeout_ms), "10000",
      "wait this long for Kafka to acknowledge a request before answering 503", 100, 120000 },
    { "kafka-linger-ms", D2EV_CFG_INT, F(linger_ms), "2",
      "producer batching delay: requests of concurrent HTTP threads share a batch", 0, 1000 },
    { "oems", D2EV_CFG_STR, F(oems), "smartcar,tesla,enode",
      "OEM names accepted in registrations (the adapters d2ev-registration loads)" },
    D2EV_CFG_END,
};
#undef F

struct bridge {
    struct d2ev_service *svc;
    const struct bridge_config *cfg;
    struct d2ev_keyring *keys;
    char oem_buf[256];
    const char *oems[MAX_OEMS];
    struct bridge_rules rules;
    struct bridge_sig_keys sig;
    struct bridge_replay *replay;
    struct bridge_results *results;
    struct bridge_producer *producer;
    struct d2ev_consumer *reader;
    struct d2ev_http_server *http;
    struct d2ev_metric *m_accepted, *m_refused_auth, *m_refused_replay, *m_refused_invalid,
        *m_unavailable, *m_results;
};

/* ------------------------------------------------------------ HTTP */

static void respond_reject(struct bridge *B, const struct bridge_reject *rej,
                           const struct d2ev_http_request *req, struct d2ev_http_response *resp)
{
    d2ev_http_respond_error(resp, rej->status, rej->code, "%s", rej->err.msg);
    /* the message stays with the client: a JSON syntax error quotes the body.
     * Unauthenticated noise is only counted (metrics), so floods of it cannot
     * flood the logs. */
    if (rej->status == 401 || rej->status == 404 || rej->status == 405)
        d2ev_log_debug("request refused", D2EV_LF_STR("method", req->method),
                       D2EV_LF_STR("path", req->path), D2EV_LF_INT("status", rej->status),
                       D2EV_LF_STR("code", rej->code));
    else
        d2ev_log_info("request refused", D2EV_LF_STR("method", req->method),
                      D2EV_LF_STR("path", req->path), D2EV_LF_INT("status", rej->status),
                      D2EV_LF_STR("code", rej->code));
}

static void respond_result(struct bridge *B, const char *request_id,
                           struct d2ev_http_response *resp)
{
    struct d2ev_reg_result r;
    if (!bridge_results_get(B->results, request_id, &r)) {
        d2ev_http_respond_error(resp, 404, "not_found",
                                "no result for request %s yet: it is pending, unknown, or "
                                "older than this server keeps",
                                request_id);
        return;
    }
    static const char *const actions[] = { "register", "update_preferences", "deregister",
                                           "refresh_credentials" };
    char ts[D2EV_TIME_STR_MAX];
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "request_id", r.request_id,
                          "vehicle_id", r.vehicle_id, "action", actions[r.action % 4], "status",
                          r.accepted ? "accepted" : "rejected", "code", r.code, "decided_at",
                          d2ev_time_format(r.env.ts, ts));
    if (o && r.reason[0])
        json_object_set_new(o, "reason", json_string(r.reason));
    d2ev_http_respond_json(resp, 200, o);
}

static void respond_accepted(const struct d2ev_reg_request *r, struct d2ev_http_response *resp)
{
    static const char *const actions[] = { "register", "update_preferences", "deregister",
                                           "refresh_credentials" };
    char location[128];
    snprintf(location, sizeof(location), "/v1/registrations/%s", r->request_id);
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "request_id", r->request_id, "vehicle_id",
                  r->vehicle_id, "action", actions[r->action % 4], "idempotency_key",
                  r->idempotency_key, "status", "pending", "result", location);
    d2ev_http_respond_json(resp, 202, o);
    d2ev_http_add_header(resp, "Location", location);
}

static void handle(void *opaque, const struct d2ev_http_request *req,
                   struct d2ev_http_response *resp)
{
    struct bridge *B = opaque;
    struct bridge_route route;
    struct bridge_reject rej = { 0 };
    if (bridge_route_match(req->method, req->path, &route, &rej)) {
        d2ev_metric_inc(B->m_refused_invalid);
        respond_reject(B, &rej, req, resp);
        return;
    }
    struct bridge_sig_ok sig;
    int64_t now_s = d2ev_clock_real_ms() / 1000;
    enum bridge_sig_verdict v =
        bridge_sig_verify(&B->sig, d2ev_http_header(req, BRIDGE_HDR_TIMESTAMP),
                          d2ev_http_header(req, BRIDGE_HDR_SIGNATURE), req->method, req->path,
                          req->body, req->body_len, now_s, &sig, &rej.err);
    if (v != BRIDGE_SIG_OK) {
        rej.status = 401;
        rej.code = bridge_sig_verdict_name(v);
        d2ev_metric_inc(B->m_refused_auth);
        respond_reject(B, &rej, req, resp);
        return;
    }
    int rc =
        bridge_replay_check(B->replay, sig.digest, sig.timestamp_s + B->sig.tolerance_s, now_s);
    if (rc == D2EV_ERR_CONFLICT) {
        rej = (struct bridge_reject){ 409, "replayed", { 0 } };
        snprintf(rej.err.msg, sizeof(rej.err.msg),
                 "this signed request was already received; sign a retry again with a new "
                 "timestamp (and the same Idempotency-Key)");
        d2ev_metric_inc(B->m_refused_replay);
        respond_reject(B, &rej, req, resp);
        return;
    }
    if (rc == D2EV_ERR_LIMIT) {
        rej = (struct bridge_reject){ 503, "overloaded", { 0 } };
        snprintf(rej.err.msg, sizeof(rej.err.msg),
                 "too many requests in the replay window; try again shortly");
        d2ev_metric_inc(B->m_unavailable);
        respond_reject(B, &rej, req, resp);
        d2ev_http_add_header(resp, "Retry-After", "5");
        return;
    }
    if (route.kind == BRIDGE_ROUTE_RESULT) {
        respond_result(B, route.id, resp);
        return;
    }
    char idem[BRIDGE_IDEM_MAX + 1];
    const char *given = d2ev_http_header(req, BRIDGE_HDR_IDEMPOTENCY);
    if (given && !bridge_idempotency_key_valid(given)) {
        rej = (struct bridge_reject){ 400, "invalid_idempotency_key", { 0 } };
        snprintf(rej.err.msg, sizeof(rej.err.msg), "%s: want 1-64 characters of [A-Za-z0-9._:@-]",
                 BRIDGE_HDR_IDEMPOTENCY);
        d2ev_metric_inc(B->m_refused_invalid);
        respond_reject(B, &rej, req, resp);
        return;
    }
    if (given)
        snprintf(idem, sizeof(idem), "%s", given);
    else
        bridge_idempotency_from_signature(sig.digest, idem);
    struct d2ev_reg_request r;
    char *text = NULL;
    if (bridge_build_request(&B->rules, &route, req->body, req->body_len, idem, &r, &rej) ||
        !(text = bridge_encode_request(&r, &rej))) {
        d2ev_reg_request_clear(&r);
        d2ev_metric_inc(B->m_refused_invalid);
        respond_reject(B, &rej, req, resp);
        return;
    }
    struct d2ev_err err = { 0 };
    rc = bridge_producer_send(B->producer, D2EV_TOPIC_REG_REQUESTS, r.vehicle_id, text,
                              strlen(text), (int)B->cfg->produce_timeout_ms, &err);
    free(text);
    if (rc != D2EV_OK) {
        /* not in Kafka (as far as we know): the same signed request may come again */
        bridge_replay_forget(B->replay, sig.digest);
        d2ev_metric_inc(B->m_unavailable);
        d2ev_log_error("cannot hand a request to Kafka", D2EV_LF_STR("request_id", r.request_id),
                       D2EV_LF_STR("error", err.msg));
        d2ev_http_respond_error(resp, 503, "unavailable",
                                "the request could not be queued (%s); retry with the same "
                                "Idempotency-Key",
                                d2ev_rc_name(rc));
        d2ev_http_add_header(resp, "Retry-After", "2");
    } else {
        d2ev_metric_inc(B->m_accepted);
        d2ev_log_debug("request queued", D2EV_LF_STR("request_id", r.request_id),
                       D2EV_LF_STR("vehicle_id", r.vehicle_id));
        respond_accepted(&r, resp);
    }
    d2ev_reg_request_clear(&r);
}

/* ------------------------------------------------------------ setup */

static int usage(const char *setting, const char *msg)
{
    d2ev_log_error("invalid setting", D2EV_LF_STR("setting", setting), D2EV_LF_STR("error", msg));
    return D2EV_EXIT_USAGE;
}

/* Split the oems list into B->oems. */
static int read_oems(struct bridge *B, const char *list)
{
    snprintf(B->oem_buf, sizeof(B->oem_buf), "%s", list ? list : "");
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(B->oem_buf, ", ", &save); t;
         t = strtok_r(NULL, ", ", &save)) {
        if (n == MAX_OEMS || strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(t))
            return usage("oems", "want at most 16 comma-separated names of [a-z0-9_]");
        B->oems[n++] = t;
    }
    if (!n)
        return usage("oems", "name at least one OEM");
    B->rules.oems = B->oems;
    B->rules.noems = n;
    return 0;
}

static int setup(struct bridge *B, const struct bridge_config *cfg)
{
    struct d2ev_err err = { 0 };
    if (strlen(cfg->hmac_secret) < MIN_SECRET_LEN ||
        (cfg->hmac_secret_previous && *cfg->hmac_secret_previous &&
         strlen(cfg->hmac_secret_previous) < MIN_SECRET_LEN))
        return usage("bridge-hmac-secret", "a secret must be at least 16 bytes");
    B->sig.secret[B->sig.n++] = cfg->hmac_secret;
    if (cfg->hmac_secret_previous && *cfg->hmac_secret_previous)
        B->sig.secret[B->sig.n++] = cfg->hmac_secret_previous;
    B->sig.tolerance_s = cfg->tolerance_s;
    if (!(B->keys = d2ev_keyring_parse(cfg->credentials_keys, &err)))
        return usage("credentials-keys", err.msg);
    int rc = read_oems(B, cfg->oems);
    if (rc)
        return rc;
    B->rules.keys = B->keys;
    B->rules.vehicle_id_key = cfg->vehicle_id_key;
    B->replay = bridge_replay_create((size_t)cfg->replay_entries);
    B->results = bridge_results_create((size_t)cfg->results_max);
    if (!B->replay || !B->results) {
        d2ev_log_error("out of memory");
        return D2EV_EXIT_FAILURE;
    }
    B->producer = bridge_producer_create(d2ev_service_kafka(B->svc), (int)cfg->linger_ms, &err);
    static const char *const topics[] = { D2EV_TOPIC_REG_RESULTS, NULL };
    struct d2ev_consumer_conf rc_conf = {
        .kafka = d2ev_service_kafka(B->svc),
        .group_id = NULL,
        .topics = topics,
        .instance_id = d2ev_service_instance(B->svc),
    };
    if (B->producer)
        B->reader = d2ev_consumer_create(&rc_conf, &err);
    if (!B->producer || !B->reader) {
        d2ev_log_error("cannot connect to Kafka", D2EV_LF_STR("error", err.msg));
        return D2EV_EXIT_FAILURE;
    }
    struct d2ev_http_server_conf hc = {
        .name = "api",
        .bind_addr = cfg->http_bind,
        .port = (int)cfg->http_port,
        .max_body = (size_t)cfg->max_body,
        .threads = (unsigned)cfg->http_threads,
        .conn_limit = 4096,
    };
    if (!(B->http = d2ev_http_server_start(&hc, handle, B, &err))) {
        d2ev_log_error("cannot start the HTTP API", D2EV_LF_STR("error", err.msg));
        return D2EV_EXIT_FAILURE;
    }
    d2ev_log_info("HTTP API listening", D2EV_LF_INT("port", d2ev_http_server_port(B->http)),
                  D2EV_LF_INT("threads", cfg->http_threads),
                  D2EV_LF_STR("oems", cfg->oems ? cfg->oems : ""));
    return 0;
}

/* ------------------------------------------------------------ results */

static void read_result(struct bridge *B, const rd_kafka_message_t *m)
{
    if (!m->payload)
        return;
    struct d2ev_reg_result r;
    struct d2ev_err err = { 0 };
    if (d2ev_reg_result_decode(m->payload, m->len, &r, &err) != D2EV_OK) {
        /* every replica reads every result; d2ev-registration, the producer,
         * dead-letters nothing here, so a bad record is only logged */
        d2ev_log_warn("unreadable registration result", D2EV_LF_INT("partition", m->partition),
                      D2EV_LF_INT("offset", m->offset), D2EV_LF_STR("reason", err.msg));
        return;
    }
    if (bridge_results_put(B->results, &r) == D2EV_OK)
        d2ev_metric_inc(B->m_results);
}

static int run_reader(struct bridge *B)
{
    rd_kafka_message_t *msgs[RESULT_BATCH];
    while (d2ev_service_running(B->svc)) {
        d2ev_service_heartbeat(B->svc);
        size_t n = d2ev_consumer_poll(B->reader, msgs, RESULT_BATCH, 100);
        for (size_t i = 0; i < n; i++) {
            read_result(B, msgs[i]);
            rd_kafka_message_destroy(msgs[i]);
        }
        bool caught_up = d2ev_consumer_caught_up(B->reader);
        d2ev_service_set_ready(B->svc, caught_up,
                               caught_up ? NULL : "reading d2ev.registration.results");
        if (bridge_producer_fatal(B->producer))
            return D2EV_ERR_KAFKA;
    }
    return D2EV_OK;
}

static int bridge_run(struct d2ev_service *svc, void *config)
{
    const struct bridge_config *cfg = config;
    struct bridge B = { .svc = svc, .cfg = cfg };
    B.m_accepted = d2ev_metric_counter("d2ev_bridge_requests_total", "Requests handed to Kafka",
                                       "result=\"accepted\"");
    B.m_refused_auth = d2ev_metric_counter("d2ev_bridge_requests_total", "Requests handed to Kafka",
                                           "result=\"unauthorized\"");
    B.m_refused_replay = d2ev_metric_counter("d2ev_bridge_requests_total",
                                             "Requests handed to Kafka", "result=\"replayed\"");
    B.m_refused_invalid = d2ev_metric_counter("d2ev_bridge_requests_total",
                                              "Requests handed to Kafka", "result=\"invalid\"");
    B.m_unavailable = d2ev_metric_counter("d2ev_bridge_requests_total", "Requests handed to Kafka",
                                          "result=\"unavailable\"");
    B.m_results = d2ev_metric_counter("d2ev_bridge_results_read_total",
                                      "Registration results read from Kafka", NULL);
    int status = setup(&B, cfg);
    if (status == 0) {
        int rc = run_reader(&B);
        status = rc == D2EV_OK ? D2EV_EXIT_OK : D2EV_EXIT_FAILURE;
    }
    d2ev_http_server_stop(B.http); /* lets in-flight requests finish */
    bridge_producer_destroy(B.producer, SHUTDOWN_FLUSH_MS);
    d2ev_consumer_close(B.reader);
    bridge_results_destroy(B.results);
    bridge_replay_destroy(B.replay);
    d2ev_keyring_destroy(B.keys);
    return status;
}

const struct d2ev_service_def d2ev_bridge_def = {
    .name = SERVICE,
    .summary = "The mobile app backend's HTTP entry point: verifies each request's HMAC "
               "signature, timestamp and freshness, validates it, seals the OEM authorisation "
               "and queues it on d2ev.registration.requests (202 with a request id); answers "
               "GET /v1/registrations/{id} from d2ev.registration.results.",
    .default_admin_port = 9101,
    .needs_kafka = true,
    .config_title = "Bridge",
    .config = bridge_table,
    .config_size = sizeof(struct bridge_config),
    .run = bridge_run,
};
