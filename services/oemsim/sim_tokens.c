/*
 * sim_tokens.c: OAuth grants and self-checking tokens.
 *
 * Every code and token carries its claims (kind, OEM, grant slot, refresh
 * generation, issue time) and an HMAC over them with a key made at start-up,
 * so validating one needs no table: expiry is issue time + the OEM's TTL.
 * The claims are masked with a keystream derived from the MAC, so tokens look
 * opaque, as real ones do, and clients cannot come to depend on their layout.
 * Only the grant (one per authorisation) holds state: the one refresh
 * generation that still works. A refresh token of an older generation is a
 * spent one and is reported as reuse. A restart makes all tokens invalid, as
 * losing an OEM's session store would.
 */
#include <stdlib.h>
#include <string.h>

#include "d2ev/crypto.h"
#include "d2ev/util.h"
#include "sim.h"

#define PAYLOAD_LEN 18
#define MAC_LEN     16

int sim_tokens_init(struct sim_tokens *t, struct d2ev_err *err)
{
    memset(t, 0, sizeof(*t));
    if (d2ev_random_bytes(t->key, sizeof(t->key)) != D2EV_OK)
        return d2ev_err_set(err, D2EV_ERR_CRYPTO, "tokens: no randomness for the signing key");
    pthread_mutex_init(&t->grow_lock, NULL);
    return D2EV_OK;
}

void sim_tokens_free(struct sim_tokens *t)
{
    for (int i = 0; i < SIM_GRANT_CHUNKS; i++)
        free(atomic_load(&t->chunks[i]));
    pthread_mutex_destroy(&t->grow_lock);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void encode(const struct sim_tok *tok, uint8_t out[PAYLOAD_LEN])
{
    out[0] = tok->kind;
    out[1] = tok->oem;
    put32(out + 2, tok->slot);
    put32(out + 6, tok->gen);
    put32(out + 10, (uint32_t)((uint64_t)tok->issued_ms >> 32));
    put32(out + 14, (uint32_t)tok->issued_ms);
}

/* XOR the claims with HMAC(key, "mask" | mac). */
static void mask(const struct sim_tokens *t, const uint8_t mac[MAC_LEN], uint8_t *payload)
{
    uint8_t in[4 + MAC_LEN] = { 'm', 'a', 's', 'k' }, ks[D2EV_HMAC_SHA256_LEN];
    memcpy(in + 4, mac, MAC_LEN);
    d2ev_hmac_sha256(t->key, sizeof(t->key), in, sizeof(in), ks);
    for (int i = 0; i < PAYLOAD_LEN; i++)
        payload[i] ^= ks[i];
}

/* Layout: mac (16 bytes) | masked claims (18 bytes), in hex. */
void sim_token_format(const struct sim_tokens *t, const struct sim_tok *tok, char out[72])
{
    uint8_t claims[PAYLOAD_LEN], mac[D2EV_HMAC_SHA256_LEN], buf[MAC_LEN + PAYLOAD_LEN];
    encode(tok, claims);
    d2ev_hmac_sha256(t->key, sizeof(t->key), claims, PAYLOAD_LEN, mac);
    memcpy(buf, mac, MAC_LEN);
    memcpy(buf + MAC_LEN, claims, PAYLOAD_LEN);
    mask(t, mac, buf + MAC_LEN);
    d2ev_hex_encode(buf, sizeof(buf), out);
}

bool sim_token_parse(const struct sim_tokens *t, const char *s, size_t len, struct sim_tok *tok)
{
    uint8_t buf[MAC_LEN + PAYLOAD_LEN];
    if (!s || len != SIM_TOKEN_LEN)
        return false;
    for (size_t i = 0; i < sizeof(buf); i++) {
        int hi = sim_hexval(s[2 * i]), lo = sim_hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        buf[i] = (uint8_t)(hi << 4 | lo);
    }
    uint8_t *claims = buf + MAC_LEN, mac[D2EV_HMAC_SHA256_LEN];
    mask(t, buf, claims);
    d2ev_hmac_sha256(t->key, sizeof(t->key), claims, PAYLOAD_LEN, mac);
    if (!d2ev_ct_equal(mac, MAC_LEN, buf, MAC_LEN))
        return false;
    tok->kind = claims[0];
    tok->oem = claims[1];
    tok->slot = get32(claims + 2);
    tok->gen = get32(claims + 6);
    tok->issued_ms = (int64_t)((uint64_t)get32(claims + 10) << 32 | get32(claims + 14));
    return true;
}

int64_t sim_grant_new(struct sim_tokens *t)
{
    uint32_t slot = atomic_fetch_add(&t->ngrants, 1);
    uint32_t chunk = slot / SIM_GRANT_CHUNK;
    if (chunk >= SIM_GRANT_CHUNKS)
        return -1;
    if (!atomic_load(&t->chunks[chunk])) {
        pthread_mutex_lock(&t->grow_lock);
        if (!atomic_load(&t->chunks[chunk]))
            atomic_store(&t->chunks[chunk], calloc(SIM_GRANT_CHUNK, sizeof(struct sim_grant)));
        pthread_mutex_unlock(&t->grow_lock);
        if (!atomic_load(&t->chunks[chunk]))
            return -1;
    }
    return slot;
}

struct sim_grant *sim_grant_get(struct sim_tokens *t, uint32_t slot)
{
    uint32_t chunk = slot / SIM_GRANT_CHUNK;
    if (chunk >= SIM_GRANT_CHUNKS || slot >= atomic_load(&t->ngrants))
        return NULL;
    struct sim_grant *c = atomic_load(&t->chunks[chunk]);
    return c ? &c[slot % SIM_GRANT_CHUNK] : NULL;
}

uint64_t sim_hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (; s && *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
    return h;
}
