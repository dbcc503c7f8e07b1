/* transfer.c: one OEM engine request on libcurl: build it with the adapter, send it,
 * collect the answer and hand it to the adapter's parse() (see engine_internal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "d2ev/clock.h"
#include "engine_internal.h"

void engine_release_easy(struct d2ev_oem_engine *e, struct op *op)
{
    if (!op->easy)
        return;
    curl_multi_remove_handle(e->multi, op->easy);
    if (e->npool < ENGINE_POOL_MAX) {
        curl_easy_reset(op->easy);
        e->pool[e->npool++] = op->easy;
    } else {
        curl_easy_cleanup(op->easy);
    }
    op->easy = NULL;
    for (struct curl_slist *s = op->hdrs; s; s = s->next) {
        for (volatile char *p = s->data; *p; p++)
            *p = 0; /* the Authorization line */
    }
    curl_slist_free_all(op->hdrs);
    op->hdrs = NULL;
    e->in_flight--;
    op->slot->in_flight--;
    d2ev_metric_set(op->slot->m_in_flight, op->slot->in_flight);
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct op *op = arg;
    size_t len = size * n;
    if (op->body.len + len > op->e->conf.max_response_bytes) {
        op->too_big = true;
        return 0; /* aborts the transfer */
    }
    d2ev_strbuf_append(&op->body, data, len);
    return d2ev_strbuf_failed(&op->body) ? 0 : len;
}

/* Keep headers as "name\0value\0" pairs; a new status line (after a 100
 * Continue) starts over. */
static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct op *op = arg;
    size_t len = size * n;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        d2ev_strbuf_reset(&op->hdrbuf);
        return len;
    }
    const char *colon = memchr(data, ':', len);
    if (!colon)
        return len;
    size_t nlen = (size_t)(colon - data);
    const char *v = colon + 1, *end = data + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    d2ev_strbuf_append(&op->hdrbuf, data, nlen);
    d2ev_strbuf_append(&op->hdrbuf, "", 1);
    d2ev_strbuf_append(&op->hdrbuf, v, (size_t)(end - v));
    d2ev_strbuf_append(&op->hdrbuf, "", 1);
    return len;
}

static CURL *get_easy(struct d2ev_oem_engine *e)
{
    return e->npool ? e->pool[--e->npool] : curl_easy_init();
}

static bool append_header(struct curl_slist **list, const char *line)
{
    struct curl_slist *l = curl_slist_append(*list, line);
    if (!l)
        return false;
    *list = l;
    return true;
}

/* The adapter call of op's current flow. */
static struct d2ev_oem_call op_call(const struct op *op)
{
    return (struct d2ev_oem_call){
        .struct_size = sizeof(struct d2ev_oem_call),
        .op = op->cur,
        .vehicle = op->vehicle,
        .refresh_token = op->refresh_token,
        .code = op->code,
        .redirect_uri = op->redirect_uri,
    };
}

/* Build op's current request and start it. auth (malloc'd, wiped here) is
 * the Authorization line for bearer requests. */
void engine_send(struct op *op, char *auth)
{
    struct d2ev_oem_engine *e = op->e;
    struct slot *slot = op->slot;
    int64_t now = d2ev_clock_mono_ms();
    /* a flow's elapsed time is the OEM's time: the d2ev clock (simulated
     * against d2ev-oemsim on a scaled clock, real in production) */
    if (!op->flow_started) {
        op->flow_start = d2ev_clock_now_ms();
        op->flow_started = true;
    }
    op->flow.elapsed_ms = d2ev_clock_now_ms() - op->flow_start;
    struct d2ev_oem_call call = op_call(op);
    struct d2ev_oem_request req;
    struct d2ev_err err = { 0 };
    d2ev_oem_request_init(&req);
    if (d2ev_oem_build(slot->oem, &call, &op->flow, &req, &err) != 0) {
        d2ev_oem_request_clear(&req);
        engine_wipe_free(auth);
        engine_complete(op, D2EV_OEM_PERMANENT, "%s", err.msg);
        return;
    }
    CURL *h = get_easy(e);
    struct curl_slist *hdrs = NULL;
    bool ok = h != NULL;
    bool has_accept = false, has_type = false;
    for (size_t i = 0; ok && i < D2EV_OEM_MAX_HEADERS; i++) {
        if (req.headers[i]) {
            has_accept |= strncasecmp(req.headers[i], "Accept:", 7) == 0;
            has_type |= strncasecmp(req.headers[i], "Content-Type:", 13) == 0;
            ok = append_header(&hdrs, req.headers[i]);
        }
    }
    if (ok && req.auth == D2EV_OEM_AUTH_BEARER && auth)
        ok = append_header(&hdrs, auth);
    if (ok && !has_accept)
        ok = append_header(&hdrs, "Accept: application/json");
    if (ok && !has_type && strcmp(req.method, "GET") != 0)
        ok = append_header(&hdrs, "Content-Type:"); /* a bodiless POST is not a form */
    if (ok)
        ok = append_header(&hdrs, "Expect:");
    engine_wipe_free(auth);
    if (!ok) {
        d2ev_oem_request_clear(&req);
        curl_slist_free_all(hdrs);
        if (h)
            curl_easy_cleanup(h);
        engine_complete(op, D2EV_OEM_RETRY, "out of memory");
        return;
    }
    int64_t timeout = req.timeout_ms > 0 ? req.timeout_ms : slot->set->request_timeout_ms;
    if (timeout > op->deadline - now)
        timeout = op->deadline - now > 1 ? op->deadline - now : 1;
    int64_t connect =
        slot->set->connect_timeout_ms < timeout ? slot->set->connect_timeout_ms : timeout;
    curl_easy_setopt(h, CURLOPT_URL, req.url);
    if (!strcmp(req.method, "GET")) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        if (strcmp(req.method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method);
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req.body_len);
        curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, req.body ? req.body : "");
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)connect);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PRIVATE, op);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, op);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, op);
    curl_easy_setopt(h, CURLOPT_USERAGENT, e->user_agent);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    d2ev_oem_request_clear(&req);
    d2ev_strbuf_reset(&op->body);
    d2ev_strbuf_reset(&op->hdrbuf);
    op->too_big = false;
    if (curl_multi_add_handle(e->multi, h) != CURLM_OK) {
        curl_slist_free_all(hdrs);
        curl_easy_cleanup(h);
        engine_complete(op, D2EV_OEM_RETRY, "cannot start the request (libcurl)");
        return;
    }
    op->easy = h;
    op->hdrs = hdrs;
    op->where = W_INFLIGHT;
    op->t_sent = now;
    op->requests++;
    e->in_flight++;
    slot->in_flight++;
    slot->stats.requests++;
    d2ev_metric_set(slot->m_in_flight, slot->in_flight);
}

