/*
 * Kafka producer and consumer wrappers over librdkafka.
 *
 * Delivery is at least once. The pattern every service follows:
 *
 *   n = d2ev_consumer_poll(c, msgs, MAX, 100);
 *   for each msg: handle it, producing outputs with d2ev_producer_send*();
 *   d2ev_producer_flush(p, ...);            // outputs are acknowledged
 *   d2ev_consumer_done(c, msgs, n);         // inputs are now processed
 *   d2ev_consumer_commit(c, false, ...);    // and their offsets committed
 *   destroy msgs
 *
 * so an offset is committed only after everything its message caused has been
 * delivered. A crash re-delivers at most the last batch; consumers are
 * idempotent by event id or schedule version.
 *
 * Thread-safety: a producer may be used from any thread. A consumer belongs to
 * the thread that polls it; rebalance callbacks run inside d2ev_consumer_poll
 * on that thread.
 */
#ifndef D2EV_KAFKA_H
#define D2EV_KAFKA_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/error.h"

/* Connection settings shared by producers and consumers. Strings are borrowed
 * and must outlive the handles created from them. */
struct d2ev_kafka_conf {
    const char *brokers;           /* bootstrap.servers */
    const char *security_protocol; /* plaintext (default), ssl, sasl_plaintext, sasl_ssl */
    const char *sasl_mechanism;    /* PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 */
    const char *sasl_username;
    const char *sasl_password; /* secret: never logged */
    const char *ssl_ca_location;
    const char *client_id;
    const char *extra; /* extra librdkafka properties "k=v,k=v" (advanced) */
};

/* Build an rd_kafka_conf_t from conf. Returns NULL with err set. The caller
 * owns the result (rd_kafka_conf_destroy, or hand it to rd_kafka_new which
 * takes it on success). */
rd_kafka_conf_t *d2ev_kafka_conf_build(const struct d2ev_kafka_conf *conf, struct d2ev_err *err);

/* d2ev_kafka_conf_build for a producer: adds the partitioner every d2ev
 * producer uses, murmur2_random, which matches the Java client (and
 * d2ev_kafka_partition_of). Consumers must not get it: librdkafka warns. */
rd_kafka_conf_t *d2ev_kafka_conf_build_producer(const struct d2ev_kafka_conf *conf,
                                                struct d2ev_err *err);

/* Set one librdkafka property on c; returns 0 or D2EV_ERR_INVALID. */
int d2ev_kafka_conf_set(rd_kafka_conf_t *c, const char *name, const char *value,
                        struct d2ev_err *err);

/* ---------------------------------------------------------------- producer */

struct d2ev_producer;

/* An idempotent producer (acks=all, retries without reordering). */
struct d2ev_producer *d2ev_producer_create(const struct d2ev_kafka_conf *conf,
                                           struct d2ev_err *err);

/* Queue one message; the bytes are copied. key is a NUL-terminated string or
 * NULL. value NULL produces a tombstone. Blocks (polling for delivery reports)
 * while the local queue is full, up to 10 s. Returns 0, or D2EV_ERR_KAFKA. */
int d2ev_producer_send(struct d2ev_producer *p, const char *topic, const char *key,
                       const void *value, size_t len, struct d2ev_err *err);

/* Serialise msg compactly and send it. msg is borrowed. */
int d2ev_producer_send_json(struct d2ev_producer *p, const char *topic, const char *key,
                            const json_t *msg, struct d2ev_err *err);

/* Serve delivery reports (non-blocking with timeout_ms 0). */
void d2ev_producer_poll(struct d2ev_producer *p, int timeout_ms);

/* Wait until every queued message is delivered or failed. Returns 0 when all
 * were delivered; D2EV_ERR_TIMEOUT if some are still in flight; D2EV_ERR_KAFKA
 * if any delivery failed since the previous flush (the failure count is then
 * reset). A failed delivery means the batch must not be committed. */
int d2ev_producer_flush(struct d2ev_producer *p, int timeout_ms, struct d2ev_err *err);

/* Messages queued but not yet acknowledged. */
int d2ev_producer_outq(struct d2ev_producer *p);

/* Counters since creation. */
uint64_t d2ev_producer_delivered(const struct d2ev_producer *p);
uint64_t d2ev_producer_failed(const struct d2ev_producer *p);

