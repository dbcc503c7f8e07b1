/* error.c: the project-wide error value (see include/d2ev/error.h). */
#include "d2ev/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int d2ev_err_set(struct d2ev_err *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

int d2ev_err_prefix(struct d2ev_err *err, const char *fmt, ...)
{
    if (!err)
        return D2EV_ERR_INVALID;
    char prefix[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    char old[D2EV_ERR_MSG_MAX];
    memcpy(old, err->msg, sizeof(old));
    snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
    return err->code;
}

void d2ev_err_clear(struct d2ev_err *err)
{
    if (err) {
        err->code = D2EV_OK;
        err->msg[0] = '\0';
    }
}

const char *d2ev_rc_name(int code)
{
    switch (code) {
    case D2EV_OK:
        return "ok";
    case D2EV_ERR_INVALID:
        return "invalid";
    case D2EV_ERR_NOMEM:
        return "nomem";
    case D2EV_ERR_IO:
        return "io";
    case D2EV_ERR_NOT_FOUND:
        return "not_found";
    case D2EV_ERR_TIMEOUT:
        return "timeout";
    case D2EV_ERR_STATE:
        return "state";
    case D2EV_ERR_CRYPTO:
        return "crypto";
    case D2EV_ERR_KAFKA:
        return "kafka";
    case D2EV_ERR_UNSUPPORTED:
        return "unsupported";
    case D2EV_ERR_LIMIT:
        return "limit";
    case D2EV_ERR_AGAIN:
        return "again";
    case D2EV_ERR_CONFLICT:
        return "conflict";
    default:
        return "unknown";
    }
}
