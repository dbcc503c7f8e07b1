/* The OpenAPI document against the implementation: every documented path
 * and method exists and answers (in the cases tried) with a documented status
 * whose required fields are there; every implemented route and query
 * parameter is documented; every $ref resolves. */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "apitest.h"

static struct apitest_server g;
static json_t *g_doc;

static int setup(void **state)
{
    json_error_t e;
    g_doc = json_loadb((const char *)d2ev_api_openapi_json, d2ev_api_openapi_json_len,
                       JSON_REJECT_DUPLICATES, &e);
    if (!g_doc)
        fail_msg("openapi.json: line %d: %s", e.line, e.text);
    apitest_start(&g, false);
    return 0;
}

static int teardown(void **state)
{
    apitest_stop(&g);
    json_decref(g_doc);
    return 0;
}

/* Follow a local "$ref" ("#/components/...") if obj is one. */
static json_t *deref(json_t *obj)
{
    const char *ref = json_string_value(json_object_get(obj, "$ref"));
    if (!ref)
        return obj;
    if (strncmp(ref, "#/", 2) != 0)
        fail_msg("non-local $ref %s", ref);
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", ref + 2);
    json_t *cur = g_doc;
    for (char *save, *part = strtok_r(buf, "/", &save); part; part = strtok_r(NULL, "/", &save))
        cur = json_object_get(cur, part);
    if (!cur)
        fail_msg("$ref %s does not resolve", ref);
    return deref(cur);
}

static void check_refs(json_t *node)
{
    if (json_is_object(node)) {
        if (json_object_get(node, "$ref"))
            deref(node);
        const char *k;
        json_t *v;
        json_object_foreach(node, k, v) check_refs(v);
    } else if (json_is_array(node)) {
        size_t i;
        json_t *v;
        json_array_foreach(node, i, v) check_refs(v);
    }
}

static void test_document_is_well_formed(void **state)
{
    assert_string_equal(json_string_value(json_object_get(g_doc, "openapi")), "3.1.0");
    check_refs(g_doc);
    /* served as is */
    char *body = NULL;
    assert_int_equal(apitest_get(&g, "/v1/openapi.json", NULL, &body), 200);
    assert_int_equal(strlen(body), d2ev_api_openapi_json_len);
    assert_memory_equal(body, d2ev_api_openapi_json, d2ev_api_openapi_json_len);
    free(body);
}

static void lower(char *dst, const char *src, size_t size)
{
    size_t i = 0;
    for (; src[i] && i + 1 < size; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[i] = '\0';
}

static json_t *operation(const char *pattern, const char *method)
{
    char m[16];
    lower(m, method, sizeof(m));
    return json_object_get(json_object_get(json_object_get(g_doc, "paths"), pattern), m);
}

/* Is name a documented query parameter of op? */
static bool documents_query(json_t *op, const char *name, size_t name_len)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(op, "parameters"), i, p)
    {
        json_t *d = deref(p);
        const char *n = json_string_value(json_object_get(d, "name"));
        if (!strcmp(json_string_value(json_object_get(d, "in")), "query") &&
            strlen(n) == name_len && !strncmp(n, name, name_len))
            return true;
    }
    return false;
}

static bool listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, " ");
        if (len == n && !strncmp(p, name, n))
            return true;
        p += len + (p[len] == ' ');
    }
    return false;
}

static void test_every_route_is_documented(void **state)
{
    size_t n;
    const struct d2ev_api_route_info *routes = d2ev_api_routes(&n);
    for (size_t i = 0; i < n; i++) {
        json_t *op = operation(routes[i].pattern, routes[i].method);
        if (!op)
            fail_msg("%s %s is not in openapi.json", routes[i].method, routes[i].pattern);
        /* the query parameters it takes, both ways */
        for (const char *p = routes[i].params; *p;) {
            size_t len = strcspn(p, " ");
            if (!documents_query(op, p, len))
                fail_msg("%s %s: query parameter %.*s is not documented", routes[i].method,
                         routes[i].pattern, (int)len, p);
            p += len + (p[len] == ' ');
        }
        size_t k;
        json_t *prm;
        json_array_foreach(json_object_get(op, "parameters"), k, prm)
        {
            json_t *d = deref(prm);
            if (!strcmp(json_string_value(json_object_get(d, "in")), "query") &&
                !listed(routes[i].params, json_string_value(json_object_get(d, "name"))))
                fail_msg("%s %s documents query parameter %s it does not take", routes[i].method,
                         routes[i].pattern, json_string_value(json_object_get(d, "name")));
        }
        /* public exactly when the document says no security */
        json_t *sec = json_object_get(op, "security");
        bool public_doc = sec && json_array_size(sec) == 0;
        assert_int_equal(public_doc, routes[i].perm == D2EV_API_PERM_PUBLIC);
    }
}

