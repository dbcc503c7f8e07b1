/*
 * Opaque pagination cursors. A cursor is the hex form of "<kind>:<position>"
 * (kind v: the vehicle listing, after a vehicle id; kind s: a history, before
 * a sequence number), so it is URL-safe, and a cursor of one listing is
 * refused by another. Clients must treat it as opaque.
 */
#ifndef D2EV_API_CURSOR_H
#define D2EV_API_CURSOR_H

#include <stdint.h>

#include "d2ev/events.h"

#define D2EV_API_CURSOR_MAX (2 * (2 + D2EV_VEHICLE_ID_MAX) + 1)

/* Write the cursor into out[D2EV_API_CURSOR_MAX]; returns out. */
char *d2ev_api_cursor_after_id(char *out, const char *id);
char *d2ev_api_cursor_before_seq(char *out, uint64_t seq);

/* Read a cursor back; 0, or D2EV_ERR_INVALID when c is not a cursor of this
 * kind. id receives a NUL-terminated vehicle id. */
int d2ev_api_cursor_parse_id(const char *c, char id[D2EV_VEHICLE_ID_MAX + 1]);
int d2ev_api_cursor_parse_seq(const char *c, uint64_t *seq);

#endif
