/*
 * sim_oauth.c: the three OEMs' token endpoints and bearer-token checks.
 *
 *   smartcar  Basic client auth; authorization_code, refresh_token (rotating)
 *   tesla     client_id/client_secret in the form; authorization_code,
 *             refresh_token (single use; only client_id needed)
 *   enode     Basic client auth; client_credentials (one token per app)
 *
 * Errors follow RFC 6749 section 5.2 on all three:
 * {"error": "invalid_grant", "error_description": "..."} with 400, or 401
 * for invalid_client. A spent refresh token (an older generation of a grant)
 * is counted as reuse in /_sim/stats, so tests can catch refresh races.
 */
#include <string.h>

#include "d2ev/log.h"
#include "sim.h"

#define FIELD_MAX 512

enum grant_rc {
    GRANT_OK = 0,
    GRANT_INVALID, /* not a token of ours, wrong OEM or kind */
    GRANT_EXPIRED,
    GRANT_REUSED,   /* a spent code or refresh token */
    GRANT_REVOKED,  /* consent revoked */
    GRANT_REDIRECT, /* redirect_uri differs from the authorisation's */
};

static void oauth_error(struct sim_req *r, int status, const char *error, const char *description)
{
    d2ev_http_add_header(r->resp, "Cache-Control", "no-store");
    if (status == 401)
        d2ev_http_add_header(r->resp, "WWW-Authenticate", "Basic realm=\"oauth\"");
    sim_reply(r->resp, status, "application/json",
              json_pack("{s:s, s:s}", "error", error, "error_description", description));
}

static void grant_error(struct sim_req *r, enum grant_rc rc, bool code)
{
    static const char *const code_msgs[] = {
        "",
        "The authorization code is invalid.",
        "The authorization code has expired.",
        "The authorization code has already been used.",
        "The user revoked access to the vehicle.",
        "redirect_uri does not match the one of the authorization request.",
    };
    static const char *const refresh_msgs[] = {
        "",
        "The refresh token is invalid.",
        "The refresh token has expired.",
        "The refresh token has already been used.",
        "The user revoked access to the vehicle.",
        "",
    };
    oauth_error(r, 400, "invalid_grant", code ? code_msgs[rc] : refresh_msgs[rc]);
}

static void issue(struct sim_req *r, enum sim_tok_kind kind, uint32_t slot, uint32_t gen,
                  char out[72])
{
    struct sim_tok t = {
        .kind = (uint8_t)kind,
        .oem = (uint8_t)r->oem,
        .slot = slot,
        .gen = gen,
        .issued_ms = r->now,
    };
    sim_token_format(&r->sim->tokens, &t, out);
}

bool sim_authenticate(struct sim_req *r, const char **why)
{
    size_t len = 0;
    const char *s = sim_bearer(r->http, &len);
    if (!s) {
        *why = "The Authorization header is missing or is not a Bearer token.";
        return false;
    }
    uint8_t want = r->oem == SIM_ENODE ? SIM_TOK_APP : SIM_TOK_ACCESS;
    if (!sim_token_parse(&r->sim->tokens, s, len, &r->token) || r->token.kind != want ||
        r->token.oem != r->oem) {
        *why = "The access token is invalid.";
        return false;
    }
    if (r->now - r->token.issued_ms >= r->sim->ttl_access_ms[r->oem]) {
        *why = "The access token has expired.";
        return false;
    }
    return true;
}

bool sim_authorize(struct oemsim *sim, uint32_t idx, const char *redirect_uri, int64_t now,
                   char code[72])
{
    int64_t slot = sim_grant_new(&sim->tokens);
    struct sim_grant *g = slot >= 0 ? sim_grant_get(&sim->tokens, (uint32_t)slot) : NULL;
    if (!g)
        return false;
    struct sim_vehicle *v = &sim->fleet.v[idx];
    v->flags = (uint8_t)((v->flags & ~SIM_F_REVOKED) | SIM_F_LINKED);
    *g = (struct sim_grant){
        .vehicle = idx,
        .redirect_hash = sim_hash_str(redirect_uri),
        .code_ms = now,
        .epoch = v->epoch,
        .state = SIM_GRANT_CODE,
    };
    struct sim_tok t = {
        .kind = SIM_TOK_CODE,
        .oem = v->oem,
        .slot = (uint32_t)slot,
        .issued_ms = now,
    };
    sim_token_format(&sim->tokens, &t, code);
    return true;
}

