/*
 * libFuzzer harness for the bridge's request parser (services/bridge): the
 * first byte picks what the rest is, so one corpus covers
 *   0: a POST /v1/registrations body
 *   1: a PATCH /v1/vehicles/{id}/preferences body
 *   2: a DELETE body
 *   3: "METHOD\nPATH\nTIMESTAMP\nSIGNATURE\nBODY": routing and signature check
 * Properties checked on every input:
 *   - nothing crashes, leaks or trips a sanitizer;
 *   - a refusal always carries a 4xx/5xx status, a code and a message;
 *   - a body that builds a request encodes to a message the registration
 *     decoder accepts (the bridge's promise that nothing undecodable reaches
 *     Kafka), unless the encoder itself refuses it with a reason;
 *   - the sealed authorisation opens again with the vehicle id.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bridge_request.h"
#include "bridge_sign.h"
#include "d2ev/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEYS "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static const char *const oems[] = { "smartcar", "tesla", "enode" };

static void check_refusal(const struct bridge_reject *rej)
{
    if (rej->status < 400 || rej->status > 599 || !rej->code || !rej->err.msg[0])
        abort();
}

static void fuzz_body(int kind, const char *body, size_t len)
{
    static struct d2ev_keyring *keys;
    if (!keys && !(keys = d2ev_keyring_parse(KEYS, NULL)))
        abort();
    struct bridge_rules rules = { oems, 3, keys, kind == 0 && len % 2 ? "vid-key" : NULL };
    struct bridge_route route = { .kind = (enum bridge_route_kind)kind };
    strcpy(route.id, "v-1");
    struct d2ev_reg_request r;
    struct bridge_reject rej = { 0 };
    if (bridge_build_request(&rules, &route, body, len, "fuzz-key", &r, &rej)) {
        check_refusal(&rej);
        return;
    }
    if (r.sealed_auth) {
        size_t n = 0;
        char *plain = d2ev_crypto_open(keys, r.sealed_auth, r.vehicle_id, &n, NULL);
        if (!plain)
            abort();
        d2ev_crypto_free_secret(plain, n);
    }
    char *text = bridge_encode_request(&r, &rej);
    if (!text)
        check_refusal(&rej);
    free(text);
    d2ev_reg_request_clear(&r);
}

/* Split s at '\n' into at most n fields (NUL-terminated in place). */
static size_t split(char *s, char **f, size_t n)
{
    size_t k = 0;
    f[k++] = s;
    for (char *p = s; *p && k < n; p++) {
        if (*p == '\n') {
            *p = '\0';
            f[k++] = p + 1;
        }
    }
    return k;
}

static void fuzz_http(const char *text)
{
    char *copy = strdup(text);
    char *f[5] = { 0 };
    size_t k = split(copy, f, 5);
    struct bridge_route route;
    struct bridge_reject rej = { 0 };
    if (k >= 2 && bridge_route_match(f[0], f[1], &route, &rej))
        check_refusal(&rej);
    static const struct bridge_sig_keys sk = { { "fuzz-secret-0123456789", NULL }, 1, 300 };
    struct bridge_sig_ok ok;
    struct d2ev_err err = { 0 };
    const char *body = k >= 5 ? f[4] : "";
    enum bridge_sig_verdict v =
        bridge_sig_verify(&sk, k >= 3 ? f[2] : NULL, k >= 4 ? f[3] : NULL, f[0], k >= 2 ? f[1] : "",
                          body, strlen(body), 1795246200, &ok, &err);
    if (v != BRIDGE_SIG_OK && !err.msg[0])
        abort();
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    int kind = data[0] % 4;
    char *body = malloc(size); /* size - 1 bytes and a NUL */
    memcpy(body, data + 1, size - 1);
    body[size - 1] = '\0';
    if (kind < 3)
        fuzz_body(kind, body, size - 1);
    else
        fuzz_http(body);
    free(body);
    return 0;
}
