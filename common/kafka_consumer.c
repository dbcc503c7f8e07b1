/* kafka_consumer.c: group consumer and full-topic reader with commit-after-processing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/kafka.h"
#include "d2ev/log.h"
#include "d2ev/metrics.h"
#include "d2ev/util.h"

#define TOPIC_MAX 128

struct mark {
    char topic[TOPIC_MAX];
    int32_t partition;
    int64_t next; /* offset to commit: last processed + 1 */
    bool dirty;
};

struct progress {
    char topic[TOPIC_MAX];
    int32_t partition;
    int64_t target; /* high watermark at assignment; -1 = wait for EOF */
    int64_t seen;   /* offsets below this were handled before this assignment */
    bool reached;
};

struct d2ev_consumer {
    rd_kafka_t *rk;
    bool reader; /* no group: all partitions, no commits */
    char **state_topics;
    size_t nstate;
    d2ev_rebalance_fn on_assign, on_revoke;
    void *opaque;
    struct d2ev_producer *producer;
    struct mark *marks;
    size_t nmarks, capmarks;
    struct progress *prog;
    size_t nprog, capprog;
    size_t assigned;
    bool assigned_once;
    struct d2ev_metric *m_consumed;
    struct d2ev_metric *m_errors;
    struct d2ev_metric *m_rebalances;
};

static bool is_state_topic(const struct d2ev_consumer *c, const char *topic)
{
    for (size_t i = 0; i < c->nstate; i++) {
        if (strcmp(c->state_topics[i], topic) == 0)
            return true;
    }
    return false;
}

static struct progress *find_progress(struct d2ev_consumer *c, const char *topic, int32_t part)
{
    for (size_t i = 0; i < c->nprog; i++) {
        if (c->prog[i].partition == part && strcmp(c->prog[i].topic, topic) == 0)
            return &c->prog[i];
    }
    return NULL;
}

/* Track catch-up of a partition that is replayed from the beginning. */
static void track_partition(struct d2ev_consumer *c, const char *topic, int32_t part)
{
    if (c->nprog == c->capprog) {
        size_t cap = c->capprog ? c->capprog * 2 : 16;
        struct progress *np = realloc(c->prog, cap * sizeof(*np));
        if (!np)
            return; /* readiness then waits for EOF on the others; logged below */
        c->prog = np;
        c->capprog = cap;
    }
    struct progress *p = &c->prog[c->nprog++];
    memset(p, 0, sizeof(*p));
    snprintf(p->topic, sizeof(p->topic), "%s", topic);
    p->partition = part;
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(c->rk, topic, part, &lo, &hi, 5000);
    if (e) {
        p->target = -1;
        d2ev_log_warn("cannot read watermarks; waiting for end of partition",
                      D2EV_LF_STR("topic", topic), D2EV_LF_INT("partition", part),
                      D2EV_LF_STR("error", rd_kafka_err2str(e)));
    } else {
        p->target = hi;
        p->reached = hi <= lo;
    }
    p->seen = c->reader && p->target > 0 ? p->target : 0;
}

/* For a group: what it had committed on the replayed partitions is what its
 * members already handled (state topics are committed like any other, only
 * read again from the beginning). */
static void load_seen(struct d2ev_consumer *c, const rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++)
        if (is_state_topic(c, parts->elems[i].topic))
            rd_kafka_topic_partition_list_add(l, parts->elems[i].topic, parts->elems[i].partition);
    if (l->cnt && rd_kafka_committed(c->rk, l, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < l->cnt; i++) {
            struct progress *p = find_progress(c, l->elems[i].topic, l->elems[i].partition);
            if (p && !l->elems[i].err && l->elems[i].offset > 0)
                p->seen = l->elems[i].offset;
        }
    } else if (l->cnt) {
        /* fall back to what was there at assignment: never commit backwards */
        d2ev_log_warn("cannot read committed offsets; taking the high watermarks instead");
        for (int i = 0; i < l->cnt; i++) {
            struct progress *p = find_progress(c, l->elems[i].topic, l->elems[i].partition);
            if (p && p->target > 0)
                p->seen = p->target;
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
}

bool d2ev_consumer_is_replay(const struct d2ev_consumer *c, const rd_kafka_message_t *msg)
{
    if (!c || !msg->rkt)
        return false;
    const struct progress *p =
        find_progress((struct d2ev_consumer *)c, rd_kafka_topic_name(msg->rkt), msg->partition);
    return p && msg->offset < p->seen;
}

static void drop_marks(struct d2ev_consumer *c)
{
    c->nmarks = 0;
}

static void on_assign(struct d2ev_consumer *c, rd_kafka_topic_partition_list_t *parts)
{
    c->nprog = 0;
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        if (c->reader || is_state_topic(c, tp->topic)) {
            tp->offset = RD_KAFKA_OFFSET_BEGINNING;
            track_partition(c, tp->topic, tp->partition);
        }
    }
    if (!c->reader && c->nstate)
        load_seen(c, parts);
    if (c->on_assign)
        c->on_assign(c->opaque, parts);
    c->assigned = (size_t)parts->cnt;
    c->assigned_once = true;
}

