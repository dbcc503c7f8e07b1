/*
 * registration.c: d2ev-registration. Consumes d2ev.registration.requests in
 * its consumer group, with d2ev.vehicles, d2ev.credentials and
 * d2ev.registration.results as state topics (replayed from the beginning on
 * every assignment: the fleet it owns and the requests it already answered).
 * Produces vehicle records, sealed credentials, tombstones, results and
 * notifications; talks to the OEMs through the OEM engine.
 *
 * Loop: poll the consumer -> apply replayed state / start requests (OEM work
 * is asynchronous) -> poll the OEM engine (callbacks produce outputs) ->
 * timers (token refreshes) -> flush the producer -> commit, per partition,
 * the offsets of the requests whose outputs are all delivered, in order.
 *
 * Requests wait until every state partition is replayed; requests for one
 * vehicle run one at a time, in offset order.
 */
#include "registration.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev/envelope.h"
#include "d2ev/json.h"
#include "d2ev/log.h"
#include "d2ev/topics.h"
#include "reg_internal.h"

#define SERVICE         "registration"
#define ENGINE_SLICE_MS 5
#define TRACKED_FACTOR  4 /* finished requests awaiting a commit, per max-in-flight */

#define F(x) offsetof(struct reg_config, x)
static const struct d2ev_cfg_entry reg_table[] = {
    { "credentials-keys", D2EV_CFG_SECRET, F(credentials_keys), NULL,
      "keyring \"kid:base64key,...\" (AES-256-GCM): opens the app's sealed authorisations and "
      "seals credentials with the first key; older keys still open records, which are sealed "
      "again with the first key on their next write",
      0, 0, true },
    { "oems", D2EV_CFG_STR, F(oems), "smartcar,tesla,enode",
      "OEM adapters to load; with oem-config-dir set, those without a <name>.json there are "
      "skipped (not configured)" },
    { "refresh-margin-s", D2EV_CFG_INT, F(refresh_margin_s), "300",
      "refresh an access token this many seconds (d2ev clock) before it expires", 10, 86400 },
    { "refresh-dedupe-ms", D2EV_CFG_INT, F(refresh_dedupe_ms), "30000",
      "a refresh_credentials request this soon after a refresh is answered without another", 0,
      3600000 },
    { "refresh-retry-ms", D2EV_CFG_INT, F(refresh_retry_ms), "30000",
      "first wait after a refresh failed for a transient reason (doubles up to 16 times that)", 100,
      3600000 },
    { "refresh-concurrency", D2EV_CFG_INT, F(refresh_concurrency), "256",
      "timer-driven token refreshes in flight at once", 1, 100000 },
    { "tick-ms", D2EV_CFG_INT, F(tick_ms), "1000",
      "real milliseconds between scans for tokens due for a refresh", 10, 60000 },
    { "max-in-flight", D2EV_CFG_INT, F(max_in_flight), "4096",
      "requests being handled (consumed, outputs not yet produced) before consuming pauses", 1,
      1000000 },
    { "batch-max", D2EV_CFG_INT, F(batch_max), "1000", "messages per consumer poll", 1, 100000 },
    { "oem-deadline-ms", D2EV_CFG_INT, F(op_deadline_ms), "60000",
      "time allowed for one OEM operation (code exchange, refresh, read) with its retries", 1000,
      600000 },
    { "outcomes-max", D2EV_CFG_INT, F(outcomes_max), "200000",
      "answered requests remembered to answer a repeated request the same way", 100, 100000000 },
    { "read-on-register", D2EV_CFG_BOOL, F(read_on_register), "true",
      "read the car once when linking it: proves the token opens this car and learns the "
      "battery capacity" },
    { "commit-interval-ms", D2EV_CFG_INT, F(commit_interval_ms), "1000",
      "wait for Kafka to acknowledge outputs and commit at least this often (it also "
      "commits whenever everything produced is acknowledged)",
      10, 60000 },
    { "drain-ms", D2EV_CFG_INT, F(drain_ms), "5000",
      "on shutdown or rebalance, time allowed for OEM operations in flight to finish", 0, 60000 },
    D2EV_CFG_END,
};
#undef F

static const struct d2ev_service_section reg_sections[] = {
    { "OEM adapters", d2ev_oem_paths_table, offsetof(struct reg_config, paths) },
    { NULL },
};

