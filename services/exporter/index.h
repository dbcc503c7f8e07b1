/*
 * index.h: the index of a day directory and the directory's writer lock.
 *
 * <day>/index.json describes every data file in the directory:
 *
 *   {"date": "2026-11-21", "updated_at": "<RFC 3339>",
 *    "files": [{"file", "topic", "partition", "first_offset", "last_offset",
 *               "rows", "bytes", "raw_bytes", "min_ts", "max_ts",
 *               "vehicles": [...], "types": {"telemetry": 958}}, ...],
 *    "totals": {"files", "rows", "bytes", "raw_bytes", "vehicles", "min_ts",
 *               "max_ts", "rows_by_topic": {...}}}
 *
 * The data files are the truth and the index is derived from them: every
 * update lists the directory, keeps the entries of files that exist, and
 * reads back any file that has no entry (its writer died between the rename
 * and the index update). The index is replaced atomically (temp file, fsync,
 * rename, fsync of the directory).
 *
 * Writers of a day directory hold an exclusive POSIX record lock on
 * <day>/.lock (fcntl, which also works on NFS), so replicas sharing a volume
 * never interleave a check-then-write or an index update. Readers take no
 * lock: every file they can see is complete.
 */
#ifndef D2EV_EXPORT_INDEX_H
#define D2EV_EXPORT_INDEX_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/error.h"
#include "layout.h"

/* The data files of a directory. */
struct exp_listed {
    struct exp_file_id id;
    char name[EXP_NAME_MAX];
};
struct exp_listing {
    struct exp_listed *v;
    size_t n, cap;
};

/* List the data files of dir (names that exp_file_parse accepts), sorted by
 * name. With remove_temps, delete leftover temp files (only under the lock:
 * a temp file is then never one being written). Returns 0 or D2EV_ERR_IO /
 * D2EV_ERR_NOMEM; a missing directory is an empty listing. */
int exp_listing_read(struct exp_listing *l, const char *dir, bool remove_temps,
                     struct d2ev_err *err);
/* Append one file. Returns 0 or D2EV_ERR_NOMEM. */
int exp_listing_add(struct exp_listing *l, const char *name, const struct exp_file_id *id);
void exp_listing_clear(struct exp_listing *l);

/* Take the writer lock of dir (blocking). Returns a descriptor for
 * exp_dir_unlock, or -1 with err set. */
int exp_dir_lock(const char *dir, struct d2ev_err *err);
void exp_dir_unlock(int fd);

/* Rewrite <dir>/index.json for the files in l. fresh (may be NULL) is an
 * object of entries by file name for files just written; other entries come
 * from the current index or, when missing, from reading the file. date is
 * "YYYY-MM-DD". Call with the directory lock held. Returns 0 or an error. */
int exp_index_update(const char *dir, const char *date, const struct exp_listing *l, json_t *fresh,
                     struct d2ev_err *err);

/* Read <dir>/index.json. Returns a new reference, or NULL with err
 * (D2EV_ERR_NOT_FOUND when there is none). */
json_t *exp_index_load(const char *dir, struct d2ev_err *err);

#endif
