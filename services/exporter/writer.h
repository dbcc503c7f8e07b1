/*
 * writer.h: turn chunks of rows into durable data files.
 *
 * For one day directory, under its writer lock:
 *   1. list the data files already there;
 *   2. for each chunk, leave out the rows whose offsets a file of the same
 *      topic partition already holds (a file written before a crash whose
 *      offsets were never committed, or by a replica that lost the
 *      partition), and write each remaining run of rows as a new file:
 *      temp file, gzip, fsync, rename into place;
 *   3. fsync the directory, so the renames are durable;
 *   4. update index.json (which also indexes any file a crash left without
 *      an entry).
 * Only then is a chunk marked written, and only written chunks let the
 * Kafka offset move past their rows.
 *
 * A row's day directory is a pure function of the record, and a data file is
 * never written over, merged or deleted, so an offset is in at most one file:
 * re-reading uncommitted records after a crash can add files but never a
 * second copy of a row.
 */
#ifndef D2EV_EXPORT_WRITER_H
#define D2EV_EXPORT_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "d2ev/error.h"

struct exp_write_result {
    uint64_t files; /* data files written */
    uint64_t rows;  /* rows in them */
    uint64_t rows_by_topic[EXP_NTOPICS];
    uint64_t bytes;        /* compressed */
    uint64_t raw_bytes;    /* uncompressed */
    uint64_t skipped_rows; /* already in a file */
};

/* Write chunks[0..n) (all of day `day`) under root, gzip level 1..9. Marks
 * each chunk written once its rows are durable and indexed; adds to *res.
 * Returns 0 or an error (chunks not marked are kept for a later attempt). */
int exp_write_day(const char *root, int level, int64_t day, struct exp_chunk *const *chunks,
                  size_t n, struct exp_write_result *res, struct d2ev_err *err);

/* Write every chunk held in b, day by day (exp_write_day), then free the
 * written ones. Up to max_days distinct days written to go to days[]
 * (*ndays counts them; days may be NULL). Stops at the first failing day;
 * its chunks and those after it stay held. Returns 0 or that day's error. */
int exp_write_batch(const char *root, int level, struct exp_batch *b, struct exp_write_result *res,
                    int64_t *days, size_t max_days, size_t *ndays, struct d2ev_err *err);

/* The last offset of the data file of (topic, partition) in day's directory
 * that holds `offset`, or -1 in *last when there is none. Returns 0 or
 * D2EV_ERR_IO. */
int exp_find_covering(const char *root, int64_t day, const char *topic, int32_t partition,
                      int64_t offset, int64_t *last, struct d2ev_err *err);

#endif
