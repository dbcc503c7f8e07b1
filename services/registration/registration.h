/* registration.h: d2ev-registration, the single writer of vehicle records and
 * credentials (see registration.c and docs/registration.md). */
#ifndef D2EV_REGISTRATION_H
#define D2EV_REGISTRATION_H

#include "d2ev/service.h"

extern const struct d2ev_service_def d2ev_registration_def;

#endif
