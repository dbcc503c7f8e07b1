/*
 * d2ev-api: the operations HTTP API and schedule views.
 *
 * Reads every input topic in full into a read model (api_model.h), serves it
 * over HTTP with bearer tokens and roles (api_http.h, api_auth.h), renders the
 * HTML views (api_ui.h), and turns operator writes into events for the
 * services that own them. docs/api.md is the user's guide.
 */
#ifndef D2EV_API_H
#define D2EV_API_H

#include "d2ev/service.h"

extern const struct d2ev_service_def d2ev_api_def;

#endif
