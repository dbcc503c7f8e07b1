/* d2ev-devbroker: parses flags and environment, then runs the devbroker. */
#include "devbroker.h"

int main(int argc, char **argv)
{
    return d2ev_service_main(&d2ev_devbroker_def, argc, argv);
}
