/* tokens.c: the OEM engine's single-flight token refresh (see d2ev/oem_engine.h).
 *
 * Per token key, at most one refresh runs. Operations that need a token for
 * the key while it runs wait in tokstate.waiters; when it ends they go ahead
 * (success) or fail (failure). A refresh that fails with unauthorized or
 * permanent is remembered together with the hash of the refresh token it
 * spent: later 401s with that refresh token are permanent at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev/log.h"
#include "engine_internal.h"
#include "d2ev/htab.h"

uint64_t tok_hash(const char *s)
{
    return d2ev_htab_hash(s ? s : "", s ? strlen(s) : 0);
}

/* Map key: "<oem>\x1f<token key>". */
struct tokstate *tok_get(struct d2ev_oem_engine *e, struct slot *slot, const char *key, bool create)
{
    size_t olen = strlen(slot->name), klen = strlen(key);
    char stackbuf[256];
    char *k = olen + klen + 2 <= sizeof(stackbuf) ? stackbuf : malloc(olen + klen + 2);
    if (!k)
        return NULL;
    memcpy(k, slot->name, olen);
    k[olen] = '\x1f';
    memcpy(k + olen + 1, key, klen + 1);
    struct d2ev_htab_node *n = d2ev_htab_find(&e->tokens, k, olen + 1 + klen);
    struct tokstate *t =
        n ? (struct tokstate *)((char *)n - offsetof(struct tokstate, node)) : NULL;
    if (!t && create && (t = calloc(1, sizeof(*t) + olen + klen + 2))) {
        memcpy(t->keybuf, k, olen + klen + 2);
        t->node.key = t->keybuf;
        t->node.klen = olen + 1 + klen;
        t->key = t->keybuf + olen + 1;
        t->slot = slot;
        if (d2ev_htab_insert(&e->tokens, &t->node) != 0) {
            free(t);
            t = NULL;
        }
    }
    if (k != stackbuf)
        free(k);
    return t;
}

void tok_free(struct tokstate *t)
{
    if (t) {
        free(t->failed_msg);
        free(t->settled_msg);
    }
    free(t);
}

/* Replace a heap message (kept short: it ends in outcome messages). */
static void set_msg(char **dst, const char *msg)
{
    free(*dst);
    *dst = strndup(msg ? msg : "", 160);
}

static const char *msg_of(const char *msg)
{
    return msg ? msg : "";
}

static bool failed_for(const struct tokstate *t, const struct d2ev_oem_token *cur)
{
    return t->failed && t->failed_hash == tok_hash(cur->refresh_token);
}

static int get_tokens(struct op *op, struct d2ev_oem_token *out)
{
    const struct d2ev_oem_token_source *src = op->e->src;
    memset(out, 0, sizeof(*out));
    int rc = src->get(src->opaque, op->slot->name, op->tok->key, out);
    if (rc == 0 && (!out->access_token || !*out->access_token))
        rc = D2EV_ERR_NOT_FOUND;
    return rc;
}

static void ext_unlink(struct d2ev_oem_engine *e, struct tokstate *t)
{
    for (struct tokstate **p = &e->ext; *p; p = &(*p)->ext_next) {
        if (*p == t) {
            *p = t->ext_next;
            t->ext_next = NULL;
            return;
        }
    }
}

/* End the refresh of t: release or fail its waiters. newtok is the new
 * tokens when the engine ran the refresh (else NULL). */
