/*
 * libFuzzer harness for one OEM adapter's response parser, built once per
 * adapter (fuzz_oem.cmake): the adapter's source and the kit are compiled in
 * (so the libFuzzer build instruments them; no dlopen), and the adapter is
 * reached through its ABI entry with the adapter tests' fake host table
 * (tests/adapters/adapter_fixture.h), which counts host allocations.
 *
 * Input:
 *   byte 0   the operation: an index into the operations describe() lists
 *   byte 1   the instance: adapter config variants (see configs[])
 *   then one answer per flow step, each
 *     byte   status:  statuses[b & 31]
 *     byte   flags:   F_* below; bits 5..7 add 20 s steps to the flow's elapsed time
 *     byte   values:  low nibble Retry-After, high nibble sc-data-age (tables below)
 *     [raw "Name: value" header lines and an empty line, with F_RAW]
 *     body   up to a NUL byte or the end
 *   An answer that asks for another step gets the next one (after build()
 *   has built that step's request, e.g. with Enode's action id in flow->ref).
 *
 * Properties checked on every answer:
 *   - nothing crashes, leaks (host or heap memory) or trips a sanitizer;
 *   - parse() returns 0 with a valid class, next and scope; a next step comes
 *     with class ok, a delay >= 0, and builds;
 *   - an error has a message, NUL-terminated, that d2ev-dispatch and
 *     d2ev-registration can write into their records (which must encode and
 *     decode again, whatever the OEM's text holds and wherever it was cut);
 *   - Retry-After is 0..24 h; a finished START/STOP says sent, confirmed or
 *     already; tokens are non-empty with an expiry the engine can add to a
 *     clock;
 *   - every state field the adapter claims is finite and in range.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../adapters/adapter_fixture.h"
#include "d2ev/events.h"
#include "d2ev/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The adapter compiled into this harness. */
const struct d2ev_oem_adapter *d2ev_oem_adapter_entry(uint32_t host_abi,
                                                      const struct d2ev_oem_host *host);

#define MAX_STEPS   8
#define MAX_HEADERS 16
#define YEAR_10000  253402300800000LL /* ms: the end of RFC 3339's four-digit years */

enum {
    F_JSON = 1 << 0,  /* Content-Type: application/json */
    F_RA = 1 << 1,    /* Retry-After from ra_values */
    F_AGE = 1 << 2,   /* sc-data-age from age_values */
    F_UPPER = 1 << 3, /* header names in upper case */
    F_RAW = 1 << 4,   /* raw header lines follow */
};

static const int32_t statuses[32] = { 200, 201, 202, 204, 400, 401, 403, 404, 408, 409, 410,
                                      412, 422, 429, 500, 502, 503, 504, 100, 301, 302, 304,
                                      599, 600, 999, 0,   206, 405, 415, 451, 507, 511 };

static const char *const ra_values[16] = {
    "0",
    "1",
    "30",
    "2.5",
    "-1",
    "86400",
    "86401",
    "1e308",
    "nan",
    "inf",
    " 7 ",
    "",
    "99999999999999999999",
    "0x10",
    "Wed, 21 Oct 2015 07:28:00 GMT",
    "3 s",
};

static const char *const age_values[16] = {
    "2026-11-21T07:29:58Z",
    "2026-11-21T07:29:58.123+01:00",
    "1970-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "0000-01-01T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "",
    "garbage",
    "2026-11-21T07:29:58",
    "2026-11-21t07:29:58z",
    "2026-11-21 07:29:58Z",
    "1969-12-31T23:59:59Z",
    "2026-11-21T24:00:00Z",
    "2026-11-21T07:29:58-23:59",
    "2026-11-21T07:29:58.9999999Z",
    "+2026-11-21T07:29:58Z",
};

/* Config variants per adapter: index 0 is the production defaults with what
 * token operations need; the others change the adapter's own keys. */
