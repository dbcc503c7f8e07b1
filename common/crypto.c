/* crypto.c: AES-256-GCM sealing with a key-id keyring, HMAC and SHA-256. */
#include "d2ev/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/util.h"

#define KEY_LEN            32
#define NONCE_LEN          12
#define TAG_LEN            16
#define MAX_KEYS           8
#define MAX_SEAL_PLAINTEXT (256 * 1024)

struct d2ev_keyring {
    size_t n;
    struct {
        char kid[D2EV_KEY_ID_MAX + 1];
        unsigned char key[KEY_LEN];
    } keys[MAX_KEYS];
};

void d2ev_keyring_destroy(struct d2ev_keyring *kr)
{
    if (!kr)
        return;
    OPENSSL_cleanse(kr, sizeof(*kr));
    free(kr);
}

const char *d2ev_keyring_primary(const struct d2ev_keyring *kr)
{
    return kr->keys[0].kid;
}

static bool kid_ok(const char *s, size_t len)
{
    if (len == 0 || len > D2EV_KEY_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

struct d2ev_keyring *d2ev_keyring_parse(const char *text, struct d2ev_err *err)
{
    if (!text || !*text) {
        d2ev_err_set(err, D2EV_ERR_INVALID, "keyring is empty: want \"kid:<base64 32 bytes>\"");
        return NULL;
    }
    struct d2ev_keyring *kr = calloc(1, sizeof(*kr));
    if (!kr) {
        d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    const char *p = text;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        size_t entry = kr->n + 1;
        if (!colon || !kid_ok(p, (size_t)(colon - p))) {
            d2ev_err_set(err, D2EV_ERR_INVALID,
                         "keyring entry %zu: want \"kid:<base64 key>\" with a kid of 1-%d "
                         "characters [A-Za-z0-9_-]",
                         entry, D2EV_KEY_ID_MAX);
            goto fail;
        }
        if (kr->n == MAX_KEYS) {
            d2ev_err_set(err, D2EV_ERR_LIMIT, "keyring has more than %d keys", MAX_KEYS);
            goto fail;
        }
        size_t kid_len = (size_t)(colon - p);
        for (size_t i = 0; i < kr->n; i++) {
            if (strlen(kr->keys[i].kid) == kid_len && !memcmp(kr->keys[i].kid, p, kid_len)) {
                d2ev_err_set(err, D2EV_ERR_INVALID, "keyring entry %zu: duplicate kid", entry);
                goto fail;
            }
        }
        const char *b64 = colon + 1;
        size_t b64_len = len - kid_len - 1;
        unsigned char raw[96];
        size_t raw_len = 0;
        if (b64_len > 64 || d2ev_base64_decode(b64, b64_len, raw, &raw_len) != D2EV_OK ||
            raw_len != KEY_LEN) {
            OPENSSL_cleanse(raw, sizeof(raw));
            d2ev_err_set(err, D2EV_ERR_INVALID,
                         "keyring entry %zu (kid %.*s): key must be 32 bytes in base64", entry,
                         (int)kid_len, p);
            goto fail;
        }
        memcpy(kr->keys[kr->n].kid, p, kid_len);
        kr->keys[kr->n].kid[kid_len] = '\0';
        memcpy(kr->keys[kr->n].key, raw, KEY_LEN);
        OPENSSL_cleanse(raw, sizeof(raw));
        kr->n++;
        p = comma ? comma + 1 : p + len;
    }
    return kr;
fail:
    d2ev_keyring_destroy(kr);
    return NULL;
}

static int gcm(bool enc, const unsigned char *key, const unsigned char *nonce, const char *aad,
               const unsigned char *in, size_t len, unsigned char *out, unsigned char *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return D2EV_ERR_NOMEM;
    int ok = 0, n = 0;
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1)
        goto out;
    if (aad && *aad &&
        EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) != 1)
        goto out;
    if (len && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
        goto out;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1)
        goto out;
    if (EVP_CipherFinal_ex(ctx, out + n, &n) != 1)
        goto out;
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1)
        goto out;
    ok = 1;
out:
    EVP_CIPHER_CTX_free(ctx);
    return ok ? D2EV_OK : D2EV_ERR_CRYPTO;
}