static void finish_refresh(struct tokstate *t, uint32_t cls, const char *msg,
                           const struct d2ev_oem_token *newtok)
{
    struct slot *slot = t->slot;
    struct d2ev_oem_engine *e = NULL;
    bool was_external = t->external;
    t->refreshing = false;
    t->external = false;
    t->settled = false;
    if (t->waiters.head)
        e = t->waiters.head->e;
    if (cls == D2EV_OEM_OK) {
        t->failed = false;
        d2ev_metric_inc(slot->m_refresh_ok);
    } else {
        d2ev_metric_inc(slot->m_refresh_failed);
        if (cls == D2EV_OEM_PERMANENT || cls == D2EV_OEM_UNAUTHORIZED) {
            t->failed = true;
            t->failed_hash = t->refresh_hash;
            set_msg(&t->failed_msg, msg);
        }
        d2ev_log_warn("OEM token refresh failed", D2EV_LF_STR("oem", slot->name),
                      D2EV_LF_STR("key", t->key), D2EV_LF_STR("class", d2ev_oem_class_name(cls)),
                      D2EV_LF_STR("error", msg), D2EV_LF_BOOL("by_source", was_external));
    }
    struct op_list w = t->waiters;
    memset(&t->waiters, 0, sizeof(t->waiters));
    (void)e;
    while (w.head) {
        struct op *op = w.head;
        op_list_remove(&w, op);
        op->where = W_NONE;
        if (op->kind == D2EV_OEM_OP_REFRESH && !op->internal) {
            /* a caller's REFRESH: it ends with this refresh */
            if (cls == D2EV_OEM_OK) {
                struct d2ev_oem_token cur;
                const struct d2ev_oem_token *src = newtok;
                if (!src && get_tokens(op, &cur) == 0)
                    src = &cur;
                if (src) {
                    op->has_tokens = true;
                    op->tok_access = engine_strdup(src->access_token);
                    op->tok_refresh = engine_strdup(src->refresh_token);
                    op->tok_expires_at = src->expires_at_ms;
                    op->tok_refresh_expires_at = src->refresh_expires_at_ms;
                }
                engine_complete(op, D2EV_OEM_OK, "refreshed");
            } else {
                engine_complete(op, cls, "%s", msg);
            }
        } else if (cls == D2EV_OEM_OK) {
            engine_schedule(op, d2ev_clock_mono_ms());
        } else if (cls == D2EV_OEM_PERMANENT || cls == D2EV_OEM_UNAUTHORIZED) {
            engine_complete(op, D2EV_OEM_PERMANENT, "token refresh failed: %s", msg);
        } else {
            engine_complete(op, cls, "token refresh did not succeed: %s", msg);
        }
    }
}

/* Start a refresh of t (none runs). */
static void begin_refresh(struct d2ev_oem_engine *e, struct tokstate *t)
{
    struct slot *slot = t->slot;
    const struct d2ev_oem_token_source *src = e->src;
    t->refreshing = true;
    slot->stats.refreshes++;
    struct d2ev_oem_token cur = { 0 };
    bool have = src->get(src->opaque, slot->name, t->key, &cur) == 0;
    t->refresh_hash = tok_hash(have ? cur.refresh_token : NULL);
    int req = src->request_refresh ? src->request_refresh(src->opaque, slot->name, t->key) : 1;
    if (req < 0) {
        finish_refresh(t, D2EV_OEM_RETRY, "the token source could not request a refresh", NULL);
        return;
    }
    if (req == 0) { /* refreshed elsewhere: wait for tokens_changed / refresh_failed */
        t->external = true;
        t->external_deadline = d2ev_clock_mono_ms() + slot->set->refresh_wait_ms;
        t->ext_next = e->ext;
        e->ext = t;
        return;
    }
    /* req > 0 (or no request_refresh): the engine refreshes and calls store() */
    if (!src->store) {
        finish_refresh(t, D2EV_OEM_PERMANENT, "the token source can neither refresh nor store",
                       NULL);
        return;
    }
    if (!d2ev_oem_supports(slot->oem, D2EV_OEM_OP_REFRESH)) {
        finish_refresh(t, D2EV_OEM_PERMANENT, "the adapter cannot refresh tokens", NULL);
        return;
    }
    bool per_app = slot->desc->token_model == D2EV_OEM_TOKENS_PER_APP;
    if (!per_app && (!have || !cur.refresh_token || !*cur.refresh_token)) {
        finish_refresh(t, D2EV_OEM_PERMANENT, "no refresh token to refresh with", NULL);
        return;
    }
    struct op *r = engine_new_op(e, slot);
    if (!r) {
        finish_refresh(t, D2EV_OEM_RETRY, "out of memory", NULL);
        return;
    }
    r->internal = r->token_op = true;
    r->kind = r->cur = D2EV_OEM_OP_REFRESH;
    r->tok = t;
    t->refs++;
    r->key = engine_strdup(t->key);
    r->refresh_token = per_app ? NULL : engine_strdup(cur.refresh_token);
    if (!r->key || (!per_app && !r->refresh_token)) {
        r->tok = NULL;
        t->refs--;
        engine_complete(r, D2EV_OEM_RETRY, "out of memory");
        finish_refresh(t, D2EV_OEM_RETRY, "out of memory", NULL);
        return;
    }
    engine_schedule(r, r->t_submit);
}