static void on_revoke(struct d2ev_consumer *c, rd_kafka_topic_partition_list_t *parts)
{
    if (c->on_revoke)
        c->on_revoke(c->opaque, parts);
    if (c->producer) {
        struct d2ev_err err;
        if (d2ev_producer_flush(c->producer, 10000, &err) != D2EV_OK) {
            /* do not commit: the partitions' next owner re-processes them */
            d2ev_log_error("flush failed on revoke; offsets not committed",
                           D2EV_LF_STR("error", err.msg));
            drop_marks(c);
        }
    }
    struct d2ev_err err;
    if (d2ev_consumer_commit(c, true, &err) != D2EV_OK)
        d2ev_log_warn("commit on revoke failed", D2EV_LF_STR("error", err.msg));
    drop_marks(c);
    c->nprog = 0;
    c->assigned = 0;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct d2ev_consumer *c = opaque;
    d2ev_metric_inc(c->m_rebalances);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        d2ev_log_info("partitions assigned", D2EV_LF_INT("count", parts->cnt));
        on_assign(c, parts);
        rd_kafka_assign(rk, parts);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        d2ev_log_info("partitions revoked", D2EV_LF_INT("count", parts->cnt));
        on_revoke(c, parts);
        rd_kafka_assign(rk, NULL);
    } else {
        d2ev_log_error("rebalance failed", D2EV_LF_STR("error", rd_kafka_err2str(err)));
        rd_kafka_assign(rk, NULL);
        c->assigned = 0;
        c->nprog = 0;
    }
}

static int copy_topics(struct d2ev_consumer *c, const char *const *state, struct d2ev_err *err)
{
    for (const char *const *t = state; t && *t; t++)
        c->nstate++;
    if (!c->nstate)
        return D2EV_OK;
    c->state_topics = calloc(c->nstate, sizeof(char *));
    if (!c->state_topics)
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < c->nstate; i++) {
        c->state_topics[i] = strdup(state[i]);
        if (!c->state_topics[i])
            return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    }
    return D2EV_OK;
}