#define BASE_CFG "\"client_id\":\"cid\",\"redirect_uri\":\"https://app.example/cb\""
static const char *const configs[][4] = {
    { "smartcar", "{" BASE_CFG "}", "{" BASE_CFG ",\"read_capacity\":false}",
      "{" BASE_CFG ",\"read_capacity\":false,\"read_charge_limit\":false}" },
    { "tesla", "{" BASE_CFG "}", "{" BASE_CFG ",\"wake_poll_ms\":10,\"wake_timeout_ms\":100}",
      "{" BASE_CFG ",\"base_url\":\"http://127.0.0.1:8090/tesla/\"}" },
    { "enode", "{" BASE_CFG "}", "{" BASE_CFG ",\"action_poll_ms\":10,\"action_timeout_ms\":100}",
      "{" BASE_CFG ",\"base_url\":\"http://127.0.0.1:8090/enode/\"}" },
};
#define NCONFIGS 3

static const struct d2ev_oem_adapter *g_a;
static void *g_inst[NCONFIGS];
static struct d2ev_oem_desc g_desc;
static uint32_t g_ops[D2EV_OEM_OP_COUNT];
static size_t g_nops;
static long g_live; /* host allocations of the instances */

static void setup(void)
{
    const struct d2ev_oem_host *host = fake_host();
    g_a = d2ev_oem_adapter_entry(D2EV_OEM_ABI_VERSION, host);
    if (!g_a)
        abort();
    const char *const *cfg = NULL;
    for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++)
        if (!strcmp(configs[i][0], g_a->name))
            cfg = &configs[i][1];
    if (!cfg)
        abort(); /* add the adapter's config variants above */
    char errbuf[256];
    for (size_t i = 0; i < NCONFIGS; i++)
        if (g_a->create(host, cfg[i], strlen(cfg[i]), "secret", &g_inst[i], errbuf, sizeof(errbuf)))
            abort();
    g_desc.struct_size = sizeof(g_desc);
    g_a->describe(g_inst[0], &g_desc);
    for (uint32_t op = 0; op < D2EV_OEM_OP_COUNT; op++)
        if (g_desc.ops & D2EV_OEM_OP_BIT(op))
            g_ops[g_nops++] = op;
    if (!g_nops)
        abort();
    g_live = fake_host_live();
}

/* ------------------------------------------------------------ input */

struct in {
    const uint8_t *p;
    size_t n;
};

