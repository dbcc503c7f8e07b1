/* recover.c: read the tail of some partitions with a throw-away consumer (see recover.h). */
#include "recover.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev/log.h"
#include "d2ev/util.h"

struct target {
    int32_t partition;
    int64_t end; /* high watermark at the start */
    bool done;
};

static struct target *find(struct target *t, size_t n, int32_t p)
{
    for (size_t i = 0; i < n; i++) {
        if (t[i].partition == p)
            return &t[i];
    }
    return NULL;
}

static rd_kafka_t *open_consumer(const struct d2ev_kafka_conf *kc, struct d2ev_err *err)
{
    rd_kafka_conf_t *conf = d2ev_kafka_conf_build(kc, err);
    if (!conf)
        return NULL;
    char gid[64], uuid[D2EV_UUID_STR_LEN + 1];
    d2ev_uuid_v4(uuid);
    snprintf(gid, sizeof(gid), "d2ev-recover-%s", uuid); /* never joined nor committed */
    if (d2ev_kafka_conf_set(conf, "group.id", gid, err) ||
        d2ev_kafka_conf_set(conf, "enable.auto.commit", "false", err) ||
        d2ev_kafka_conf_set(conf, "enable.partition.eof", "true", err) ||
        d2ev_kafka_conf_set(conf, "auto.offset.reset", "earliest", err) ||
        d2ev_kafka_conf_set(conf, "fetch.wait.max.ms", "50", err)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        d2ev_err_set(err, D2EV_ERR_KAFKA, "cannot create a recovery consumer: %s", errstr);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

long tel_recover_tail(const struct d2ev_kafka_conf *kc, const char *topic, const int32_t *parts,
                      size_t n, int64_t tail, int64_t timeout_ms, tel_recover_fn fn, void *arg,
                      struct d2ev_err *err)
{
    if (!n || tail <= 0)
        return 0;
    rd_kafka_t *rk = open_consumer(kc, err);
    if (!rk)
        return err ? err->code : D2EV_ERR_KAFKA;
    struct target *t = calloc(n, sizeof(*t));
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
    size_t nt = 0, left = 0;
    long got = 0;
    if (!t) {
        got = d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(rk, topic, parts[i], &lo, &hi, 5000);
        if (e) {
            d2ev_log_warn("cannot read watermarks; that partition's sessions start afresh",
                          D2EV_LF_STR("topic", topic), D2EV_LF_INT("partition", parts[i]),
                          D2EV_LF_STR("error", rd_kafka_err2str(e)));
            continue;
        }
        int64_t start = hi - tail > lo ? hi - tail : lo;
        if (start >= hi)
            continue;
        rd_kafka_topic_partition_list_add(list, topic, parts[i])->offset = start;
        t[nt++] = (struct target){ .partition = parts[i], .end = hi };
    }
    left = nt;
    if (!nt)
        goto out;
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, list);
    if (e) {
        got = d2ev_err_set(err, D2EV_ERR_KAFKA, "cannot assign %s: %s", topic, rd_kafka_err2str(e));
        goto out;
    }
    int64_t deadline = d2ev_clock_mono_ms() + timeout_ms;
    while (left && d2ev_clock_mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        struct target *tg = m->rkt ? find(t, nt, m->partition) : NULL;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && tg && !tg->done) {
            fn(arg, m);
            got++;
        }
        if (tg && !tg->done &&
            (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF || m->offset + 1 >= tg->end)) {
            tg->done = true;
            left--;
        }
        rd_kafka_message_destroy(m);
    }
    if (left)
        d2ev_log_warn("session recovery timed out; some sessions start afresh",
                      D2EV_LF_STR("topic", topic), D2EV_LF_INT("partitions_unfinished", left));
    rd_kafka_assign(rk, NULL);
out:
    rd_kafka_topic_partition_list_destroy(list);
    free(t);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return got;
}
