/* d2ev-exporter: the analytics export, or `report` (see services/exporter/exporter.h). */
#include "exporter.h"

int main(int argc, char **argv)
{
    return d2ev_exporter_main(argc, argv);
}
