/*
 * recover.h: read back the tail of a topic's partitions (d2ev.sessions) when
 * a telemetry replica takes vehicles over, so open sessions continue where
 * the previous owner (or this process before a restart) left them.
 *
 * d2ev.sessions is not compacted, so it is not replayed from the beginning
 * like the state topics: only the last `tail` messages of each partition are
 * read. Telemetry sends an update for every open session at least every
 * session-update-minutes, so a tail that holds more than that much of a
 * partition's traffic has the last event of every open session.
 */
#ifndef D2EV_TEL_RECOVER_H
#define D2EV_TEL_RECOVER_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/error.h"
#include "d2ev/kafka.h"

typedef void (*tel_recover_fn)(void *arg, const rd_kafka_message_t *msg);

/* With a consumer of its own (no group, nothing committed), read the last
 * `tail` messages of each of the n partitions of topic, up to their high
 * watermarks at the start, and hand each message to fn (borrowed for the
 * call), in offset order per partition. Stops after timeout_ms (real).
 * Returns the number of messages read, or a negative d2ev_rc with err set. */
long tel_recover_tail(const struct d2ev_kafka_conf *kc, const char *topic, const int32_t *parts,
                      size_t n, int64_t tail, int64_t timeout_ms, tel_recover_fn fn, void *arg,
                      struct d2ev_err *err);

#endif
