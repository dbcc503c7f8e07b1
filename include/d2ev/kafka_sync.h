/*
 * A producer that confirms each message: d2ev_sync_producer_send() returns
 * only once Kafka acknowledged (or refused) that one message. For request /
 * response paths such as an HTTP handler that must answer "202 Accepted" only
 * after the event it produced is durable, from many threads at once.
 *
 * Batch services use struct d2ev_producer (d2ev/kafka.h) instead: there a
 * flush per batch is cheaper than a wait per message.
 *
 * Thread-safety: every function but create/destroy may be called from any
 * thread concurrently. A background thread serves delivery reports.
 *
 * Ownership: conf strings are borrowed and must outlive the producer; the
 * bytes passed to send are copied.
 */
#ifndef D2EV_KAFKA_SYNC_H
#define D2EV_KAFKA_SYNC_H

#include <stddef.h>

#include "d2ev/error.h"
#include "d2ev/kafka.h"

struct d2ev_sync_producer;

/* An idempotent producer (acks=all) whose messages time out in Kafka after
 * delivery_timeout_ms (0 = 10000). Returns NULL with err set. */
struct d2ev_sync_producer *d2ev_sync_producer_create(const struct d2ev_kafka_conf *conf,
                                                     int delivery_timeout_ms, struct d2ev_err *err);

/* Produce one message (key may be NULL; value NULL is a tombstone) and wait
 * until Kafka acknowledged it. Returns 0 when it is delivered, D2EV_ERR_KAFKA
 * when Kafka refused it or it could not be queued, D2EV_ERR_TIMEOUT when no
 * report came in time (the message may still be delivered later). */
int d2ev_sync_producer_send(struct d2ev_sync_producer *p, const char *topic, const char *key,
                            const void *value, size_t len, struct d2ev_err *err);

/* Wait for what is in flight (up to the delivery timeout), stop the report
 * thread and free. No send may be running or start (stop the threads that
 * send first). NULL is a no-op. */
void d2ev_sync_producer_destroy(struct d2ev_sync_producer *p);

#endif
