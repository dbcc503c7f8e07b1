/*
 * d2ev-oem: run one OEM adapter operation from the command line, without
 * Kafka, and print the normalised result as JSON (see docs/adapters.md).
 *
 *   d2ev-oem --adapter=tesla --op=read --vehicle=1492931520123456 \
 *            --base-url=http://127.0.0.1:8090/tesla --token=...
 */
#ifndef D2EV_OEMTOOL_H
#define D2EV_OEMTOOL_H

#include <stdio.h>

/* Parse argv and the environment, run the operation, print the outcome to
 * out (stdout when NULL) and errors to stderr. Returns the exit status: 0
 * when the operation succeeded, 1 when it failed (the JSON names the error
 * class), 64 on a usage or configuration error. */
int d2ev_oemtool_main(int argc, char **argv, FILE *out);

#endif