char *d2ev_crypto_seal(const struct d2ev_keyring *kr, const void *plaintext, size_t len,
                       const char *aad, struct d2ev_err *err)
{
    if (len > MAX_SEAL_PLAINTEXT) {
        d2ev_err_set(err, D2EV_ERR_LIMIT, "secret is larger than %d bytes", MAX_SEAL_PLAINTEXT);
        return NULL;
    }
    size_t raw_len = NONCE_LEN + len + TAG_LEN;
    unsigned char *raw = malloc(raw_len);
    const char *kid = kr->keys[0].kid;
    char *out = malloc(strlen(kid) + 1 + d2ev_base64_encoded_len(raw_len) + 1);
    if (!raw || !out) {
        free(raw);
        free(out);
        d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (d2ev_random_bytes(raw, NONCE_LEN) != D2EV_OK ||
        gcm(true, kr->keys[0].key, raw, aad, plaintext, len, raw + NONCE_LEN,
            raw + NONCE_LEN + len) != D2EV_OK) {
        OPENSSL_cleanse(raw, raw_len);
        free(raw);
        free(out);
        d2ev_err_set(err, D2EV_ERR_CRYPTO, "encryption failed");
        return NULL;
    }
    size_t k = (size_t)sprintf(out, "%s.", kid);
    d2ev_base64_encode(raw, raw_len, out + k);
    free(raw);
    return out;
}

char *d2ev_crypto_open(const struct d2ev_keyring *kr, const char *sealed, const char *aad,
                       size_t *len, struct d2ev_err *err)
{
    const char *dot = sealed ? strchr(sealed, '.') : NULL;
    if (!dot || !kid_ok(sealed, (size_t)(dot - sealed))) {
        d2ev_err_set(err, D2EV_ERR_INVALID, "sealed value is not \"<kid>.<base64>\"");
        return NULL;
    }
    size_t kid_len = (size_t)(dot - sealed);
    const unsigned char *key = NULL;
    for (size_t i = 0; i < kr->n && !key; i++) {
        if (strlen(kr->keys[i].kid) == kid_len && !memcmp(kr->keys[i].kid, sealed, kid_len))
            key = kr->keys[i].key;
    }
    if (!key) {
        d2ev_err_set(err, D2EV_ERR_NOT_FOUND,
                     "sealed with key id '%.*s', which is not in the keyring", (int)kid_len,
                     sealed);
        return NULL;
    }
    const char *b64 = dot + 1;
    size_t b64_len = strlen(b64);
    if (b64_len > (MAX_SEAL_PLAINTEXT + NONCE_LEN + TAG_LEN) * 4 / 3 + 8) {
        d2ev_err_set(err, D2EV_ERR_LIMIT, "sealed value is too large");
        return NULL;
    }
    unsigned char *raw = malloc(b64_len * 3 / 4 + 3);
    size_t raw_len = 0;
    if (!raw) {
        d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (d2ev_base64_decode(b64, b64_len, raw, &raw_len) != D2EV_OK ||
        raw_len < NONCE_LEN + TAG_LEN) {
        free(raw);
        d2ev_err_set(err, D2EV_ERR_INVALID, "sealed value is not valid base64 of nonce|data|tag");
        return NULL;
    }
    size_t ct_len = raw_len - NONCE_LEN - TAG_LEN;
    char *plain = malloc(ct_len + 1);
    if (!plain) {
        free(raw);
        d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    int rc = gcm(false, key, raw, aad, raw + NONCE_LEN, ct_len, (unsigned char *)plain,
                 raw + NONCE_LEN + ct_len);
    free(raw);
    if (rc != D2EV_OK) {
        d2ev_crypto_free_secret(plain, ct_len + 1);
        d2ev_err_set(err, D2EV_ERR_CRYPTO,
                     "sealed value does not authenticate (wrong key, wrong vehicle or tampered)");
        return NULL;
    }
    plain[ct_len] = '\0';
    if (len)
        *len = ct_len;
    return plain;
}

void d2ev_crypto_free_secret(char *p, size_t len)
{
    if (!p)
        return;
    OPENSSL_cleanse(p, len ? len : strlen(p));
    free(p);
}

void d2ev_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                      unsigned char out[D2EV_HMAC_SHA256_LEN])
{
    unsigned int out_len = D2EV_HMAC_SHA256_LEN;
    HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len);
}

void d2ev_sha256(const void *data, size_t len, unsigned char out[32])
{
    SHA256(data, len, out);
}

char *d2ev_keyring_generate(const char *kid)
{
    unsigned char key[KEY_LEN];
    if (d2ev_random_bytes(key, sizeof(key)) != D2EV_OK)
        return NULL;
    char b64[64];
    d2ev_base64_encode(key, sizeof(key), b64);
    OPENSSL_cleanse(key, sizeof(key));
    size_t n = strlen(kid) + 1 + strlen(b64) + 1;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s:%s", kid, b64);
    OPENSSL_cleanse(b64, sizeof(b64));
    return out;
}