static const char *const action_names[] = { "register", "update_preferences", "deregister",
                                            "refresh_credentials" };

/* ------------------------------------------------------------ outputs */

static void fail(struct reg *R, int rc, const char *what, const char *detail)
{
    d2ev_log_error(what, D2EV_LF_STR("error", detail));
    if (!R->failed)
        R->failed = rc ? rc : D2EV_ERR_KAFKA;
}

int reg_send_json(struct reg *R, const char *topic, const char *key, json_t *msg)
{
    struct d2ev_err err = { 0 };
    int rc = msg ? d2ev_producer_send_json(R->producer, topic, key, msg, &err)
                 : d2ev_err_set(&err, D2EV_ERR_NOMEM, "cannot encode a message for %s", topic);
    json_decref(msg);
    if (rc)
        fail(R, rc, "cannot produce", err.msg);
    else
        R->produced++;
    return rc;
}

int reg_send_tombstone(struct reg *R, const char *topic, const char *key)
{
    struct d2ev_err err = { 0 };
    int rc = d2ev_producer_send(R->producer, topic, key, NULL, 0, &err);
    if (rc)
        fail(R, rc, "cannot produce a tombstone", err.msg);
    else
        R->produced++;
    return rc;
}

void reg_event_id(const char *request_id, const char *topic, char out[D2EV_UUID_STR_LEN + 1])
{
    char buf[160];
    int n = snprintf(buf, sizeof(buf), "d2ev.event.v1\n%s\n%s", request_id, topic);
    unsigned char d[32];
    d2ev_sha256(buf, (size_t)n, d);
    d[6] = (unsigned char)((d[6] & 0x0f) | 0x50); /* version 5: name-based */
    d[8] = (unsigned char)((d[8] & 0x3f) | 0x80);
    char hex[33];
    d2ev_hex_encode(d, 16, hex);
    snprintf(out, D2EV_UUID_STR_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
             hex + 16, hex + 20);
}

void reg_answer(struct reg *R, struct reg_msg *m, bool accepted, const char *code, const char *fmt,
                ...)
{
    struct d2ev_reg_result r;
    memset(&r, 0, sizeof(r));
    d2ev_strlcpy(r.request_id, m->req.request_id, sizeof(r.request_id));
    d2ev_strlcpy(r.vehicle_id, m->req.vehicle_id, sizeof(r.vehicle_id));
    r.action = m->req.action;
    r.accepted = accepted;
    d2ev_strlcpy(r.code, code, sizeof(r.code));
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r.reason, sizeof(r.reason), fmt, ap);
        va_end(ap);
    }
    if (!accepted && !r.reason[0])
        d2ev_strlcpy(r.reason, code, sizeof(r.reason));
    if (reg_send_json(R, D2EV_TOPIC_REG_RESULTS, r.vehicle_id, d2ev_reg_result_encode(&r)))
        return;
    reg_outcomes_put(R->outcomes, &r, m->msg->partition, m->req.idempotency_key);
    d2ev_metric_inc(R->m_requests[accepted ? 0 : 1]);
    if (accepted)
        d2ev_log_debug("request done", D2EV_LF_STR("request_id", r.request_id),
                       D2EV_LF_STR("vehicle_id", r.vehicle_id),
                       D2EV_LF_STR("action", action_names[r.action]), D2EV_LF_STR("code", code));
    else
        d2ev_log_info("request rejected", D2EV_LF_STR("request_id", r.request_id),
                      D2EV_LF_STR("vehicle_id", r.vehicle_id),
                      D2EV_LF_STR("action", action_names[r.action]), D2EV_LF_STR("code", code),
                      D2EV_LF_STR("reason", r.reason));
}

void reg_msg_finish(struct reg *R, struct reg_msg *m)
{
    if (!m->done)
        R->unfinished--;
    m->done = true;
    d2ev_reg_request_clear(&m->req);
}

/* ------------------------------------------------------------ partitions */

static struct reg_part *part_of(struct reg *R, int32_t p)
{
    if (p < 0)
        return NULL;
    if ((size_t)p >= R->nparts) {
        size_t n = (size_t)p + 1;
        struct reg_part *np = realloc(R->parts, n * sizeof(*np));
        if (!np)
            return NULL;
        memset(np + R->nparts, 0, (n - R->nparts) * sizeof(*np));
        R->parts = np;
        R->nparts = n;
    }
    return &R->parts[p];
}