int64_t sim_token_vehicle(struct sim_req *r)
{
    struct sim_grant *g = sim_grant_get(&r->sim->tokens, r->token.slot);
    if (!g || g->vehicle >= r->sim->fleet.n)
        return -1;
    uint32_t idx = g->vehicle;
    struct sim_vehicle *v = &r->sim->fleet.v[idx];
    sim_lock(&r->sim->fleet, idx);
    bool ok = g->state == SIM_GRANT_ACTIVE && g->epoch == v->epoch && !(v->flags & SIM_F_REVOKED);
    sim_unlock(&r->sim->fleet, idx);
    return ok ? (int64_t)idx : -1;
}

/* Parse a code or refresh token and find its grant. */
static struct sim_grant *grant_of(struct sim_req *r, const char *text, enum sim_tok_kind kind,
                                  struct sim_tok *t)
{
    if (!sim_token_parse(&r->sim->tokens, text, strlen(text), t) || t->kind != kind ||
        t->oem != r->oem)
        return NULL;
    struct sim_grant *g = sim_grant_get(&r->sim->tokens, t->slot);
    /* the vehicle of a grant is written before its first token exists */
    return g && g->vehicle < r->sim->fleet.n ? g : NULL;
}

static bool consent_ok(const struct sim_grant *g, const struct sim_vehicle *v)
{
    return g->epoch == v->epoch && !(v->flags & SIM_F_REVOKED);
}

static enum grant_rc exchange_code(struct sim_req *r, const char *code, const char *redirect_uri,
                                   uint32_t *slot)
{
    struct sim_tok t;
    struct sim_grant *g = grant_of(r, code, SIM_TOK_CODE, &t);
    if (!g)
        return GRANT_INVALID;
    struct oemsim *sim = r->sim;
    enum grant_rc rc = GRANT_OK;
    sim_lock(&sim->fleet, g->vehicle);
    if (g->state != SIM_GRANT_CODE)
        rc = GRANT_REUSED;
    else if (r->now - t.issued_ms >= sim->code_ttl_ms)
        rc = GRANT_EXPIRED;
    else if (!consent_ok(g, &sim->fleet.v[g->vehicle]))
        rc = GRANT_REVOKED;
    else if (sim_hash_str(redirect_uri) != g->redirect_hash)
        rc = GRANT_REDIRECT;
    if (rc == GRANT_OK) {
        g->state = SIM_GRANT_ACTIVE;
        g->refresh_gen = 0;
        *slot = t.slot;
    }
    sim_unlock(&sim->fleet, g->vehicle);
    return rc;
}

static enum grant_rc exchange_refresh(struct sim_req *r, const char *refresh, uint32_t *slot,
                                      uint32_t *gen)
{
    struct sim_tok t;
    struct sim_grant *g = grant_of(r, refresh, SIM_TOK_REFRESH, &t);
    if (!g)
        return GRANT_INVALID;
    struct oemsim *sim = r->sim;
    enum grant_rc rc = GRANT_OK;
    sim_lock(&sim->fleet, g->vehicle);
    if (g->state != SIM_GRANT_ACTIVE)
        rc = GRANT_INVALID;
    else if (!consent_ok(g, &sim->fleet.v[g->vehicle]))
        rc = GRANT_REVOKED;
    else if (t.gen != g->refresh_gen)
        rc = GRANT_REUSED;
    else if (r->now - t.issued_ms >= sim->ttl_refresh_ms[r->oem])
        rc = GRANT_EXPIRED;
    if (rc == GRANT_OK) {
        *gen = ++g->refresh_gen;
        *slot = t.slot;
    }
    sim_unlock(&sim->fleet, g->vehicle);
    if (rc == GRANT_REUSED) {
        sim_count(&sim->stats.refresh_reuse[r->oem]);
        d2ev_log_warn("refresh token reused", D2EV_LF_STR("oem", sim_oem_name(r->oem)),
                      D2EV_LF_INT("grant", t.slot), D2EV_LF_INT("generation", t.gen));
    }
    return rc;
}

/* ------------------------------------------------------------ the endpoint */

static const char *client_id_of(const struct oemsim *sim, enum sim_oem oem)
{
    const char *ids[] = { sim->cfg.smartcar_client_id, sim->cfg.tesla_client_id,
                          sim->cfg.enode_client_id };
    return ids[oem];
}

static const char *client_secret_of(const struct oemsim *sim, enum sim_oem oem)
{
    const char *secrets[] = { sim->cfg.smartcar_client_secret, sim->cfg.tesla_client_secret,
                              sim->cfg.enode_client_secret };
    return secrets[oem];
}

