/*
 * exporter.c: d2ev-exporter. Consumes d2ev.sessions, d2ev.dispatch,
 * d2ev.schedules and d2ev.telemetry in the group d2ev-exporter, holds the rows
 * in memory (batch.h) and writes them to day-partitioned gzip NDJSON files
 * (writer.h) when the batch is full, the platform is quiet, or the oldest row
 * reaches the maximum age (quiet.h).
 *
 * The loop drives the consumer itself rather than d2ev_service_loop(),
 * because an offset may only be committed once the file holding its row is
 * durable, which is long after the message was handled:
 *
 *   poll -> decode each record: a row goes to the batch, a bad record to the
 *   dead-letter topic -> (flush: deliver dead letters, write files) ->
 *   commit, per partition, the offset of the first row still in memory.
 *
 * A revoked partition's rows are dropped, not written: the next owner reads
 * them again from the committed offset. Shutdown likewise writes nothing; it
 * commits what is already durable and leaves. docs/analytics.md has the
 * argument that a crash at any point neither loses nor duplicates a row.
 */
#include "exporter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "d2ev/clock.h"
#include "d2ev/envelope.h"
#include "d2ev/events.h"
#include "d2ev/json.h"
#include "d2ev/log.h"
#include "d2ev/metrics.h"
#include "d2ev/strbuf.h"
#include "d2ev/topics.h"
#include "export_report.h"
#include "ingest.h"
#include "layout.h"
#include "quiet.h"
#include "writer.h"

#define SERVICE         "exporter"
#define SAMPLE_MS       250  /* real ms between lag and rate samples */
#define COMMIT_EVERY_MS 1000 /* real ms between commits of progress without a flush */
#define POLL_MS         100

struct exporter_config {
    const char *dir;
    int64_t batch_rows;
    int64_t batch_bytes;
    int64_t max_age_s;
    int64_t flush_interval_s;
    const char *quiet_hours;
    const char *quiet_timezone;
    int64_t quiet_max_lag;
    double quiet_max_rate;
    int64_t quiet_rate_window_s;
    int64_t gzip_level;
    bool report_auto;
    int64_t poll_max;
    int64_t retry_s;
};

#define F(x) offsetof(struct exporter_config, x)
static const struct d2ev_cfg_entry exporter_table[] = {
    { "export-dir", D2EV_CFG_STR, F(dir), "/var/lib/d2ev/export",
      "directory of the exported files (<dir>/yyyy/mm/dd/); a persistent volume" },
    { "batch-rows", D2EV_CFG_INT, F(batch_rows), "200000",
      "flush at once when this many rows are held in memory", 1, 100000000 },
    { "batch-bytes", D2EV_CFG_INT, F(batch_bytes), "67108864",
      "flush at once when the rows held reach this many bytes (memory use is up to about twice "
      "this)",
      1024, 17179869184.0 },
    { "max-age-s", D2EV_CFG_INT, F(max_age_s), "93600",
      "flush, quiet or not, once caught up, when the oldest row held is this old (its event "
      "time, or when it was read if that is earlier)",
      60, 2592000 },
    { "flush-interval-s", D2EV_CFG_INT, F(flush_interval_s), "14400",
      "at least this long between two quiet or age flushes (full flushes are not limited)", 0,
      86400 },
    { "quiet-hours", D2EV_CFG_STR, F(quiet_hours), "01:00-05:00",
      "local window HH:MM-HH:MM in which the platform may be quiet (00:00-24:00: any time)" },
    { "quiet-timezone", D2EV_CFG_STR, F(quiet_timezone), "UTC",
      "IANA zone of quiet-hours, e.g. Europe/London" },
    { "quiet-max-lag", D2EV_CFG_INT, F(quiet_max_lag), "1000",
      "quiet only while the exporter's lag on its inputs (records) is at most this", 0,
      1000000000000.0 },
    { "quiet-max-rate", D2EV_CFG_DOUBLE, F(quiet_max_rate), "50",
      "quiet only while the inputs grow by at most this many records a second", 0, 1e9 },
    { "quiet-rate-window-s", D2EV_CFG_INT, F(quiet_rate_window_s), "60",
      "seconds over which the input rate is measured", 1, 3600 },
    { "gzip-level", D2EV_CFG_INT, F(gzip_level), "6", "gzip compression level, 1 (fast) to 9", 1,
      9 },
    { "report-auto", D2EV_CFG_BOOL, F(report_auto), "true",
      "after a quiet flush, rewrite report.json of each past day it added rows to" },
    { "poll-max", D2EV_CFG_INT, F(poll_max), "2000", "records per consumer poll", 1, 100000 },
    { "retry-s", D2EV_CFG_INT, F(retry_s), "30",
      "after a failed flush (disk full, ...), pause the inputs and try again this much later", 1,
      3600 },
    D2EV_CFG_END,
};
#undef F

