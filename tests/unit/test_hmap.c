/* Unit tests for the intrusive hash map (d2ev/hmap.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/hmap.h"

struct item {
    struct d2ev_hnode node;
    char key[24];
    int value;
};

static struct item *item_new(int i)
{
    struct item *it = calloc(1, sizeof(*it));
    snprintf(it->key, sizeof(it->key), "v-%d", i);
    it->node.key = it->key;
    it->node.klen = strlen(it->key);
    it->value = i;
    return it;
}

static struct item *find(struct d2ev_hmap *m, int i)
{
    char key[24];
    snprintf(key, sizeof(key), "v-%d", i);
    struct d2ev_hnode *n = d2ev_hmap_find(m, key, strlen(key));
    return n ? D2EV_HMAP_ENTRY(n, struct item, node) : NULL;
}

static void count_all(struct d2ev_hnode *n, void *arg)
{
    (*(int *)arg)++;
}

struct each_arg {
    struct d2ev_hmap *m;
    int visited;
};

static void remove_odd(struct d2ev_hnode *n, void *arg)
{
    struct each_arg *a = arg;
    struct item *it = D2EV_HMAP_ENTRY(n, struct item, node);
    a->visited++;
    if (it->value % 2) {
        d2ev_hmap_remove(a->m, n);
        free(it);
    }
}

static void free_all(struct d2ev_hnode *n, void *arg)
{
    struct each_arg *a = arg;
    d2ev_hmap_remove(a->m, n);
    free(D2EV_HMAP_ENTRY(n, struct item, node));
}

static void test_insert_find_remove_grow(void **state)
{
    struct d2ev_hmap m;
    d2ev_hmap_init(&m);
    assert_null(d2ev_hmap_find(&m, "x", 1)); /* empty map, no buckets */
    for (int i = 0; i < 5000; i++)
        assert_int_equal(d2ev_hmap_insert(&m, &item_new(i)->node), 0);
    assert_int_equal(m.count, 5000);
    assert_true(m.nbuckets >= 5000); /* grew, load factor <= 3/4 */
    for (int i = 0; i < 5000; i++) {
        struct item *it = find(&m, i);
        assert_non_null(it);
        assert_int_equal(it->value, i);
    }
    assert_null(find(&m, 5000));
    /* keys are byte strings: a prefix is another key */
    assert_null(d2ev_hmap_find(&m, "v-1", 2));

    int seen = 0;
    d2ev_hmap_each(&m, count_all, &seen);
    assert_int_equal(seen, 5000);

    struct each_arg a = { &m, 0 };
    d2ev_hmap_each(&m, remove_odd, &a);
    assert_int_equal(a.visited, 5000); /* removing while iterating skips nothing */
    assert_int_equal(m.count, 2500);
    assert_null(find(&m, 7));
    assert_non_null(find(&m, 8));

    d2ev_hmap_each(&m, free_all, &a);
    assert_int_equal(m.count, 0);
    d2ev_hmap_clear(&m);
    assert_null(d2ev_hmap_find(&m, "v-8", 3));
}

static void test_seeds_differ(void **state)
{
    struct d2ev_hmap a, b;
    d2ev_hmap_init(&a);
    d2ev_hmap_init(&b);
    assert_int_not_equal(a.seed, b.seed); /* outside keys cannot target one chain layout */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_find_remove_grow),
        cmocka_unit_test(test_seeds_differ),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