static bool route_exists(const char *pattern, const char *method)
{
    size_t n;
    const struct d2ev_api_route_info *routes = d2ev_api_routes(&n);
    for (size_t i = 0; i < n; i++) {
        char m[16];
        lower(m, routes[i].method, sizeof(m));
        if (!strcmp(routes[i].pattern, pattern) && !strcmp(m, method))
            return true;
    }
    return false;
}

/* Fill the path template with id (for {id}) or region (for {region}). */
static void instantiate(char *out, size_t size, const char *pattern, const char *id,
                        const char *region)
{
    const char *open = strchr(pattern, '{');
    if (!open) {
        snprintf(out, size, "%s", pattern);
        return;
    }
    bool is_region = strncmp(open, "{region}", 8) == 0;
    snprintf(out, size, "%.*s%s%s", (int)(open - pattern), pattern, is_region ? region : id,
             strchr(open, '}') + 1);
}

/* The status must be documented; a JSON success must have the required
 * members of its schema. */
static void check_answer(const char *what, json_t *op, long status, const char *body)
{
    char code[8];
    snprintf(code, sizeof(code), "%ld", status);
    json_t *resp = json_object_get(json_object_get(op, "responses"), code);
    if (!resp)
        fail_msg("%s answered %ld, which is not documented: %.200s", what, status, body);
    resp = deref(resp);
    json_t *schema = json_object_get(
        json_object_get(json_object_get(resp, "content"), "application/json"), "schema");
    if (!schema || status >= 300)
        return;
    schema = deref(schema);
    json_t *got = json_loads(body ? body : "", 0, NULL);
    if (!got)
        fail_msg("%s: the %ld body is not JSON", what, status);
    size_t i;
    json_t *req;
    json_array_foreach(json_object_get(schema, "required"), i, req)
    {
        if (!json_object_get(got, json_string_value(req)))
            fail_msg("%s: required member %s is missing", what, json_string_value(req));
    }
    json_decref(got);
}

static void try(json_t *op, const char *what, const char *method, const char *path,
                const char *token, const char *body)
{
    static const char *const ct[] = { "Content-Type: application/json", NULL };
    struct apitest_reply r =
        apitest_raw(&g, method, path, token, body ? ct : NULL, body, body ? strlen(body) : 0);
    char label[300];
    snprintf(label, sizeof(label), "%s (%s %s)", what, method, path);
    check_answer(label, op, r.status, r.body);
    apitest_reply_free(&r);
}

static void test_every_documented_operation_answers_as_documented(void **state)
{
    const char *pattern;
    json_t *item;
    size_t tried = 0;
    json_object_foreach(json_object_get(g_doc, "paths"), pattern, item)
    {
        const char *method;
        json_t *op;
        json_object_foreach(item, method, op)
        {
            if (!route_exists(pattern, method))
                fail_msg("openapi.json documents %s %s, which is not implemented", method, pattern);
            char upper[16], path[256], bad[256];
            size_t k = 0;
            for (; method[k] && k < sizeof(upper) - 1; k++)
                upper[k] = (char)toupper((unsigned char)method[k]);
            upper[k] = '\0';
            bool post = !strcmp(upper, "POST");
            const char *body = post ? "{\"until\":\"2026-11-21T09:00:00Z\"}" : NULL;
            if (post && strstr(pattern, "replan"))
                body = "{\"reason\":\"openapi check\"}";
            bool secured = !json_object_get(op, "security") ||
                           json_array_size(json_object_get(op, "security")) > 0;
            const char *token = APITEST_OPERATOR;

            instantiate(path, sizeof(path), pattern, "v-1", "GB-LON");
            try(op, "success", upper, path, token, body);
            if (secured) {
                try(op, "no token", upper, path, NULL, body);
                try(op, "bad token", upper, path, "not-a-valid-token-here", body);
                /* the app role is refused everywhere but its own endpoint */
                try(op, "app role", upper, path, APITEST_APP, body);
            }
            if (strchr(pattern, '{')) {
                instantiate(path, sizeof(path), pattern, "no-such-vehicle", "no-such-region");
                try(op, "unknown id", upper, path, token, body);
                instantiate(bad, sizeof(bad), pattern, "%FF", "%FF");
                try(op, "malformed id", upper, bad, token, body);
            }
            instantiate(path, sizeof(path), pattern, "v-1", "GB-LON");
            if (json_array_size(json_object_get(op, "parameters")) && !post) {
                char q[300];
                snprintf(q, sizeof(q), "%s?limit=0&cursor=zz", path);
                if (documents_query(op, "limit", 5) || documents_query(op, "cursor", 6))
                    try(op, "bad query", upper, q, token, body);
            }
            if (post) {
                try(op, "bad body", upper, path, token, "{\"x\":");
                char *big = malloc(8192);
                memset(big, ' ', 8191);
                big[8191] = '\0';
                try(op, "huge body", upper, path, token, big);
                free(big);
            }
            tried++;
        }
    }
    assert_true(tried >= 15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document_is_well_formed),
        cmocka_unit_test(test_every_route_is_documented),
        cmocka_unit_test(test_every_documented_operation_answers_as_documented),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