struct exporter {
    struct d2ev_service *svc;
    const struct exporter_config *cfg;
    char root[EXP_PATH_MAX];
    struct exp_policy policy;
    struct d2ev_producer *producer;
    struct d2ev_consumer *consumer;
    struct exp_batch batch;
    struct exp_rate rate;
    struct d2ev_strbuf line;
    int64_t last_timed;  /* d2ev clock: last quiet or age flush */
    int64_t next_sample; /* mono */
    int64_t next_commit; /* mono */
    int64_t retry_at;    /* mono; while paused */
    bool paused;         /* a flush failed: inputs paused until one succeeds */
    int64_t lag;         /* -1 unknown */
    bool rate_known;
    double rate_v;
    struct d2ev_metric *m_rows[EXP_NTOPICS], *m_files, *m_bytes, *m_raw, *m_skipped, *m_rejected,
        *m_flush_s, *m_held_rows, *m_held_bytes, *m_oldest, *m_lag, *m_rate, *m_quiet,
        *m_last_flush, *m_flushes[4];
};

/* ------------------------------------------------------------ metrics */

static void metrics_init(struct exporter *X)
{
    for (int t = 0; t < EXP_NTOPICS; t++) {
        char labels[96];
        snprintf(labels, sizeof(labels), "topic=\"%s\"", exp_topic_names[t]);
        X->m_rows[t] =
            d2ev_metric_counter("d2ev_export_rows_total", "Rows written to export files", labels);
    }
    for (int r = EXP_FLUSH_FULL; r <= EXP_FLUSH_AGE; r++) {
        char labels[64];
        snprintf(labels, sizeof(labels), "reason=\"%s\"", exp_flush_reason_name(r));
        X->m_flushes[r] = d2ev_metric_counter("d2ev_export_flushes_total",
                                              "Flushes of the rows held, by reason", labels);
    }
    X->m_files = d2ev_metric_counter("d2ev_export_files_total", "Export files written", NULL);
    X->m_bytes = d2ev_metric_counter("d2ev_export_bytes_total",
                                     "Compressed bytes of the export files written", NULL);
    X->m_raw = d2ev_metric_counter("d2ev_export_raw_bytes_total",
                                   "Uncompressed bytes of the export files written", NULL);
    X->m_skipped = d2ev_metric_counter("d2ev_export_skipped_rows_total",
                                       "Rows read again that a file already holds", NULL);
    X->m_rejected =
        d2ev_metric_counter("d2ev_export_rejected_total",
                            "Records that did not decode, sent to the dead letters", NULL);
    X->m_flush_s = d2ev_metric_histogram(
        "d2ev_export_flush_seconds", "Time to write one flush's files and index", NULL, NULL, 0);
    X->m_held_rows = d2ev_metric_gauge("d2ev_export_held_rows", "Rows held in memory", NULL);
    X->m_held_bytes = d2ev_metric_gauge("d2ev_export_held_bytes", "Bytes held in memory", NULL);
    X->m_oldest = d2ev_metric_gauge("d2ev_export_oldest_age_seconds",
                                    "Age of the oldest row held (0 when none)", NULL);
    X->m_lag = d2ev_metric_gauge(
        "d2ev_export_lag", "Records produced to the inputs and not yet read (-1: unknown)", NULL);
    X->m_rate = d2ev_metric_gauge("d2ev_export_input_rate",
                                  "Records produced to the inputs per second (-1: unknown)", NULL);
    X->m_quiet = d2ev_metric_gauge("d2ev_export_quiet", "1 while the platform is quiet", NULL);
    X->m_last_flush = d2ev_metric_gauge("d2ev_export_last_flush_timestamp_seconds",
                                        "When the last flush finished (d2ev clock)", NULL);
}

/* ------------------------------------------------------------ rebalance */

