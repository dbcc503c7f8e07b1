/* kafka_producer.c: idempotent producer with delivery accounting. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "d2ev/clock.h"
#include "d2ev/kafka.h"
#include "d2ev/log.h"
#include "d2ev/metrics.h"

struct d2ev_producer {
    rd_kafka_t *rk;
    _Atomic uint64_t delivered;
    _Atomic uint64_t failed;
    _Atomic uint64_t failed_since_flush;
    _Atomic bool fatal;
    struct d2ev_metric *m_delivered;
    struct d2ev_metric *m_failed;
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct d2ev_producer *p = opaque;
    if (m->err) {
        atomic_fetch_add(&p->failed, 1);
        atomic_fetch_add(&p->failed_since_flush, 1);
        d2ev_metric_inc(p->m_failed);
        d2ev_log_error("kafka delivery failed", D2EV_LF_STR("topic", rd_kafka_topic_name(m->rkt)),
                       D2EV_LF_STR("error", rd_kafka_err2str(m->err)));
    } else {
        atomic_fetch_add(&p->delivered, 1);
        d2ev_metric_inc(p->m_delivered);
    }
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct d2ev_producer *p = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[256];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof(buf));
        atomic_store(&p->fatal, true);
        d2ev_log_error("kafka producer fatal error", D2EV_LF_STR("error", rd_kafka_err2name(orig)),
                       D2EV_LF_STR("detail", buf));
        return;
    }
    /* transport errors repeat while a broker is down; keep them at warn */
    d2ev_log_warn("kafka producer error", D2EV_LF_STR("error", rd_kafka_err2name(err)),
                  D2EV_LF_STR("detail", reason));
}

struct d2ev_producer *d2ev_producer_create(const struct d2ev_kafka_conf *conf, struct d2ev_err *err)
{
    struct d2ev_producer *p = calloc(1, sizeof(*p));
    if (!p) {
        d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    rd_kafka_conf_t *c = d2ev_kafka_conf_build_producer(conf, err);
    if (!c) {
        free(p);
        return NULL;
    }
    if (d2ev_kafka_conf_set(c, "enable.idempotence", "true", err) ||
        d2ev_kafka_conf_set(c, "linger.ms", "5", err) ||
        d2ev_kafka_conf_set(c, "queue.buffering.max.messages", "500000", err)) {
        rd_kafka_conf_destroy(c);
        free(p);
        return NULL;
    }
    rd_kafka_conf_set_opaque(c, p);
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    rd_kafka_conf_set_error_cb(c, error_cb);
    char errstr[512];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof(errstr));
    if (!p->rk) {
        rd_kafka_conf_destroy(c);
        free(p);
        d2ev_err_set(err, D2EV_ERR_KAFKA, "cannot create Kafka producer: %s", errstr);
        return NULL;
    }
    p->m_delivered =
        d2ev_metric_counter("d2ev_kafka_produced_total", "Messages acknowledged by Kafka", NULL);
    p->m_failed = d2ev_metric_counter("d2ev_kafka_produce_failed_total",
                                      "Messages Kafka did not accept", NULL);
    return p;
}

int d2ev_producer_send(struct d2ev_producer *p, const char *topic, const char *key,
                       const void *value, size_t len, struct d2ev_err *err)
{
    if (atomic_load(&p->fatal))
        return d2ev_err_set(err, D2EV_ERR_KAFKA, "producer is in a fatal state; restart needed");
    int64_t deadline = d2ev_clock_mono_ms() + 10000;
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
            RD_KAFKA_V_VALUE((void *)value, value ? len : 0),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return D2EV_OK;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || d2ev_clock_mono_ms() > deadline)
            return d2ev_err_set(err, D2EV_ERR_KAFKA, "cannot produce to %s: %s", topic,
                                rd_kafka_err2str(e));
        rd_kafka_poll(p->rk, 50); /* back-pressure: wait for deliveries */
    }
}

int d2ev_producer_send_json(struct d2ev_producer *p, const char *topic, const char *key,
                            const json_t *msg, struct d2ev_err *err)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    if (!text)
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "cannot serialise message for %s", topic);
    int rc = d2ev_producer_send(p, topic, key, text, strlen(text), err);
    free(text);
    return rc;
}

void d2ev_producer_poll(struct d2ev_producer *p, int timeout_ms)
{
    rd_kafka_poll(p->rk, timeout_ms);
}

int d2ev_producer_flush(struct d2ev_producer *p, int timeout_ms, struct d2ev_err *err)
{
    rd_kafka_resp_err_t e = rd_kafka_flush(p->rk, timeout_ms);
    uint64_t failed = atomic_exchange(&p->failed_since_flush, 0);
    if (failed)
        return d2ev_err_set(err, D2EV_ERR_KAFKA, "%llu message(s) could not be delivered",
                            (unsigned long long)failed);
    if (e == RD_KAFKA_RESP_ERR__TIMED_OUT)
        return d2ev_err_set(err, D2EV_ERR_TIMEOUT, "%d message(s) still in flight after %d ms",
                            rd_kafka_outq_len(p->rk), timeout_ms);
    return D2EV_OK;
}

int d2ev_producer_outq(struct d2ev_producer *p)
{
    return rd_kafka_outq_len(p->rk);
}

uint64_t d2ev_producer_delivered(const struct d2ev_producer *p)
{
    return atomic_load(&((struct d2ev_producer *)p)->delivered);
}

uint64_t d2ev_producer_failed(const struct d2ev_producer *p)
{
    return atomic_load(&((struct d2ev_producer *)p)->failed);
}

bool d2ev_producer_fatal(const struct d2ev_producer *p)
{
    return atomic_load(&((struct d2ev_producer *)p)->fatal);
}

rd_kafka_t *d2ev_producer_handle(struct d2ev_producer *p)
{
    return p->rk;
}

void d2ev_producer_destroy(struct d2ev_producer *p)
{
    if (!p)
        return;
    rd_kafka_flush(p->rk, 10000);
    int left = rd_kafka_outq_len(p->rk);
    if (left > 0)
        d2ev_log_error("producer closed with undelivered messages", D2EV_LF_INT("count", left));
    rd_kafka_destroy(p->rk);
    free(p);
}
