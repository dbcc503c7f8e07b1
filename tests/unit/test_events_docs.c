/*
 * test_events_docs.c: keeps docs/events.md honest.
 *
 * Every `<!-- example: <type> -->` marker is followed by a ```sh block whose
 * first line is `echo '<key><delim><value>' | kcat -P -b $BOOTSTRAP -t <topic>
 * -K<delim>`. Each example must decode with its type's decoder, go to that
 * type's topic, and carry the key topics.h names for it. Every
 * `<!-- fields: <name> -->` table must list exactly the fields the encoder
 * writes. Every message type needs both.
 */
#include "d2ev_test.h"
#include "d2ev_test_events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev/envelope.h"
#include "d2ev/events.h"
#include "d2ev/strbuf.h"
#include "d2ev/topics.h"
#include "d2ev/util.h"

#define MAX_ITEMS 64

/* One kcat example from the page. */
struct example {
    char type[64];
    char topic[64];
    char *key;   /* heap */
    char *value; /* heap; "" for a tombstone */
    bool tombstone_flag;
    int line;
};

/* One field table from the page. */
struct table {
    char name[64];
    json_t *fields; /* array of field names (strings) */
    int line;
};

static struct example examples[MAX_ITEMS];
static size_t nexamples;
static struct table tables[MAX_ITEMS];
static size_t ntables;

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        d2ev_strbuf_append(&sb, buf, n);
    fclose(f);
    return d2ev_strbuf_steal(&sb, NULL);
}

/* The text after `marker` on a line "<!-- marker NAME -->", or NULL. */
static bool marker_name(const char *line, const char *marker, char *out, size_t size)
{
    size_t mlen = strlen(marker);
    if (strncmp(line, marker, mlen) != 0)
        return false;
    const char *end = strstr(line + mlen, " -->");
    if (!end || (size_t)(end - line - mlen) >= size)
        fail_msg("bad marker line: %s", line);
    snprintf(out, size, "%.*s", (int)(end - line - mlen), line + mlen);
    return true;
}

/* Parse `echo '<key><d><value>' | kcat -P -b $BOOTSTRAP -t <topic> -K<d> [-Z]`. */
static void parse_example(struct example *ex, const char *cmd)
{
    static const char head[] = "echo '";
    const char *tail = strstr(cmd, "' | kcat -P -b $BOOTSTRAP -t ");
    if (strncmp(cmd, head, sizeof(head) - 1) != 0 || !tail)
        fail_msg("line %d: example is not `echo '...' | kcat -P -b $BOOTSTRAP -t ...`", ex->line);
    const char *body = cmd + sizeof(head) - 1;
    size_t blen = (size_t)(tail - body);
    if (memchr(body, '\'', blen))
        fail_msg("line %d: a single quote inside the example breaks the shell quoting", ex->line);
    const char *t = tail + strlen("' | kcat -P -b $BOOTSTRAP -t ");
    if (sscanf(t, "%63s", ex->topic) != 1)
        fail_msg("line %d: no topic", ex->line);
    const char *k = strstr(t, " -K");
    if (!k)
        fail_msg("line %d: no -K key delimiter", ex->line);
    char delim = k[3] == '\'' ? k[4] : k[3];
    ex->tombstone_flag = strstr(t, " -Z") != NULL;
    const char *sep = memchr(body, delim, blen);
    if (!sep)
        fail_msg("line %d: no key delimiter '%c' in the message", ex->line, delim);
    ex->key = strndup(body, (size_t)(sep - body));
    ex->value = strndup(sep + 1, blen - (size_t)(sep - body) - 1);
}

/* A "| `name` | ..." table row: append name to fields. */
static void parse_row(struct table *tb, const char *line)
{
    const char *a = line + 3, *b = strchr(a, '`');
    if (!b)
        fail_msg("line %d: bad table row %s", tb->line, line);
    json_array_append_new(tb->fields, json_stringn(a, (size_t)(b - a)));
}

static void load_page(void **state)
{
    (void)state;
    const char *src = getenv("D2EV_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/docs/events.md", src && *src ? src : D2EV_TEST_SOURCE_DIR);
    char *text = read_file(path);
    enum { NONE, WANT_BLOCK, WANT_CMD, IN_TABLE } st = NONE;
    int lineno = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        lineno++;
        char name[64];
        if (marker_name(line, "<!-- example: ", name, sizeof(name))) {
            assert_true(nexamples < MAX_ITEMS);
            snprintf(examples[nexamples].type, sizeof(examples[0].type), "%s", name);
            examples[nexamples].line = lineno;
            st = WANT_BLOCK;
        } else if (marker_name(line, "<!-- fields: ", name, sizeof(name))) {
            assert_true(ntables < MAX_ITEMS);
            snprintf(tables[ntables].name, sizeof(tables[0].name), "%s", name);
            tables[ntables].fields = json_array();
            tables[ntables].line = lineno;
            ntables++;
            st = IN_TABLE;
        } else if (st == WANT_BLOCK) {
            if (strcmp(line, "```sh") != 0)
                fail_msg("line %d: an example marker must be followed by a ```sh block", lineno);
            st = WANT_CMD;
        } else if (st == WANT_CMD) {
            parse_example(&examples[nexamples++], line);
            st = NONE;
        } else if (st == IN_TABLE) {
            if (strncmp(line, "| `", 3) == 0)
                parse_row(&tables[ntables - 1], line);
            else if (line[0] != '|')
                st = NONE; /* strtok skips blank lines: the table ends at the next text */
        }
    }
    free(text);
    assert_true(nexamples > 0 && ntables > 0);
}