static void on_assign(void *opaque, const rd_kafka_topic_partition_list_t *parts)
{
    struct exporter *X = opaque;
    rd_kafka_topic_partition_list_t *mine = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &parts->elems[i];
        struct exp_part *p = exp_batch_part(&X->batch, exp_topic_index(tp->topic), tp->partition);
        if (!p)
            continue;
        exp_part_drop(&X->batch, p);
        p->assigned = true;
        p->seen_next = p->committed = p->skip_last = -1;
        p->probe = true;
        rd_kafka_topic_partition_list_add(mine, tp->topic, tp->partition);
    }
    /* where reading starts: the lag before the first record, and the base of commits */
    if (rd_kafka_committed(d2ev_consumer_handle(X->consumer), mine, 10000) == 0) {
        for (int i = 0; i < mine->cnt; i++) {
            struct exp_part *p = exp_batch_find(&X->batch, exp_topic_index(mine->elems[i].topic),
                                                mine->elems[i].partition);
            if (p && mine->elems[i].offset >= 0)
                p->committed = mine->elems[i].offset;
        }
    }
    rd_kafka_topic_partition_list_destroy(mine);
    exp_rate_reset(&X->rate);
}

static void on_revoke(void *opaque, const rd_kafka_topic_partition_list_t *parts)
{
    struct exporter *X = opaque;
    for (int i = 0; i < parts->cnt; i++) {
        struct exp_part *p = exp_batch_find(&X->batch, exp_topic_index(parts->elems[i].topic),
                                            parts->elems[i].partition);
        if (p) {
            exp_part_drop(&X->batch, p); /* the next owner reads them again */
            p->assigned = false;
        }
    }
    exp_rate_reset(&X->rate);
}

/* ------------------------------------------------------------ records */

/* Dead-letter msg with reason; nothing is dropped silently. */
static int reject(struct exporter *X, const rd_kafka_message_t *msg, const char *reason)
{
    return d2ev_deadletter_reject(X->producer, "d2ev-" SERVICE, msg, reason, false, X->m_rejected);
}

static int handle(struct exporter *X, const rd_kafka_message_t *msg, int64_t now)
{
    int topic = exp_topic_index(rd_kafka_topic_name(msg->rkt));
    struct exp_part *p = exp_batch_part(&X->batch, topic, msg->partition);
    if (!p)
        return topic < 0 ? D2EV_OK : D2EV_ERR_NOMEM;
    if (!p->assigned)
        return D2EV_OK;
    char key[D2EV_VEHICLE_ID_MAX + 2], reason[D2EV_ERR_MSG_MAX];
    rd_kafka_timestamp_type_t tt;
    struct exp_record r = {
        .topic = topic,
        .partition = msg->partition,
        .offset = msg->offset,
        .key = d2ev_msg_key(msg, key, sizeof(key)),
        .value = msg->payload,
        .len = msg->payload ? msg->len : 0,
        .kafka_ts = rd_kafka_message_timestamp(msg, &tt),
    };
    enum exp_ingest_result res;
    int rc = exp_ingest(&X->batch, p, X->root, &X->line, &r, now, &res, reason, sizeof(reason));
    if (rc == D2EV_OK && res == EXP_INGEST_REJECTED)
        return reject(X, msg, reason);
    if (rc == D2EV_OK && res == EXP_INGEST_SKIPPED)
        d2ev_metric_inc(X->m_skipped);
    return rc;
}

/* ------------------------------------------------------------ commits */

struct commit_arg {
    rd_kafka_topic_partition_list_t *list;
};

static void collect_commit(struct exp_part *p, void *arg)
{
    struct commit_arg *c = arg;
    int64_t off = exp_part_commit_offset(p);
    if (p->assigned && off >= 0 && off > p->committed)
        rd_kafka_topic_partition_list_add(c->list, exp_topic_names[p->topic], p->partition)
            ->offset = off;
}

/* Commit, per partition, the offset before which every record is in a
 * durable file or the dead-letter topic. Dead letters are delivered first,
 * waiting up to flush_ms. */
