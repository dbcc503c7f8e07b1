/*
 * A read-only view of d2ev.credentials for services that call OEM APIs but do
 * not own credentials (telemetry, dispatch). d2ev-registration is the single
 * writer of credentials; this view only reads them.
 *
 * It keeps the sealed record of each vehicle the service owns (fed from the
 * compacted state topic with d2ev_credview_apply), opens it with the keyring
 * only when the OEM engine asks for a token, and serves the engine as its
 * token source:
 *   - get(): the vehicle's current tokens (decrypted on demand);
 *   - request_refresh(): for a vehicle, asks registration for a refresh by
 *     producing a `refresh_credentials` registration request (at most one per
 *     vehicle per refresh_interval_ms), then waits: when the new record
 *     arrives, the view tells the engine (tokens_changed); for per-app tokens
 *     (key "", e.g. Enode client credentials) it lets the engine fetch its own;
 *   - store(): keeps those per-app tokens in memory.
 *
 * Ownership: the view owns copies of the sealed records and of per-app tokens
 * (wiped on release). The keyring, producer and engine are borrowed and must
 * outlive it. Token strings handed to the engine by get() stay valid until
 * the next get() on this view. Not thread-safe: use it from the thread that
 * runs the engine and the consumer.
 */
#ifndef D2EV_CREDVIEW_H
#define D2EV_CREDVIEW_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/crypto.h"
#include "d2ev/error.h"
#include "d2ev/kafka.h"
#include "d2ev/oem_engine.h"

struct d2ev_credview_conf {
    const struct d2ev_keyring *keyring; /* opens the sealed tokens; required */
    struct d2ev_producer *producer;     /* for refresh requests; required */
    const char *service;                /* "telemetry": the requests' source; copied */
    int64_t refresh_interval_ms;        /* min real time between requests per vehicle; 0 = 30000 */
};

struct d2ev_credview;

struct d2ev_credview *d2ev_credview_create(const struct d2ev_credview_conf *conf,
                                           struct d2ev_err *err);

/* Wipe and free everything. NULL is a no-op. */
void d2ev_credview_destroy(struct d2ev_credview *cv);

/* The engine to notify when a vehicle's record changes (may be NULL). */
void d2ev_credview_attach(struct d2ev_credview *cv, struct d2ev_oem_engine *engine);

/* The token source to pass in struct d2ev_oem_engine_conf (borrowed; lives
 * as long as the view). */
const struct d2ev_oem_token_source *d2ev_credview_token_source(struct d2ev_credview *cv);

/* Apply one message of d2ev.credentials: a newer record replaces the old one
 * (an older version is ignored), a tombstone removes the vehicle (operations
 * waiting for its refresh then fail as permanent). Returns 0, or a negative
 * code with err set when the record does not decode (dead-letter it). */
int d2ev_credview_apply(struct d2ev_credview *cv, const rd_kafka_message_t *msg,
                        struct d2ev_err *err);

/* Forget one vehicle (its partition was revoked). */
void d2ev_credview_remove(struct d2ev_credview *cv, const char *vehicle_id);

/* Forget every vehicle whose key falls in a partition of `parts` for
 * d2ev.credentials, using the murmur2 partitioner d2ev producers use.
 * partition_cnt is the topic's partition count. */
void d2ev_credview_remove_partitions(struct d2ev_credview *cv,
                                     const rd_kafka_topic_partition_list_t *parts,
                                     int32_t partition_cnt);

bool d2ev_credview_has(const struct d2ev_credview *cv, const char *vehicle_id);
size_t d2ev_credview_count(const struct d2ev_credview *cv);
/* Refresh requests produced so far (tests, metrics). */
uint64_t d2ev_credview_refresh_requests(const struct d2ev_credview *cv);

#endif