/* Reader: assign every partition of every topic, from the beginning. */
static int assign_all(struct d2ev_consumer *c, const char *const *topics, struct d2ev_err *err)
{
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(16);
    for (const char *const *t = topics; *t; t++) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(c->rk, *t, NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(c->rk, 0, rkt, &md, 10000);
        if (e || md->topic_cnt != 1 || md->topics[0].err) {
            rd_kafka_resp_err_t te = e ? e : md->topics[0].err;
            if (md)
                rd_kafka_metadata_destroy(md);
            rd_kafka_topic_destroy(rkt);
            rd_kafka_topic_partition_list_destroy(parts);
            return d2ev_err_set(err, D2EV_ERR_KAFKA, "cannot read metadata of topic %s: %s", *t,
                                rd_kafka_err2str(te));
        }
        for (int p = 0; p < md->topics[0].partition_cnt; p++)
            rd_kafka_topic_partition_list_add(parts, *t, md->topics[0].partitions[p].id);
        rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
    }
    on_assign(c, parts);
    rd_kafka_resp_err_t e = rd_kafka_assign(c->rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (e)
        return d2ev_err_set(err, D2EV_ERR_KAFKA, "cannot assign partitions: %s",
                            rd_kafka_err2str(e));
    return D2EV_OK;
}

struct d2ev_consumer *d2ev_consumer_create(const struct d2ev_consumer_conf *conf,
                                           struct d2ev_err *err)
{
    struct d2ev_consumer *c = calloc(1, sizeof(*c));
    if (!c) {
        d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    c->reader = conf->group_id == NULL;
    c->on_assign = conf->on_assign;
    c->on_revoke = conf->on_revoke;
    c->opaque = conf->opaque;
    c->producer = conf->producer;
    if (!conf->topics || !conf->topics[0]) {
        d2ev_err_set(err, D2EV_ERR_INVALID, "consumer needs at least one topic");
        goto fail;
    }
    if (copy_topics(c, conf->state_topics, err))
        goto fail;

    rd_kafka_conf_t *kc = d2ev_kafka_conf_build(conf->kafka, err);
    if (!kc)
        goto fail;
    char session[32];
    snprintf(session, sizeof(session), "%d",
             conf->session_timeout_ms > 0 ? conf->session_timeout_ms : 10000);
    int rc = d2ev_kafka_conf_set(kc, "enable.auto.commit", "false", err) ||
             d2ev_kafka_conf_set(kc, "enable.auto.offset.store", "false", err) ||
             d2ev_kafka_conf_set(kc, "auto.offset.reset", "earliest", err) ||
             d2ev_kafka_conf_set(kc, "enable.partition.eof", "true", err) ||
             d2ev_kafka_conf_set(kc, "fetch.wait.max.ms", "100", err);
    if (!rc && c->reader) {
        /* A reader never joins or commits, but librdkafka's consumer queue needs a
         * group id; make it unique so no two readers ever share one. */
        char gid[64], uuid[D2EV_UUID_STR_LEN + 1];
        d2ev_uuid_v4(uuid);
        snprintf(gid, sizeof(gid), "d2ev-reader-%s", uuid);
        rc = d2ev_kafka_conf_set(kc, "group.id", gid, err);
    } else if (!rc) {
        /* range keeps partition N of every input topic on the same member:
         * that member owns the same slice of the fleet on all of them */
        rc = d2ev_kafka_conf_set(kc, "group.id", conf->group_id, err) ||
             d2ev_kafka_conf_set(kc, "partition.assignment.strategy", "range", err) ||
             d2ev_kafka_conf_set(kc, "session.timeout.ms", session, err) ||
             d2ev_kafka_conf_set(kc, "heartbeat.interval.ms", "1000", err);
        if (!rc && conf->instance_id && *conf->instance_id)
            rc = d2ev_kafka_conf_set(kc, "client.id", conf->instance_id, err);
    }
    if (rc) {
        rd_kafka_conf_destroy(kc);
        goto fail;
    }
    rd_kafka_conf_set_opaque(kc, c);
    if (!c->reader)
        rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
    char errstr[512];
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, sizeof(errstr));
    if (!c->rk) {
        rd_kafka_conf_destroy(kc);
        d2ev_err_set(err, D2EV_ERR_KAFKA, "cannot create Kafka consumer: %s", errstr);
        goto fail;
    }
    rd_kafka_poll_set_consumer(c->rk);
    c->m_consumed = d2ev_metric_counter("d2ev_kafka_consumed_total", "Messages consumed", NULL);
    c->m_errors = d2ev_metric_counter("d2ev_kafka_consumer_errors_total",
                                      "Consumer errors (transport, unknown topic, ...)", NULL);
    c->m_rebalances =
        d2ev_metric_counter("d2ev_kafka_rebalances_total", "Consumer group rebalances", NULL);

    if (c->reader) {
        if (assign_all(c, conf->topics, err))
            goto fail;
        return c;
    }
    size_t n = 0;
    while (conf->topics[n])
        n++;
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(subs, conf->topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(c->rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (e) {
        d2ev_err_set(err, D2EV_ERR_KAFKA, "cannot subscribe: %s", rd_kafka_err2str(e));
        goto fail;
    }
    return c;
fail:
    if (c->rk)
        rd_kafka_destroy(c->rk);
    for (size_t i = 0; c->state_topics && i < c->nstate; i++)
        free(c->state_topics[i]);
    free(c->state_topics);
    free(c);
    return NULL;
}

static void note_position(struct d2ev_consumer *c, const char *topic, int32_t part, int64_t next,
                          bool eof)
{
    struct progress *p = find_progress(c, topic, part);
    if (!p || p->reached)
        return;
    if (eof || (p->target >= 0 && next >= p->target))
        p->reached = true;
}

size_t d2ev_consumer_poll(struct d2ev_consumer *c, rd_kafka_message_t **msgs, size_t max,
                          int timeout_ms)
{
    size_t n = 0;
    int t = timeout_ms;
    while (n < max) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, t);
        if (!m)
            break;
        t = 0;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->rkt)
                note_position(c, rd_kafka_topic_name(m->rkt), m->partition, m->offset, true);
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err) {
            d2ev_metric_inc(c->m_errors);
            d2ev_log_warn("kafka consumer error", D2EV_LF_STR("error", rd_kafka_err2name(m->err)),
                          D2EV_LF_STR("detail", rd_kafka_message_errstr(m)),
                          D2EV_LF_STR("topic", m->rkt ? rd_kafka_topic_name(m->rkt) : ""));
            rd_kafka_message_destroy(m);
            continue;
        }
        note_position(c, rd_kafka_topic_name(m->rkt), m->partition, m->offset + 1, false);
        d2ev_metric_inc(c->m_consumed);
        msgs[n++] = m;
    }
    return n;
}

