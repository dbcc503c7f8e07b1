/* Unit tests for the shared intrusive hash table (common/htab.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "d2ev/htab.h"

struct item {
    struct d2ev_htab_node node;
    char id[16];
    int n;
};

static void test_insert_find_remove_and_iterate(void **state)
{
    struct d2ev_htab t = { 0 };
    enum { N = 5000 };
    struct item *items = calloc(N, sizeof(*items));
    for (int i = 0; i < N; i++) {
        snprintf(items[i].id, sizeof(items[i].id), "v-%d", i);
        items[i].n = i;
        items[i].node.key = items[i].id;
        items[i].node.klen = strlen(items[i].id);
        assert_int_equal(d2ev_htab_insert(&t, &items[i].node), 0);
    }
    assert_int_equal(t.count, N);
    struct d2ev_htab_node *n = d2ev_htab_find(&t, "v-4321", 6);
    assert_non_null(n);
    assert_int_equal(D2EV_HTAB_ENTRY(n, struct item, node)->n, 4321);
    assert_null(d2ev_htab_find(&t, "v-43210", 7));

    /* iterate, removing every even item as we go: each node seen once */
    int seen = 0;
    char *mark = calloc(N, 1);
    struct d2ev_htab_iter it;
    for (n = d2ev_htab_first(&t, &it); n; n = d2ev_htab_next(&t, &it)) {
        struct item *x = D2EV_HTAB_ENTRY(n, struct item, node);
        assert_int_equal(mark[x->n], 0);
        mark[x->n] = 1;
        seen++;
        if (x->n % 2 == 0)
            d2ev_htab_remove(&t, n);
    }
    assert_int_equal(seen, N);
    assert_int_equal(t.count, N / 2);
    assert_null(d2ev_htab_find(&t, "v-10", 4));
    assert_non_null(d2ev_htab_find(&t, "v-11", 4));
    seen = 0;
    for (n = d2ev_htab_first(&t, &it); n; n = d2ev_htab_next(&t, &it))
        seen++;
    assert_int_equal(seen, N / 2);
    /* an empty table iterates nothing */
    struct d2ev_htab empty = { 0 };
    assert_null(d2ev_htab_first(&empty, &it));
    d2ev_htab_free(&t);
    free(mark);
    free(items);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_find_remove_and_iterate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
