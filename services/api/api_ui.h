/*
 * The ops API's HTML views, rendered on the server: plain HTML with inline
 * SVG charts and inline CSS, no scripts, no external assets.
 *
 *   vehicle page  price and carbon curves, the charge windows, the planned
 *                 SoC line, the ready-by time and the target SoC
 *   fleet page    counts by state, savings against the baseline, recent
 *                 alerts and a page of vehicles
 *
 * Every string from the model is HTML-escaped. Times are shown in UTC.
 * Output is appended to a caller-owned strbuf.
 */
#ifndef D2EV_API_UI_H
#define D2EV_API_UI_H

#include <stddef.h>
#include <stdint.h>

#include "d2ev/strbuf.h"

#include "api_model.h"

/* The chart alone: <svg id="schedule-chart" ...>. */
void d2ev_api_svg_schedule(struct d2ev_strbuf *sb, const struct d2ev_api_snapshot *s, int64_t now);

/* The whole vehicle page. */
void d2ev_api_ui_vehicle(struct d2ev_strbuf *sb, const struct d2ev_api_snapshot *s, int64_t now);

/* The whole fleet page. next_href is the link to the next page of vehicles
 * (already a safe relative URL), or NULL. */
void d2ev_api_ui_fleet(struct d2ev_strbuf *sb, const struct d2ev_api_fleet *f,
                       const char *alerts_json, const struct d2ev_api_row *rows, size_t n,
                       const char *next_href, int64_t now);

/* A small error page. */
void d2ev_api_ui_error(struct d2ev_strbuf *sb, int status, const char *code, const char *message);

#endif
