/* stats.c: per-file row statistics and a string set (see stats.h). */
#include "stats.h"

#include <stdlib.h>
#include <string.h>

#include "d2ev/json.h"
#include "d2ev/timefmt.h"

struct str_node {
    struct d2ev_htab_node node;
    char s[]; /* NUL-terminated */
};

int exp_strset_add(struct exp_strset *set, const char *s, size_t len)
{
    if (d2ev_htab_find(&set->tab, s, len))
        return D2EV_OK;
    struct str_node *n = malloc(sizeof(*n) + len + 1);
    if (!n)
        return D2EV_ERR_NOMEM;
    memcpy(n->s, s, len);
    n->s[len] = '\0';
    n->node.key = n->s;
    n->node.klen = len;
    if (d2ev_htab_insert(&set->tab, &n->node) != 0) {
        free(n);
        return D2EV_ERR_NOMEM;
    }
    return D2EV_OK;
}

bool exp_strset_has(const struct exp_strset *set, const char *s, size_t len)
{
    return d2ev_htab_find(&set->tab, s, len) != NULL;
}

size_t exp_strset_count(const struct exp_strset *set)
{
    return set->tab.count;
}

struct collect {
    const char **v;
    size_t n;
};

static void collect_one(struct d2ev_htab_node *n, void *arg)
{
    struct collect *c = arg;
    c->v[c->n++] = D2EV_HTAB_ENTRY(n, struct str_node, node)->s;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *exp_strset_json(const struct exp_strset *set)
{
    json_t *arr = json_array();
    struct collect c = { calloc(set->tab.count + 1, sizeof(char *)), 0 };
    if (!arr || !c.v) {
        json_decref(arr);
        free(c.v);
        return NULL;
    }
    d2ev_htab_each((struct d2ev_htab *)&set->tab, collect_one, &c);
    qsort(c.v, c.n, sizeof(*c.v), cmp_str);
    for (size_t i = 0; i < c.n; i++) {
        if (json_array_append_new(arr, json_string(c.v[i])) != 0) {
            json_decref(arr);
            arr = NULL;
            break;
        }
    }
    free(c.v);
    return arr;
}

static void free_one(struct d2ev_htab_node *n, void *arg)
{
    (void)arg;
    free(D2EV_HTAB_ENTRY(n, struct str_node, node));
}

void exp_strset_clear(struct exp_strset *set)
{
    d2ev_htab_each(&set->tab, free_one, NULL);
    d2ev_htab_free(&set->tab);
}

void exp_stats_init(struct exp_stats *s)
{
    memset(s, 0, sizeof(*s));
    s->min_ts = INT64_MAX;
    s->max_ts = INT64_MIN;
}

int exp_stats_add(struct exp_stats *s, const char *type, const char *vehicle_id, int64_t ts,
                  size_t raw_len)
{
    s->rows++;
    s->raw_bytes += raw_len;
    s->min_ts = ts < s->min_ts ? ts : s->min_ts;
    s->max_ts = ts > s->max_ts ? ts : s->max_ts;
    size_t i = 0;
    for (; i < s->ntypes && strcmp(s->types[i].name, type) != 0; i++)
        ;
    if (i == s->ntypes) {
        if (s->ntypes >= EXP_STATS_TYPES - 1)
            type = "other";
        for (i = 0; i < s->ntypes && strcmp(s->types[i].name, type) != 0; i++)
            ;
        if (i == s->ntypes) {
            snprintf(s->types[i].name, sizeof(s->types[i].name), "%s", type);
            s->ntypes++;
        }
    }
    s->types[i].count++;
    if (vehicle_id && *vehicle_id)
        return exp_strset_add(&s->vehicles, vehicle_id, strlen(vehicle_id));
    return D2EV_OK;
}

int exp_stats_add_line(struct exp_stats *s, const char *line, size_t len, struct d2ev_err *err)
{
    json_error_t je;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    const char *type = json_string_value(json_object_get(o, "type"));
    const char *vid = json_string_value(json_object_get(o, "vehicle_id"));
    const char *ts = json_string_value(json_object_get(o, "ts"));
    int64_t t = 0;
    if (!json_is_object(o) || !type || !ts || d2ev_time_parse(ts, &t, NULL) != D2EV_OK) {
        json_decref(o);
        return d2ev_err_set(err, D2EV_ERR_INVALID, "not an exported row (type and ts required)");
    }
    int rc = exp_stats_add(s, type, vid, t, len + 1);
    json_decref(o);
    if (rc)
        d2ev_err_set(err, rc, "out of memory");
    return rc;
}

void exp_stats_clear(struct exp_stats *s)
{
    exp_strset_clear(&s->vehicles);
    exp_stats_init(s);
}

json_t *exp_stats_entry(const struct exp_stats *s, const char *file, const struct exp_file_id *id,
                        uint64_t bytes)
{
    json_t *types = json_object();
    json_t *vehicles = exp_strset_json(&s->vehicles);
    json_t *o = json_object();
    if (!types || !vehicles || !o) {
        json_decref(types);
        json_decref(vehicles);
        json_decref(o);
        return NULL;
    }
    for (size_t i = 0; i < s->ntypes; i++)
        json_object_set_new(types, s->types[i].name, json_integer((json_int_t)s->types[i].count));
    json_object_set_new(o, "file", json_string(file));
    json_object_set_new(o, "topic", json_string(id->topic));
    json_object_set_new(o, "partition", json_integer(id->partition));
    json_object_set_new(o, "first_offset", json_integer(id->first));
    json_object_set_new(o, "last_offset", json_integer(id->last));
    json_object_set_new(o, "rows", json_integer((json_int_t)s->rows));
    json_object_set_new(o, "bytes", json_integer((json_int_t)bytes));
    json_object_set_new(o, "raw_bytes", json_integer((json_int_t)s->raw_bytes));
    if (s->rows) {
        d2ev_json_set_time(o, "min_ts", s->min_ts);
        d2ev_json_set_time(o, "max_ts", s->max_ts);
    } else {
        json_object_set_new(o, "min_ts", json_null());
        json_object_set_new(o, "max_ts", json_null());
    }
    json_object_set_new(o, "vehicles", vehicles);
    json_object_set_new(o, "types", types);
    return o;
}
