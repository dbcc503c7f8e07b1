/*
 * JSON views of the ops API: events as the API shows them, listing rows and
 * the fleet summary. Shapes are documented in docs/api.md and openapi.json.
 *
 * An event view is the event's payload fields plus "event_id" and
 * "event_ts" (the envelope's id and ts); the envelope's type and v are left
 * out. Functions returning json_t * return a new reference (NULL on
 * allocation failure or when the value cannot be encoded); the caller
 * json_decref()s it. Text is appended to a caller-owned strbuf.
 */
#ifndef D2EV_API_RENDER_H
#define D2EV_API_RENDER_H

#include <jansson.h>

#include "d2ev/envelope.h"
#include "d2ev/events.h"
#include "d2ev/strbuf.h"

#include "api_model.h"

/* Turn an encoded event (stolen) into its view, with env's id and ts. */
json_t *d2ev_api_view(json_t *encoded, const struct d2ev_envelope *env);

/* The schedule view: the event view plus "savings"
 * {"cost", "carbon_g", "cost_pct", "carbon_pct"} against the baseline
 * (percentages null when the baseline is 0). */
json_t *d2ev_api_view_schedule(const struct d2ev_schedule *s);

/* Serialise a view compactly (15 significant digits) into a malloc'd string;
 * steals v. NULL on failure. */
char *d2ev_api_view_dump(json_t *v, size_t *len);

/* One listing row as a JSON object. */
void d2ev_api_render_row(struct d2ev_strbuf *sb, const struct d2ev_api_row *r);

/* The fleet summary; alerts_json is the JSON array of recent alerts. */
void d2ev_api_render_fleet(struct d2ev_strbuf *sb, const struct d2ev_api_fleet *f,
                           const char *alerts_json, size_t alerts_len);

#endif
