/* envelope.c: the common message envelope and the dead-letter producer. */
#include "d2ev/envelope.h"

#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev/json.h"
#include "d2ev/log.h"
#include "d2ev/metrics.h"
#include "d2ev/strbuf.h"
#include "d2ev/timefmt.h"
#include "d2ev/topics.h"
#include "d2ev/util.h"

#define DLQ_TEXT_MAX (64 * 1024)

json_t *d2ev_envelope_new_with(const char *type, const char *id, int64_t ts)
{
    char t[D2EV_TIME_STR_MAX];
    return json_pack("{s:s, s:i, s:s, s:s}", "type", type, "v", D2EV_ENVELOPE_VERSION, "id", id,
                     "ts", d2ev_time_format(ts, t));
}

json_t *d2ev_envelope_new(const char *type)
{
    char id[D2EV_UUID_STR_LEN + 1];
    d2ev_uuid_v4(id);
    return d2ev_envelope_new_with(type, id, d2ev_clock_now_ms());
}

int d2ev_envelope_read(const json_t *root, struct d2ev_envelope *env, struct d2ev_err *err)
{
    int64_t v = 0;
    if (d2ev_json_req_str(root, "type", env->type, D2EV_TYPE_MAX, D2EV_CS_ID, err) ||
        d2ev_json_req_int(root, "v", 1, 1000000, &v, err) ||
        d2ev_json_req_str(root, "id", env->id, D2EV_EVENT_ID_MAX, D2EV_CS_ID, err) ||
        d2ev_json_req_time(root, "ts", &env->ts, err))
        return err ? err->code : D2EV_ERR_INVALID;
    if (v != D2EV_ENVELOPE_VERSION)
        return d2ev_err_set(err, D2EV_ERR_UNSUPPORTED,
                            "v: envelope version %lld is not supported (this build reads %d)",
                            (long long)v, D2EV_ENVELOPE_VERSION);
    env->v = (int)v;
    return D2EV_OK;
}

json_t *d2ev_envelope_parse(const void *buf, size_t len, const char *want_type,
                            struct d2ev_envelope *env, struct d2ev_err *err)
{
    json_t *root = d2ev_json_parse(buf, len, D2EV_JSON_MAX_BYTES, err);
    if (!root)
        return NULL;
    if (d2ev_envelope_read(root, env, err) != D2EV_OK) {
        json_decref(root);
        return NULL;
    }
    if (want_type && strcmp(env->type, want_type) != 0) {
        d2ev_err_set(err, D2EV_ERR_INVALID, "type: expected \"%s\", got \"%s\"", want_type,
                     env->type);
        json_decref(root);
        return NULL;
    }
    return root;
}

/* Build and send a dead-letter record; src (stolen) describes the origin. */
static int deadletter_emit(struct d2ev_producer *p, const char *service, json_t *src,
                           const char *key, const void *bytes, size_t len, bool tombstone,
                           const char *reason, struct d2ev_err *err)
{
    json_t *o = d2ev_envelope_new("deadletter");
    char *b64 = malloc(d2ev_base64_encoded_len(len) + 1);
    if (!o || !src || !b64) {
        json_decref(o);
        json_decref(src);
        free(b64);
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    }
    json_object_set_new(o, "service", json_string(service));
    /* json_stringn refuses invalid UTF-8 (parser messages can quote part of a
     * multi-byte character), which would drop the reason silently. */
    json_object_set_new(
        o, "reason", json_stringn(reason, d2ev_utf8_valid_prefix(reason, strnlen(reason, 1024))));
    if (key)
        json_object_set_new(src, "key", json_string(key));
    json_object_set_new(o, "source", src);
    d2ev_base64_encode(bytes, len, b64);
    json_object_set_new(o, "payload_b64", json_string(b64));
    free(b64);
    if (len && len <= DLQ_TEXT_MAX && d2ev_utf8_valid(bytes, len))
        json_object_set_new(o, "payload_text", json_stringn(bytes, len));
    if (tombstone)
        json_object_set_new(o, "tombstone", json_true());
    int rc = d2ev_producer_send_json(p, D2EV_TOPIC_DEADLETTER, key, o, err);
    json_decref(o);
    d2ev_metric_inc(d2ev_metric_counter("d2ev_deadletter_total",
                                        "Records sent to the dead-letter topic", NULL));
    return rc;
}

int d2ev_deadletter_reject(struct d2ev_producer *p, const char *service,
                           const rd_kafka_message_t *msg, const char *reason, bool replay,
                           struct d2ev_metric *rejected)
{
    d2ev_log_warn("input rejected", D2EV_LF_STR("topic", rd_kafka_topic_name(msg->rkt)),
                  D2EV_LF_INT("partition", msg->partition), D2EV_LF_INT("offset", msg->offset),
                  D2EV_LF_STR("reason", reason));
    if (replay)
        return D2EV_OK;
    if (rejected)
        d2ev_metric_inc(rejected);
    struct d2ev_err err = { 0 };
    int rc = d2ev_deadletter_send(p, service, msg, reason, &err);
    if (rc)
        d2ev_log_error("cannot dead-letter", D2EV_LF_STR("error", err.msg));
    return rc;
}

int d2ev_deadletter_send_raw(struct d2ev_producer *p, const char *service, const char *source,
                             const char *key, const void *bytes, size_t len, const char *reason,
                             struct d2ev_err *err)
{
    return deadletter_emit(p, service, json_pack("{s:s}", "name", source), key, bytes, len, false,
                           reason, err);
}

int d2ev_deadletter_send(struct d2ev_producer *p, const char *service,
                         const rd_kafka_message_t *msg, const char *reason, struct d2ev_err *err)
{
    char key[256];
    d2ev_msg_key(msg, key, sizeof(key));
    bool has_key = msg->key && msg->key_len > 0 && d2ev_utf8_valid(key, strlen(key));
    json_t *src = json_pack("{s:s, s:i, s:I}", "topic", rd_kafka_topic_name(msg->rkt), "partition",
                            (int)msg->partition, "offset", (json_int_t)msg->offset);
    return deadletter_emit(p, service, src, has_key ? key : NULL, msg->payload,
                           msg->payload ? msg->len : 0, msg->payload == NULL, reason, err);
}