static void free_page(void)
{
    for (size_t i = 0; i < nexamples; i++) {
        free(examples[i].key);
        free(examples[i].value);
    }
    for (size_t i = 0; i < ntables; i++)
        json_decref(tables[i].fields);
}

/* ------------------------------------------------------------ examples */

/* The key a message must have on its topic, per topics.h ("vehicle_id",
 * "site_id", "region:kind"): the named fields of value joined with ':'. */
static void expected_key(const char *spec, const json_t *value, char *out, size_t size)
{
    char fields[64];
    snprintf(fields, sizeof(fields), "%s", spec);
    out[0] = '\0';
    for (char *f = strtok(fields, ":"); f; f = strtok(NULL, ":")) {
        const char *v = json_string_value(json_object_get(value, f));
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s", used ? ":" : "", v ? v : "?");
    }
}

static void check_message_example(const struct example *ex)
{
    const struct d2ev_test_codec *c = d2ev_test_codec(ex->type);
    struct d2ev_err err = { 0 };
    if (d2ev_test_decode(ex->type, ex->value, strlen(ex->value), &err) != D2EV_OK)
        fail_msg("line %d: the %s example does not decode: %s", ex->line, ex->type, err.msg);
    if (strcmp(ex->topic, c->topic) != 0)
        fail_msg("line %d: %s goes to %s, not %s", ex->line, ex->type, c->topic, ex->topic);
    const struct d2ev_topic_spec *spec = d2ev_topic_find(ex->topic);
    assert_non_null(spec);
    json_t *value = json_loads(ex->value, 0, NULL);
    char want[160];
    expected_key(spec->key, value, want, sizeof(want));
    if (strcmp(ex->key, want) != 0)
        fail_msg("line %d: %s key is \"%s\", want \"%s\" (%s)", ex->line, ex->type, ex->key, want,
                 spec->key);
    json_decref(value);
}

static void check_tombstone_example(const struct example *ex)
{
    const struct d2ev_topic_spec *spec = d2ev_topic_find(ex->topic);
    if (!spec || !spec->compacted)
        fail_msg("line %d: tombstones only mean something on compacted topics", ex->line);
    if (ex->value[0] || !ex->tombstone_flag)
        fail_msg("line %d: a tombstone has an empty value and needs kcat -Z", ex->line);
    assert_true(ex->key[0] != '\0');
}

/* The dead-letter example must be what d2ev_deadletter_send would write for
 * its payload: the decoder's own error as the reason, base64 matching text. */
static void check_deadletter_example(const struct example *ex)
{
    struct d2ev_envelope env;
    struct d2ev_err err = { 0 };
    json_t *dl = d2ev_envelope_parse(ex->value, strlen(ex->value), "deadletter", &env, &err);
    if (!dl)
        fail_msg("line %d: %s", ex->line, err.msg);
    assert_string_equal(ex->topic, D2EV_TOPIC_DEADLETTER);
    json_t *src = json_object_get(dl, "source");
    const char *topic = json_string_value(json_object_get(src, "topic"));
    const char *b64 = json_string_value(json_object_get(dl, "payload_b64"));
    const char *text = json_string_value(json_object_get(dl, "payload_text"));
    const char *reason = json_string_value(json_object_get(dl, "reason"));
    assert_non_null(json_string_value(json_object_get(dl, "service")));
    assert_true(topic && b64 && text && reason);
    assert_string_equal(ex->key, json_string_value(json_object_get(src, "key")));
    assert_true(json_is_integer(json_object_get(src, "partition")));
    assert_true(json_is_integer(json_object_get(src, "offset")));
    char *bytes = malloc(strlen(b64) + 4);
    size_t n = 0;
    assert_int_equal(d2ev_base64_decode(b64, strlen(b64), bytes, &n), D2EV_OK);
    assert_int_equal(n, strlen(text));
    assert_memory_equal(bytes, text, n);
    free(bytes);
    /* the reason is what the decoder of the source topic says about it */
    const struct d2ev_test_codec *c = NULL;
    for (size_t i = 0; i < d2ev_test_ncodecs; i++) {
        if (strcmp(d2ev_test_codecs[i].topic, topic) == 0)
            c = &d2ev_test_codecs[i];
    }
    assert_non_null(c);
    assert_int_not_equal(d2ev_test_decode(c->type, text, strlen(text), &err), D2EV_OK);
    assert_string_equal(reason, err.msg);
    json_decref(dl);
}

