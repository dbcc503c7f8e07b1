/*
 * A growable byte buffer for building text (JSON lines, Prometheus output,
 * SVG, HTTP bodies). Always NUL-terminated.
 *
 * Ownership: the caller owns the struct; d2ev_strbuf_free() releases the bytes,
 * d2ev_strbuf_steal() hands them over (free() them). After an allocation
 * failure the buffer is marked failed, later appends are no-ops, and
 * d2ev_strbuf_failed() is true; check it once at the end.
 */
#ifndef D2EV_STRBUF_H
#define D2EV_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct d2ev_strbuf {
    char *buf;
    size_t len;
    size_t cap;
    bool failed;
};

#define D2EV_STRBUF_INIT                                                                           \
    {                                                                                              \
        0                                                                                          \
    }

void d2ev_strbuf_append(struct d2ev_strbuf *sb, const char *data, size_t len);
void d2ev_strbuf_puts(struct d2ev_strbuf *sb, const char *s);
void d2ev_strbuf_printf(struct d2ev_strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append s as a JSON string literal (with quotes). Control characters are
 * escaped, invalid UTF-8 becomes U+FFFD. */
void d2ev_strbuf_json_string(struct d2ev_strbuf *sb, const char *s, size_t len);
/* Append s with &, <, >, " and ' escaped for HTML/SVG text and attributes. */
void d2ev_strbuf_html(struct d2ev_strbuf *sb, const char *s);
void d2ev_strbuf_reset(struct d2ev_strbuf *sb);
bool d2ev_strbuf_failed(const struct d2ev_strbuf *sb);
/* Returns the malloc'd, NUL-terminated bytes (never NULL unless failed) and
 * resets sb. The caller frees the result. */
char *d2ev_strbuf_steal(struct d2ev_strbuf *sb, size_t *len);
void d2ev_strbuf_free(struct d2ev_strbuf *sb);

/* Length of the longest prefix of s[0..len) that is valid UTF-8. */
size_t d2ev_utf8_valid_prefix(const char *s, size_t len);
/* True when s[0..len) is entirely valid UTF-8 with no NUL byte. */
bool d2ev_utf8_valid(const char *s, size_t len);

#endif
