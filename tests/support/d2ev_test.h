/*
 * Test support for d2ev integration tests: start real binaries, talk HTTP to
 * them, read topics, and wait for conditions without blind sleeps.
 *
 * Every helper fails the current cmocka test (via fail_msg) on setup errors,
 * so tests read as straight-line scripts.
 */
#ifndef D2EV_TEST_H
#define D2EV_TEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <sys/types.h>
#include <cmocka.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "d2ev/proc.h"

/* A child process started by d2ev_test_spawn (see d2ev/proc.h). */
#define d2ev_test_proc d2ev_proc

/* Make a fresh temp directory for this test; returns a static path. */
const char *d2ev_test_tmpdir(const char *tag);

/* Path of a built binary, e.g. d2ev_test_bin("d2ev-devbroker"). Static buffer. */
const char *d2ev_test_bin(const char *name);

/* Start bin with argv (NULL-terminated, argv[0] not included) and extra
 * environment "K=V" entries (NULL-terminated, may be NULL). Output goes to
 * <tmpdir>/<name>.log. */
void d2ev_test_spawn(struct d2ev_test_proc *p, const char *tmpdir, const char *name,
                     const char *bin, const char *const *argv, const char *const *env);

/* Send sig and wait up to timeout_ms for exit. Returns the exit status
 * (0..255), 128+signal if killed by a signal, or -1 if it did not exit (it is
 * then SIGKILLed). */
int d2ev_test_stop(struct d2ev_test_proc *p, int sig, int timeout_ms);

/* True while the process runs. */
bool d2ev_test_alive(struct d2ev_test_proc *p);

/* Poll cond(arg) every 20 ms until true or timeout_ms passes. */
bool d2ev_test_wait(bool (*cond)(void *arg), void *arg, int timeout_ms);

/* Wait until file exists and is non-empty; returns its first line (static). */
const char *d2ev_test_wait_file(const char *path, int timeout_ms);

/* HTTP with libcurl. Returns the status (or -1 on transport error); the body
 * is malloc'd into *body (caller frees) if body is not NULL. headers is a
 * NULL-terminated list of "Name: value" lines or NULL. */
long d2ev_test_http(const char *method, const char *url, const char *const *headers,
                    const char *req_body, size_t req_len, char **body);

/* Wait until GET url answers with status want. */
bool d2ev_test_wait_http(const char *url, long want, int timeout_ms);

/* A free TCP port on 127.0.0.1 (bind to 0 and release). */
int d2ev_test_free_port(void);

/* The devbroker fixture: starts d2ev-devbroker with `partitions` partitions
 * in tmpdir and returns its bootstrap address (static until stopped). */
struct d2ev_test_broker {
    struct d2ev_test_proc proc;
    char bootstrap[128];
    int control_port;
};
void d2ev_test_broker_start(struct d2ev_test_broker *b, const char *tmpdir, int partitions);
void d2ev_test_broker_stop(struct d2ev_test_broker *b);

/* Read every message currently in topic (all partitions, from the beginning,
 * until the end of each partition), waiting until at least min_count exist or
 * timeout_ms passes. Returns a JSON array of objects
 * {"key","partition","offset","value"(parsed JSON or null),"raw"(string)}.
 * The caller json_decref()s it. */
json_t *d2ev_test_read_topic(const char *bootstrap, const char *topic, size_t min_count,
                             int timeout_ms);

/* Produce one message (value NULL = tombstone) and wait for delivery. */
void d2ev_test_produce(const char *bootstrap, const char *topic, const char *key,
                       const char *value);

/* Sum over partitions of the offsets `group` has committed on `topic`
 * (-1 for a partition counts as 0). */
int64_t d2ev_test_committed(const char *bootstrap, const char *group, const char *topic);

/* Count lines in a file containing needle. */
size_t d2ev_test_grep_count(const char *path, const char *needle);

#endif
