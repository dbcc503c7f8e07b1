/* d2ev-dispatch: parses flags and environment, then runs the service. */
#include "dispatch.h"

int main(int argc, char **argv)
{
    return d2ev_service_main(&d2ev_dispatch_def, argc, argv);
}