void tok_await_refresh(struct op *op)
{
    struct tokstate *t = op->tok;
    op_list_push(&t->waiters, op);
    op->where = W_WAITING;
    if (!t->refreshing)
        begin_refresh(op->e, t);
}

enum tok_verdict tok_check(struct op *op, char **auth)
{
    struct tokstate *t = op->tok;
    struct slot *slot = op->slot;
    *auth = NULL;
    if (t->refreshing) {
        op_list_remove(&slot->ready, op);
        tok_await_refresh(op);
        return TOK_MOVED;
    }
    struct d2ev_oem_token cur;
    if (get_tokens(op, &cur) != 0) {
        op_list_remove(&slot->ready, op);
        op->where = W_NONE;
        /* no access token: client credentials fetch the first one; a refresh
         * token alone is enough to get one */
        bool can_refresh = slot->desc->token_model == D2EV_OEM_TOKENS_PER_APP ||
                           (cur.refresh_token && *cur.refresh_token);
        if (can_refresh && !failed_for(t, &cur) && !op->pre_refreshed) {
            op->pre_refreshed = true;
            tok_await_refresh(op);
        } else if (t->failed) {
            engine_complete(op, D2EV_OEM_PERMANENT, "token refresh failed: %s",
                            msg_of(t->failed_msg));
        } else {
            engine_complete(op, D2EV_OEM_PERMANENT, "no credentials for %s key '%.80s'", slot->name,
                            t->key);
        }
        return TOK_MOVED;
    }
    int64_t margin = slot->set->token_refresh_margin_ms;
    if (cur.expires_at_ms > 0 && cur.expires_at_ms - d2ev_clock_now_ms() <= margin &&
        !op->pre_refreshed && !failed_for(t, &cur)) {
        op->pre_refreshed = true; /* refresh ahead of expiry, once per operation */
        op_list_remove(&slot->ready, op);
        tok_await_refresh(op);
        return TOK_MOVED;
    }
    op->token_hash = tok_hash(cur.access_token);
    if (asprintf(auth, "Authorization: Bearer %s", cur.access_token) < 0) {
        *auth = NULL;
        op_list_remove(&slot->ready, op);
        op->where = W_NONE;
        engine_complete(op, D2EV_OEM_RETRY, "out of memory");
        return TOK_MOVED;
    }
    return TOK_SEND;
}

void tok_unauthorized(struct op *op)
{
    struct tokstate *t = op->tok;
    struct d2ev_oem_token cur;
    bool have = get_tokens(op, &cur) == 0;
    if (have && tok_hash(cur.access_token) != op->token_hash) {
        engine_schedule(op, d2ev_clock_mono_ms()); /* a newer token exists: use it */
        return;
    }
    if (op->refreshed) {
        engine_complete(op, D2EV_OEM_PERMANENT, "still unauthorized after a token refresh: %s",
                        op->msg);
        return;
    }
    if (!t->refreshing && t->failed && (!have || failed_for(t, &cur))) {
        engine_complete(op, D2EV_OEM_PERMANENT, "unauthorized, and the token refresh failed: %s",
                        msg_of(t->failed_msg));
        return;
    }
    op->refreshed = true;
    tok_await_refresh(op);
}

