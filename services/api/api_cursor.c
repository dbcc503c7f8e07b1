/* api_cursor.c: opaque pagination cursors (see api_cursor.h). */
#include "api_cursor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/error.h"
#include "d2ev/util.h"

#include "api_text.h"

static char *encode(char *out, char kind, const char *pos)
{
    char raw[2 + D2EV_VEHICLE_ID_MAX + 1];
    int n = snprintf(raw, sizeof(raw), "%c:%s", kind, pos);
    if (n < 0 || (size_t)n >= sizeof(raw))
        n = 0;
    d2ev_hex_encode(raw, (size_t)n, out);
    return out;
}

char *d2ev_api_cursor_after_id(char *out, const char *id)
{
    return encode(out, 'v', id);
}

char *d2ev_api_cursor_before_seq(char *out, uint64_t seq)
{
    char num[24];
    snprintf(num, sizeof(num), "%llu", (unsigned long long)seq);
    return encode(out, 's', num);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decode c into raw (NUL-terminated) and check the kind; returns the
 * position after "<kind>:". */
static const char *decode(const char *c, char kind, char *raw, size_t size)
{
    size_t len = strlen(c);
    if (len < 6 || len % 2 || len / 2 >= size)
        return NULL;
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hexval(c[2 * i]), lo = hexval(c[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return NULL;
        raw[i] = (char)(hi * 16 + lo);
        if (raw[i] == '\0')
            return NULL;
    }
    raw[len / 2] = '\0';
    if (raw[0] != kind || raw[1] != ':')
        return NULL;
    return raw + 2;
}

int d2ev_api_cursor_parse_id(const char *c, char id[D2EV_VEHICLE_ID_MAX + 1])
{
    char raw[2 + D2EV_VEHICLE_ID_MAX + 1];
    const char *pos = decode(c, 'v', raw, sizeof(raw));
    if (!pos || !d2ev_api_id_valid(pos, D2EV_VEHICLE_ID_MAX))
        return D2EV_ERR_INVALID;
    d2ev_strlcpy(id, pos, D2EV_VEHICLE_ID_MAX + 1);
    return D2EV_OK;
}

int d2ev_api_cursor_parse_seq(const char *c, uint64_t *seq)
{
    char raw[32];
    const char *pos = decode(c, 's', raw, sizeof(raw));
    if (!pos || !*pos || strspn(pos, "0123456789") != strlen(pos) || strlen(pos) > 19)
        return D2EV_ERR_INVALID;
    *seq = strtoull(pos, NULL, 10);
    return D2EV_OK;
}