static int commit(struct exporter *X, int flush_ms)
{
    struct commit_arg c = { rd_kafka_topic_partition_list_new(16) };
    exp_batch_each(&X->batch, collect_commit, &c);
    int rc = D2EV_OK;
    if (c.list->cnt > 0) {
        struct d2ev_err err;
        if ((rc = d2ev_producer_flush(X->producer, flush_ms, &err)) != D2EV_OK) {
            d2ev_log_error("cannot deliver dead letters; offsets not committed",
                           D2EV_LF_STR("error", err.msg));
        } else {
            rd_kafka_resp_err_t e = rd_kafka_commit(d2ev_consumer_handle(X->consumer), c.list, 0);
            if (e) {
                d2ev_log_warn("offset commit failed", D2EV_LF_STR("error", rd_kafka_err2str(e)));
            } else {
                for (int i = 0; i < c.list->cnt; i++) {
                    struct exp_part *p =
                        exp_batch_find(&X->batch, exp_topic_index(c.list->elems[i].topic),
                                       c.list->elems[i].partition);
                    if (p)
                        p->committed = c.list->elems[i].offset;
                }
            }
        }
    }
    rd_kafka_topic_partition_list_destroy(c.list);
    X->next_commit = d2ev_clock_mono_ms() + COMMIT_EVERY_MS;
    return rc;
}

/* ------------------------------------------------------------ flushing */

/* Write the report of every day in days[0..n) that has ended. */
static void write_reports(struct exporter *X, const int64_t *days, size_t n)
{
    int64_t today = exp_day_of(d2ev_clock_now_ms());
    for (size_t i = 0; i < n; i++) {
        if (days[i] >= today)
            continue;
        char date[11];
        struct d2ev_err err;
        exp_date_format(days[i], date);
        if (d2ev_export_report_write(X->root, date, NULL, &err) == D2EV_OK)
            d2ev_log_info("report written", D2EV_LF_STR("date", date));
        else
            d2ev_log_warn("cannot write report", D2EV_LF_STR("date", date),
                          D2EV_LF_STR("error", err.msg));
    }
}

/* Write every row held. Returns 0, or an error when some rows could not be
 * written (they stay in memory for a retry). */
static int flush(struct exporter *X, enum exp_flush_reason reason)
{
    int64_t t0 = d2ev_clock_mono_ms();
    struct d2ev_err err;
    /* dead letters first: a file may then cover the offset of a bad record
     * only once the record is safely in the dead-letter topic */
    int rc = d2ev_producer_flush(X->producer, 30000, &err);
    if (rc) {
        d2ev_log_error("cannot deliver dead letters; nothing written",
                       D2EV_LF_STR("error", err.msg));
        return rc;
    }
    struct exp_write_result res = { 0 };
    int64_t days[64];
    size_t ndays = 0;
    rc = exp_write_batch(X->root, (int)X->cfg->gzip_level, &X->batch, &res, days,
                         sizeof(days) / sizeof(days[0]), &ndays, &err);
    if (rc)
        d2ev_log_error("cannot write export files; rows kept for a retry",
                       D2EV_LF_STR("error", err.msg));
    for (int t = 0; t < EXP_NTOPICS; t++)
        d2ev_metric_add(X->m_rows[t], (double)res.rows_by_topic[t]);
    d2ev_metric_add(X->m_files, (double)res.files);
    d2ev_metric_add(X->m_bytes, (double)res.bytes);
    d2ev_metric_add(X->m_raw, (double)res.raw_bytes);
    d2ev_metric_add(X->m_skipped, (double)res.skipped_rows);
    d2ev_metric_inc(X->m_flushes[reason]);
    double secs = (double)(d2ev_clock_mono_ms() - t0) / 1000.0;
    d2ev_metric_observe(X->m_flush_s, secs);
    d2ev_metric_set(X->m_last_flush, (double)d2ev_clock_now_ms() / 1000.0);
    d2ev_log_info("flushed", D2EV_LF_STR("reason", exp_flush_reason_name(reason)),
                  D2EV_LF_INT("files", res.files), D2EV_LF_INT("rows", res.rows),
                  D2EV_LF_INT("already_exported", res.skipped_rows),
                  D2EV_LF_INT("bytes", res.bytes), D2EV_LF_INT("raw_bytes", res.raw_bytes),
                  D2EV_LF_DBL("seconds", secs), D2EV_LF_BOOL("complete", rc == D2EV_OK));
    int crc = commit(X, 30000);
    if (rc == D2EV_OK && reason == EXP_FLUSH_QUIET && X->cfg->report_auto)
        write_reports(X, days, ndays);
    return rc ? rc : crc;
}

/* ------------------------------------------------------------ quiet signals */

struct lag_arg {
    rd_kafka_t *rk;
    int64_t lag, total_hi;
    bool known;
};