void tok_internal_done(struct op *op, uint32_t cls, const char *msg)
{
    struct tokstate *t = op->tok;
    if (!t)
        return;
    if (cls != D2EV_OEM_OK || !op->has_tokens) {
        finish_refresh(t, cls == D2EV_OEM_OK ? D2EV_OEM_RETRY : cls, msg, NULL);
        return;
    }
    struct d2ev_oem_token nt = {
        .access_token = op->tok_access,
        /* an OEM that does not rotate returns no refresh token: keep the old one */
        .refresh_token = op->tok_refresh ? op->tok_refresh : op->refresh_token,
        .expires_at_ms = op->tok_expires_at,
        .refresh_expires_at_ms = op->tok_refresh_expires_at,
    };
    const struct d2ev_oem_token_source *src = op->e->src;
    src->store(src->opaque, t->slot->name, t->key, &nt);
    d2ev_log_info("OEM token refreshed", D2EV_LF_STR("oem", t->slot->name),
                  D2EV_LF_STR("key", t->key));
    finish_refresh(t, D2EV_OEM_OK, "refreshed", &nt);
}

void tok_pump_external(struct d2ev_oem_engine *e, int64_t now)
{
    struct tokstate *t = e->ext;
    while (t) {
        struct tokstate *next = t->ext_next;
        if (t->settled || now >= t->external_deadline) {
            ext_unlink(e, t);
            if (t->settled) {
                finish_refresh(t, t->settled_cls, msg_of(t->settled_msg), NULL);
            } else {
                char msg[120];
                snprintf(msg, sizeof(msg), "the token source did not refresh within %lld ms",
                         (long long)t->slot->set->refresh_wait_ms);
                finish_refresh(t, D2EV_OEM_RETRY, msg, NULL);
            }
        }
        t = next;
    }
}

int64_t tok_next_deadline(const struct d2ev_oem_engine *e, int64_t now)
{
    int64_t best = INT64_MAX;
    for (const struct tokstate *t = e->ext; t; t = t->ext_next) {
        int64_t d = t->settled ? now : t->external_deadline;
        if (d < best)
            best = d;
    }
    return best;
}

/* ------------------------------------------------------------ public */

/* The token state of (oem, key), or NULL for an unknown OEM (or key, unless
 * create). */
static struct tokstate *find_tok(struct d2ev_oem_engine *e, const char *oem, const char *key,
                                 bool create)
{
    for (size_t i = 0; oem && i < e->nslots; i++) {
        struct slot *s = e->slots[i];
        if (!strcmp(s->name, oem))
            return s->app_tok ? s->app_tok : tok_get(e, s, key ? key : "", create);
    }
    return NULL;
}

/* The token source has settled an external refresh; pump() finishes it. */
static void settle(struct tokstate *t, uint32_t cls, const char *message)
{
    t->settled = true;
    t->settled_cls = cls;
    set_msg(&t->settled_msg, message);
}

void d2ev_oem_engine_tokens_changed(struct d2ev_oem_engine *e, const char *oem, const char *key)
{
    struct tokstate *t = find_tok(e, oem, key, false);
    if (!t)
        return;
    t->failed = false;
    if (t->refreshing && t->external)
        settle(t, D2EV_OEM_OK, "refreshed by the token source");
}

void d2ev_oem_engine_refresh_failed(struct d2ev_oem_engine *e, const char *oem, const char *key,
                                    uint32_t cls, const char *message)
{
    struct tokstate *t = find_tok(e, oem, key, true);
    if (!t)
        return;
    if (cls == D2EV_OEM_OK || cls >= D2EV_OEM_CLASS_COUNT)
        cls = D2EV_OEM_RETRY;
    if (t->refreshing && t->external) {
        settle(t, cls, message);
    } else if (!t->refreshing && (cls == D2EV_OEM_PERMANENT || cls == D2EV_OEM_UNAUTHORIZED)) {
        struct d2ev_oem_token cur = { 0 };
        e->src->get(e->src->opaque, t->slot->name, t->key, &cur);
        t->failed = true;
        t->failed_hash = tok_hash(cur.refresh_token);
        set_msg(&t->failed_msg, message);
    }
}
