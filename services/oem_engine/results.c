/* results.c: what an answer's class makes the OEM engine do next: the next flow step,
 * a retry with backoff, a wait for Retry-After, a wake, a token refresh, or the end
 * (see d2ev/oem_engine.h for the rules). */
#include <stdio.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev/log.h"
#include "engine_internal.h"

void engine_reset_flow(struct op *op)
{
    memset(&op->flow, 0, sizeof(op->flow));
    op->flow.struct_size = sizeof(op->flow);
    op->flow_started = false;
    op->step_attempts = 0;
}

void engine_breaker_record(struct slot *slot, bool success)
{
    uint64_t before = slot->breaker.times_opened;
    d2ev_breaker_record(&slot->breaker, d2ev_clock_mono_ms(), success);
    if (slot->breaker.times_opened != before) {
        slot->stats.breaker_opened++;
        d2ev_metric_inc(slot->m_breaker_opened);
        d2ev_log_warn("OEM circuit breaker opened", D2EV_LF_STR("oem", slot->name),
                      D2EV_LF_INT("open_ms", slot->breaker.open_ms));
    }
    d2ev_metric_set(slot->m_breaker, slot->breaker.state);
}

void engine_retry_later(struct op *op, uint32_t cls)
{
    struct d2ev_oem_engine *e = op->e;
    const struct d2ev_oem_settings *set = op->slot->set;
    op->step_attempts++;
    if (op->step_attempts >= set->max_attempts) {
        engine_complete(op, cls, "%s (after %u attempts)", op->msg, op->step_attempts);
        return;
    }
    int64_t now = d2ev_clock_mono_ms();
    int64_t delay = d2ev_backoff_delay_ms(&set->backoff, op->step_attempts, &e->rng);
    if (now + delay >= op->deadline) {
        engine_complete(op, cls, "%s (no time left to retry)", op->msg);
        return;
    }
    op->slot->stats.retries++;
    d2ev_metric_inc(op->slot->m_retries);
    engine_schedule(op, now + delay);
}

static void rate_limited(struct op *op, uint32_t scope)
{
    struct d2ev_oem_engine *e = op->e;
    struct slot *slot = op->slot;
    /* Retry-After and the rate buckets are on the OEM's clock, the d2ev clock
     * (real in production; simulated against d2ev-oemsim on a scaled clock) */
    int64_t oem_now = d2ev_clock_now_ms();
    int64_t wait = op->retry_after_ms > 0
                       ? op->retry_after_ms
                       : d2ev_backoff_delay_ms(&slot->set->backoff, op->rl_waits + 1, &e->rng);
    int64_t until = oem_now + wait;
    slot->stats.rate_limited++;
    d2ev_metric_inc(slot->m_rl_blocks);
    if (!op->token_op) {
        if (scope == D2EV_OEM_SCOPE_VEHICLE && op->veh) {
            if (until > op->veh->blocked_until)
                op->veh->blocked_until = until;
        } else {
            d2ev_token_bucket_block_until(&slot->bucket, until);
        }
    }
    op->retry_after_ms = wait;
    int64_t at = d2ev_clock_mono_ms() + d2ev_clock_to_real_ms(wait);
    if (at >= op->deadline) {
        engine_complete(op, D2EV_OEM_RATE_LIMITED, "%s", op->msg);
        return;
    }
    op->rl_waits++;
    engine_schedule(op, at);
}

static void start_wake(struct op *op)
{
    op->wakes++;
    op->woke = true;
    op->cur = D2EV_OEM_OP_WAKE;
    engine_reset_flow(op);
    op->slot->stats.wakes++;
    d2ev_metric_inc(op->slot->m_wakes);
    engine_schedule(op, d2ev_clock_mono_ms());
}

/* Act on a parsed answer. */
void engine_handle_result(struct op *op, const struct d2ev_oem_result *res)
{
    struct slot *slot = op->slot;
    op->last_cls = res->cls;
    op->retry_after_ms = res->retry_after_ms;
    snprintf(op->msg, sizeof(op->msg), "%s", res->message);
    bool command = op->cur == D2EV_OEM_OP_START || op->cur == D2EV_OEM_OP_STOP;
    switch (res->cls) {
    case D2EV_OEM_OK:
        if (res->next == D2EV_OEM_NEXT_STEP) {
            op->flow.step_runs = res->next_step == op->flow.step ? op->flow.step_runs + 1 : 0;
            op->flow.step = res->next_step;
            op->step_attempts = 0;
            /* the adapter's delay is OEM time (the d2ev clock); wait it in
             * real time, but never under 10 ms unless asked: a fast scaled
             * clock must not turn a poll into a busy loop */
            int64_t real = d2ev_clock_to_real_ms(res->next_delay_ms);
            int64_t floor_ms = res->next_delay_ms < 10 ? res->next_delay_ms : 10;
            engine_schedule(op, d2ev_clock_mono_ms() + (real > floor_ms ? real : floor_ms));
            return;
        }
        if (op->cur == D2EV_OEM_OP_WAKE && op->kind != D2EV_OEM_OP_WAKE) {
            op->cur = op->kind; /* awake: now the command */
            engine_reset_flow(op);
            engine_schedule(op, d2ev_clock_mono_ms());
            return;
        }
        op->has_state = op->cur == D2EV_OEM_OP_READ || op->cur == D2EV_OEM_OP_WAKE;
        op->command = res->command;
        engine_complete(op, D2EV_OEM_OK, "ok");
        return;
    case D2EV_OEM_ASLEEP:
        if (command && (slot->desc->caps & D2EV_OEM_CAP_NEEDS_WAKE)) {
            if (!op->no_wake && op->wakes < slot->set->max_wakes &&
                d2ev_oem_supports(slot->oem, D2EV_OEM_OP_WAKE))
                start_wake(op);
            else
                engine_complete(op, D2EV_OEM_ASLEEP, "%s", op->msg);
            return;
        }
        if (command || (op->cur == D2EV_OEM_OP_WAKE && !res->final)) {
            engine_retry_later(op, D2EV_OEM_ASLEEP); /* commands wake such cars themselves */
            return;
        }
        engine_complete(op, D2EV_OEM_ASLEEP, "%s", op->msg); /* reads never wake */
        return;
    case D2EV_OEM_RATE_LIMITED:
        rate_limited(op, res->limit_scope);
        return;
    case D2EV_OEM_UNAUTHORIZED:
        if (op->token_op)
            engine_complete(op, D2EV_OEM_UNAUTHORIZED, "%s", op->msg);
        else
            tok_unauthorized(op);
        return;
    case D2EV_OEM_RETRY:
        if (res->final)
            engine_complete(op, D2EV_OEM_RETRY, "%s", op->msg);
        else
            engine_retry_later(op, D2EV_OEM_RETRY);
        return;
    default:
        engine_complete(op, res->cls, "%s", op->msg);
        return;
    }
}
