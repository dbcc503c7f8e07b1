/*
 * d2ev error convention (one for the whole project).
 *
 * Every fallible function returns an int: 0 (D2EV_OK) on success, or a negative
 * enum d2ev_rc code on failure. Functions that can say *why* also take a
 * `struct d2ev_err *err` as their last argument; it may be NULL. On failure the
 * function fills err->code and err->msg with a human sentence naming what failed,
 * where and why ("target_soc: must be between 1 and 100, got 120").
 * On success err is left untouched.
 *
 * Functions that return a pointer return NULL on failure and fill err likewise.
 *
 * Ownership: struct d2ev_err is a plain value owned by the caller, usually on
 * the stack. Nothing in it needs freeing.
 */
#ifndef D2EV_ERROR_H
#define D2EV_ERROR_H

#include <stddef.h>

enum d2ev_rc {
    D2EV_OK = 0,
    D2EV_ERR_INVALID = -1,     /* bad input: malformed, wrong type, out of range */
    D2EV_ERR_NOMEM = -2,       /* allocation failed */
    D2EV_ERR_IO = -3,          /* file, socket or system call failed */
    D2EV_ERR_NOT_FOUND = -4,   /* no such entity */
    D2EV_ERR_TIMEOUT = -5,     /* a deadline passed */
    D2EV_ERR_STATE = -6,       /* operation not allowed in the current state */
    D2EV_ERR_CRYPTO = -7,      /* encryption, decryption or authentication failed */
    D2EV_ERR_KAFKA = -8,       /* librdkafka reported an error */
    D2EV_ERR_UNSUPPORTED = -9, /* version or feature not supported */
    D2EV_ERR_LIMIT = -10,      /* a size or count limit was exceeded */
    D2EV_ERR_AGAIN = -11,      /* transient: try again later */
    D2EV_ERR_CONFLICT = -12,   /* stale or duplicate: a newer state already exists */
};

#define D2EV_ERR_MSG_MAX 320

struct d2ev_err {
    int code;                   /* enum d2ev_rc */
    char msg[D2EV_ERR_MSG_MAX]; /* NUL-terminated, never contains secrets */
};

/* Fill err (if not NULL) with code and a printf-style message. Returns code, so
 * callers can write `return d2ev_err_set(err, D2EV_ERR_INVALID, "...")`. */
int d2ev_err_set(struct d2ev_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepend context to an existing message: "<prefix>: <old message>". Keeps the
 * code. Returns err->code (or D2EV_ERR_INVALID when err is NULL). */
int d2ev_err_prefix(struct d2ev_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reset err to "no error". */
void d2ev_err_clear(struct d2ev_err *err);

/* Stable lower-case name of a code ("invalid", "nomem", ...). Never NULL;
 * the string is static. */
const char *d2ev_rc_name(int code);

#endif