void d2ev_consumer_done(struct d2ev_consumer *c, rd_kafka_message_t *const *msgs, size_t n)
{
    if (c->reader)
        return;
    for (size_t i = 0; i < n; i++) {
        const char *topic = rd_kafka_topic_name(msgs[i]->rkt);
        if (d2ev_consumer_is_replay(c, msgs[i]))
            continue; /* never move a committed offset back */
        struct mark *mk = NULL;
        for (size_t j = 0; j < c->nmarks && !mk; j++) {
            if (c->marks[j].partition == msgs[i]->partition && !strcmp(c->marks[j].topic, topic))
                mk = &c->marks[j];
        }
        if (!mk) {
            if (c->nmarks == c->capmarks) {
                size_t cap = c->capmarks ? c->capmarks * 2 : 16;
                struct mark *nm = realloc(c->marks, cap * sizeof(*nm));
                if (!nm) {
                    d2ev_log_error("out of memory marking offsets; will re-process");
                    return;
                }
                c->marks = nm;
                c->capmarks = cap;
            }
            mk = &c->marks[c->nmarks++];
            snprintf(mk->topic, sizeof(mk->topic), "%s", topic);
            mk->partition = msgs[i]->partition;
            mk->next = -1;
            mk->dirty = false;
        }
        if (msgs[i]->offset + 1 > mk->next) {
            mk->next = msgs[i]->offset + 1;
            mk->dirty = true;
        }
    }
}

int d2ev_consumer_commit(struct d2ev_consumer *c, bool sync, struct d2ev_err *err)
{
    if (c->reader)
        return D2EV_OK;
    rd_kafka_topic_partition_list_t *list = NULL;
    for (size_t i = 0; i < c->nmarks; i++) {
        if (!c->marks[i].dirty)
            continue;
        if (!list)
            list = rd_kafka_topic_partition_list_new((int)c->nmarks);
        rd_kafka_topic_partition_list_add(list, c->marks[i].topic, c->marks[i].partition)->offset =
            c->marks[i].next;
    }
    if (!list)
        return D2EV_OK;
    rd_kafka_resp_err_t e = rd_kafka_commit(c->rk, list, sync ? 0 : 1);
    rd_kafka_topic_partition_list_destroy(list);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        return d2ev_err_set(err, D2EV_ERR_KAFKA, "offset commit failed: %s", rd_kafka_err2str(e));
    for (size_t i = 0; i < c->nmarks; i++)
        c->marks[i].dirty = false;
    return D2EV_OK;
}

bool d2ev_consumer_caught_up(const struct d2ev_consumer *c)
{
    if (!c->assigned_once)
        return false;
    for (size_t i = 0; i < c->nprog; i++) {
        if (!c->prog[i].reached)
            return false;
    }
    return true;
}

size_t d2ev_consumer_assigned(const struct d2ev_consumer *c)
{
    return c->assigned;
}

rd_kafka_t *d2ev_consumer_handle(struct d2ev_consumer *c)
{
    return c->rk;
}

void d2ev_consumer_close(struct d2ev_consumer *c)
{
    if (!c)
        return;
    struct d2ev_err err;
    if (c->producer && d2ev_producer_flush(c->producer, 10000, &err) != D2EV_OK) {
        d2ev_log_error("flush failed on close; offsets not committed",
                       D2EV_LF_STR("error", err.msg));
        drop_marks(c);
    }
    if (d2ev_consumer_commit(c, true, &err) != D2EV_OK)
        d2ev_log_warn("final commit failed", D2EV_LF_STR("error", err.msg));
    rd_kafka_consumer_close(c->rk); /* runs the revoke callback */
    rd_kafka_destroy(c->rk);
    for (size_t i = 0; i < c->nstate; i++)
        free(c->state_topics[i]);
    free(c->state_topics);
    free(c->marks);
    free(c->prog);
    free(c);
}