static void free_msg(struct reg *R, struct reg_msg *m)
{
    if (!m->done)
        R->unfinished--;
    d2ev_reg_request_clear(&m->req);
    rd_kafka_message_destroy(m->msg);
    free(m);
    R->tracked--;
}

/* Commit, per partition, the requests at the head whose outputs are
 * delivered (the caller flushed). Stops at the first one still running. */
static void release_done(struct reg *R, struct reg_part *pt)
{
    while (pt->head && pt->head->done) {
        struct reg_msg *m = pt->head;
        pt->head = m->next;
        if (!pt->head)
            pt->tail = NULL;
        d2ev_consumer_done(R->consumer, &m->msg, 1);
        free_msg(R, m);
    }
}

/* Commit what completed once everything produced is delivered. Without
 * force this does not wait: while Kafka still acknowledges outputs the loop
 * keeps working, and only every commit-interval-ms does it block until all
 * are delivered. A flush costs a few round trips to the broker whatever its
 * size, so waiting for one per batch would cap the throughput. */
static int settle(struct reg *R, bool force)
{
    bool any = R->produced > 0;
    for (size_t i = 0; i < R->nparts && !any; i++)
        any = R->parts[i].head && R->parts[i].head->done;
    if (!any || R->failed)
        return R->failed;
    int64_t now = d2ev_clock_mono_ms();
    bool due = force || now - R->committed_mono >= R->cfg->commit_interval_ms ||
               R->tracked >= TRACKED_FACTOR * (size_t)R->cfg->max_in_flight;
    struct d2ev_err err = { 0 };
    int rc = d2ev_producer_flush(R->producer, due ? 30000 : 0, &err);
    if (rc == D2EV_ERR_TIMEOUT && !due)
        return D2EV_OK; /* still in flight: commit later */
    if (rc) {
        fail(R, rc, "cannot deliver outputs; requests left uncommitted", err.msg);
        return rc;
    }
    R->produced = 0;
    R->committed_mono = now;
    for (size_t i = 0; i < R->nparts; i++)
        release_done(R, &R->parts[i]);
    if (d2ev_consumer_commit(R->consumer, false, &err) != D2EV_OK)
        d2ev_log_warn("offset commit failed", D2EV_LF_STR("error", err.msg));
    return D2EV_OK;
}

/* ------------------------------------------------------------ requests */

/* A request that does not decode: dead-letter it, and answer it when its
 * request id, vehicle and action can be read, so the sender learns why. */
static void reject_undecodable(struct reg *R, struct reg_msg *m, const char *reason)
{
    struct d2ev_err err = { 0 };
    d2ev_metric_inc(R->m_dead);
    if (d2ev_deadletter_send(R->producer, "d2ev-" SERVICE, m->msg, reason, &err) != D2EV_OK) {
        fail(R, err.code, "cannot dead-letter", err.msg);
        return;
    }
    R->produced++;
    json_t *root = m->msg->payload ? json_loadb(m->msg->payload, m->msg->len, 0, NULL) : NULL;
    int action = 0;
    struct d2ev_err e2 = { 0 };
    bool named = json_is_object(root) &&
                 !d2ev_json_req_str(root, "request_id", m->req.request_id, 64, D2EV_CS_ID, &e2) &&
                 !d2ev_json_req_str(root, "vehicle_id", m->req.vehicle_id, D2EV_VEHICLE_ID_MAX,
                                    D2EV_CS_ID, &e2) &&
                 !d2ev_json_req_enum(root, "action", action_names, 4, &action, &e2);
    json_decref(root);
    if (named) {
        m->req.action = (enum d2ev_reg_action)action;
        reg_answer(R, m, false, "invalid_request", "%s", reason);
    }
}

