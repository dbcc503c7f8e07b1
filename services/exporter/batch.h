/*
 * batch.h: rows held in memory until the next flush, and what the exporter
 * knows about each input partition.
 *
 * Rows of one partition are kept in chunks. A chunk is one future data file:
 * one topic partition, one UTC day, a contiguous run of offsets. A row of
 * another day than the open chunk's closes it and opens a new one, so chunks
 * of a partition never overlap and each lands in one day directory.
 *
 * The commit offset of a partition is the offset of its first row still in
 * memory (everything before it is in a file or was dead-lettered), or, with
 * nothing in memory, the offset after the last record handled.
 *
 * Ownership: the batch owns its partitions and their chunks; exp_batch_destroy
 * frees everything. Not thread-safe.
 */
#ifndef D2EV_EXPORT_BATCH_H
#define D2EV_EXPORT_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/error.h"
#include "d2ev/strbuf.h"
#include "stats.h"

/* The exported topics, in a fixed order. */
enum exp_topic {
    EXP_TOPIC_SESSIONS = 0,
    EXP_TOPIC_DISPATCH,
    EXP_TOPIC_SCHEDULES,
    EXP_TOPIC_TELEMETRY,
    EXP_NTOPICS,
};

/* "d2ev.sessions", ... (indexed by enum exp_topic). */
extern const char *const exp_topic_names[EXP_NTOPICS];
/* The enum value of a topic name, or -1. */
int exp_topic_index(const char *name);

struct exp_chunk {
    struct exp_chunk *next;
    int topic;
    int32_t partition;
    int64_t day;
    int64_t first, last;     /* offsets of the first and last row */
    int64_t held_since;      /* min over rows of min(ts, time received): for max-age */
    struct d2ev_strbuf data; /* the row lines */
    int64_t *offsets;        /* per row */
    size_t *ends;            /* per row: end of its line in data */
    size_t n, cap;
    struct exp_stats stats;
    bool written; /* in a durable file (or found already there) */
};

struct exp_part {
    int topic;
    int32_t partition;
    bool assigned;
    int64_t seen_next; /* offset after the last record handled; -1 none yet */
    int64_t committed; /* last offset committed (or found at assignment); -1 none */
    bool probe;        /* re-read after an assignment: look for files that hold rows */
    int64_t skip_last; /* rows up to this offset are already in a file; -1 none */
    struct exp_chunk *head, *tail;
};

struct exp_batch {
    struct exp_part **parts[EXP_NTOPICS]; /* by partition number; entries may be NULL */
    int32_t nparts[EXP_NTOPICS];
    uint64_t rows, bytes; /* held in memory */
};

/* The state of (topic, partition), created on first use. NULL on allocation
 * failure or a partition number out of range. */
struct exp_part *exp_batch_part(struct exp_batch *b, int topic, int32_t partition);

/* The state of (topic, partition) or NULL when it was never used. */
struct exp_part *exp_batch_find(const struct exp_batch *b, int topic, int32_t partition);

/* Hold one row (line[0..len), newline included) of partition p at offset,
 * for day `day`. type, vehicle_id and ts feed the file's statistics. Returns
 * 0 or D2EV_ERR_NOMEM (the batch is unchanged). */
int exp_batch_add(struct exp_batch *b, struct exp_part *p, int64_t offset, int64_t day,
                  int64_t held_since, const char *type, const char *vehicle_id, int64_t ts,
                  const char *line, size_t len);

/* Forget p's rows in memory (a revoked partition: its next owner reads them
 * again from the committed offset). */
void exp_part_drop(struct exp_batch *b, struct exp_part *p);

/* Free the chunks marked written, keeping the others in order. */
void exp_batch_prune(struct exp_batch *b);

/* The offset to commit for p (see above), or -1 when there is none. */
int64_t exp_part_commit_offset(const struct exp_part *p);

/* The earliest held_since of any chunk, or INT64_MAX when nothing is held. */
int64_t exp_batch_oldest(const struct exp_batch *b);

/* Call fn on every partition state. */
void exp_batch_each(struct exp_batch *b, void (*fn)(struct exp_part *p, void *arg), void *arg);

/* Every chunk in memory, in a new array (the caller frees the array, not the
 * chunks), sorted by day, topic, partition and offset. *n receives the
 * count. NULL with *n = 0 when nothing is held or on allocation failure. */
struct exp_chunk **exp_batch_chunks(const struct exp_batch *b, size_t *n);

void exp_batch_destroy(struct exp_batch *b);

#endif
