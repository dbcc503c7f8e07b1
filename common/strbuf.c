/* strbuf.c: growable text buffer with JSON/HTML escaping (see d2ev/strbuf.h). */
#include "d2ev/strbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(struct d2ev_strbuf *sb, size_t extra)
{
    if (sb->failed)
        return false;
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap)
        return true;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            sb->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *nb = realloc(sb->buf, cap);
    if (!nb) {
        sb->failed = true;
        return false;
    }
    sb->buf = nb;
    sb->cap = cap;
    return true;
}

void d2ev_strbuf_append(struct d2ev_strbuf *sb, const char *data, size_t len)
{
    if (!reserve(sb, len))
        return;
    memcpy(sb->buf + sb->len, data, len);
    sb->len += len;
    sb->buf[sb->len] = '\0';
}

void d2ev_strbuf_puts(struct d2ev_strbuf *sb, const char *s)
{
    d2ev_strbuf_append(sb, s, strlen(s));
}

void d2ev_strbuf_printf(struct d2ev_strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(small)) {
        d2ev_strbuf_append(sb, small, (size_t)n);
        return;
    }
    if (!reserve(sb, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

/* Length of the UTF-8 sequence starting at s (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
        n = 2;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n > left)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    /* reject overlong forms, surrogates and out-of-range code points */
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

size_t d2ev_utf8_valid_prefix(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_seq((const unsigned char *)s + i, len - i);
        if (n == 0)
            break;
        i += n;
    }
    return i;
}

bool d2ev_utf8_valid(const char *s, size_t len)
{
    return d2ev_utf8_valid_prefix(s, len) == len && memchr(s, '\0', len) == NULL;
}

void d2ev_strbuf_json_string(struct d2ev_strbuf *sb, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    d2ev_strbuf_append(sb, "\"", 1);
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        size_t run = i;
        /* copy a run of plain characters at once */
        while (run < len && (unsigned char)s[run] >= 0x20 && (unsigned char)s[run] < 0x80 &&
               s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) {
            d2ev_strbuf_append(sb, s + i, run - i);
            i = run;
            continue;
        }
        if (c == '"' || c == '\\') {
            char e[2] = { '\\', (char)c };
            d2ev_strbuf_append(sb, e, 2);
            i++;
        } else if (c < 0x20) {
            char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            if (c == '\n')
                d2ev_strbuf_append(sb, "\\n", 2);
            else if (c == '\t')
                d2ev_strbuf_append(sb, "\\t", 2);
            else if (c == '\r')
                d2ev_strbuf_append(sb, "\\r", 2);
            else
                d2ev_strbuf_append(sb, e, 6);
            i++;
        } else {
            size_t n = utf8_seq((const unsigned char *)s + i, len - i);
            if (n == 0) {
                d2ev_strbuf_append(sb, "\\ufffd", 6);
                i++;
            } else {
                d2ev_strbuf_append(sb, s + i, n);
                i += n;
            }
        }
    }
    d2ev_strbuf_append(sb, "\"", 1);
}

void d2ev_strbuf_html(struct d2ev_strbuf *sb, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            d2ev_strbuf_puts(sb, "&amp;");
            break;
        case '<':
            d2ev_strbuf_puts(sb, "&lt;");
            break;
        case '>':
            d2ev_strbuf_puts(sb, "&gt;");
            break;
        case '"':
            d2ev_strbuf_puts(sb, "&quot;");
            break;
        case '\'':
            d2ev_strbuf_puts(sb, "&#39;");
            break;
        default:
            d2ev_strbuf_append(sb, s, 1);
        }
    }
}

void d2ev_strbuf_reset(struct d2ev_strbuf *sb)
{
    sb->len = 0;
    if (sb->buf)
        sb->buf[0] = '\0';
}

bool d2ev_strbuf_failed(const struct d2ev_strbuf *sb)
{
    return sb->failed;
}

char *d2ev_strbuf_steal(struct d2ev_strbuf *sb, size_t *len)
{
    if (sb->failed) {
        d2ev_strbuf_free(sb);
        return NULL;
    }
    if (!sb->buf)
        reserve(sb, 0);
    char *b = sb->buf;
    if (len)
        *len = sb->len;
    sb->buf = NULL;
    sb->len = sb->cap = 0;
    return b;
}

void d2ev_strbuf_free(struct d2ev_strbuf *sb)
{
    free(sb->buf);
    sb->buf = NULL;
    sb->len = sb->cap = 0;
    sb->failed = false;
}