/* Headers collected by on_header as an array for the adapter (malloc'd). */
static struct d2ev_oem_header *header_array(struct op *op, size_t *n)
{
    size_t count = 0;
    const char *p = op->hdrbuf.buf, *end = p ? p + op->hdrbuf.len : NULL;
    for (const char *q = p; q && q < end; q += strlen(q) + 1)
        count++;
    *n = 0;
    if (count < 2)
        return NULL;
    struct d2ev_oem_header *h = malloc((count / 2) * sizeof(*h));
    if (!h)
        return NULL;
    for (const char *q = p; q < end && *n < count / 2;) {
        h[*n].name = q;
        q += strlen(q) + 1;
        h[*n].value = q;
        q += strlen(q) + 1;
        (*n)++;
    }
    return h;
}

void engine_on_answer(struct d2ev_oem_engine *e, CURL *h, CURLcode code)
{
    struct op *op = NULL;
    curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&op);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    struct slot *slot = op->slot;
    engine_detach(op);
    int64_t now = d2ev_clock_mono_ms();
    d2ev_metric_observe(slot->m_latency, (double)(now - op->t_sent) / 1000.0);
    if (code != CURLE_OK || op->too_big) {
        op->last_cls = D2EV_OEM_RETRY;
        op->last_status = 0;
        if (op->too_big)
            snprintf(op->msg, sizeof(op->msg), "%s %s: answer larger than %zu bytes", slot->name,
                     d2ev_oem_op_name(op->cur), e->conf.max_response_bytes);
        else
            snprintf(op->msg, sizeof(op->msg), "%s %s: %s", slot->name, d2ev_oem_op_name(op->cur),
                     code == CURLE_OPERATION_TIMEDOUT ? "request timed out"
                                                      : curl_easy_strerror(code));
        d2ev_metric_inc(slot->m_req[D2EV_OEM_CLASS_COUNT]);
        if (!op->token_op)
            engine_breaker_record(slot, false);
        engine_retry_later(op, D2EV_OEM_RETRY);
        return;
    }
    size_t nh = 0;
    struct d2ev_oem_header *hdrs = header_array(op, &nh);
    struct d2ev_oem_response resp = {
        .struct_size = sizeof(resp),
        .status = (int32_t)status,
        .body = op->body.buf ? op->body.buf : "",
        .body_len = op->body.len,
        .headers = hdrs,
        .nheaders = nh,
    };
    struct d2ev_oem_call call = op_call(op);
    struct d2ev_oem_result res;
    struct d2ev_oem_tokens toks;
    bool want_state = op->cur == D2EV_OEM_OP_READ || op->cur == D2EV_OEM_OP_WAKE;
    bool want_tokens = op->cur == D2EV_OEM_OP_REFRESH || op->cur == D2EV_OEM_OP_EXCHANGE_CODE;
    d2ev_oem_result_init(&res, want_state ? &op->state : NULL, want_tokens ? &toks : NULL);
    op->flow.elapsed_ms = d2ev_clock_now_ms() - op->flow_start;
    d2ev_oem_parse(slot->oem, &call, &op->flow, &resp, &res, NULL);
    free(hdrs);
    d2ev_strbuf_free(&op->body);
    d2ev_strbuf_free(&op->hdrbuf);
    op->last_status = (int)status;
    if (!op->token_op)
        engine_breaker_record(slot, status < 500);
    d2ev_metric_inc(slot->m_req[res.cls]);
    if (res.cls == D2EV_OEM_OK && want_tokens && toks.access_token) {
        int64_t clock = d2ev_clock_now_ms();
        op->has_tokens = true;
        op->tok_access = engine_strdup(toks.access_token);
        op->tok_refresh = engine_strdup(toks.refresh_token);
        op->tok_expires_at = toks.expires_in_s > 0 ? clock + toks.expires_in_s * 1000 : 0;
        op->tok_refresh_expires_at =
            toks.refresh_expires_in_s > 0 ? clock + toks.refresh_expires_in_s * 1000 : 0;
    }
    d2ev_oem_result_clear(&res);
    engine_handle_result(op, &res);
}
