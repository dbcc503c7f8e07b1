/* demo_main.h: the d2ev-demo command (see demo_main.c). */
#ifndef D2EV_DEMO_MAIN_H
#define D2EV_DEMO_MAIN_H

#include "d2ev/service.h"

extern const struct d2ev_service_def d2ev_demo_def;

#endif