static void start_msg(struct reg *R, struct reg_msg *m)
{
    struct d2ev_err err = { 0 };
    if (!m->msg->payload) {
        reject_undecodable(R, m, "empty message (a tombstone) on the requests topic");
        reg_msg_finish(R, m);
        return;
    }
    if (d2ev_reg_request_decode(m->msg->payload, m->msg->len, &m->req, &err) != D2EV_OK) {
        memset(&m->req, 0, sizeof(m->req));
        reject_undecodable(R, m, err.msg);
        reg_msg_finish(R, m);
        return;
    }
    char key[D2EV_VEHICLE_ID_MAX + 2];
    d2ev_msg_key(m->msg, key, sizeof(key));
    if (strcmp(key, m->req.vehicle_id)) {
        char reason[200];
        snprintf(reason, sizeof(reason), "key \"%.64s\" does not match vehicle_id \"%.64s\"", key,
                 m->req.vehicle_id);
        reject_undecodable(R, m, reason);
        reg_msg_finish(R, m);
        return;
    }
    m->decoded = true;
    struct vstate *vs = reg_fleet_get(R, m->req.vehicle_id, m->msg->partition);
    if (!vs) {
        fail(R, D2EV_ERR_NOMEM, "out of memory", "vehicle state");
        return;
    }
    reg_fleet_submit(R, vs, m);
}

static void track_request(struct reg *R, rd_kafka_message_t *msg)
{
    struct reg_part *pt = part_of(R, msg->partition);
    struct reg_msg *m = calloc(1, sizeof(*m));
    if (!pt || !m) {
        free(m);
        rd_kafka_message_destroy(msg);
        fail(R, D2EV_ERR_NOMEM, "out of memory", "tracking a request");
        return;
    }
    m->msg = msg;
    if (pt->tail)
        pt->tail->next = m;
    else
        pt->head = m;
    pt->tail = m;
    R->tracked++;
    R->unfinished++;
    if (R->live) {
        start_msg(R, m);
        return;
    }
    /* the state is still being replayed: hold this partition's requests */
    if (!pt->paused) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, D2EV_TOPIC_REG_REQUESTS, msg->partition);
        rd_kafka_pause_partitions(d2ev_consumer_handle(R->consumer), l);
        rd_kafka_topic_partition_list_destroy(l);
        pt->paused = true;
    }
}

/* Every state partition is replayed: start the requests that waited. */
static void go_live(struct reg *R)
{
    R->live = true;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    for (size_t i = 0; i < R->nparts; i++) {
        struct reg_part *pt = &R->parts[i];
        if (pt->paused)
            rd_kafka_topic_partition_list_add(l, D2EV_TOPIC_REG_REQUESTS, (int32_t)i);
        pt->paused = false;
        for (struct reg_msg *m = pt->head; m; m = m->next) {
            if (!m->done && !m->decoded)
                start_msg(R, m);
        }
    }
    if (l->cnt)
        rd_kafka_resume_partitions(d2ev_consumer_handle(R->consumer), l);
    rd_kafka_topic_partition_list_destroy(l);
    /* From here on the state topics only bring back this replica's own
     * writes, which it ignores: stop fetching them until the next rebalance
     * (three quarters of what it would otherwise read) */
    static const char *const state[] = { D2EV_TOPIC_VEHICLES, D2EV_TOPIC_CREDENTIALS,
                                         D2EV_TOPIC_REG_RESULTS };
    l = rd_kafka_topic_partition_list_new(16);
    for (size_t i = 0; i < R->nparts; i++) {
        for (size_t t = 0; R->parts[i].assigned && t < 3; t++)
            rd_kafka_topic_partition_list_add(l, state[t], (int32_t)i);
    }
    if (l->cnt)
        rd_kafka_pause_partitions(d2ev_consumer_handle(R->consumer), l);
    rd_kafka_topic_partition_list_destroy(l);
    d2ev_log_info("state replayed: handling requests",
                  D2EV_LF_INT("vehicles", (long long)R->fleet.count),
                  D2EV_LF_INT("outcomes", (long long)reg_outcomes_count(R->outcomes)));
}

/* ------------------------------------------------------------ state */

static void apply_vehicle(struct reg *R, const rd_kafka_message_t *msg, const char *key)
{
    struct vstate *vs = reg_fleet_get(R, key, msg->partition);
    if (!vs)
        return;
    if (!msg->payload) {
        vs->has_vehicle = false;
    } else {
        struct d2ev_err err = { 0 };
        struct d2ev_vehicle v;
        if (d2ev_vehicle_decode(msg->payload, msg->len, &v, &err) != D2EV_OK ||
            strcmp(v.vehicle_id, key)) {
            d2ev_log_warn("unreadable vehicle record skipped", D2EV_LF_STR("vehicle_id", key),
                          D2EV_LF_INT("offset", msg->offset), D2EV_LF_STR("reason", err.msg));
        } else {
            vs->v = v;
            vs->has_vehicle = true;
        }
    }
    reg_fleet_gc(R, vs);
}