static void lag_one(struct exp_part *p, void *arg)
{
    struct lag_arg *a = arg;
    if (!p->assigned)
        return;
    int64_t lo = -1, hi = -1;
    /* cached from fetch responses: no broker round trip */
    if (rd_kafka_get_watermark_offsets(a->rk, exp_topic_names[p->topic], p->partition, &lo, &hi) ||
        hi < 0) {
        a->known = false;
        return;
    }
    int64_t pos = p->seen_next >= 0 ? p->seen_next : p->committed >= 0 ? p->committed : lo;
    if (pos < 0) {
        a->known = false;
        return;
    }
    a->lag += hi > pos ? hi - pos : 0;
    a->total_hi += hi;
}

/* Sample the lag and the inputs' growth (at most every SAMPLE_MS). */
static void sample(struct exporter *X, int64_t now)
{
    int64_t mono = d2ev_clock_mono_ms();
    if (mono < X->next_sample)
        return;
    X->next_sample = mono + SAMPLE_MS;
    struct lag_arg a = { d2ev_consumer_handle(X->consumer), 0, 0, true };
    exp_batch_each(&X->batch, lag_one, &a);
    if (!a.known || !d2ev_consumer_assigned(X->consumer)) {
        X->lag = -1;
        X->rate_known = false;
    } else {
        X->lag = a.lag;
        exp_rate_sample(&X->rate, now, a.total_hi);
        X->rate_known = exp_rate_get(&X->rate, now, X->cfg->quiet_rate_window_s * 1000, &X->rate_v);
    }
    d2ev_metric_set(X->m_lag, (double)X->lag);
    d2ev_metric_set(X->m_rate, X->rate_known ? X->rate_v : -1);
}

static void signals_now(struct exporter *X, int64_t now, struct exp_signals *s)
{
    *s = (struct exp_signals){
        .now = now,
        .rows = X->batch.rows,
        .bytes = X->batch.bytes,
        .oldest = exp_batch_oldest(&X->batch),
        .last_timed = X->last_timed,
        .lag = X->lag,
        .rate_known = X->rate_known,
        .rate = X->rate_v,
    };
}

/* Pause or resume every assigned partition. */
static void set_paused(struct exporter *X, bool pause)
{
    rd_kafka_t *rk = d2ev_consumer_handle(X->consumer);
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(rk, &parts) == 0 && parts) {
        if (pause)
            rd_kafka_pause_partitions(rk, parts);
        else
            rd_kafka_resume_partitions(rk, parts);
        rd_kafka_topic_partition_list_destroy(parts);
    }
    if (pause != X->paused)
        d2ev_log_info(pause ? "inputs paused until a flush succeeds" : "inputs resumed");
    X->paused = pause;
}

/* Flush when the policy says so (or retry a failed flush). */
static void maybe_flush(struct exporter *X, int64_t now)
{
    struct exp_signals s;
    signals_now(X, now, &s);
    d2ev_metric_set(X->m_held_rows, (double)s.rows);
    d2ev_metric_set(X->m_held_bytes, (double)s.bytes);
    d2ev_metric_set(X->m_oldest, s.oldest == INT64_MAX ? 0 : (double)(now - s.oldest) / 1000.0);
    d2ev_metric_set(X->m_quiet, exp_policy_quiet(&X->policy, &s) ? 1 : 0);
    enum exp_flush_reason why;
    if (X->paused) {
        if (d2ev_clock_mono_ms() < X->retry_at) {
            set_paused(X, true); /* again: a new assignment would fetch */
            return;
        }
        why = exp_policy_decide(&X->policy, &s);
        why = why == EXP_FLUSH_NONE ? EXP_FLUSH_FULL : why;
    } else if ((why = exp_policy_decide(&X->policy, &s)) == EXP_FLUSH_NONE) {
        return;
    }
    if (flush(X, why) == D2EV_OK) {
        if (why != EXP_FLUSH_FULL)
            X->last_timed = now;
        if (X->paused)
            set_paused(X, false);
        return;
    }
    X->retry_at = d2ev_clock_mono_ms() + X->cfg->retry_s * 1000;
    set_paused(X, true);
}

/* ------------------------------------------------------------ run */

