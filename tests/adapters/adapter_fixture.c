/* adapter_fixture.c: a fake host table and helpers to drive one adapter .so. */
#include "adapter_fixture.h"

#include <dlfcn.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "d2ev/strbuf.h"
#include "d2ev/timefmt.h"
#include "d2ev/util.h"

/* ------------------------------------------------------------ the fake host */

static long g_live;
static struct d2ev_strbuf g_logs;

static void *fh_alloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (p)
        g_live++;
    return p;
}

static void fh_free(void *p)
{
    if (p)
        g_live--;
    free(p);
}

static char *fh_strdup(const char *s)
{
    if (!s)
        return NULL;
    char *p = fh_alloc(strlen(s) + 1);
    if (p)
        memcpy(p, s, strlen(s) + 1);
    return p;
}

static char *fh_format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *tmp = NULL;
    int n = vasprintf(&tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = fh_strdup(tmp);
    free(tmp);
    return p;
}

static void fh_log(uint32_t level, const char *adapter, const char *msg, const char *const *kv)
{
    d2ev_strbuf_printf(&g_logs, "[%u] %s: %s", level, adapter ? adapter : "?", msg ? msg : "");
    for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2)
        d2ev_strbuf_printf(&g_logs, " %s=%s", kv[i], kv[i + 1]);
    d2ev_strbuf_puts(&g_logs, "\n");
}

static int64_t fh_now(void)
{
    return FAKE_HOST_NOW_MS;
}

static int fh_parse_time(const char *s, int64_t *ms)
{
    return d2ev_time_parse(s, ms, NULL);
}

static char *fh_url_encode(const char *s)
{
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p))
            d2ev_strbuf_append(&sb, (const char *)p, 1);
        else
            d2ev_strbuf_printf(&sb, "%%%02X", *p);
    }
    char *out = fh_strdup(sb.buf ? sb.buf : "");
    d2ev_strbuf_free(&sb);
    return out;
}

static char *fh_base64(const void *data, size_t len)
{
    char *out = fh_alloc(d2ev_base64_encoded_len(len) + 1);
    if (out)
        d2ev_base64_encode(data, len, out);
    return out;
}

static const struct d2ev_oem_host g_host = {
    .struct_size = sizeof(struct d2ev_oem_host),
    .abi_version = D2EV_OEM_ABI_VERSION,
    .alloc = fh_alloc,
    .free = fh_free,
    .strdup = fh_strdup,
    .format = fh_format,
    .log = fh_log,
    .now_ms = fh_now,
    .parse_time = fh_parse_time,
    .url_encode = fh_url_encode,
    .base64 = fh_base64,
};

const struct d2ev_oem_host *fake_host(void)
{
    return &g_host;
}

long fake_host_live(void)
{
    return g_live;
}

const char *fake_host_logs(void)
{
    return g_logs.buf ? g_logs.buf : "";
}

void fake_host_reset_logs(void)
{
    d2ev_strbuf_free(&g_logs);
}

/* ------------------------------------------------------------ the fixture */

static void clear_req(struct fx *f)
{
    fh_free(f->req.url);
    fh_free(f->req.body);
    for (size_t i = 0; i < D2EV_OEM_MAX_HEADERS; i++)
        fh_free(f->req.headers[i]);
    memset(&f->req, 0, sizeof(f->req));
    f->req.struct_size = sizeof(f->req);
}

static void clear_res(struct fx *f)
{
    fh_free(f->tokens.access_token);
    fh_free(f->tokens.refresh_token);
    memset(&f->res, 0, sizeof(f->res));
    memset(&f->state, 0, sizeof(f->state));
    memset(&f->tokens, 0, sizeof(f->tokens));
    f->res.struct_size = sizeof(f->res);
    f->state.struct_size = sizeof(f->state);
    f->tokens.struct_size = sizeof(f->tokens);
}

static void load(struct fx *f, const char *dir, const char *name)
{
    memset(f, 0, sizeof(*f));
    f->flow.struct_size = sizeof(f->flow);
    char path[1024];
    snprintf(path, sizeof(path), "%s/d2ev_oem_%s.so", dir ? dir : D2EV_ADAPTER_BUILD_DIR, name);
    f->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!f->dl)
        fail_msg("dlopen %s: %s", path, dlerror());
    d2ev_oem_entry_fn entry;
    *(void **)&entry = dlsym(f->dl, D2EV_OEM_ENTRY_SYMBOL);
    if (!entry)
        fail_msg("%s: no entry symbol", path);
    f->a = entry(D2EV_OEM_ABI_VERSION, fake_host());
    if (!f->a)
        fail_msg("%s refused the fake host", path);
    clear_req(f);
    clear_res(f);
}

void fx_open(struct fx *f, const char *dir, const char *name, const char *config,
             const char *secret)
{
    load(f, dir, name);
    const char *cfg = config ? config : "{}";
    int rc =
        f->a->create(fake_host(), cfg, strlen(cfg), secret, &f->inst, f->errbuf, sizeof(f->errbuf));
    if (rc)
        fail_msg("%s create: %s", name, f->errbuf);
    f->desc.struct_size = sizeof(f->desc);
    f->a->describe(f->inst, &f->desc);
}

int fx_open_fails(struct fx *f, const char *name, const char *config, const char *secret)
{
    load(f, NULL, name);
    int rc = f->a->create(fake_host(), config, strlen(config), secret, &f->inst, f->errbuf,
                          sizeof(f->errbuf));
    assert_int_not_equal(rc, 0);
    assert_null(f->inst);
    assert_int_equal(fake_host_live(), 0);
    dlclose(f->dl);
    return rc;
}

