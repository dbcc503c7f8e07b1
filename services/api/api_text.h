/*
 * Small text helpers shared by the ops API's views: id checks and JSON
 * values appended to a strbuf.
 */
#ifndef D2EV_API_TEXT_H
#define D2EV_API_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/strbuf.h"

/* True when s is 1..maxlen bytes of the id alphabet [A-Za-z0-9._:@-]. */
bool d2ev_api_id_valid(const char *s, size_t maxlen);

/* A JSON string literal of s (NUL-terminated). */
void d2ev_api_json_str(struct d2ev_strbuf *sb, const char *s);
/* A JSON number with up to 15 significant digits; null when not finite. */
void d2ev_api_json_num(struct d2ev_strbuf *sb, double v);
/* An RFC 3339 string for ms since the epoch. */
void d2ev_api_json_time(struct d2ev_strbuf *sb, int64_t ms);
/* "key": for the next member; adds the comma unless first. */
void d2ev_api_json_key(struct d2ev_strbuf *sb, bool *first, const char *key);

#endif