static uint8_t take(struct in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

/* One answer, decoded into owned memory. */
struct answer {
    char *buf; /* the header lines and the body, NUL-terminated pieces */
    struct d2ev_oem_header h[MAX_HEADERS];
    struct d2ev_oem_response resp;
    int64_t extra_ms;
};

static void add_header(struct answer *a, const char *name, const char *value)
{
    if (a->resp.nheaders < MAX_HEADERS)
        a->h[a->resp.nheaders++] = (struct d2ev_oem_header){ name, value };
}

/* Parse "Name: value" lines at *s up to an empty line; returns the body. */
static char *raw_headers(struct answer *a, char *s)
{
    while (*s) {
        char *nl = strchr(s, '\n');
        char *next = nl ? nl + 1 : s + strlen(s);
        if (nl)
            *nl = '\0';
        size_t l = strlen(s);
        if (l && s[l - 1] == '\r')
            s[--l] = '\0';
        if (!l)
            return next;
        char *colon = strchr(s, ':');
        if (colon) {
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ')
                v++;
            add_header(a, s, v);
        }
        s = next;
    }
    return s;
}

static bool next_answer(struct in *in, struct answer *a)
{
    if (in->n < 3)
        return false;
    memset(a, 0, sizeof(*a));
    int32_t status = statuses[take(in) & 31];
    uint8_t flags = take(in), vals = take(in);
    const uint8_t *nul = memchr(in->p, 0, in->n);
    size_t len = nul ? (size_t)(nul - in->p) : in->n;
    a->buf = malloc(len + 1);
    memcpy(a->buf, in->p, len);
    a->buf[len] = '\0';
    in->p += nul ? len + 1 : len;
    in->n -= nul ? len + 1 : len;

    bool up = flags & F_UPPER;
    if (flags & F_JSON)
        add_header(a, up ? "CONTENT-TYPE" : "Content-Type", "application/json");
    if (flags & F_RA)
        add_header(a, up ? "RETRY-AFTER" : "Retry-After", ra_values[vals & 15]);
    if (flags & F_AGE)
        add_header(a, up ? "SC-DATA-AGE" : "sc-data-age", age_values[vals >> 4]);
    char *body = flags & F_RAW ? raw_headers(a, a->buf) : a->buf;
    a->resp = (struct d2ev_oem_response){ .struct_size = sizeof(a->resp),
                                          .status = status,
                                          .body = body,
                                          .body_len = strlen(body),
                                          .headers = a->h,
                                          .nheaders = a->resp.nheaders };
    a->extra_ms = (int64_t)(flags >> 5) * 20000;
    return true;
}

/* ------------------------------------------------------------ checks */

static void check(bool ok)
{
    if (!ok)
        abort();
}

static bool in_range(double v, double lo, double hi)
{
    return isfinite(v) && v >= lo && v <= hi;
}

static void check_state(const struct d2ev_oem_state *s)
{
    uint32_t f = s->fields;
    check((f & ~((D2EV_OEM_F_ONLINE << 1) - 1)) == 0);
    if (f & D2EV_OEM_F_SOC)
        check(in_range(s->soc_pct, 0, 100));
    if (f & D2EV_OEM_F_PLUGGED_IN)
        check(s->plugged_in == 0 || s->plugged_in == 1);
    if (f & D2EV_OEM_F_CHARGING_STATE)
        check(s->charging_state >= 0 && s->charging_state < D2EV_CHG_COUNT);
    if (f & D2EV_OEM_F_POWER_KW)
        check(in_range(s->power_kw, 0, INFINITY));
    if (f & D2EV_OEM_F_BATTERY_KWH)
        check(in_range(s->battery_kwh, 0, INFINITY) && s->battery_kwh > 0);
    if (f & D2EV_OEM_F_CHARGE_LIMIT)
        check(in_range(s->charge_limit_pct, 0, 100) && s->charge_limit_pct > 0);
    if (f & D2EV_OEM_F_RANGE_KM)
        check(in_range(s->range_km, 0, INFINITY));
    if (f & D2EV_OEM_F_REPORTED_AT)
        check(s->reported_at_ms >= 0 && s->reported_at_ms < YEAR_10000);
    if (f & D2EV_OEM_F_ENERGY_ADDED)
        check(in_range(s->energy_added_kwh, 0, INFINITY));
    if (f & D2EV_OEM_F_ONLINE)
        check(s->online == 0 || s->online == 1);
}

/* An error's message goes into records as the services write them (the
 * OEM's text may hold any character, and be cut inside one): a d2ev.dispatch
 * detail (d2ev-dispatch) and a registration result's reason
 * (d2ev-registration). Both must encode, and decode again for their readers. */
static void check_recordable(const char *message)
{
    struct d2ev_dispatch d = { .command = D2EV_CMD_STOP,
                               .result = D2EV_DISPATCH_RETRY,
                               .schedule_version = 1,
                               .attempt = 1,
                               .at = FAKE_HOST_NOW_MS };
    strcpy(d.vehicle_id, "v-1");
    strcpy(d.command_id, "1-0-stop");
    strcpy(d.error_class, "retry");
    d2ev_strlcpy(d.detail, message, sizeof(d.detail));
    struct d2ev_reg_result r = { .action = D2EV_REG_REGISTER };
    strcpy(r.request_id, "req-1");
    strcpy(r.vehicle_id, "v-1");
    strcpy(r.code, "oem_unavailable");
    snprintf(r.reason, sizeof(r.reason),
             "the OEM could not be reached to check the link (retry: %s); try again later",
             message);
    json_t *jd = d2ev_dispatch_encode(&d), *jr = d2ev_reg_result_encode(&r);
    char *td = jd ? json_dumps(jd, JSON_COMPACT) : NULL,
         *tr = jr ? json_dumps(jr, JSON_COMPACT) : NULL;
    check(td && tr);
    struct d2ev_dispatch d2;
    struct d2ev_reg_result r2;
    check(d2ev_dispatch_decode(td, strlen(td), &d2, NULL) == D2EV_OK);
    check(d2ev_reg_result_decode(tr, strlen(tr), &r2, NULL) == D2EV_OK);
    free(td);
    free(tr);
    json_decref(jd);
    json_decref(jr);
}

static void check_result(uint32_t op, const struct d2ev_oem_result *res)
{
    check(res->cls < D2EV_OEM_CLASS_COUNT);
    check(res->next == D2EV_OEM_NEXT_DONE || res->next == D2EV_OEM_NEXT_STEP);
    check(res->limit_scope == D2EV_OEM_SCOPE_OEM || res->limit_scope == D2EV_OEM_SCOPE_VEHICLE);
    check(res->retry_after_ms >= 0 && res->retry_after_ms <= 86400000);
    check(memchr(res->message, '\0', sizeof(res->message)) != NULL);
    if (res->next == D2EV_OEM_NEXT_STEP) {
        check(res->cls == D2EV_OEM_OK && res->next_delay_ms >= 0);
        return;
    }
    if (res->cls != D2EV_OEM_OK) {
        check(res->message[0] != '\0'); /* every error says why */
        check_recordable(res->message);
        return;
    }
    if (op == D2EV_OEM_OP_START || op == D2EV_OEM_OP_STOP)
        check(res->command == D2EV_OEM_CMD_SENT || res->command == D2EV_OEM_CMD_CONFIRMED ||
              res->command == D2EV_OEM_CMD_ALREADY);
    if (res->tokens) {
        const struct d2ev_oem_tokens *t = res->tokens;
        check(t->access_token && t->access_token[0]);
        /* the engine adds expiries to the clock in ms */
        check(t->expires_in_s >= 0 && t->expires_in_s <= INT64_MAX / 4000);
        check(t->refresh_expires_in_s >= 0 && t->refresh_expires_in_s <= INT64_MAX / 4000);
    }
}

/* ------------------------------------------------------------ one flow */

static void free_request(struct d2ev_oem_request *req)
{
    const struct d2ev_oem_host *host = fake_host();
    host->free(req->url);
    host->free(req->body);
    for (size_t i = 0; i < D2EV_OEM_MAX_HEADERS; i++)
        host->free(req->headers[i]);
}

static void build(void *inst, const struct d2ev_oem_call *call, const struct d2ev_oem_flow *flow)
{
    struct d2ev_oem_request req = { .struct_size = sizeof(req) };
    char errbuf[256] = "";
    int rc = g_a->build(inst, call, flow, &req, errbuf, sizeof(errbuf));
    check(rc == 0 && req.method[0] && req.url &&
          (!strncmp(req.url, "https://", 8) || !strncmp(req.url, "http://", 7)));
    free_request(&req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_a)
        setup();
    if (size > 65536)
        return 0;
    struct in in = { data, size };
    uint32_t op = g_ops[take(&in) % g_nops];
    void *inst = g_inst[take(&in) % NCONFIGS];
    bool token_op = op == D2EV_OEM_OP_REFRESH || op == D2EV_OEM_OP_EXCHANGE_CODE;
    struct d2ev_oem_call call = { .struct_size = sizeof(call),
                                  .op = op,
                                  .vehicle = token_op ? NULL : "1492931520123456",
                                  .refresh_token = "rt-1",
                                  .code = "code-1" };
    struct d2ev_oem_flow flow = { .struct_size = sizeof(flow) };
    struct answer a;
    build(inst, &call, &flow);
    for (int step = 0; step < MAX_STEPS && next_answer(&in, &a); step++) {
        struct d2ev_oem_state state = { .struct_size = sizeof(state) };
        struct d2ev_oem_tokens tokens = { .struct_size = sizeof(tokens) };
        struct d2ev_oem_result res = { .struct_size = sizeof(res) };
        res.state = op == D2EV_OEM_OP_READ || op == D2EV_OEM_OP_WAKE ? &state : NULL;
        res.tokens = token_op ? &tokens : NULL;
        check(g_a->parse(inst, &call, &flow, &a.resp, &res) == 0);
        free(a.buf);
        check_result(op, &res);
        check_state(&state);
        fake_host()->free(tokens.access_token);
        fake_host()->free(tokens.refresh_token);
        if (res.next != D2EV_OEM_NEXT_STEP)
            break;
        flow.step_runs = res.next_step == flow.step ? flow.step_runs + 1 : 0;
        flow.step = res.next_step;
        flow.elapsed_ms += res.next_delay_ms + a.extra_ms;
        build(inst, &call, &flow); /* the step asked for builds */
    }
    check(fake_host_live() == g_live); /* every host allocation went back */
    fake_host_reset_logs();
    return 0;
}
