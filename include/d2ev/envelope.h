/*
 * The event envelope every d2ev message shares:
 *   {"type": "...", "v": 1, "id": "<uuid>", "ts": "<RFC 3339 UTC>", ...payload}
 *
 * And the dead-letter path: anything a consumer cannot accept is produced to
 * d2ev.deadletter with the reason, the source topic/partition/offset/key and
 * the original bytes, so nothing is dropped silently.
 */
#ifndef D2EV_ENVELOPE_H
#define D2EV_ENVELOPE_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

#include "d2ev/error.h"
#include "d2ev/kafka.h"

struct d2ev_metric;

#define D2EV_ENVELOPE_VERSION 1
#define D2EV_TYPE_MAX         48
#define D2EV_EVENT_ID_MAX     64

struct d2ev_envelope {
    char type[D2EV_TYPE_MAX + 1];
    int v;
    char id[D2EV_EVENT_ID_MAX + 1];
    int64_t ts; /* ms since the epoch */
};

/* New object with type, v, a fresh UUID id and ts = now (d2ev clock).
 * Returns a new reference (NULL on allocation failure). */
json_t *d2ev_envelope_new(const char *type);

/* Same, with the caller's id and ts (for deterministic ids). */
json_t *d2ev_envelope_new_with(const char *type, const char *id, int64_t ts);

/* Validate the envelope fields of root. v must be 1; an unknown higher
 * version is D2EV_ERR_UNSUPPORTED. */
int d2ev_envelope_read(const json_t *root, struct d2ev_envelope *env, struct d2ev_err *err);

/* Parse bytes, validate the envelope, and check the type is want_type (if not
 * NULL). Returns a new reference to the whole object, or NULL with err. */
json_t *d2ev_envelope_parse(const void *buf, size_t len, const char *want_type,
                            struct d2ev_envelope *env, struct d2ev_err *err);

/* Produce a dead-letter record for msg: service name, reason, source
 * topic/partition/offset/key, and the original bytes (base64, plus text when
 * it is valid UTF-8). Keyed like the source. Returns 0 or an error. */
int d2ev_deadletter_send(struct d2ev_producer *p, const char *service,
                         const rd_kafka_message_t *msg, const char *reason, struct d2ev_err *err);

/* A consumer's answer to a record it cannot accept: log it as "input
 * rejected" (topic, partition, offset, reason), then, unless it is a replay
 * (it was dead-lettered when it first came, see d2ev_consumer_is_replay),
 * count it in `rejected` (may be NULL) and dead-letter it. Returns 0, or the
 * producer's error (also logged). */
int d2ev_deadletter_reject(struct d2ev_producer *p, const char *service,
                           const rd_kafka_message_t *msg, const char *reason, bool replay,
                           struct d2ev_metric *rejected);

/* Dead-letter for input that did not come from Kafka (e.g. a CSV row). */
int d2ev_deadletter_send_raw(struct d2ev_producer *p, const char *service, const char *source,
                             const char *key, const void *bytes, size_t len, const char *reason,
                             struct d2ev_err *err);

#endif