static void apply_credentials(struct reg *R, const rd_kafka_message_t *msg, const char *key)
{
    struct vstate *vs = reg_fleet_get(R, key, msg->partition);
    if (!vs)
        return;
    if (!msg->payload) {
        d2ev_credentials_clear(&vs->c);
        vs->has_creds = false;
    } else {
        struct d2ev_err err = { 0 };
        struct d2ev_credentials c;
        if (d2ev_credentials_decode(msg->payload, msg->len, &c, &err) != D2EV_OK ||
            strcmp(c.vehicle_id, key)) {
            d2ev_log_warn("unreadable credentials skipped", D2EV_LF_STR("vehicle_id", key),
                          D2EV_LF_INT("offset", msg->offset), D2EV_LF_STR("reason", err.msg));
            d2ev_credentials_clear(&c);
        } else {
            d2ev_credentials_clear(&vs->c);
            vs->c = c;
            vs->has_creds = true;
            vs->app_generation = 0; /* rewritten with this replica's app token */
        }
    }
    reg_fleet_gc(R, vs);
}

static void apply_result(struct reg *R, const rd_kafka_message_t *msg)
{
    if (!msg->payload)
        return;
    struct d2ev_reg_result r;
    struct d2ev_err err = { 0 };
    if (d2ev_reg_result_decode(msg->payload, msg->len, &r, &err) == D2EV_OK)
        reg_outcomes_put(R->outcomes, &r, msg->partition, NULL);
}

static void handle_msg(struct reg *R, rd_kafka_message_t *msg)
{
    const char *topic = rd_kafka_topic_name(msg->rkt);
    if (!strcmp(topic, D2EV_TOPIC_REG_REQUESTS)) {
        track_request(R, msg);
        return;
    }
    struct reg_part *pt = part_of(R, msg->partition);
    char key[D2EV_VEHICLE_ID_MAX + 2];
    d2ev_msg_key(msg, key, sizeof(key));
    bool vehicles = !strcmp(topic, D2EV_TOPIC_VEHICLES);
    bool creds = !strcmp(topic, D2EV_TOPIC_CREDENTIALS);
    int64_t hi = !pt ? 0 : vehicles ? pt->hi_vehicles : creds ? pt->hi_creds : pt->hi_results;
    /* offsets past the watermark seen at assignment are this replica's own
     * writes coming back (it is the only writer): its memory is newer */
    if (pt && (hi < 0 || msg->offset < hi)) {
        if (vehicles && key[0])
            apply_vehicle(R, msg, key);
        else if (creds && key[0])
            apply_credentials(R, msg, key);
        else if (!vehicles && !creds)
            apply_result(R, msg);
    }
    rd_kafka_message_destroy(msg);
}

/* ------------------------------------------------------------ rebalances */

static int64_t high_watermark(struct reg *R, const char *topic, int32_t partition)
{
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(d2ev_consumer_handle(R->consumer),
                                                             topic, partition, &lo, &hi, 5000);
    return e ? -1 : hi;
}

static void on_assign(void *opaque, const rd_kafka_topic_partition_list_t *parts)
{
    struct reg *R = opaque;
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &parts->elems[i];
        struct reg_part *pt = part_of(R, tp->partition);
        if (!pt)
            continue;
        pt->assigned = true;
        if (!strcmp(tp->topic, D2EV_TOPIC_VEHICLES))
            pt->hi_vehicles = high_watermark(R, tp->topic, tp->partition);
        else if (!strcmp(tp->topic, D2EV_TOPIC_CREDENTIALS))
            pt->hi_creds = high_watermark(R, tp->topic, tp->partition);
        else if (!strcmp(tp->topic, D2EV_TOPIC_REG_RESULTS))
            pt->hi_results = high_watermark(R, tp->topic, tp->partition);
    }
    R->live = false;
}

/* Let operations in flight finish (their outputs are produced), then give
 * up on the rest: they produce nothing; the next owner handles them again. */
static void drain_engine(struct reg *R)
{
    if (d2ev_oem_engine_pending(R->engine))
        d2ev_oem_engine_drain(R->engine, R->cfg->drain_ms);
}

