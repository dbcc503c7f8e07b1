/* ratelimit.c: token bucket with a Retry-After block. */
#include <math.h>

#include "d2ev/resilience.h"

void d2ev_token_bucket_init(struct d2ev_token_bucket *tb, double rate, double burst, int64_t now_ms)
{
    tb->rate = rate > 0 ? rate : 1;
    tb->burst = burst >= 1 ? burst : 1;
    tb->tokens = tb->burst;
    tb->last_ms = now_ms;
    tb->blocked_until_ms = 0;
}

static void refill(struct d2ev_token_bucket *tb, int64_t now_ms)
{
    if (now_ms <= tb->last_ms)
        return;
    tb->tokens += (double)(now_ms - tb->last_ms) * tb->rate / 1000.0;
    if (tb->tokens > tb->burst)
        tb->tokens = tb->burst;
    tb->last_ms = now_ms;
}

bool d2ev_token_bucket_take(struct d2ev_token_bucket *tb, int64_t now_ms, double n)
{
    if (now_ms < tb->blocked_until_ms)
        return false;
    refill(tb, now_ms);
    if (tb->tokens + 1e-9 < n)
        return false;
    tb->tokens -= n;
    return true;
}

int64_t d2ev_token_bucket_wait_ms(struct d2ev_token_bucket *tb, int64_t now_ms, double n)
{
    refill(tb, now_ms);
    /* tokens accrue from last_ms, which a Retry-After block moves into the future */
    int64_t from = now_ms > tb->last_ms ? now_ms : tb->last_ms;
    if (from < tb->blocked_until_ms)
        from = tb->blocked_until_ms;
    double deficit = n - tb->tokens;
    int64_t refill_ms = deficit > 1e-9 ? (int64_t)ceil(deficit * 1000.0 / tb->rate) : 0;
    return from - now_ms + refill_ms;
}

void d2ev_token_bucket_block_until(struct d2ev_token_bucket *tb, int64_t until_ms)
{
    if (until_ms > tb->blocked_until_ms)
        tb->blocked_until_ms = until_ms;
    tb->tokens = 0;
    if (until_ms > tb->last_ms)
        tb->last_ms = until_ms; /* tokens start refilling from the end of the block */
}
