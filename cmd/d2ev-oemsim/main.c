/* d2ev-oemsim: parses flags and environment, then runs the OEM simulator. */
#include "oemsim.h"

int main(int argc, char **argv)
{
    return d2ev_service_main(&d2ev_oemsim_def, argc, argv);
}
