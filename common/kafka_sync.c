/* kafka_sync.c: a producer whose send waits for that message's acknowledgement. */
#include "d2ev/kafka_sync.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "d2ev/log.h"
#include "d2ev/metrics.h"

/* One message in flight. Two owners: the sender and the delivery report; the
 * last one to let go frees it (the sender may give up on a timeout first). */
struct waiter {
    int refs; /* under the producer's lock */
    bool done;
    rd_kafka_resp_err_t result;
};

struct d2ev_sync_producer {
    rd_kafka_t *rk;
    pthread_t poller;
    bool poller_started;
    _Atomic bool stop;
    int delivery_timeout_ms;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* broadcast on every delivery report */
    struct d2ev_metric *m_delivered;
    struct d2ev_metric *m_failed;
};

static void release(struct d2ev_sync_producer *p, struct waiter *w)
{
    /* caller holds p->lock */
    if (--w->refs == 0)
        free(w);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct d2ev_sync_producer *p = opaque;
    struct waiter *w = m->_private;
    d2ev_metric_inc(m->err ? p->m_failed : p->m_delivered);
    if (!w)
        return;
    pthread_mutex_lock(&p->lock);
    w->done = true;
    w->result = m->err;
    release(p, w);
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static void *poll_thread(void *arg)
{
    struct d2ev_sync_producer *p = arg;
    while (!atomic_load(&p->stop))
        rd_kafka_poll(p->rk, 50);
    return NULL;
}

struct d2ev_sync_producer *d2ev_sync_producer_create(const struct d2ev_kafka_conf *conf,
                                                     int delivery_timeout_ms, struct d2ev_err *err)
{
    struct d2ev_sync_producer *p = calloc(1, sizeof(*p));
    if (!p) {
        d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    p->delivery_timeout_ms = delivery_timeout_ms > 0 ? delivery_timeout_ms : 10000;
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &ca);
    pthread_condattr_destroy(&ca);

    rd_kafka_conf_t *c = d2ev_kafka_conf_build_producer(conf, err);
    if (!c)
        goto fail;
    char timeout[24];
    snprintf(timeout, sizeof(timeout), "%d", p->delivery_timeout_ms);
    if (d2ev_kafka_conf_set(c, "enable.idempotence", "true", err) ||
        d2ev_kafka_conf_set(c, "linger.ms", "0", err) ||
        d2ev_kafka_conf_set(c, "message.timeout.ms", timeout, err)) {
        rd_kafka_conf_destroy(c);
        goto fail;
    }
    rd_kafka_conf_set_opaque(c, p);
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    char errstr[512];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof(errstr));
    if (!p->rk) {
        rd_kafka_conf_destroy(c);
        d2ev_err_set(err, D2EV_ERR_KAFKA, "cannot create Kafka producer: %s", errstr);
        goto fail;
    }
    p->m_delivered =
        d2ev_metric_counter("d2ev_kafka_produced_total", "Messages acknowledged by Kafka", NULL);
    p->m_failed = d2ev_metric_counter("d2ev_kafka_produce_failed_total",
                                      "Messages Kafka did not accept", NULL);
    if (pthread_create(&p->poller, NULL, poll_thread, p) != 0) {
        d2ev_err_set(err, D2EV_ERR_IO, "cannot start the delivery report thread");
        goto fail;
    }
    p->poller_started = true;
    return p;
fail:
    d2ev_sync_producer_destroy(p);
    return NULL;
}

static struct timespec deadline_after(int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

int d2ev_sync_producer_send(struct d2ev_sync_producer *p, const char *topic, const char *key,
                            const void *value, size_t len, struct d2ev_err *err)
{
    struct waiter *w = calloc(1, sizeof(*w));
    if (!w)
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    w->refs = 2;
    rd_kafka_resp_err_t e = rd_kafka_producev(
        p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
        RD_KAFKA_V_VALUE((void *)value, value ? len : 0), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(w), RD_KAFKA_V_END);
    if (e) {
        free(w);
        return d2ev_err_set(err, D2EV_ERR_KAFKA, "cannot produce to %s: %s", topic,
                            rd_kafka_err2str(e));
    }
    /* librdkafka reports every message within message.timeout.ms; the margin
     * covers the report thread's poll interval */
    struct timespec until = deadline_after(p->delivery_timeout_ms + 2000);
    pthread_mutex_lock(&p->lock);
    int wrc = 0;
    while (!w->done && wrc != ETIMEDOUT)
        wrc = pthread_cond_timedwait(&p->cond, &p->lock, &until);
    bool done = w->done;
    rd_kafka_resp_err_t result = w->result;
    release(p, w);
    pthread_mutex_unlock(&p->lock);
    if (!done)
        return d2ev_err_set(err, D2EV_ERR_TIMEOUT, "no delivery report from Kafka for %s", topic);
    if (result)
        return d2ev_err_set(err, D2EV_ERR_KAFKA, "Kafka did not accept the message for %s: %s",
                            topic, rd_kafka_err2str(result));
    return D2EV_OK;
}

void d2ev_sync_producer_destroy(struct d2ev_sync_producer *p)
{
    if (!p)
        return;
    if (p->rk && rd_kafka_flush(p->rk, p->delivery_timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
        d2ev_log_warn("messages still in flight at shutdown",
                      D2EV_LF_INT("count", rd_kafka_outq_len(p->rk)));
    atomic_store(&p->stop, true);
    if (p->poller_started)
        pthread_join(p->poller, NULL);
    if (p->rk) {
        /* report what is left as failed, so every waiter is released */
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(p->rk, 100);
        rd_kafka_destroy(p->rk);
    }
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