static void on_revoke(void *opaque, const rd_kafka_topic_partition_list_t *parts)
{
    struct reg *R = opaque;
    /* whoever gets these partitions next reads them from where they were */
    rd_kafka_topic_partition_list_t *all = rd_kafka_topic_partition_list_copy(parts);
    rd_kafka_resume_partitions(d2ev_consumer_handle(R->consumer), all);
    rd_kafka_topic_partition_list_destroy(all);
    drain_engine(R);
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &parts->elems[i];
        if (strcmp(tp->topic, D2EV_TOPIC_REG_REQUESTS) || tp->partition < 0 ||
            (size_t)tp->partition >= R->nparts)
            continue;
        struct reg_part *pt = &R->parts[tp->partition];
        /* marked now, flushed and committed by the consumer after this */
        release_done(R, pt);
    }
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &parts->elems[i];
        if (strcmp(tp->topic, D2EV_TOPIC_REG_REQUESTS) || tp->partition < 0 ||
            (size_t)tp->partition >= R->nparts)
            continue;
        reg_fleet_drop_partition(R, tp->partition); /* orphans ops, empties wait queues */
        reg_outcomes_drop_partition(R->outcomes, tp->partition);
        struct reg_part *pt = &R->parts[tp->partition];
        while (pt->head) {
            struct reg_msg *m = pt->head;
            pt->head = m->next;
            free_msg(R, m);
        }
        memset(pt, 0, sizeof(*pt));
    }
    R->live = false;
}

/* ------------------------------------------------------------ the loop */

static int loop(struct reg *R)
{
    size_t max = (size_t)R->cfg->batch_max;
    rd_kafka_message_t **msgs = calloc(max, sizeof(*msgs));
    if (!msgs)
        return D2EV_ERR_NOMEM;
    int64_t next_tick = 0;
    while (d2ev_service_running(R->svc) && !R->failed) {
        d2ev_service_heartbeat(R->svc);
        size_t pending = d2ev_oem_engine_pending(R->engine);
        size_t n = 0;
        /* consume while fewer than max-in-flight requests are unfinished (and
         * the finished ones awaiting their commit stay bounded too) */
        bool consumed = !R->live || (R->unfinished < (size_t)R->cfg->max_in_flight &&
                                     R->tracked < TRACKED_FACTOR * (size_t)R->cfg->max_in_flight);
        if (consumed) {
            n = d2ev_consumer_poll(R->consumer, msgs, max, pending ? 0 : 50);
            size_t i = 0;
            for (; i < n && !R->failed; i++)
                handle_msg(R, msgs[i]);
            for (; i < n; i++) /* after a failure: left uncommitted, read again later */
                rd_kafka_message_destroy(msgs[i]);
        }
        bool live = d2ev_consumer_caught_up(R->consumer);
        if (live && !R->live)
            go_live(R);
        R->live = live;
        d2ev_service_set_ready(R->svc, live,
                               live ? NULL : "replaying vehicles, credentials and results");
        /* one poll handles a bounded number of sockets: keep going while
         * operations complete, for a few milliseconds */
        int64_t until = d2ev_clock_mono_ms() + ENGINE_SLICE_MS;
        if (!consumed && !d2ev_oem_engine_pending(R->engine))
            d2ev_oem_engine_poll(R->engine, 10); /* nothing to do until a commit: wait */
        for (int rc = 1, first = 1; rc > 0 && d2ev_oem_engine_pending(R->engine); first = 0) {
            rc = d2ev_oem_engine_poll(R->engine, first && !n ? 10 : 0);
            if (rc < 0)
                fail(R, rc, "OEM engine failed", d2ev_rc_name(rc));
            if (d2ev_clock_mono_ms() >= until)
                break;
        }
        if (live && d2ev_clock_mono_ms() >= next_tick) {
            reg_tokens_tick(R);
            next_tick = d2ev_clock_mono_ms() + R->cfg->tick_ms;
        }
        settle(R, false);
        d2ev_producer_poll(R->producer, 0);
        if (d2ev_producer_fatal(R->producer))
            fail(R, D2EV_ERR_KAFKA, "Kafka producer failed", "fatal producer error");
        d2ev_metric_set(R->m_in_flight, (double)R->unfinished);
        d2ev_metric_set(R->m_vehicles, (double)R->fleet.count);
    }
    free(msgs);
    return R->failed;
}

/* ------------------------------------------------------------ setup */

