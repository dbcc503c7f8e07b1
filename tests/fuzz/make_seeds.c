/*
 * Writes seed corpora for the event harnesses: each type's valid sample plus a
 * few hostile inputs. Run once (it is not a test); the files are checked in.
 *   make_seeds <tests/fuzz/corpus>
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "d2ev_test_events.h"

static void put(const char *dir, const char *name, const char *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fwrite(data, 1, len, f);
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <corpus-dir>\n", argv[0]);
        return 64;
    }
    static const char *names[][2] = {
        { "vehicle", "vehicle" },
        { "credentials", "credentials" },
        { "registration.request", "reg_request" },
        { "registration.result", "reg_result" },
        { "telemetry", "telemetry" },
        { "session", "session" },
        { "forecast", "forecast" },
        { "capacity", "capacity" },
        { "schedule", "schedule" },
        { "dispatch", "dispatch" },
        { "notification", "notification" },
        { "control", "control" },
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/event_%s", argv[1], names[i][1]);
        if (mkdir(dir, 0755) && errno != EEXIST) {
            perror(dir);
            return 1;
        }
        json_t *j = d2ev_test_sample_json(names[i][0]);
        char *text = d2ev_test_dump(j);
        put(dir, "sample.json", text, strlen(text));
        /* the same with one byte made invalid UTF-8 in the middle */
        size_t n = strlen(text);
        text[n / 2] = (char)0xff;
        put(dir, "bad-utf8.json", text, n);
        free(text);
        json_decref(j);
        put(dir, "empty.json", "{}", 2);
        put(dir, "deep.json", "{\"a\":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}", 46);
    }
    return 0;
}
