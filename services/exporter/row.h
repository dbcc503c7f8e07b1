/*
 * row.h: one exported row, one line of NDJSON.
 *
 * An event row is the record's JSON object exactly as it was on Kafka (so
 * fields a newer producer added survive), with three exporter fields put in
 * front:
 *
 *   {"_topic":"d2ev.telemetry","_partition":3,"_offset":1042,"type":"telemetry","v":1,...}
 *
 * Raw newlines (JSON whitespace) become spaces so each row is one line. Field
 * names starting with "_" are the exporter's; should a record carry one of
 * the three itself, the row is re-encoded and the exporter's value wins.
 *
 * A tombstone on d2ev.schedules (a deregistered vehicle's erasure marker)
 * becomes {"_topic":..,"_partition":..,"_offset":..,"type":"tombstone",
 * "vehicle_id":"<key>","ts":"<Kafka record time>"}.
 */
#ifndef D2EV_EXPORT_ROW_H
#define D2EV_EXPORT_ROW_H

#include <stddef.h>
#include <stdint.h>

#include "d2ev/error.h"
#include "d2ev/strbuf.h"

/* Append the row line of a record whose value is the JSON object
 * payload[0..len) (already validated by its decoder), newline included.
 * Returns 0, D2EV_ERR_INVALID (not an object), or D2EV_ERR_NOMEM. */
int exp_row_event(struct d2ev_strbuf *sb, const char *topic, int32_t partition, int64_t offset,
                  const char *payload, size_t len, struct d2ev_err *err);

/* Append the row line of a tombstone. key must be a valid id. */
int exp_row_tombstone(struct d2ev_strbuf *sb, const char *topic, int32_t partition, int64_t offset,
                      const char *key, int64_t ts, struct d2ev_err *err);

#endif
