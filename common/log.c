/* log.c: JSON-lines logger with secret redaction (see d2ev/log.h). */
#include "d2ev/log.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>

#include "d2ev/clock.h"
#include "d2ev/error.h"
#include "d2ev/strbuf.h"
#include "d2ev/timefmt.h"

static char g_service[64] = "d2ev";
static _Atomic int g_min_level = D2EV_LOG_INFO;
static FILE *g_stream;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

void d2ev_log_init(const char *service, enum d2ev_log_level min_level)
{
    pthread_mutex_lock(&g_lock);
    snprintf(g_service, sizeof(g_service), "%s", service ? service : "d2ev");
    pthread_mutex_unlock(&g_lock);
    atomic_store(&g_min_level, (int)min_level);
}

int d2ev_log_level_parse(const char *s, enum d2ev_log_level *out)
{
    static const char *names[] = { "debug", "info", "warn", "error" };
    for (int i = 0; i < 4; i++) {
        if (s && strcasecmp(s, names[i]) == 0) {
            *out = (enum d2ev_log_level)i;
            return D2EV_OK;
        }
    }
    if (s && strcasecmp(s, "warning") == 0) {
        *out = D2EV_LOG_WARN;
        return D2EV_OK;
    }
    return D2EV_ERR_INVALID;
}

void d2ev_log_set_stream(FILE *f)
{
    pthread_mutex_lock(&g_lock);
    g_stream = f;
    pthread_mutex_unlock(&g_lock);
}

bool d2ev_log_enabled(enum d2ev_log_level level)
{
    return (int)level >= atomic_load(&g_min_level);
}

bool d2ev_log_key_is_secret(const char *key)
{
    static const char *const deny[] = { "token",           "secret",     "password", "passwd",
                                        "authorization",   "api_key",    "apikey",   "private",
                                        "credential_blob", "ciphertext", "cookie" };
    if (!key)
        return false;
    for (size_t i = 0; i < sizeof(deny) / sizeof(deny[0]); i++) {
        if (strcasestr(key, deny[i]))
            return true;
    }
    return false;
}

void d2ev_log_write(enum d2ev_log_level level, const char *msg, const struct d2ev_log_field *fields)
{
    static const char *lvl[] = { "debug", "info", "warn", "error" };
    char ts[D2EV_TIME_STR_MAX];
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;

    d2ev_strbuf_puts(&sb, "{\"ts\":\"");
    d2ev_strbuf_puts(&sb, d2ev_time_format(d2ev_clock_real_ms(), ts));
    d2ev_strbuf_puts(&sb, "\"");
    if (d2ev_clock_mode() == D2EV_CLOCK_SCALED) {
        d2ev_strbuf_puts(&sb, ",\"sim_ts\":\"");
        d2ev_strbuf_puts(&sb, d2ev_time_format(d2ev_clock_now_ms(), ts));
        d2ev_strbuf_puts(&sb, "\"");
    }
    d2ev_strbuf_printf(&sb, ",\"level\":\"%s\",\"service\":", lvl[level & 3]);
    pthread_mutex_lock(&g_lock);
    d2ev_strbuf_json_string(&sb, g_service, strlen(g_service));
    pthread_mutex_unlock(&g_lock);
    d2ev_strbuf_puts(&sb, ",\"msg\":");
    d2ev_strbuf_json_string(&sb, msg ? msg : "", msg ? strlen(msg) : 0);

    for (const struct d2ev_log_field *f = fields; f && f->type != D2EV_LFT_END; f++) {
        if (!f->key)
            continue;
        d2ev_strbuf_puts(&sb, ",");
        d2ev_strbuf_json_string(&sb, f->key, strlen(f->key));
        d2ev_strbuf_puts(&sb, ":");
        if (d2ev_log_key_is_secret(f->key)) {
            d2ev_strbuf_puts(&sb, "\"[redacted]\"");
            continue;
        }
        switch (f->type) {
        case D2EV_LFT_STR:
            if (f->s)
                d2ev_strbuf_json_string(&sb, f->s, strlen(f->s));
            else
                d2ev_strbuf_puts(&sb, "null");
            break;
        case D2EV_LFT_INT:
            d2ev_strbuf_printf(&sb, "%lld", f->i);
            break;
        case D2EV_LFT_DBL:
            if (isfinite(f->d))
                d2ev_strbuf_printf(&sb, "%.15g", f->d);
            else
                d2ev_strbuf_puts(&sb, "null");
            break;
        case D2EV_LFT_BOOL:
            d2ev_strbuf_puts(&sb, f->i ? "true" : "false");
            break;
        default:
            d2ev_strbuf_puts(&sb, "null");
        }
    }
    d2ev_strbuf_puts(&sb, "}\n");
    if (d2ev_strbuf_failed(&sb)) {
        d2ev_strbuf_free(&sb);
        return;
    }

    pthread_mutex_lock(&g_lock);
    FILE *out = g_stream ? g_stream : stderr;
    fwrite(sb.buf, 1, sb.len, out);
    fflush(out);
    pthread_mutex_unlock(&g_lock);
    d2ev_strbuf_free(&sb);
}
