/*
 * bridge_producer.h: an idempotent Kafka producer whose send waits for that
 * one message's delivery report, for HTTP handlers that may answer 202 only
 * once the request is durably in Kafka.
 *
 * d2ev_producer (kafka.h) tracks deliveries per flush, which suits a
 * consume-process-flush loop but not many HTTP threads each waiting for its
 * own message. Here every send carries its own waiter; a background thread
 * serves delivery reports and wakes the sender. Messages from all threads
 * still batch together (linger.ms), so throughput grows with concurrency.
 *
 * Thread-safe. Ownership: key and value are copied; the producer owns its
 * thread and librdkafka handle until destroy.
 */
#ifndef D2EV_BRIDGE_PRODUCER_H
#define D2EV_BRIDGE_PRODUCER_H

#include <stddef.h>

#include "d2ev/error.h"
#include "d2ev/kafka.h"

struct bridge_producer;

/* Create the producer and its delivery-report thread. linger_ms batches
 * messages of concurrent senders. Returns NULL with err set. */
struct bridge_producer *bridge_producer_create(const struct d2ev_kafka_conf *conf, int linger_ms,
                                               struct d2ev_err *err);

/* Produce value to topic under key and wait up to timeout_ms for its
 * delivery report. Returns 0 once Kafka acknowledged it; D2EV_ERR_KAFKA when
 * it failed or could not be queued; D2EV_ERR_TIMEOUT when no report came in
 * time (the message may still be delivered later). */
int bridge_producer_send(struct bridge_producer *p, const char *topic, const char *key,
                         const void *value, size_t len, int timeout_ms, struct d2ev_err *err);

/* True after a fatal producer error (restart the process). */
bool bridge_producer_fatal(struct bridge_producer *p);

/* Flush for up to timeout_ms, stop the thread and free. NULL is a no-op. */
void bridge_producer_destroy(struct bridge_producer *p, int timeout_ms);

#endif
