/* bridge_sign.c: HMAC-SHA256 request signatures with a timestamp (see bridge_sign.h). */
#include "bridge_sign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/util.h"

#define TS_MAX_DIGITS 12

/* HMAC over "<timestamp>.<METHOD>.<path>.<body>" into mac[32]. Returns false
 * when out of memory. */
static bool mac_of(const void *secret, size_t secret_len, const char *ts, const char *method,
                   const char *path, const void *body, size_t body_len,
                   unsigned char mac[D2EV_HMAC_SHA256_LEN])
{
    size_t lt = strlen(ts), lm = strlen(method), lp = strlen(path);
    size_t n = lt + lm + lp + 3 + body_len;
    char stackbuf[4096];
    char *buf = n <= sizeof(stackbuf) ? stackbuf : malloc(n);
    if (!buf)
        return false;
    char *p = buf;
    memcpy(p, ts, lt);
    p += lt;
    *p++ = '.';
    memcpy(p, method, lm);
    p += lm;
    *p++ = '.';
    memcpy(p, path, lp);
    p += lp;
    *p++ = '.';
    if (body_len)
        memcpy(p, body, body_len);
    d2ev_hmac_sha256(secret, secret_len, buf, n, mac);
    if (buf != stackbuf)
        free(buf);
    return true;
}

void bridge_sign(const void *secret, size_t secret_len, const char *timestamp, const char *method,
                 const char *path, const void *body, size_t body_len,
                 char out[BRIDGE_SIG_HEX_LEN + 1])
{
    unsigned char mac[D2EV_HMAC_SHA256_LEN];
    if (!mac_of(secret, secret_len, timestamp, method, path, body, body_len, mac)) {
        out[0] = '\0';
        return;
    }
    d2ev_hex_encode(mac, sizeof(mac), out);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* upper case is not the documented form */
}

/* Parse "v1=<hex>[,v1=<hex>...]" (entries of other versions are skipped,
 * so a sender can add a future scheme alongside v1). Returns the number of
 * v1 digests read into sigs, or -1 when the header is malformed. */
static int parse_sig_header(const char *h, unsigned char sigs[][D2EV_HMAC_SHA256_LEN])
{
    int n = 0;
    const char *p = h;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && p[len - 1] == ' ')
            len--;
        const char *eq = memchr(p, '=', len);
        if (!eq || eq == p)
            return -1;
        if ((size_t)(eq - p) == 2 && !memcmp(p, "v1", 2)) {
            const char *hex = eq + 1;
            size_t hl = len - 3;
            if (hl != BRIDGE_SIG_HEX_LEN || n == BRIDGE_MAX_SIGS)
                return -1;
            for (size_t i = 0; i < D2EV_HMAC_SHA256_LEN; i++) {
                int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
                if (hi < 0 || lo < 0)
                    return -1;
                sigs[n][i] = (unsigned char)(hi << 4 | lo);
            }
            n++;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return n;
}

static bool parse_ts(const char *s, int64_t *out)
{
    size_t len = strlen(s);
    if (len == 0 || len > TS_MAX_DIGITS)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

enum bridge_sig_verdict bridge_sig_verify(const struct bridge_sig_keys *keys, const char *ts_header,
                                          const char *sig_header, const char *method,
                                          const char *path, const void *body, size_t body_len,
                                          int64_t now_s, struct bridge_sig_ok *ok,
                                          struct d2ev_err *err)
{
    if (!ts_header || !sig_header) {
        d2ev_err_set(err, D2EV_ERR_INVALID, "the request is not signed: send %s and %s",
                     BRIDGE_HDR_TIMESTAMP, BRIDGE_HDR_SIGNATURE);
        return BRIDGE_SIG_MISSING;
    }
    int64_t ts;
    if (!parse_ts(ts_header, &ts)) {
        d2ev_err_set(err, D2EV_ERR_INVALID, "%s: want unix seconds (1 to %d digits)",
                     BRIDGE_HDR_TIMESTAMP, TS_MAX_DIGITS);
        return BRIDGE_SIG_MALFORMED;
    }
    unsigned char sigs[BRIDGE_MAX_SIGS][D2EV_HMAC_SHA256_LEN];
    int nsigs = parse_sig_header(sig_header, sigs);
    if (nsigs <= 0) {
        d2ev_err_set(err, D2EV_ERR_INVALID,
                     "%s: want \"v1=<64 lower-case hex digits>\" (at most %d, comma-separated)",
                     BRIDGE_HDR_SIGNATURE, BRIDGE_MAX_SIGS);
        return BRIDGE_SIG_MALFORMED;
    }
    int64_t skew = now_s - ts;
    if (skew > keys->tolerance_s || -skew > keys->tolerance_s) {
        d2ev_err_set(err, D2EV_ERR_INVALID,
                     "%s is %lld s %s the server's clock (tolerance %lld s); sign the request "
                     "again with the current time",
                     BRIDGE_HDR_TIMESTAMP, (long long)(skew < 0 ? -skew : skew),
                     skew < 0 ? "ahead of" : "behind", (long long)keys->tolerance_s);
        return BRIDGE_SIG_STALE;
    }
    /* every secret is tried against every signature, so the time taken does
     * not depend on which one matched */
    bool match = false;
    int which = 0;
    for (size_t k = 0; k < keys->n; k++) {
        if (!keys->secret[k])
            continue;
        unsigned char mac[D2EV_HMAC_SHA256_LEN];
        if (!mac_of(keys->secret[k], strlen(keys->secret[k]), ts_header, method, path, body,
                    body_len, mac)) {
            d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
            return BRIDGE_SIG_MISMATCH;
        }
        for (int i = 0; i < nsigs; i++) {
            bool eq = d2ev_ct_equal(mac, sizeof(mac), sigs[i], sizeof(sigs[i]));
            if (eq && !match)
                which = i;
            match |= eq;
        }
    }
    if (!match) {
        d2ev_err_set(err, D2EV_ERR_CRYPTO,
                     "%s does not match: sign \"<timestamp>.<METHOD>.<path>.<body>\" with the "
                     "shared secret (see docs/bridge.md)",
                     BRIDGE_HDR_SIGNATURE);
        return BRIDGE_SIG_MISMATCH;
    }
    ok->timestamp_s = ts;
    memcpy(ok->digest, sigs[which], sizeof(ok->digest));
    return BRIDGE_SIG_OK;
}

const char *bridge_sig_verdict_name(enum bridge_sig_verdict v)
{
    switch (v) {
    case BRIDGE_SIG_OK:
        return "ok";
    case BRIDGE_SIG_MISSING:
        return "missing_signature";
    case BRIDGE_SIG_MALFORMED:
        return "malformed_signature";
    case BRIDGE_SIG_STALE:
        return "stale_timestamp";
    case BRIDGE_SIG_MISMATCH:
        return "bad_signature";
    }
    return "bad_signature";
}