/* True after a fatal (idempotence) error: the process should exit and restart. */
bool d2ev_producer_fatal(const struct d2ev_producer *p);

/* The librdkafka handle (borrowed), for advanced use. */
rd_kafka_t *d2ev_producer_handle(struct d2ev_producer *p);

/* Flush for up to 10 s, then free. Logs messages that could not be delivered.
 * NULL is a no-op. */
void d2ev_producer_destroy(struct d2ev_producer *p);

/* ---------------------------------------------------------------- consumer */

struct d2ev_consumer;

/* Called from d2ev_consumer_poll on the polling thread. parts is borrowed. */
typedef void (*d2ev_rebalance_fn)(void *opaque, const rd_kafka_topic_partition_list_t *parts);

struct d2ev_consumer_conf {
    const struct d2ev_kafka_conf *kafka;
    /* Consumer group. NULL makes a "reader": it is assigned every partition of
     * every topic, reads from the beginning and never commits (forecasts). */
    const char *group_id;
    const char *const *topics; /* NULL-terminated */
    /* Compacted state topics among `topics`: replayed from the beginning on
     * every assignment (the view is rebuilt at start-up); committed like the
     * others, so d2ev_consumer_is_replay can tell old records from new. */
    const char *const *state_topics; /* NULL-terminated, may be NULL */
    d2ev_rebalance_fn on_assign;     /* after offsets are set, before fetching */
    d2ev_rebalance_fn on_revoke;     /* before flush + commit + release */
    void *opaque;
    /* Flushed before offsets are committed on revoke and close. May be NULL. */
    struct d2ev_producer *producer;
    int session_timeout_ms;  /* 0 = 10000 */
    const char *instance_id; /* client.id suffix, e.g. the pod name; may be NULL */
};

struct d2ev_consumer *d2ev_consumer_create(const struct d2ev_consumer_conf *conf,
                                           struct d2ev_err *err);

/* Wait up to timeout_ms for the first message, then take whatever else is
 * ready, up to max. Errors other than partition EOF are logged and counted,
 * not returned. The caller owns each returned message and frees it with
 * rd_kafka_message_destroy(). Returns the count. */
size_t d2ev_consumer_poll(struct d2ev_consumer *c, rd_kafka_message_t **msgs, size_t max,
                          int timeout_ms);

/* Mark messages as processed: their offsets (+1) become the next commit.
 * Replays (d2ev_consumer_is_replay) are ignored, so a commit never moves an
 * offset back. */
void d2ev_consumer_done(struct d2ev_consumer *c, rd_kafka_message_t *const *msgs, size_t n);

/* Commit the marked offsets (async unless sync). No marks is success. */
int d2ev_consumer_commit(struct d2ev_consumer *c, bool sync, struct d2ev_err *err);

/* True once there is an assignment and every assigned partition of a state
 * topic has been read up to the high watermark seen when it was assigned.
 * A reader is caught up when all its partitions reached their watermark. */
bool d2ev_consumer_caught_up(const struct d2ev_consumer *c);

/* Number of partitions currently assigned. */
size_t d2ev_consumer_assigned(const struct d2ev_consumer *c);

/* True when msg is a replay of a record this consumer (or the group's
 * previous member) already handled: for a group, a state-topic record below
 * the offset the group had committed when the partition was assigned; for a
 * reader, a record that was already there (below the high watermark) at
 * assignment. A rejected replay was dead-lettered when it first came; a
 * rejected record that is not a replay must be dead-lettered now. c may be
 * NULL (false). */
bool d2ev_consumer_is_replay(const struct d2ev_consumer *c, const rd_kafka_message_t *msg);

/* Commit marked offsets synchronously, leave the group, free. NULL is a no-op. */
void d2ev_consumer_close(struct d2ev_consumer *c);

/* The librdkafka handle (borrowed). */
rd_kafka_t *d2ev_consumer_handle(struct d2ev_consumer *c);

/* The partition d2ev producers put `key` in, for a topic of partition_cnt
 * partitions (murmur2, as the Java client). Lets a service tell which of its
 * vehicles belong to revoked partitions. */
int32_t d2ev_kafka_partition_of(const char *key, int32_t partition_cnt);

/* Key of a message as a NUL-terminated string in buf (truncated; empty if
 * none). Returns buf. */
char *d2ev_msg_key(const rd_kafka_message_t *msg, char *buf, size_t size);

#endif
