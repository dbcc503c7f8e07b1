/*
 * bridge_replay.h: the signatures this bridge replica has accepted recently,
 * so the same signed request is accepted only once.
 *
 * A signature is remembered until its request's timestamp leaves the
 * tolerance window (timestamp + tolerance); after that the timestamp check
 * rejects it anyway. Memory is bounded: a fixed number of entries (16 bytes
 * of signature and an expiry each), split into shards with their own lock so
 * HTTP threads rarely contend. When every entry is still live the cache
 * refuses new requests (fail closed) instead of forgetting a signature that
 * could then be replayed.
 *
 * Thread-safe. Ownership: the cache owns its memory; destroy frees it.
 */
#ifndef D2EV_BRIDGE_REPLAY_H
#define D2EV_BRIDGE_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "d2ev/crypto.h"

struct bridge_replay;

/* A cache of at most `capacity` signatures (rounded up to a multiple of the
 * shard count). Returns NULL when out of memory. */
struct bridge_replay *bridge_replay_create(size_t capacity);
void bridge_replay_destroy(struct bridge_replay *r);

/* Remember sig, valid until expires_s (unix seconds); now_s is the current
 * time. Returns 0 when it was not seen before, D2EV_ERR_CONFLICT when it was
 * (a replay), D2EV_ERR_LIMIT when the cache is full of live entries. */
int bridge_replay_check(struct bridge_replay *r, const unsigned char sig[D2EV_HMAC_SHA256_LEN],
                        int64_t expires_s, int64_t now_s);

/* Forget sig (the request failed on our side and may be sent again as is). */
void bridge_replay_forget(struct bridge_replay *r, const unsigned char sig[D2EV_HMAC_SHA256_LEN]);

/* Live entries (approximate under concurrency). */
size_t bridge_replay_size(struct bridge_replay *r);

#endif