static int usage(const char *setting, const char *msg)
{
    d2ev_log_error("invalid setting", D2EV_LF_STR("setting", setting), D2EV_LF_STR("error", msg));
    return D2EV_EXIT_USAGE;
}

/* Load the adapters named by cfg->oems. */
static int load_oems(struct reg *R, const struct reg_config *cfg)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", cfg->oems ? cfg->oems : "");
    const char *cdir = cfg->paths.config_dir;
    for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        if (R->noems == REG_MAX_OEMS)
            return usage("oems", "at most 16 adapters");
        if (cdir && *cdir) {
            char path[1024];
            snprintf(path, sizeof(path), "%s/%s.json", cdir, t);
            FILE *f = fopen(path, "r");
            if (!f) {
                d2ev_log_warn("OEM not configured here; registrations for it are refused",
                              D2EV_LF_STR("oem", t), D2EV_LF_STR("missing", path));
                continue;
            }
            fclose(f);
        }
        struct d2ev_err err = { 0 };
        struct d2ev_oem *o = d2ev_oem_open(cfg->paths.adapter_dir, cdir, t, &err);
        if (!o)
            return usage("oems", err.msg);
        struct reg_oem *ro = &R->oems[R->noems++];
        d2ev_strlcpy(ro->name, t, sizeof(ro->name));
        ro->oem = o;
        ro->per_app = d2ev_oem_describe(o)->token_model == D2EV_OEM_TOKENS_PER_APP;
        if (d2ev_oem_engine_add(R->engine, o, &err) != D2EV_OK)
            return usage("oems", err.msg);
        d2ev_log_info("OEM adapter loaded", D2EV_LF_STR("oem", t),
                      D2EV_LF_STR("grants", ro->per_app ? "per application" : "per vehicle"));
    }
    if (!R->noems)
        return usage("oems", "no OEM adapter could be loaded");
    return 0;
}

/* Learn the partitions of the output topics now, so the first request does
 * not wait for a metadata round trip. */
static void prewarm(struct reg *R)
{
    static const char *const out[] = { D2EV_TOPIC_VEHICLES, D2EV_TOPIC_CREDENTIALS,
                                       D2EV_TOPIC_REG_RESULTS, D2EV_TOPIC_NOTIFICATIONS,
                                       D2EV_TOPIC_DEADLETTER };
    rd_kafka_t *rk = d2ev_producer_handle(R->producer);
    for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, out[i], NULL);
        const struct rd_kafka_metadata *md = NULL;
        if (rkt && rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR)
            rd_kafka_metadata_destroy(md);
        if (rkt)
            rd_kafka_topic_destroy(rkt);
    }
}

static int setup(struct reg *R, const struct reg_config *cfg)
{
    struct d2ev_err err = { 0 };
    if (!(R->keys = d2ev_keyring_parse(cfg->credentials_keys, &err)))
        return usage("credentials-keys", err.msg);
    R->margin_ms = cfg->refresh_margin_s * 1000;
    d2ev_hmap_init(&R->fleet);
    if (!(R->outcomes = reg_outcomes_create((size_t)cfg->outcomes_max))) {
        d2ev_log_error("out of memory");
        return D2EV_EXIT_FAILURE;
    }
    reg_tokens_source(R);
    struct d2ev_oem_engine_conf ec = {
        .tokens = &R->tsrc,
        .default_deadline_ms = cfg->op_deadline_ms,
    };
    if (!(R->engine = d2ev_oem_engine_create(&ec, &err))) {
        d2ev_log_error("cannot create the OEM engine", D2EV_LF_STR("error", err.msg));
        return D2EV_EXIT_FAILURE;
    }
    int rc = load_oems(R, cfg);
    if (rc)
        return rc;
    if (!(R->producer = d2ev_producer_create(d2ev_service_kafka(R->svc), &err))) {
        d2ev_log_error("cannot create the producer", D2EV_LF_STR("error", err.msg));
        return D2EV_EXIT_FAILURE;
    }
    prewarm(R);
    static const char *const topics[] = { D2EV_TOPIC_REG_REQUESTS, D2EV_TOPIC_VEHICLES,
                                          D2EV_TOPIC_CREDENTIALS, D2EV_TOPIC_REG_RESULTS, NULL };
    static const char *const state[] = { D2EV_TOPIC_VEHICLES, D2EV_TOPIC_CREDENTIALS,
                                         D2EV_TOPIC_REG_RESULTS, NULL };
    struct d2ev_consumer_conf cc = {
        .kafka = d2ev_service_kafka(R->svc),
        .group_id = d2ev_service_group(R->svc),
        .topics = topics,
        .state_topics = state,
        .on_assign = on_assign,
        .on_revoke = on_revoke,
        .opaque = R,
        .producer = R->producer,
        .instance_id = d2ev_service_instance(R->svc),
    };
    if (!(R->consumer = d2ev_consumer_create(&cc, &err))) {
        d2ev_log_error("cannot create the consumer", D2EV_LF_STR("error", err.msg));
        return D2EV_EXIT_FAILURE;
    }
    return 0;
}

