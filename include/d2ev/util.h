/*
 * Small utilities: random numbers, UUIDs, base64, hex, safe string copy.
 * All thread-safe. Randomness for ids comes from OpenSSL's CSPRNG; the fast
 * PRNG (splitmix64) is for jitter and simulation only.
 */
#ifndef D2EV_UTIL_H
#define D2EV_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/error.h"

#define D2EV_UUID_STR_LEN 36

/* Random UUID v4 as 36 lower-case characters + NUL into out[37]. */
void d2ev_uuid_v4(char out[D2EV_UUID_STR_LEN + 1]);

/* Format 16 bytes as a lower-case 8-4-4-4-12 UUID into out[37] (no version
 * bits are set: the caller's bytes are used as they are). */
void d2ev_uuid_format(const uint8_t b[16], char out[D2EV_UUID_STR_LEN + 1]);

/* True when s is a canonical 8-4-4-4-12 hex UUID. */
bool d2ev_uuid_valid(const char *s);

/* Fill buf with cryptographically strong random bytes. Returns 0 or
 * D2EV_ERR_CRYPTO. */
int d2ev_random_bytes(void *buf, size_t len);

/* splitmix64: fast, seedable PRNG for jitter and simulation. *state is the
 * caller's. Returns the next value. */
uint64_t d2ev_rand_next(uint64_t *state);
/* Uniform double in [0, 1). */
double d2ev_rand_unit(uint64_t *state);
/* A seed from the CSPRNG. */
uint64_t d2ev_rand_seed(void);

/* Standard base64 with padding. Encode writes NUL-terminated text into out
 * (size >= d2ev_base64_encoded_len(len) + 1) and returns its length.
 * Decode accepts padded or unpadded standard base64 and returns 0 or
 * D2EV_ERR_INVALID; *out_len receives the byte count (out size >= len*3/4+3). */
size_t d2ev_base64_encoded_len(size_t len);
size_t d2ev_base64_encode(const void *data, size_t len, char *out);
int d2ev_base64_decode(const char *in, size_t len, void *out, size_t *out_len);

/* Lower-case hex of data into out (size >= 2*len+1). */
void d2ev_hex_encode(const void *data, size_t len, char *out);

/* Copy at most size-1 bytes and NUL-terminate; returns true if it all fit. */
bool d2ev_strlcpy(char *dst, const char *src, size_t size);

/* Constant-time comparison of two byte strings (false if lengths differ;
 * the length itself is not secret). */
bool d2ev_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

#endif