static int setup(struct exporter *X, struct d2ev_service *svc, const struct exporter_config *cfg)
{
    struct d2ev_err err = { 0 };
    X->svc = svc;
    X->cfg = cfg;
    X->lag = -1;
    X->last_timed = INT64_MIN;
    snprintf(X->root, sizeof(X->root), "%s", cfg->dir);
    for (size_t n = strlen(X->root); n > 1 && X->root[n - 1] == '/';)
        X->root[--n] = '\0';
    X->policy = (struct exp_policy){
        .batch_rows = (uint64_t)cfg->batch_rows,
        .batch_bytes = (uint64_t)cfg->batch_bytes,
        .max_age_ms = cfg->max_age_s * 1000,
        .interval_ms = cfg->flush_interval_s * 1000,
        .max_lag = cfg->quiet_max_lag,
        .max_rate = cfg->quiet_max_rate,
    };
    if (exp_window_parse(cfg->quiet_hours, &X->policy.window, &err) != D2EV_OK ||
        !(X->policy.tz = d2ev_tz_get(cfg->quiet_timezone, &err))) {
        d2ev_log_error("bad quiet settings", D2EV_LF_STR("error", err.msg));
        return D2EV_EXIT_USAGE;
    }
    if (strlen(X->root) + 64 > EXP_PATH_MAX || strlen(X->root) == 0) {
        d2ev_log_error("export-dir is empty or too long", D2EV_LF_STR("dir", X->root));
        return D2EV_EXIT_USAGE;
    }
    metrics_init(X);
    X->producer = d2ev_producer_create(d2ev_service_kafka(svc), &err);
    if (!X->producer) {
        d2ev_log_error("cannot create producer", D2EV_LF_STR("error", err.msg));
        return D2EV_EXIT_FAILURE;
    }
    static const char *const topics[] = { D2EV_TOPIC_SESSIONS, D2EV_TOPIC_DISPATCH,
                                          D2EV_TOPIC_SCHEDULES, D2EV_TOPIC_TELEMETRY, NULL };
    struct d2ev_consumer_conf cc = {
        .kafka = d2ev_service_kafka(svc),
        .group_id = d2ev_service_group(svc),
        .topics = topics,
        .on_assign = on_assign,
        .on_revoke = on_revoke,
        .opaque = X,
        .producer = X->producer,
        .instance_id = d2ev_service_instance(svc),
    };
    X->consumer = d2ev_consumer_create(&cc, &err);
    if (!X->consumer) {
        d2ev_log_error("cannot create consumer", D2EV_LF_STR("error", err.msg));
        return D2EV_EXIT_FAILURE;
    }
    return D2EV_EXIT_OK;
}

static int exporter_run(struct d2ev_service *svc, void *config)
{
    struct exporter *X = calloc(1, sizeof(*X));
    if (!X)
        return D2EV_EXIT_FAILURE;
    int status = setup(X, svc, config);
    size_t max = (size_t)X->cfg->poll_max;
    rd_kafka_message_t **msgs = status == D2EV_EXIT_OK ? calloc(max, sizeof(*msgs)) : NULL;
    if (status == D2EV_EXIT_OK && !msgs)
        status = D2EV_EXIT_FAILURE;
    d2ev_log_info("exporting", D2EV_LF_STR("dir", X->root),
                  D2EV_LF_STR("quiet_hours", X->cfg->quiet_hours),
                  D2EV_LF_STR("quiet_timezone", X->cfg->quiet_timezone));
    while (status == D2EV_EXIT_OK && d2ev_service_running(svc)) {
        d2ev_service_heartbeat(svc);
        size_t n = d2ev_consumer_poll(X->consumer, msgs, max, POLL_MS);
        int64_t now = d2ev_clock_now_ms();
        int rc = D2EV_OK;
        for (size_t i = 0; i < n; i++) {
            if (rc == D2EV_OK && (rc = handle(X, msgs[i], now)) == D2EV_OK) {
                struct exp_part *p =
                    exp_batch_find(&X->batch, exp_topic_index(rd_kafka_topic_name(msgs[i]->rkt)),
                                   msgs[i]->partition);
                if (p && p->assigned)
                    p->seen_next = msgs[i]->offset + 1;
            }
            rd_kafka_message_destroy(msgs[i]);
        }
        if (rc != D2EV_OK) {
            d2ev_log_error("cannot handle a record; stopping with its offset uncommitted",
                           D2EV_LF_STR("error", d2ev_rc_name(rc)));
            status = D2EV_EXIT_FAILURE;
            break;
        }
        d2ev_producer_poll(X->producer, 0);
        if (d2ev_producer_fatal(X->producer)) {
            status = D2EV_EXIT_FAILURE;
            break;
        }
        sample(X, now);
        maybe_flush(X, now);
        if (d2ev_clock_mono_ms() >= X->next_commit)
            commit(X, 30000);
        bool ready = d2ev_consumer_caught_up(X->consumer) && !X->paused;
        d2ev_service_set_ready(svc, ready,
                               X->paused ? "cannot write export files; inputs paused"
                                         : "waiting for partitions");
    }
    /* Shutdown: write nothing more (the rows held are read again after the
     * restart), commit what is durable, leave the group. */
    if (X->consumer) {
        commit(X, 5000); /* inside the shutdown deadline */
        d2ev_consumer_close(X->consumer);
    }
    d2ev_producer_destroy(X->producer);
    exp_batch_destroy(&X->batch);
    d2ev_strbuf_free(&X->line);
    free(msgs);
    free(X);
    return status;
}

