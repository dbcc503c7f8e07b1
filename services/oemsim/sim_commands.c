/*
 * sim_commands.c: what happens when a command reaches a car: the ignore
 * faults, applying it (at once or after the configured delay), and the
 * per-vehicle command log that /_sim/vehicles/{id}/commands shows.
 */
#include <stdlib.h>

#include "sim.h"

void sim_log_command(struct oemsim *sim, uint32_t idx, enum sim_oem oem, enum sim_cmd cmd,
                     enum sim_result res, enum sim_reason why, int64_t now)
{
    struct sim_vehicle *v = &sim->fleet.v[idx];
    sim_count(&sim->stats.commands[oem][res]);
    if (!v->log && !(v->log = calloc(1, sizeof(*v->log))))
        return; /* the log is best effort; the command itself is unaffected */
    struct sim_cmdlog_entry *e = &v->log->e[v->log->total % SIM_CMDLOG_SIZE];
    *e = (struct sim_cmdlog_entry){
        .at_ms = now,
        .oem = (uint8_t)oem,
        .cmd = (uint8_t)cmd,
        .result = (uint8_t)res,
        .reason = (uint8_t)why,
    };
    v->log->total++;
}

/* Is a command that reached the car ignored (its flag, or the rate fault)? */
static enum sim_reason ignore_reason(struct sim_req *r, const struct sim_vehicle *v)
{
    if (v->flags & SIM_F_IGNORE)
        return SIM_WHY_IGNORE_FLAG;
    if (r->faults.ignore_rate > 0 && sim_rand_unit() < r->faults.ignore_rate)
        return SIM_WHY_IGNORE_RATE;
    return SIM_WHY_NONE;
}

enum sim_result sim_deliver(struct sim_req *r, struct sim_vehicle *v, enum sim_cmd cmd,
                            int64_t delay_ms)
{
    uint32_t idx = (uint32_t)r->idx;
    enum sim_reason why = ignore_reason(r, v);
    if (why != SIM_WHY_NONE) {
        sim_log_command(r->sim, idx, r->oem, cmd, SIM_RES_IGNORED, why, r->now);
        return SIM_RES_IGNORED;
    }
    sim_vehicle_schedule(v, cmd, r->now + (delay_ms > 0 ? delay_ms : 0), r->now);
    sim_log_command(r->sim, idx, r->oem, cmd, SIM_RES_APPLIED,
                    (v->flags & SIM_F_PLUGGED) ? SIM_WHY_NONE : SIM_WHY_DISCONNECTED, r->now);
    return SIM_RES_APPLIED;
}
