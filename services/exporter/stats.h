/*
 * stats.h: what the index says about one data file, accumulated row by row:
 * row count, uncompressed bytes, the time range of the rows' envelope ts,
 * the distinct vehicles, and the count of each message type.
 *
 * The exporter fills one while it buffers rows; the index fills one by
 * reading a file back when the file has no index entry (a crash between the
 * rename and the index update). Both go through exp_stats_add, so the two
 * agree by construction.
 *
 * Ownership: an exp_stats owns its vehicle set; release it with
 * exp_stats_clear (safe on a zeroed struct). Strings passed in are copied.
 */
#ifndef D2EV_EXPORT_STATS_H
#define D2EV_EXPORT_STATS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/error.h"
#include "d2ev/htab.h"
#include "layout.h"

/* A set of short strings (vehicle ids) on d2ev_htab. Zero-initialise. */
struct exp_strset {
    struct d2ev_htab tab;
};

/* Add s (copied). Returns 0 or D2EV_ERR_NOMEM. */
int exp_strset_add(struct exp_strset *set, const char *s, size_t len);
bool exp_strset_has(const struct exp_strset *set, const char *s, size_t len);
size_t exp_strset_count(const struct exp_strset *set);
/* The members sorted, as a new JSON array reference (NULL on allocation failure). */
json_t *exp_strset_json(const struct exp_strset *set);
void exp_strset_clear(struct exp_strset *set);

#define EXP_STATS_TYPES 8

struct exp_stats {
    uint64_t rows;
    uint64_t raw_bytes; /* uncompressed bytes of the rows, newlines included */
    int64_t min_ts, max_ts;
    struct exp_strset vehicles;
    size_t ntypes;
    struct {
        char name[32];
        uint64_t count;
    } types[EXP_STATS_TYPES]; /* further types are counted as "other" */
};

void exp_stats_init(struct exp_stats *s);
/* Count one row. Returns 0 or D2EV_ERR_NOMEM. */
int exp_stats_add(struct exp_stats *s, const char *type, const char *vehicle_id, int64_t ts,
                  size_t raw_len);
/* Count one row line as written to a file (parses type, vehicle_id and ts).
 * Returns 0, D2EV_ERR_NOMEM, or D2EV_ERR_INVALID for a line that is not a
 * row. */
int exp_stats_add_line(struct exp_stats *s, const char *line, size_t len, struct d2ev_err *err);
void exp_stats_clear(struct exp_stats *s);

/* The index entry of a file: a new JSON object reference
 *   {"file","topic","partition","first_offset","last_offset","rows","bytes",
 *    "raw_bytes","min_ts","max_ts","vehicles":[...],"types":{...}}
 * bytes is the compressed file size. NULL on allocation failure. */
json_t *exp_stats_entry(const struct exp_stats *s, const char *file, const struct exp_file_id *id,
                        uint64_t bytes);

#endif
