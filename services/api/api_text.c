/* api_text.c: id checks and JSON helpers for the ops API (see api_text.h). */
#include "api_text.h"

#include <math.h>
#include <string.h>

#include "d2ev/timefmt.h"

bool d2ev_api_id_valid(const char *s, size_t maxlen)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '@' || c == '-';
        if (!ok || n >= maxlen)
            return false;
    }
    return n > 0;
}

void d2ev_api_json_str(struct d2ev_strbuf *sb, const char *s)
{
    d2ev_strbuf_json_string(sb, s, strlen(s));
}

void d2ev_api_json_num(struct d2ev_strbuf *sb, double v)
{
    if (isfinite(v))
        d2ev_strbuf_printf(sb, "%.15g", v);
    else
        d2ev_strbuf_puts(sb, "null");
}

void d2ev_api_json_time(struct d2ev_strbuf *sb, int64_t ms)
{
    char buf[D2EV_TIME_STR_MAX];
    d2ev_strbuf_printf(sb, "\"%s\"", d2ev_time_format(ms, buf));
}

void d2ev_api_json_key(struct d2ev_strbuf *sb, bool *first, const char *key)
{
    if (!*first)
        d2ev_strbuf_puts(sb, ",");
    *first = false;
    d2ev_api_json_str(sb, key);
    d2ev_strbuf_puts(sb, ":");
}
