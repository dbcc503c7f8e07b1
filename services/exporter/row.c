/* row.c: the NDJSON line of an exported record (see row.h). */
#include "row.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/timefmt.h"

static const char *const reserved[] = { "\"_topic\"", "\"_partition\"", "\"_offset\"" };

static bool mentions_reserved(const char *p, size_t len)
{
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        if (memmem(p, len, reserved[i], strlen(reserved[i])))
            return true;
    }
    return false;
}

static void prefix(struct d2ev_strbuf *sb, const char *topic, int32_t partition, int64_t offset)
{
    d2ev_strbuf_printf(sb, "{\"_topic\":\"%s\",\"_partition\":%" PRId32 ",\"_offset\":%" PRId64,
                       topic, partition, offset);
}

/* Slow path: parse, set the exporter's fields, dump in one line. */
static int reencode(struct d2ev_strbuf *sb, const char *topic, int32_t partition, int64_t offset,
                    const char *payload, size_t len, struct d2ev_err *err)
{
    json_error_t je;
    json_t *o = json_loadb(payload, len, 0, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return d2ev_err_set(err, D2EV_ERR_INVALID, "record is not a JSON object");
    }
    json_t *row = json_pack("{s:s, s:i, s:I}", "_topic", topic, "_partition", (int)partition,
                            "_offset", (json_int_t)offset);
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (!json_object_get(row, k))
            json_object_set(row, k, v);
    }
    char *text = row ? json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(row);
    json_decref(o);
    if (!text)
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    d2ev_strbuf_puts(sb, text);
    d2ev_strbuf_append(sb, "\n", 1);
    free(text);
    return d2ev_strbuf_failed(sb) ? d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory") : D2EV_OK;
}

int exp_row_event(struct d2ev_strbuf *sb, const char *topic, int32_t partition, int64_t offset,
                  const char *payload, size_t len, struct d2ev_err *err)
{
    size_t a = 0, b = len;
    while (a < b && strchr(" \t\r\n", payload[a]))
        a++;
    while (b > a && strchr(" \t\r\n", payload[b - 1]))
        b--;
    if (b - a < 2 || payload[a] != '{' || payload[b - 1] != '}')
        return d2ev_err_set(err, D2EV_ERR_INVALID, "record is not a JSON object");
    if (mentions_reserved(payload + a, b - a))
        return reencode(sb, topic, partition, offset, payload + a, b - a, err);
    prefix(sb, topic, partition, offset);
    /* the members after '{'; an empty object needs no separator */
    const char *body = payload + a + 1;
    size_t blen = b - a - 1;
    size_t k = 0;
    while (k < blen && strchr(" \t\r\n", body[k]))
        k++;
    if (body[k] != '}')
        d2ev_strbuf_append(sb, ",", 1);
    size_t start = sb->len;
    d2ev_strbuf_append(sb, body + k, blen - k);
    if (d2ev_strbuf_failed(sb))
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    /* raw CR/LF can only be whitespace in valid JSON: keep the row on one line */
    for (char *p = sb->buf + start; (p = memchr(p, '\n', (size_t)(sb->buf + sb->len - p)));)
        *p = ' ';
    for (char *p = sb->buf + start; (p = memchr(p, '\r', (size_t)(sb->buf + sb->len - p)));)
        *p = ' ';
    d2ev_strbuf_append(sb, "\n", 1);
    return d2ev_strbuf_failed(sb) ? d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory") : D2EV_OK;
}

int exp_row_tombstone(struct d2ev_strbuf *sb, const char *topic, int32_t partition, int64_t offset,
                      const char *key, int64_t ts, struct d2ev_err *err)
{
    char t[D2EV_TIME_STR_MAX];
    prefix(sb, topic, partition, offset);
    d2ev_strbuf_puts(sb, ",\"type\":\"tombstone\",\"vehicle_id\":");
    d2ev_strbuf_json_string(sb, key, strlen(key));
    d2ev_strbuf_printf(sb, ",\"ts\":\"%s\"}\n", d2ev_time_format(ts, t));
    return d2ev_strbuf_failed(sb) ? d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory") : D2EV_OK;
}