static void test_examples(void **state)
{
    (void)state;
    for (size_t i = 0; i < nexamples; i++) {
        const struct example *ex = &examples[i];
        if (strcmp(ex->type, "tombstone") == 0) {
            check_tombstone_example(ex);
            continue;
        }
        if (strcmp(ex->type, "deadletter") == 0) {
            check_deadletter_example(ex);
            continue;
        }
        check_message_example(ex);
        /* the marker names the type inside the message */
        json_t *v = json_loads(ex->value, 0, NULL);
        assert_string_equal(json_string_value(json_object_get(v, "type")), ex->type);
        json_decref(v);
    }
}

static bool has_example(const char *type)
{
    for (size_t i = 0; i < nexamples; i++) {
        if (strcmp(examples[i].type, type) == 0)
            return true;
    }
    return false;
}

static const struct table *table_of(const char *name)
{
    for (size_t i = 0; i < ntables; i++) {
        if (strcmp(tables[i].name, name) == 0)
            return &tables[i];
    }
    fail_msg("docs/events.md has no field table for %s", name);
    return NULL;
}

static void test_every_type_documented(void **state)
{
    (void)state;
    for (size_t i = 0; i < d2ev_test_ncodecs; i++) {
        if (!has_example(d2ev_test_codecs[i].type))
            fail_msg("docs/events.md has no example for %s", d2ev_test_codecs[i].type);
        table_of(d2ev_test_codecs[i].type);
    }
    assert_true(has_example("tombstone"));
    assert_true(has_example("deadletter"));
}

/* ------------------------------------------------------------ field tables */

static bool in_array(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

static bool is_envelope_key(const char *key)
{
    return !strcmp(key, "type") || !strcmp(key, "v") || !strcmp(key, "id") || !strcmp(key, "ts");
}

/* Every member of `written` (an object) is in the table, and every row of the
 * table is a member of `written` or of one of the `more` objects. */
static void check_table(const char *name, const json_t *written, const json_t *const *more,
                        size_t nmore)
{
    const struct table *tb = table_of(name);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)written, key, v)
    {
        if (!is_envelope_key(key) && !in_array(tb->fields, key))
            fail_msg("docs/events.md line %d: the %s table lacks `%s`", tb->line, name, key);
    }
    size_t i;
    json_array_foreach(tb->fields, i, v)
    {
        const char *f = json_string_value(v);
        bool known = json_object_get(written, f) != NULL;
        for (size_t m = 0; m < nmore && !known; m++)
            known = json_object_get(more[m], f) != NULL;
        if (!known)
            fail_msg("docs/events.md line %d: the %s table lists `%s`, which is not written",
                     tb->line, name, f);
    }
}

/* The payloads of all examples of type, parsed (caller decrefs each). */
static size_t example_values(const char *type, json_t **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < nexamples && n < max; i++) {
        if (strcmp(examples[i].type, type) == 0)
            out[n++] = json_loads(examples[i].value, 0, NULL);
    }
    return n;
}

static void test_field_tables(void **state)
{
    (void)state;
    for (size_t i = 0; i < d2ev_test_ncodecs; i++) {
        const char *type = d2ev_test_codecs[i].type;
        json_t *sample = d2ev_test_sample_json(type), *more[8];
        size_t n = example_values(type, more, 8);
        check_table(type, sample, (const json_t *const *)more, n);
        for (size_t m = 0; m < n; m++)
            json_decref(more[m]);
        json_decref(sample);
    }
    /* the envelope */
    json_t *env = d2ev_envelope_new("x");
    const struct table *tb = table_of("envelope");
    assert_int_equal(json_array_size(tb->fields), json_object_size(env));
    for (size_t i = 0; i < json_array_size(tb->fields); i++)
        assert_non_null(json_object_get(env, json_string_value(json_array_get(tb->fields, i))));
    json_decref(env);
    /* preferences and schedule windows */
    struct d2ev_prefs p;
    d2ev_test_sample_prefs(&p);
    json_t *prefs = d2ev_prefs_to_json(&p);
    check_table("prefs", prefs, NULL, 0);
    json_decref(prefs);
    json_t *sched = d2ev_test_sample_json("schedule");
    check_table("window", json_array_get(json_object_get(sched, "windows"), 0), NULL, 0);
    json_decref(sched);
    /* dead letters: the example, plus the flag it has no reason to carry */
    json_t *dl[2];
    assert_int_equal(example_values("deadletter", dl, 1), 1);
    dl[1] = json_pack("{s:b}", "tombstone", 1);
    check_table("deadletter", dl[0], (const json_t *const *)&dl[1], 1);
    json_decref(dl[0]);
    json_decref(dl[1]);
}

static int setup(void **state)
{
    load_page(state);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free_page();
    return 0;
}

int main(void)
{
    d2ev_clock_set_manual(D2EV_TEST_T0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_every_type_documented),
        cmocka_unit_test(test_field_tables),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