/* ------------------------------------------------------------ report command */

struct report_config {
    const char *dir;
    const char *date;
    bool print;
};

#define R(x) offsetof(struct report_config, x)
static const struct d2ev_cfg_entry report_table[] = {
    { "export-dir", D2EV_CFG_STR, R(dir), "/var/lib/d2ev/export",
      "directory of the exported files (<dir>/yyyy/mm/dd/)" },
    { "date", D2EV_CFG_STR, R(date), NULL, "UTC day to report on, YYYY-MM-DD", 0, 0, true },
    { "print", D2EV_CFG_BOOL, R(print), "true", "also print the report on stdout" },
    D2EV_CFG_END,
};
#undef R

static int report_run(struct d2ev_service *svc, void *config)
{
    (void)svc;
    const struct report_config *c = config;
    struct d2ev_err err = { 0 };
    json_t *rep = NULL;
    int rc = d2ev_export_report_write(c->dir, c->date, &rep, &err);
    if (rc) {
        fprintf(stderr, "d2ev-exporter report: %s\n", err.msg);
        return rc == D2EV_ERR_INVALID ? D2EV_EXIT_USAGE : D2EV_EXIT_FAILURE;
    }
    if (c->print) {
        json_dumpf(rep, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
    }
    json_decref(rep);
    return D2EV_EXIT_OK;
}

/* ------------------------------------------------------------ definitions */

const struct d2ev_service_def d2ev_exporter_def = {
    .name = SERVICE,
    .summary = "Analytics export: consume d2ev.sessions, d2ev.dispatch, d2ev.schedules and "
               "d2ev.telemetry and write them as gzip-compressed NDJSON files partitioned by "
               "UTC day (<export-dir>/yyyy/mm/dd/), with an index per day. Files are written "
               "when a batch is full, when the platform is quiet (quiet hours, low lag, idle "
               "producers), or when the oldest row reaches max-age; offsets are committed only "
               "once the files are durable. `d2ev-exporter report --date=YYYY-MM-DD` writes a "
               "day's maintenance report. See docs/analytics.md.",
    .default_admin_port = 9108,
    .needs_kafka = true,
    .config_title = "Exporter",
    .config = exporter_table,
    .config_size = sizeof(struct exporter_config),
    .run = exporter_run,
};

const struct d2ev_service_def d2ev_exporter_report_def = {
    .name = SERVICE,
    .summary = "d2ev-exporter report: build the daily maintenance report of one UTC day from "
               "the exported files (vehicles and OEMs ranked by failed commands, zombie and "
               "eternal sessions and rate-limit hits; energy, savings and energy shifted) and "
               "write it to <export-dir>/yyyy/mm/dd/report.json.",
    .default_admin_port = 0,
    .needs_kafka = false,
    .config_title = "d2ev-exporter report",
    .config = report_table,
    .config_size = sizeof(struct report_config),
    .run = report_run,
};

int d2ev_exporter_main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    if (!strcmp(cmd, "report")) {
        argv[1] = argv[0];
        return d2ev_service_main(&d2ev_exporter_report_def, argc - 1, argv + 1);
    }
    if (!strcmp(cmd, "--help-markdown")) {
        /* both commands' settings, for docs/configuration.md */
        int rc = d2ev_service_main(&d2ev_exporter_def, argc, argv);
        char *args[] = { argv[0], (char *)"--help-markdown", NULL };
        return rc ? rc : d2ev_service_main(&d2ev_exporter_report_def, 2, args);
    }
    return d2ev_service_main(&d2ev_exporter_def, argc, argv);
}
