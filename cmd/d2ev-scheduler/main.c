/* d2ev-scheduler: parses flags and environment, then runs the scheduler. */
#include "scheduler.h"

int main(int argc, char **argv)
{
    return d2ev_service_main(&d2ev_scheduler_def, argc, argv);
}