static void metrics(struct reg *R)
{
    const char *help = "Registration requests answered";
    R->m_requests[0] =
        d2ev_metric_counter("d2ev_registration_requests_total", help, "result=\"accepted\"");
    R->m_requests[1] =
        d2ev_metric_counter("d2ev_registration_requests_total", help, "result=\"rejected\"");
    R->m_refresh_ok = d2ev_metric_counter("d2ev_registration_token_refreshes_total",
                                          "OEM token refreshes", "result=\"ok\"");
    R->m_refresh_failed = d2ev_metric_counter("d2ev_registration_token_refreshes_total",
                                              "OEM token refreshes", "result=\"failed\"");
    R->m_dead = d2ev_metric_counter("d2ev_registration_rejected_inputs_total",
                                    "Requests dead-lettered because they do not decode", NULL);
    R->m_suspended = d2ev_metric_counter("d2ev_registration_suspended_total",
                                         "Vehicles suspended (consent revoked)", NULL);
    R->m_vehicles =
        d2ev_metric_gauge("d2ev_registration_vehicles", "Vehicles held by this replica", NULL);
    R->m_in_flight = d2ev_metric_gauge("d2ev_registration_requests_in_flight",
                                       "Requests consumed and not yet answered", NULL);
}

static int registration_run(struct d2ev_service *svc, void *config)
{
    const struct reg_config *cfg = config;
    struct reg R = { .svc = svc, .cfg = cfg };
    metrics(&R);
    int status = setup(&R, cfg);
    if (status == 0) {
        int rc = loop(&R);
        if (!rc) { /* finish what is in flight, deliver it, commit it */
            drain_engine(&R);
            settle(&R, true);
        }
        status = rc == D2EV_OK ? D2EV_EXIT_OK : D2EV_EXIT_FAILURE;
        if (rc)
            d2ev_log_error("stopping on error", D2EV_LF_STR("error", d2ev_rc_name(rc)));
    }
    d2ev_consumer_close(R.consumer); /* revoke: drains, commits what completed */
    d2ev_oem_engine_destroy(R.engine);
    reg_fleet_destroy(&R);
    for (size_t i = 0; i < R.nparts; i++) {
        while (R.parts[i].head) {
            struct reg_msg *m = R.parts[i].head;
            R.parts[i].head = m->next;
            free_msg(&R, m);
        }
    }
    free(R.parts);
    d2ev_producer_destroy(R.producer);
    for (size_t i = 0; i < R.noems; i++) {
        d2ev_crypto_free_secret(R.oems[i].app_access, 0);
        d2ev_oem_unload(R.oems[i].oem);
    }
    d2ev_crypto_free_secret(R.scratch_access, 0);
    d2ev_crypto_free_secret(R.scratch_refresh, 0);
    reg_outcomes_destroy(R.outcomes);
    d2ev_keyring_destroy(R.keys);
    return status;
}

const struct d2ev_service_def d2ev_registration_def = {
    .name = SERVICE,
    .summary = "Turns the app's registration requests into managed vehicles: checks the OEM "
               "link (code exchange or token refresh, through the adapter), writes the vehicle "
               "record and the sealed credentials, applies preference changes, erases a "
               "vehicle with tombstones, and refreshes OEM tokens before they expire as the "
               "single writer of d2ev.credentials. Answers every request on "
               "d2ev.registration.results.",
    .default_admin_port = 9102,
    .needs_kafka = true,
    .config_title = "Registration",
    .config = reg_table,
    .config_size = sizeof(struct reg_config),
    .sections = reg_sections,
    .run = registration_run,
};
