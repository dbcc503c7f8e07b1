/* Unit tests for the strict JSON readers (common/json.c) and strbuf escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "d2ev/json.h"
#include "d2ev/strbuf.h"

static json_t *parse(const char *s, struct d2ev_err *err)
{
    return d2ev_json_parse(s, strlen(s), 0, err);
}

static void test_parse_rejects_hostile_documents(void **state)
{
    struct d2ev_err err = { 0 };
    assert_null(parse("[1,2]", &err));
    assert_non_null(strstr(err.msg, "must be a JSON object"));
    assert_null(parse("{\"a\":1,\"a\":2}", &err));
    assert_non_null(strstr(err.msg, "malformed JSON"));
    assert_null(parse("{\"a\":\"\xff\"}", &err)); /* invalid UTF-8 */
    assert_null(parse("{\"a\":1} trailing", &err));
    assert_null(d2ev_json_parse("", 0, 0, &err));
    assert_null(d2ev_json_parse("{}", 2, 1, &err));
    assert_int_equal(err.code, D2EV_ERR_LIMIT);

    /* 10,000 levels deep: rejected with an error, not a stack overflow */
    size_t depth = 10000;
    char *deep = malloc(2 * depth + 16);
    size_t n = 0;
    deep[n++] = '{';
    deep[n++] = '"';
    deep[n++] = 'a';
    deep[n++] = '"';
    deep[n++] = ':';
    for (size_t i = 0; i < depth; i++)
        deep[n++] = '[';
    for (size_t i = 0; i < depth; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    assert_null(d2ev_json_parse(deep, n, 0, &err));
    assert_non_null(strstr(err.msg, "depth"));
    free(deep);
}

static void test_readers_name_the_field(void **state)
{
    struct d2ev_err err = { 0 };
    json_t *o = parse("{\"soc\":120,\"name\":\"ok\",\"n\":1.5,\"flag\":\"yes\",\"when\":\"soon\","
                      "\"id\":\"a b\",\"mode\":\"fast\",\"long\":\"abcdefghij\"}",
                      &err);
    assert_non_null(o);
    double d;
    int64_t i;
    bool b;
    int64_t t;
    char buf[64];
    int e;
    static const char *modes[] = { "cost", "carbon" };

    assert_int_equal(d2ev_json_req_num(o, "soc", 0, 100, &d, &err), D2EV_ERR_INVALID);
    assert_string_equal(err.msg, "soc: must be between 0 and 100, got 120");
    assert_int_equal(d2ev_json_req_int(o, "n", 0, 10, &i, &err), D2EV_ERR_INVALID);
    assert_string_equal(err.msg, "n: must be an integer, got number");
    assert_int_equal(d2ev_json_req_bool(o, "flag", &b, &err), D2EV_ERR_INVALID);
    assert_string_equal(err.msg, "flag: must be true or false, got string");
    assert_int_equal(d2ev_json_req_time(o, "when", &t, &err), D2EV_ERR_INVALID);
    assert_non_null(strstr(err.msg, "when: timestamp 'soon'"));
    assert_int_equal(d2ev_json_req_str(o, "missing", buf, 10, D2EV_CS_ANY, &err), D2EV_ERR_INVALID);
    assert_string_equal(err.msg, "missing: required field is missing");
    assert_int_equal(d2ev_json_req_str(o, "id", buf, 10, D2EV_CS_ID, &err), D2EV_ERR_INVALID);
    assert_non_null(strstr(err.msg, "id: has a character not allowed"));
    assert_int_equal(d2ev_json_req_str(o, "long", buf, 5, D2EV_CS_ANY, &err), D2EV_ERR_LIMIT);
    assert_non_null(strstr(err.msg, "long: is 10 bytes, longer than the 5 allowed"));
    assert_int_equal(d2ev_json_req_enum(o, "mode", modes, 2, &e, &err), D2EV_ERR_INVALID);
    assert_string_equal(err.msg, "mode: must be one of cost, carbon, got \"fast\"");

    assert_int_equal(d2ev_json_req_str(o, "name", buf, 10, D2EV_CS_LOWER, &err), 0);
    assert_string_equal(buf, "ok");
    bool present = true;
    assert_int_equal(d2ev_json_opt_num(o, "absent", 0, 1, &d, &present, &err), 0);
    assert_false(present);
    json_decref(o);
}

static void test_only_keys(void **state)
{
    struct d2ev_err err = { 0 };
    json_t *o = parse("{\"a\":1,\"evil\":2}", &err);
    static const char *allowed[] = { "a", "b" };
    assert_int_equal(d2ev_json_only_keys(o, allowed, 2, &err), D2EV_ERR_INVALID);
    assert_string_equal(err.msg, "unknown field \"evil\"");
    json_decref(o);
}

static void test_strbuf_escapes(void **state)
{
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    d2ev_strbuf_json_string(&sb, "a\"b\\c\n\x01\xff\xc3\xa9", 10);
    assert_string_equal(sb.buf, "\"a\\\"b\\\\c\\n\\u0001\\ufffd\xc3\xa9\"");
    d2ev_strbuf_reset(&sb);
    d2ev_strbuf_html(&sb, "<a href='x'>&</a>");
    assert_string_equal(sb.buf, "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;");
    d2ev_strbuf_free(&sb);
    assert_true(d2ev_utf8_valid("h\xc3\xa9llo", 6));
    assert_false(d2ev_utf8_valid("\xc0\xaf", 2));     /* overlong */
    assert_false(d2ev_utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
    assert_false(d2ev_utf8_valid("a\0b", 3));         /* NUL */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_rejects_hostile_documents),
        cmocka_unit_test(test_readers_name_the_field),
        cmocka_unit_test(test_only_keys),
        cmocka_unit_test(test_strbuf_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
