/* host.c: the function table d2ev hands to OEM adapters (see d2ev/oem_adapter.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev/log.h"
#include "d2ev/oem.h"
#include "d2ev/timefmt.h"
#include "d2ev/util.h"

#define LOG_MAX_PAIRS 8

static void *host_alloc(size_t size)
{
    return calloc(1, size ? size : 1);
}

static void host_free(void *p)
{
    free(p);
}

static char *host_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static char *host_format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = NULL;
    int n = vasprintf(&out, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : out;
}

static void host_log(uint32_t level, const char *adapter, const char *msg, const char *const *kv)
{
    enum d2ev_log_level lvl =
        level > D2EV_OEM_LOG_ERROR ? D2EV_LOG_ERROR : (enum d2ev_log_level)level;
    if (!d2ev_log_enabled(lvl))
        return;
    struct d2ev_log_field f[LOG_MAX_PAIRS + 2];
    size_t n = 0;
    f[n++] = D2EV_LF_STR("adapter", adapter ? adapter : "?");
    for (size_t i = 0; kv && kv[i] && kv[i + 1] && n < LOG_MAX_PAIRS + 1; i += 2)
        f[n++] = D2EV_LF_STR(kv[i], kv[i + 1]);
    f[n] = D2EV_LF_END;
    d2ev_log_write(lvl, msg ? msg : "", f);
}

static int host_parse_time(const char *s, int64_t *ms)
{
    return s ? d2ev_time_parse(s, ms, NULL) : D2EV_ERR_INVALID;
}

static char *host_url_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(s);
    char *out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}

static char *host_base64(const void *data, size_t len)
{
    char *out = malloc(d2ev_base64_encoded_len(len) + 1);
    if (out)
        d2ev_base64_encode(data, len, out);
    return out;
}

static const struct d2ev_oem_host host_table = {
    .struct_size = sizeof(struct d2ev_oem_host),
    .abi_version = D2EV_OEM_ABI_VERSION,
    .alloc = host_alloc,
    .free = host_free,
    .strdup = host_strdup,
    .format = host_format,
    .log = host_log,
    .now_ms = d2ev_clock_now_ms,
    .parse_time = host_parse_time,
    .url_encode = host_url_encode,
    .base64 = host_base64,
};

const struct d2ev_oem_host *d2ev_oem_host_table(void)
{
    return &host_table;
}
