/* bridge_producer.c: per-message delivery waits (see bridge_producer.h).
 *
 * A waiter is shared by the sender and the delivery report, so it is
 * reference-counted: a sender that gives up (timeout) leaves the report to
 * free it. */
#include "bridge_producer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "d2ev/log.h"
#include "d2ev/metrics.h"

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    rd_kafka_resp_err_t err;
    atomic_int refs;
};

struct bridge_producer {
    rd_kafka_t *rk;
    pthread_t thread;
    atomic_bool stop;
    atomic_bool fatal;
    struct d2ev_metric *m_delivered, *m_failed;
};

static void waiter_put(struct waiter *w)
{
    if (atomic_fetch_sub(&w->refs, 1) == 1) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
    }
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct bridge_producer *p = opaque;
    struct waiter *w = m->_private;
    d2ev_metric_inc(m->err ? p->m_failed : p->m_delivered);
    if (m->err)
        d2ev_log_error("kafka delivery failed", D2EV_LF_STR("topic", rd_kafka_topic_name(m->rkt)),
                       D2EV_LF_STR("error", rd_kafka_err2str(m->err)));
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->done = true;
    w->err = m->err;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    waiter_put(w);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct bridge_producer *p = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        atomic_store(&p->fatal, true);
        d2ev_log_error("kafka producer fatal error", D2EV_LF_STR("detail", reason));
        return;
    }
    d2ev_log_warn("kafka producer error", D2EV_LF_STR("error", rd_kafka_err2name(err)),
                  D2EV_LF_STR("detail", reason));
}

static void *poll_thread(void *arg)
{
    struct bridge_producer *p = arg;
    while (!atomic_load(&p->stop))
        rd_kafka_poll(p->rk, 100);
    return NULL;
}

struct bridge_producer *bridge_producer_create(const struct d2ev_kafka_conf *conf, int linger_ms,
                                               struct d2ev_err *err)
{
    struct bridge_producer *p = calloc(1, sizeof(*p));
    if (!p) {
        d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    rd_kafka_conf_t *c = d2ev_kafka_conf_build_producer(conf, err);
    char linger[16];
    snprintf(linger, sizeof(linger), "%d", linger_ms);
    if (!c || d2ev_kafka_conf_set(c, "enable.idempotence", "true", err) ||
        d2ev_kafka_conf_set(c, "linger.ms", linger, err) ||
        d2ev_kafka_conf_set(c, "queue.buffering.max.messages", "500000", err)) {
        if (c)
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
    if (pthread_create(&p->thread, NULL, poll_thread, p) != 0) {
        rd_kafka_destroy(p->rk);
        free(p);
        d2ev_err_set(err, D2EV_ERR_IO, "cannot start the delivery-report thread");
        return NULL;
    }
    return p;
}

int bridge_producer_send(struct bridge_producer *p, const char *topic, const char *key,
                         const void *value, size_t len, int timeout_ms, struct d2ev_err *err)
{
    if (atomic_load(&p->fatal))
        return d2ev_err_set(err, D2EV_ERR_KAFKA, "producer is in a fatal state; restart needed");
    struct waiter *w = calloc(1, sizeof(*w));
    if (!w)
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&w->refs, 2); /* the sender and the delivery report */
    rd_kafka_resp_err_t e = rd_kafka_producev(
        p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
        RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(w), RD_KAFKA_V_END);
    if (e) {
        atomic_store(&w->refs, 1);
        waiter_put(w);
        return d2ev_err_set(err, D2EV_ERR_KAFKA, "cannot produce to %s: %s", topic,
                            rd_kafka_err2str(e));
    }
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->mu);
    int wr = 0;
    while (!w->done && wr != ETIMEDOUT)
        wr = pthread_cond_timedwait(&w->cv, &w->mu, &until);
    bool done = w->done;
    rd_kafka_resp_err_t derr = w->err;
    pthread_mutex_unlock(&w->mu);
    waiter_put(w);
    if (!done)
        return d2ev_err_set(err, D2EV_ERR_TIMEOUT, "no delivery report from Kafka within %d ms",
                            timeout_ms);
    if (derr)
        return d2ev_err_set(err, D2EV_ERR_KAFKA, "Kafka did not accept the message: %s",
                            rd_kafka_err2str(derr));
    return D2EV_OK;
}

bool bridge_producer_fatal(struct bridge_producer *p)
{
    return atomic_load(&p->fatal);
}

void bridge_producer_destroy(struct bridge_producer *p, int timeout_ms)
{
    if (!p)
        return;
    if (rd_kafka_flush(p->rk, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
        d2ev_log_error("messages not delivered at shutdown",
                       D2EV_LF_INT("count", rd_kafka_outq_len(p->rk)));
    atomic_store(&p->stop, true);
    pthread_join(p->thread, NULL);
    /* reports of purged messages free their waiters */
    rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(p->rk, 0);
    rd_kafka_destroy(p->rk);
    free(p);
}
