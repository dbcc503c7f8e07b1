/* d2ev-demo: parses flags and environment, then runs the demo. */
#include "demo_main.h"

int main(int argc, char **argv)
{
    return d2ev_service_main(&d2ev_demo_def, argc, argv);
}
