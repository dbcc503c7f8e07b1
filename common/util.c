/* util.c: ids, randomness, base64, hex and small string helpers. */
#include "d2ev/util.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>
#include <time.h>

int d2ev_random_bytes(void *buf, size_t len)
{
    if (len > (size_t)0x7fffffff)
        return D2EV_ERR_INVALID;
    return RAND_bytes(buf, (int)len) == 1 ? D2EV_OK : D2EV_ERR_CRYPTO;
}

void d2ev_uuid_v4(char out[D2EV_UUID_STR_LEN + 1])
{
    unsigned char b[16];
    if (d2ev_random_bytes(b, sizeof(b)) != D2EV_OK) {
        /* CSPRNG failure is not expected; fall back to a time-seeded PRNG so an
         * id is still produced (ids are not secrets). */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)(uintptr_t)b;
        uint64_t a = d2ev_rand_next(&s), c = d2ev_rand_next(&s);
        memcpy(b, &a, 8);
        memcpy(b + 8, &c, 8);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    d2ev_uuid_format(b, out);
}

void d2ev_uuid_format(const uint8_t b[16], char out[D2EV_UUID_STR_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

bool d2ev_uuid_valid(const char *s)
{
    if (!s || strlen(s) != D2EV_UUID_STR_LEN)
        return false;
    for (int i = 0; i < D2EV_UUID_STR_LEN; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

uint64_t d2ev_rand_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double d2ev_rand_unit(uint64_t *state)
{
    return (double)(d2ev_rand_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t d2ev_rand_seed(void)
{
    uint64_t s = 0;
    if (d2ev_random_bytes(&s, sizeof(s)) != D2EV_OK) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = (uint64_t)ts.tv_nsec * 6364136223846793005ULL + (uint64_t)ts.tv_sec;
    }
    return s;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t d2ev_base64_encoded_len(size_t len)
{
    return (len + 2) / 3 * 4;
}

size_t d2ev_base64_encode(const void *data, size_t len, char *out)
{
    const unsigned char *in = data;
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
        out[o++] = b64[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

static int b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int d2ev_base64_decode(const char *in, size_t len, void *outp, size_t *out_len)
{
    unsigned char *out = outp;
    while (len > 0 && in[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return D2EV_ERR_INVALID;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_val((unsigned char)in[i]);
        if (v < 0)
            return D2EV_ERR_INVALID;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    *out_len = o;
    return D2EV_OK;
}

void d2ev_hex_encode(const void *data, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * len] = '\0';
}

bool d2ev_strlcpy(char *dst, const char *src, size_t size)
{
    if (size == 0)
        return false;
    size_t n = strlen(src);
    bool fits = n < size;
    if (!fits)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return fits;
}

bool d2ev_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return false;
    return CRYPTO_memcmp(a, b, alen) == 0;
}