void fx_close(struct fx *f)
{
    clear_req(f);
    clear_res(f);
    if (f->inst)
        f->a->destroy(f->inst);
    f->inst = NULL;
    assert_int_equal(fake_host_live(), 0); /* every host allocation went back */
    if (f->dl)
        dlclose(f->dl);
    f->dl = NULL;
}

int fx_build_call(struct fx *f, const struct d2ev_oem_call *call)
{
    clear_req(f);
    f->errbuf[0] = '\0';
    return f->a->build(f->inst, call, &f->flow, &f->req, f->errbuf, sizeof(f->errbuf));
}

int fx_build(struct fx *f, uint32_t op, const char *vehicle)
{
    struct d2ev_oem_call call = { .struct_size = sizeof(call), .op = op, .vehicle = vehicle };
    return fx_build_call(f, &call);
}

int fx_build_token(struct fx *f, uint32_t op, const char *refresh_token, const char *code,
                   const char *redirect_uri)
{
    struct d2ev_oem_call call = { .struct_size = sizeof(call),
                                  .op = op,
                                  .refresh_token = refresh_token,
                                  .code = code,
                                  .redirect_uri = redirect_uri };
    return fx_build_call(f, &call);
}

const char *fx_req_header(const struct fx *f, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < D2EV_OEM_MAX_HEADERS; i++) {
        const char *h = f->req.headers[i];
        if (h && strncasecmp(h, name, n) == 0 && h[n] == ':')
            return h + n + 1 + (h[n + 1] == ' ');
    }
    return NULL;
}

const char *fx_req_body(const struct fx *f)
{
    return f->req.body ? f->req.body : "";
}

void fx_assert_json_body(const struct fx *f, const char *want_json)
{
    json_t *got = json_loadb(fx_req_body(f), f->req.body_len, 0, NULL);
    json_t *want = json_loads(want_json, 0, NULL);
    assert_non_null(want);
    if (!got || !json_equal(got, want))
        fail_msg("body %s, want %s", fx_req_body(f), want_json);
    json_decref(got);
    json_decref(want);
}

/* ------------------------------------------------------------ answers */

#define MAX_HDRS 16

static uint32_t parse_raw(struct fx *f, uint32_t op, const char *raw, size_t len)
{
    /* status line, headers, blank line, body */
    char *copy = malloc(len + 1);
    memcpy(copy, raw, len);
    copy[len] = '\0';
    int status = 0;
    if (sscanf(copy, "HTTP/%*s %d", &status) != 1)
        fail_msg("recorded answer has no status line");
    struct d2ev_oem_header hdrs[MAX_HDRS];
    size_t nh = 0;
    char *line = strchr(copy, '\n');
    char *body = "";
    while (line) {
        line++;
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r')
            line[--l] = '\0';
        if (l == 0) {
            body = end ? end + 1 : "";
            break;
        }
        char *colon = strchr(line, ':');
        if (colon && nh < MAX_HDRS) {
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ')
                v++;
            hdrs[nh].name = line;
            hdrs[nh].value = v;
            nh++;
        }
        line = end;
    }
    struct d2ev_oem_response resp = {
        .struct_size = sizeof(resp),
        .status = status,
        .body = body,
        .body_len = strlen(body),
        .headers = hdrs,
        .nheaders = nh,
    };
    clear_res(f);
    f->res.state = &f->state;
    f->res.tokens = &f->tokens;
    struct d2ev_oem_call call = { .struct_size = sizeof(call), .op = op, .vehicle = "v1" };
    int rc = f->a->parse(f->inst, &call, &f->flow, &resp, &f->res);
    assert_int_equal(rc, 0);
    free(copy);
    assert_true(f->res.cls < D2EV_OEM_CLASS_COUNT);
    return f->res.cls;
}

uint32_t fx_parse(struct fx *f, uint32_t op, const char *oem, const char *file)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/adapters/recorded/%s/%s", D2EV_TEST_SOURCE_DIR, oem,
             file);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("cannot open %s", path);
    char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    return parse_raw(f, op, buf, n);
}

uint32_t fx_parse_text(struct fx *f, uint32_t op, int status, const char *headers, const char *body)
{
    char *raw = NULL;
    int n = asprintf(&raw, "HTTP/1.1 %d X\r\n%s%s\r\n%s", status, headers ? headers : "",
                     headers && *headers ? "\r\n" : "", body ? body : "");
    assert_true(n > 0);
    uint32_t cls = parse_raw(f, op, raw, (size_t)n);
    free(raw);
    return cls;
}

void fx_check_classes(struct fx *f, const char *oem, const struct fx_case *cases, size_t n,
                      uint32_t first_op, uint32_t last_op)
{
    for (uint32_t op = first_op; op <= last_op; op++) {
        for (size_t i = 0; i < n; i++) {
            uint32_t cls = fx_parse(f, op, oem, cases[i].file);
            if (cls != cases[i].cls)
                fail_msg("%s (%s): class %s, want %s", cases[i].file, d2ev_oem_op_name(op),
                         d2ev_oem_class_name(cls), d2ev_oem_class_name(cases[i].cls));
            assert_int_equal(f->res.next, D2EV_OEM_NEXT_DONE);
            assert_true(f->res.message[0] != '\0');
        }
    }
}
