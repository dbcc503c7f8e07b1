/* ingest.c: one input record to a held row, a skip or a rejection (see ingest.h). */
#include "ingest.h"

#include <stdio.h>
#include <string.h>

#include "d2ev/events.h"
#include "d2ev/log.h"
#include "layout.h"
#include "row.h"
#include "writer.h"

#define ID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:@-"

/* What the batch needs of a decoded record. */
struct rec {
    char type[D2EV_TYPE_MAX + 1];
    char vehicle_id[D2EV_VEHICLE_ID_MAX + 1];
    int64_t ts;
};

/* Decode the value with its topic's strict decoder. Returns 0, or non-zero
 * with err naming the field. */
static int decode(const struct exp_record *r, struct rec *out, struct d2ev_err *err)
{
    union {
        struct d2ev_session s;
        struct d2ev_dispatch d;
        struct d2ev_schedule sc;
        struct d2ev_telemetry t;
    } u;
    const struct d2ev_envelope *env;
    const char *vid;
    int rc;
    switch (r->topic) {
    case EXP_TOPIC_SESSIONS:
        rc = d2ev_session_decode(r->value, r->len, &u.s, err);
        env = &u.s.env, vid = u.s.vehicle_id;
        break;
    case EXP_TOPIC_DISPATCH:
        rc = d2ev_dispatch_decode(r->value, r->len, &u.d, err);
        env = &u.d.env, vid = u.d.vehicle_id;
        break;
    case EXP_TOPIC_SCHEDULES:
        rc = d2ev_schedule_decode(r->value, r->len, &u.sc, err);
        env = &u.sc.env, vid = u.sc.vehicle_id;
        break;
    default:
        rc = d2ev_telemetry_decode(r->value, r->len, &u.t, err);
        env = &u.t.env, vid = u.t.vehicle_id;
        break;
    }
    if (rc == D2EV_OK) {
        snprintf(out->type, sizeof(out->type), "%s", env->type);
        snprintf(out->vehicle_id, sizeof(out->vehicle_id), "%s", vid);
        out->ts = env->ts;
    }
    if (r->topic == EXP_TOPIC_SCHEDULES)
        d2ev_schedule_clear(&u.sc);
    return rc;
}

/* True when a file already holds the row at offset of p (probing after an
 * assignment until the first row no file holds). */
static bool already_exported(struct exp_part *p, const char *root, int64_t offset, int64_t day)
{
    if (offset <= p->skip_last)
        return true;
    if (!p->probe)
        return false;
    int64_t last = -1;
    struct d2ev_err err;
    if (exp_find_covering(root, day, exp_topic_names[p->topic], p->partition, offset, &last,
                          &err) != D2EV_OK)
        d2ev_log_warn("cannot look for exported files", D2EV_LF_STR("error", err.msg));
    if (last >= 0) {
        d2ev_log_info("rows already exported; skipping them",
                      D2EV_LF_STR("topic", exp_topic_names[p->topic]),
                      D2EV_LF_INT("partition", p->partition), D2EV_LF_INT("from", offset),
                      D2EV_LF_INT("to", last));
        p->skip_last = last;
        return true;
    }
    /* files continue from the committed offset without gaps: none further on.
     * (The writer checks again before every file; this only saves work.) */
    p->probe = false;
    return false;
}

static int rejected(enum exp_ingest_result *result, char *reason, size_t size, const char *why)
{
    snprintf(reason, size, "%s", why);
    *result = EXP_INGEST_REJECTED;
    return D2EV_OK;
}

int exp_ingest(struct exp_batch *b, struct exp_part *p, const char *root,
               struct d2ev_strbuf *scratch, const struct exp_record *r, int64_t now,
               enum exp_ingest_result *result, char *reason, size_t reason_size)
{
    struct d2ev_err err = { 0 };
    struct rec rec;
    int rc;
    d2ev_strbuf_reset(scratch);
    if (!r->value) {
        /* schedules are compacted: a tombstone is a deregistered vehicle's erasure */
        if (r->topic != EXP_TOPIC_SCHEDULES)
            return rejected(result, reason, reason_size,
                            "empty record (a tombstone) on a topic that has none");
        size_t klen = strlen(r->key);
        if (!klen || klen > D2EV_VEHICLE_ID_MAX || strspn(r->key, ID_CHARS) != klen)
            return rejected(result, reason, reason_size,
                            "tombstone without a valid vehicle id key");
        snprintf(rec.type, sizeof(rec.type), "tombstone");
        snprintf(rec.vehicle_id, sizeof(rec.vehicle_id), "%s", r->key);
        rec.ts = r->kafka_ts >= 0 ? r->kafka_ts : 0; /* a pure function of the record */
        rc = exp_row_tombstone(scratch, exp_topic_names[r->topic], r->partition, r->offset, r->key,
                               rec.ts, &err);
    } else {
        if (decode(r, &rec, &err) != D2EV_OK)
            return rejected(result, reason, reason_size, err.msg);
        if (strcmp(r->key, rec.vehicle_id) != 0) {
            snprintf(reason, reason_size, "key \"%.64s\" does not match vehicle_id \"%.64s\"",
                     r->key, rec.vehicle_id);
            *result = EXP_INGEST_REJECTED;
            return D2EV_OK;
        }
        rc = exp_row_event(scratch, exp_topic_names[r->topic], r->partition, r->offset, r->value,
                           r->len, &err);
        if (rc == D2EV_ERR_INVALID)
            return rejected(result, reason, reason_size, err.msg);
    }
    if (rc)
        return rc;
    int64_t day = exp_day_of(rec.ts);
    if (already_exported(p, root, r->offset, day)) {
        *result = EXP_INGEST_SKIPPED;
        return D2EV_OK;
    }
    *result = EXP_INGEST_ROW;
    int64_t held = rec.ts < now ? rec.ts : now;
    return exp_batch_add(b, p, r->offset, day, held, rec.type, rec.vehicle_id, rec.ts, scratch->buf,
                         scratch->len);
}
