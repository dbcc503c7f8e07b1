/*
 * Service skeletons: services whose real logic has not landed yet. Each one
 * starts, joins its consumer group on its input topics, validates the envelope
 * of every message (dead-lettering what fails), serves its admin endpoints and
 * shuts down cleanly. A service moves out of here when it is implemented.
 */
#ifndef D2EV_SKELETONS_H
#define D2EV_SKELETONS_H

#include "d2ev/service.h"

extern const struct d2ev_service_def d2ev_bridge_def;
extern const struct d2ev_service_def d2ev_registration_def;

#endif
