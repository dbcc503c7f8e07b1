/*
 * libFuzzer harness for one event decoder, compiled once per message type
 * (see CMakeLists.txt): FUZZ_T is the struct, FUZZ_DECODE/FUZZ_ENCODE/FUZZ_CLEAR
 * its functions. Properties checked on every input:
 *   - decoding never crashes, leaks or trips a sanitizer;
 *   - a failed decode always says why (err.msg non-empty, valid UTF-8);
 *   - whatever decodes re-encodes, and the re-encoding decodes again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/events.h"
#include "d2ev/strbuf.h"

#ifndef FUZZ_CLEAR
#define FUZZ_CLEAR(x) ((void)(x))
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct FUZZ_T v;
    struct d2ev_err err = { 0 };
    if (FUZZ_DECODE(data, size, &v, &err) != D2EV_OK) {
        if (err.msg[0] == '\0' || !d2ev_utf8_valid(err.msg, strlen(err.msg)))
            abort(); /* every rejection must say why, in valid UTF-8 */
        FUZZ_CLEAR(&v);
        return 0;
    }
    json_t *j = FUZZ_ENCODE(&v);
    if (j) {
        char *text = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        struct FUZZ_T again;
        if (!text || FUZZ_DECODE(text, strlen(text), &again, &err) != D2EV_OK)
            abort(); /* an accepted message must survive a round trip */
        FUZZ_CLEAR(&again);
        free(text);
    }
    FUZZ_CLEAR(&v);
    return 0;
}
