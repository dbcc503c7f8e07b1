/*
 * Secrets at rest and request signing.
 *
 * Sealing: AES-256-GCM with a 96-bit random nonce. A sealed value is the text
 *   "<kid>.<base64(nonce | ciphertext | tag)>"
 * so the key that sealed it is named, and keys can be rotated: the keyring
 * holds several keys, seals with the primary, and opens with whichever key
 * the kid names. The associated data (e.g. the vehicle id) is authenticated,
 * so a sealed value copied to another vehicle fails to open.
 *
 * Keyring text (D2EV_CREDENTIALS_KEYS, from a Kubernetes Secret):
 *   "k2:<base64 32 bytes>,k1:<base64 32 bytes>"   -- the first key is primary.
 *
 * Ownership: the keyring owns copies of its keys and wipes them on destroy.
 * Sealed and opened outputs are malloc'd; the caller frees them (opened
 * plaintext with d2ev_crypto_free_secret, which wipes it first).
 * Thread-safe: a keyring may be shared once built.
 */
#ifndef D2EV_CRYPTO_H
#define D2EV_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "d2ev/error.h"

#define D2EV_KEY_ID_MAX      32
#define D2EV_HMAC_SHA256_LEN 32

struct d2ev_keyring;

/* Parse keyring text. Error messages never include key material. */
struct d2ev_keyring *d2ev_keyring_parse(const char *text, struct d2ev_err *err);
void d2ev_keyring_destroy(struct d2ev_keyring *kr);
/* The primary key id (borrowed). */
const char *d2ev_keyring_primary(const struct d2ev_keyring *kr);

/* Seal plaintext[0..len) with the primary key. Returns a malloc'd
 * NUL-terminated string, or NULL with err set. */
char *d2ev_crypto_seal(const struct d2ev_keyring *kr, const void *plaintext, size_t len,
                       const char *aad, struct d2ev_err *err);

/* Open a sealed string. Returns malloc'd plaintext (NUL-terminated for
 * convenience; *len excludes the NUL), or NULL with err set
 * (D2EV_ERR_NOT_FOUND for an unknown kid, D2EV_ERR_CRYPTO when it does not
 * authenticate). */
char *d2ev_crypto_open(const struct d2ev_keyring *kr, const char *sealed, const char *aad,
                       size_t *len, struct d2ev_err *err);

/* Wipe and free a secret buffer of the given length (strlen if len == 0). */
void d2ev_crypto_free_secret(char *p, size_t len);

/* HMAC-SHA256 of data with key into out[32]. */
void d2ev_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                      unsigned char out[D2EV_HMAC_SHA256_LEN]);

/* SHA-256 of data into out[32]. */
void d2ev_sha256(const void *data, size_t len, unsigned char out[32]);

/* Generate keyring text with one fresh random key, "kid:<base64>". Returns a
 * malloc'd string (for docs and the demo). */
char *d2ev_keyring_generate(const char *kid);

#endif
