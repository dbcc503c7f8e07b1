/*
 * layout.h: where exported rows live on disk.
 *
 *   <root>/yyyy/mm/dd/<topic>.p<PPP>.<first>-<last>.ndjson.gz
 *   <root>/yyyy/mm/dd/index.json      (see index.h)
 *   <root>/yyyy/mm/dd/report.json     (see export_report.h)
 *   <root>/yyyy/mm/dd/.lock           (serialises writers of the directory)
 *
 * The day of a row is the UTC calendar day of its envelope `ts` (of the Kafka
 * record timestamp for a tombstone): a pure function of the record, so a row
 * read again after a crash always lands in the same directory. A data file
 * holds rows of one topic partition, one day, and one contiguous run of
 * offsets [first, last], both of which are rows in the file. Offsets are
 * zero-padded to 12 digits and partitions to 3 so that `ls` sorts files in
 * offset order; wider numbers are written in full.
 *
 * All functions are pure or touch only the paths they are given.
 */
#ifndef D2EV_EXPORT_LAYOUT_H
#define D2EV_EXPORT_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/error.h"

#define EXP_DAY_MS      86400000LL
#define EXP_PATH_MAX    1024
#define EXP_NAME_MAX    192
#define EXP_TOPIC_MAX   128
#define EXP_DATA_SUFFIX ".ndjson.gz"
#define EXP_INDEX_NAME  "index.json"
#define EXP_REPORT_NAME "report.json"
#define EXP_LOCK_NAME   ".lock"
#define EXP_TMP_PREFIX  ".tmp."

/* What a data file holds: rows of one topic partition, offsets first..last. */
struct exp_file_id {
    char topic[EXP_TOPIC_MAX];
    int32_t partition;
    int64_t first, last;
};

/* Days since 1970-01-01 of a UTC time in ms (floor, so negative times work). */
int64_t exp_day_of(int64_t ms);

/* "YYYY-MM-DD" of a day number into out[11]. Returns out. */
char *exp_date_format(int64_t day, char out[11]);

/* Parse "YYYY-MM-DD" (a real calendar date, years 1970..9999) into a day
 * number. Returns 0 or D2EV_ERR_INVALID with a message. */
int exp_date_parse(const char *s, int64_t *day, struct d2ev_err *err);

/* "<root>/yyyy/mm/dd" into buf. Returns 0 or D2EV_ERR_LIMIT when it does not
 * fit. */
int exp_day_dir(char *buf, size_t size, const char *root, int64_t day, struct d2ev_err *err);

/* The data file name of id into buf (at least EXP_NAME_MAX bytes). Returns
 * 0 or D2EV_ERR_LIMIT (topic name too long). */
int exp_file_name(char *buf, size_t size, const struct exp_file_id *id, struct d2ev_err *err);

/* Parse a data file name written by exp_file_name. False for anything else
 * (index.json, temp files, a file someone else put there). */
bool exp_file_parse(const char *name, struct exp_file_id *id);

/* Create <root>/yyyy/mm/dd (and the parents) if missing, fsyncing each parent
 * whose entries changed so the directory itself survives a crash. Writes the
 * path into buf. Returns 0 or D2EV_ERR_IO / D2EV_ERR_LIMIT. */
int exp_day_dir_make(char *buf, size_t size, const char *root, int64_t day, struct d2ev_err *err);

/* fsync a directory (after a rename or unlink in it). Returns 0 or D2EV_ERR_IO. */
int exp_fsync_dir(const char *path, struct d2ev_err *err);

/* Write bytes to <dir>/<name> atomically and durably: a temp file in the same
 * directory, fsync, rename over name, fsync the directory. Returns 0 or
 * D2EV_ERR_IO; on failure the temp file is removed and name is unchanged. */
int exp_write_atomic(const char *dir, const char *name, const void *bytes, size_t len,
                     struct d2ev_err *err);

#endif