/* Client authentication: Basic for Smartcar and Enode; form fields for
 * Tesla, where a refresh needs only the client id. */
static bool client_ok(struct sim_req *r, bool refresh)
{
    char id[FIELD_MAX], secret[FIELD_MAX];
    const char *body = r->http->body;
    size_t len = r->http->body_len;
    bool have_secret;
    if (r->oem == SIM_TESLA) {
        if (!sim_form_get(body, len, "client_id", id, sizeof(id)))
            return false;
        have_secret = sim_form_get(body, len, "client_secret", secret, sizeof(secret));
        if (!have_secret && !refresh)
            return false;
    } else {
        if (!sim_basic_auth(r->http, id, sizeof(id), secret, sizeof(secret)))
            return false;
        have_secret = true;
    }
    return sim_secret_equal(id, client_id_of(r->sim, r->oem)) &&
           (!have_secret || sim_secret_equal(secret, client_secret_of(r->sim, r->oem)));
}

static void token_reply(struct sim_req *r, uint32_t slot, uint32_t gen)
{
    struct oemsim *sim = r->sim;
    char access[72], refresh[72], id_token[72];
    json_int_t expires = (json_int_t)(sim->ttl_access_ms[r->oem] / 1000);
    json_t *body;
    if (r->oem == SIM_ENODE) {
        issue(r, SIM_TOK_APP, 0, 0, access);
        body = json_pack("{s:s, s:I, s:s, s:s}", "access_token", access, "expires_in", expires,
                         "token_type", "bearer", "scope", "");
    } else {
        issue(r, SIM_TOK_ACCESS, slot, gen, access);
        issue(r, SIM_TOK_REFRESH, slot, gen, refresh);
        if (r->oem == SIM_SMARTCAR) {
            body =
                json_pack("{s:s, s:s, s:I, s:s, s:I}", "access_token", access, "token_type",
                          "Bearer", "expires_in", expires, "refresh_token", refresh,
                          "refresh_expires_in", (json_int_t)(sim->ttl_refresh_ms[r->oem] / 1000));
        } else {
            issue(r, SIM_TOK_ID, slot, gen, id_token);
            body = json_pack("{s:s, s:s, s:s, s:I, s:s}", "access_token", access, "refresh_token",
                             refresh, "id_token", id_token, "expires_in", expires, "token_type",
                             "Bearer");
        }
    }
    sim_count(&sim->stats.tokens_issued[r->oem]);
    d2ev_http_add_header(r->resp, "Cache-Control", "no-store");
    sim_reply(r->resp, 200, "application/json", body);
}

void sim_token_endpoint(struct sim_req *r)
{
    const char *body = r->http->body;
    size_t len = r->http->body_len;
    char grant_type[64], a[FIELD_MAX], b[FIELD_MAX];
    if (!sim_form_get(body, len, "grant_type", grant_type, sizeof(grant_type))) {
        oauth_error(r, 400, "invalid_request",
                    "grant_type is missing (send application/x-www-form-urlencoded).");
        return;
    }
    bool is_code = !strcmp(grant_type, "authorization_code");
    bool is_refresh = !strcmp(grant_type, "refresh_token");
    bool is_client = !strcmp(grant_type, "client_credentials");
    if ((r->oem == SIM_ENODE && !is_client) || (r->oem != SIM_ENODE && !is_code && !is_refresh)) {
        oauth_error(r, 400, "unsupported_grant_type",
                    r->oem == SIM_ENODE ? "Use grant_type=client_credentials."
                                        : "Use grant_type=authorization_code or refresh_token.");
        return;
    }
    if (!client_ok(r, is_refresh)) {
        oauth_error(r, 401, "invalid_client", "Client authentication failed.");
        return;
    }
    uint32_t slot = 0, gen = 0;
    enum grant_rc rc = GRANT_OK;
    if (is_code) {
        if (!sim_form_get(body, len, "code", a, sizeof(a)) ||
            !sim_form_get(body, len, "redirect_uri", b, sizeof(b))) {
            oauth_error(r, 400, "invalid_request", "code and redirect_uri are required.");
            return;
        }
        rc = exchange_code(r, a, b, &slot);
    } else if (is_refresh) {
        if (!sim_form_get(body, len, "refresh_token", a, sizeof(a))) {
            oauth_error(r, 400, "invalid_request", "refresh_token is required.");
            return;
        }
        rc = exchange_refresh(r, a, &slot, &gen);
    }
    if (rc != GRANT_OK) {
        grant_error(r, rc, is_code);
        return;
    }
    token_reply(r, slot, gen);
}
