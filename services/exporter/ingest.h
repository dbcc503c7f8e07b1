/*
 * ingest.h: one input record -> a row held in the batch, a skip, or a
 * rejection with its reason. The Kafka loop (exporter.c) dead-letters
 * rejections; the benchmark drives the same path without Kafka.
 *
 * A record is accepted when its topic's strict decoder accepts it and its key
 * is the payload's vehicle_id; a tombstone only on d2ev.schedules (the
 * erasure marker of a deregistered vehicle) and only with a valid vehicle id
 * key. A row whose offset a file already holds (found by probing after an
 * assignment, see struct exp_part) is skipped.
 */
#ifndef D2EV_EXPORT_INGEST_H
#define D2EV_EXPORT_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "d2ev/error.h"
#include "d2ev/strbuf.h"

struct exp_record {
    int topic; /* enum exp_topic */
    int32_t partition;
    int64_t offset;
    const char *key;   /* NUL-terminated; "" when none */
    const void *value; /* NULL for a tombstone */
    size_t len;
    int64_t kafka_ts; /* the record's timestamp, -1 when none */
};

enum exp_ingest_result {
    EXP_INGEST_ROW = 0, /* held in the batch */
    EXP_INGEST_SKIPPED, /* a file already holds it */
    EXP_INGEST_REJECTED /* reason says why; dead-letter it */
};

/* Ingest r into partition p of b at time now (d2ev clock). root is the
 * export directory (for the probe). scratch is reused between calls.
 * Returns 0 with *result set (and reason filled for a rejection), or
 * D2EV_ERR_NOMEM. */
int exp_ingest(struct exp_batch *b, struct exp_part *p, const char *root,
               struct d2ev_strbuf *scratch, const struct exp_record *r, int64_t now,
               enum exp_ingest_result *result, char *reason, size_t reason_size);

#endif
