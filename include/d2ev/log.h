/*
 * Structured logging: one JSON object per line on stderr.
 *
 *   {"ts":"2026-11-21T07:30:00.123Z","level":"info","service":"telemetry",
 *    "msg":"polled","vehicle_id":"v-1","soc":54.5}
 *
 * When the scaled clock is on, "sim_ts" carries the simulated time as well.
 *
 * Usage:
 *   d2ev_log_info("polled", D2EV_LF_STR("vehicle_id", id), D2EV_LF_DBL("soc", soc));
 *   d2ev_log_warn("broker down");
 *
 * Secrets are never printed: a field whose key names a secret (token, secret,
 * password, authorization, api_key, private, credential_blob) is written as
 * "[redacted]" whatever its value. Field values and messages are escaped;
 * invalid UTF-8 becomes U+FFFD. Thread-safe: each line is one write.
 *
 * Ownership: every string passed in is borrowed for the duration of the call.
 */
#ifndef D2EV_LOG_H
#define D2EV_LOG_H

#include <stdbool.h>
#include <stdio.h>

enum d2ev_log_level { D2EV_LOG_DEBUG = 0, D2EV_LOG_INFO, D2EV_LOG_WARN, D2EV_LOG_ERROR };

enum d2ev_log_ftype { D2EV_LFT_END = 0, D2EV_LFT_STR, D2EV_LFT_INT, D2EV_LFT_DBL, D2EV_LFT_BOOL };

struct d2ev_log_field {
    const char *key;
    enum d2ev_log_ftype type;
    const char *s;
    long long i;
    double d;
};

#define D2EV_LF_STR(k, v) ((struct d2ev_log_field){ .key = (k), .type = D2EV_LFT_STR, .s = (v) })
#define D2EV_LF_INT(k, v)                                                                          \
    ((struct d2ev_log_field){ .key = (k), .type = D2EV_LFT_INT, .i = (long long)(v) })
#define D2EV_LF_DBL(k, v)                                                                          \
    ((struct d2ev_log_field){ .key = (k), .type = D2EV_LFT_DBL, .d = (double)(v) })
#define D2EV_LF_BOOL(k, v)                                                                         \
    ((struct d2ev_log_field){ .key = (k), .type = D2EV_LFT_BOOL, .i = (v) ? 1 : 0 })
#define D2EV_LF_END ((struct d2ev_log_field){ .key = 0, .type = D2EV_LFT_END })

/* Set the service name written in every line and the minimum level.
 * service is copied. */
void d2ev_log_init(const char *service, enum d2ev_log_level min_level);

/* Parse "debug", "info", "warn" or "error". Returns 0 or D2EV_ERR_INVALID. */
int d2ev_log_level_parse(const char *s, enum d2ev_log_level *out);

/* Redirect output (tests). NULL restores stderr. The stream is borrowed. */
void d2ev_log_set_stream(FILE *f);

bool d2ev_log_enabled(enum d2ev_log_level level);

/* Write one line. fields ends with D2EV_LF_END. Prefer the macros below. */
void d2ev_log_write(enum d2ev_log_level level, const char *msg,
                    const struct d2ev_log_field *fields);

/* True when a field with this key would be redacted. */
bool d2ev_log_key_is_secret(const char *key);

#define D2EV_LOG_(lvl, msg, ...)                                                                   \
    do {                                                                                           \
        if (d2ev_log_enabled(lvl))                                                                 \
            d2ev_log_write(lvl, msg, (const struct d2ev_log_field[]){ __VA_ARGS__ });              \
    } while (0)

#define d2ev_log_debug(...) D2EV_LOG_(D2EV_LOG_DEBUG, __VA_ARGS__, D2EV_LF_END)
#define d2ev_log_info(...)  D2EV_LOG_(D2EV_LOG_INFO, __VA_ARGS__, D2EV_LF_END)
#define d2ev_log_warn(...)  D2EV_LOG_(D2EV_LOG_WARN, __VA_ARGS__, D2EV_LF_END)
#define d2ev_log_error(...) D2EV_LOG_(D2EV_LOG_ERROR, __VA_ARGS__, D2EV_LF_END)

#endif
