/*
 * sim_fleet.c: the simulated fleet. Vehicles are drawn from the seed, one
 * independent generator per vehicle index, so the same seed and OEM mix give
 * the same fleet whatever else changes. Ids are looked up through an
 * open-addressing table built once (read without locks afterwards).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/util.h"
#include "sim.h"

static const char *const oem_names[SIM_OEM_COUNT] = { "smartcar", "tesla", "enode" };

const char *sim_oem_name(enum sim_oem oem)
{
    return (unsigned)oem < SIM_OEM_COUNT ? oem_names[oem] : "unknown";
}

int sim_oem_parse(const char *s)
{
    for (int i = 0; s && i < SIM_OEM_COUNT; i++)
        if (!strcmp(s, oem_names[i]))
            return i;
    return -1;
}

uint64_t sim_hash(uint64_t seed, uint64_t a, uint64_t b)
{
    uint64_t s = seed ^ (a * 0x9e3779b97f4a7c15ULL);
    uint64_t h = d2ev_rand_next(&s);
    s ^= b * 0xc2b2ae3d27d4eb4fULL;
    return h ^ d2ev_rand_next(&s);
}

bool sim_share_picks(uint64_t seed, uint32_t idx, uint64_t salt, double share)
{
    if (share <= 0)
        return false;
    if (share >= 1)
        return true;
    return (double)(sim_hash(seed, idx, salt) >> 11) < share * 9007199254740992.0;
}

/* ------------------------------------------------------------ models */

struct model {
    float capacity_kwh;
    float onboard_kw; /* AC on-board charger */
    uint8_t wh_per_km;
};

static const struct model generic_models[] = {
    { 40.0f, 6.6f, 150 },  { 45.0f, 7.4f, 155 },  { 52.0f, 11.0f, 160 },
    { 58.0f, 11.0f, 165 }, { 64.0f, 11.0f, 165 }, { 77.0f, 11.0f, 180 },
    { 82.0f, 11.0f, 175 }, { 90.0f, 22.0f, 200 }, { 100.0f, 22.0f, 210 },
};
static const struct model tesla_models[] = {
    { 57.5f, 11.0f, 145 },
    { 75.0f, 11.0f, 155 },
    { 82.0f, 11.0f, 160 },
    { 100.0f, 16.5f, 190 },
};

/* Home wallboxes: power and cumulative share (%). */
static const struct {
    float kw;
    unsigned cum_pct;
} wallboxes[] = { { 3.7f, 10 }, { 7.4f, 65 }, { 11.0f, 95 }, { 22.0f, 100 } };

static const struct {
    uint8_t limit;
    unsigned cum_pct;
} limits[] = { { 70, 10 }, { 80, 55 }, { 90, 80 }, { 100, 100 } };

static const char *const vendors[] = { "VOLKSWAGEN", "BMW",     "AUDI",  "SKODA",    "KIA",
                                       "HYUNDAI",    "RENAULT", "VOLVO", "POLESTAR", "NISSAN",
                                       "MERCEDES",   "PEUGEOT", "FORD" };

#define NELEM(a)     (sizeof(a) / sizeof((a)[0]))
#define SALT_VEHICLE 0x7e41c1eULL
#define SALT_USER    0x05e7ULL
#define SALT_VENDOR  0x7e4d0ULL
#define SALT_VIN     0x0f14ULL

int sim_parse_mix(const char *text, double weights[SIM_OEM_COUNT], struct d2ev_err *err)
{
    for (int i = 0; i < SIM_OEM_COUNT; i++)
        weights[i] = 0;
    if (!text || !*text)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "oem-mix: empty");
    char buf[256];
    if (!d2ev_strlcpy(buf, text, sizeof(buf)))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "oem-mix: too long");
    double total = 0;
    char *save = NULL;
    for (char *part = strtok_r(buf, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(part, '=');
        if (!eq)
            return d2ev_err_set(err, D2EV_ERR_INVALID,
                                "oem-mix: want oem=weight[,oem=weight], got '%.40s'", part);
        *eq = '\0';
        int oem = sim_oem_parse(part);
        if (oem < 0)
            return d2ev_err_set(err, D2EV_ERR_INVALID,
                                "oem-mix: unknown OEM '%.32s' (smartcar, tesla or enode)", part);
        char *end;
        errno = 0;
        double w = strtod(eq + 1, &end);
        if (errno || end == eq + 1 || *end || !(w >= 0 && w <= 1e6))
            return d2ev_err_set(err, D2EV_ERR_INVALID,
                                "oem-mix: weight of %s must be a number between 0 and 1000000",
                                part);
        weights[oem] = w;
        total += w;
    }
    if (total <= 0)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "oem-mix: the weights add up to 0");
    return D2EV_OK;
}

/* ------------------------------------------------------------ ids */

int sim_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool sim_uuid_parse(const char *s, uint8_t out[16])
{
    if (!d2ev_uuid_valid(s))
        return false;
    int n = 0;
    for (const char *c = s; *c && n < 32; c++) {
        if (*c == '-')
            continue;
        int h = sim_hexval(*c);
        if (n % 2 == 0)
            out[n / 2] = (uint8_t)(h << 4);
        else
            out[n / 2] |= (uint8_t)h;
        n++;
    }
    return n == 32;
}

static bool parse_tesla_id(const char *s, uint64_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 19 || s[0] == '0')
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

static uint64_t tesla_id(const struct sim_vehicle *v)
{
    uint64_t id;
    memcpy(&id, v->id, sizeof(id));
    return id;
}

void sim_vehicle_id_text(const struct sim_vehicle *v, char out[40])
{
    if (v->oem == SIM_TESLA)
        snprintf(out, 40, "%llu", (unsigned long long)tesla_id(v));
    else
        d2ev_uuid_format(v->id, out);
}

void sim_vehicle_vin(const struct sim_params *p, uint32_t idx, char out[18])
{
    static const char *const wmi[] = { "5YJ3E7EB", "5YJYGDEE", "LRW3E7EK", "XP7YGCEK" };
    static const char year_codes[] = "NPRS"; /* 2022..2025 */
    uint64_t h = sim_hash(p->seed, idx, SALT_VIN);
    snprintf(out, 18, "%s%c%cF%06u", wmi[h % NELEM(wmi)], (char)('0' + (h >> 8) % 10),
             year_codes[(h >> 16) % 4], (unsigned)((h >> 24) % 1000000));
}

void sim_vehicle_user_id(const struct sim_params *p, uint32_t idx, char out[37])
{
    uint8_t b[16];
    uint64_t a = sim_hash(p->seed, idx, SALT_USER), c = sim_hash(p->seed, idx, SALT_USER + 1);
    memcpy(b, &a, 8);
    memcpy(b + 8, &c, 8);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    d2ev_uuid_format(b, out);
}

const char *sim_vehicle_vendor(const struct sim_params *p, uint32_t idx)
{
    return vendors[sim_hash(p->seed, idx, SALT_VENDOR) % NELEM(vendors)];
}

/* ------------------------------------------------------------ lookup */

static uint64_t key_hash(uint8_t oem, const uint8_t id[16])
{
    uint64_t a, b;
    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
    return sim_hash(oem, a, b);
}

static int64_t table_find(const struct sim_fleet *f, uint8_t oem, const uint8_t id[16])
{
    for (uint64_t i = key_hash(oem, id) & f->table_mask;; i = (i + 1) & f->table_mask) {
        uint32_t e = f->table[i];
        if (!e)
            return -1;
        const struct sim_vehicle *v = &f->v[e - 1];
        if (v->oem == oem && !memcmp(v->id, id, 16))
            return (int64_t)e - 1;
    }
}

/* Insert vehicle idx unless its id is taken; returns false on a clash. */
static bool table_insert(struct sim_fleet *f, uint32_t idx)
{
    const struct sim_vehicle *v = &f->v[idx];
    if (table_find(f, v->oem, v->id) >= 0)
        return false;
    uint64_t i = key_hash(v->oem, v->id) & f->table_mask;
    while (f->table[i])
        i = (i + 1) & f->table_mask;
    f->table[i] = idx + 1;
    return true;
}

int64_t sim_fleet_find(const struct sim_fleet *f, enum sim_oem oem, const char *id)
{
    uint8_t key[16] = { 0 };
    if (oem == SIM_TESLA) {
        uint64_t n;
        if (!parse_tesla_id(id, &n))
            return -1;
        memcpy(key, &n, sizeof(n));
    } else if (!sim_uuid_parse(id, key)) {
        return -1;
    }
    return table_find(f, (uint8_t)oem, key);
}

int64_t sim_fleet_find_any(const struct sim_fleet *f, const char *id)
{
    for (int oem = 0; oem < SIM_OEM_COUNT; oem++) {
        int64_t i = sim_fleet_find(f, (enum sim_oem)oem, id);
        if (i >= 0)
            return i;
    }
    return -1;
}

/* ------------------------------------------------------------ generation */

static void draw_id(struct sim_vehicle *v, uint64_t *rng)
{
    memset(v->id, 0, sizeof(v->id));
    if (v->oem == SIM_TESLA) {
        uint64_t id = 1000000000000000ULL + d2ev_rand_next(rng) % 9000000000000000ULL;
        memcpy(v->id, &id, sizeof(id));
        return;
    }
    uint64_t a = d2ev_rand_next(rng), b = d2ev_rand_next(rng);
    memcpy(v->id, &a, 8);
    memcpy(v->id + 8, &b, 8);
    v->id[6] = (uint8_t)((v->id[6] & 0x0f) | 0x40);
    v->id[8] = (uint8_t)((v->id[8] & 0x3f) | 0x80);
}

static void draw_vehicle(struct sim_vehicle *v, const struct sim_params *p, uint32_t idx,
                         const double weights[SIM_OEM_COUNT], double total, int64_t now)
{
    uint64_t rng = sim_hash(p->seed, idx, SALT_VEHICLE);
    memset(v, 0, sizeof(*v));
    double pick = d2ev_rand_unit(&rng) * total;
    v->oem = SIM_OEM_COUNT - 1;
    for (int i = 0; i < SIM_OEM_COUNT; i++) {
        if (weights[i] > 0 && pick < weights[i]) {
            v->oem = (uint8_t)i;
            break;
        }
        pick -= weights[i];
    }
    while (weights[v->oem] <= 0) /* rounding at the top end */
        v->oem--;
    const struct model *m = v->oem == SIM_TESLA
                                ? &tesla_models[d2ev_rand_next(&rng) % NELEM(tesla_models)]
                                : &generic_models[d2ev_rand_next(&rng) % NELEM(generic_models)];
    unsigned wb = (unsigned)(d2ev_rand_next(&rng) % 100),
             lim = (unsigned)(d2ev_rand_next(&rng) % 100);
    float box = wallboxes[NELEM(wallboxes) - 1].kw;
    for (size_t i = 0; i < NELEM(wallboxes); i++) {
        if (wb < wallboxes[i].cum_pct) {
            box = wallboxes[i].kw;
            break;
        }
    }
    v->limit = 80;
    for (size_t i = 0; i < NELEM(limits); i++) {
        if (lim < limits[i].cum_pct) {
            v->limit = limits[i].limit;
            break;
        }
    }
    v->capacity_kwh = m->capacity_kwh;
    v->max_kw = m->onboard_kw < box ? m->onboard_kw : box;
    v->wh_per_km = m->wh_per_km;
    v->soc = 0.15 + 0.70 * d2ev_rand_unit(&rng);
    v->plug_min = (uint16_t)(17 * 60 + d2ev_rand_next(&rng) % 241);       /* 17:00-21:00 */
    v->unplug_min = (uint16_t)(6 * 60 + 30 + d2ev_rand_next(&rng) % 121); /* 06:30-08:30 */
    v->plug_pct = (uint8_t)(60 + d2ev_rand_next(&rng) % 41);
    v->action = UINT32_MAX;
    draw_id(v, &rng);
    /* state as of now: plugged per the pattern, idle for up to an hour */
    v->updated_ms = now;
    v->active_ms = now - (int64_t)(d2ev_rand_next(&rng) % 3600000);
    if (p->plug_schedule && sim_pattern_plugged(v, p, idx, now))
        v->flags |= SIM_F_PLUGGED;
    if (v->soc > v->limit / 100.0)
        v->soc = v->limit / 100.0;
}

int sim_fleet_init(struct sim_fleet *f, const struct sim_params *p, uint32_t n,
                   const double weights[SIM_OEM_COUNT], int64_t now, struct d2ev_err *err)
{
    memset(f, 0, sizeof(*f));
    double total = 0;
    for (int i = 0; i < SIM_OEM_COUNT; i++)
        total += weights[i];
    if (total <= 0)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "oem-mix: the weights add up to 0");
    uint64_t cap = 16;
    while (cap < 2ULL * n)
        cap <<= 1;
    f->n = n;
    f->v = calloc(n ? n : 1, sizeof(*f->v));
    f->table = calloc(cap, sizeof(*f->table));
    if (!f->v || !f->table) {
        sim_fleet_free(f);
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "fleet: out of memory for %u vehicles", n);
    }
    f->table_mask = (uint32_t)(cap - 1);
    for (uint32_t i = 0; i < n; i++) {
        draw_vehicle(&f->v[i], p, i, weights, total, now);
        /* an id clash (vanishingly rare) redraws the id deterministically */
        uint64_t rng = sim_hash(p->seed ^ 0xc1a5ULL, i, 0);
        while (!table_insert(f, i))
            draw_id(&f->v[i], &rng);
    }
    for (int i = 0; i < SIM_LOCK_STRIPES; i++)
        pthread_mutex_init(&f->locks[i], NULL);
    return D2EV_OK;
}

void sim_fleet_free(struct sim_fleet *f)
{
    if (f->v) {
        for (uint32_t i = 0; i < f->n; i++)
            free(f->v[i].log);
        for (int i = 0; i < SIM_LOCK_STRIPES; i++)
            pthread_mutex_destroy(&f->locks[i]);
    }
    free(f->v);
    free(f->table);
    f->v = NULL;
    f->table = NULL;
}

size_t sim_fleet_bytes(struct sim_fleet *f)
{
    size_t bytes = (size_t)f->n * sizeof(*f->v) + ((size_t)f->table_mask + 1) * sizeof(*f->table);
    for (uint32_t i = 0; i < f->n; i++) {
        sim_lock(f, i);
        if (f->v[i].log)
            bytes += sizeof(struct sim_cmdlog);
        sim_unlock(f, i);
    }
    return bytes;
}

void sim_lock(struct sim_fleet *f, uint32_t idx)
{
    pthread_mutex_lock(&f->locks[idx % SIM_LOCK_STRIPES]);
}

void sim_unlock(struct sim_fleet *f, uint32_t idx)
{
    pthread_mutex_unlock(&f->locks[idx % SIM_LOCK_STRIPES]);
}

/* ------------------------------------------------------------ command log names */

const char *sim_cmd_name(enum sim_oem oem, enum sim_cmd cmd)
{
    if (oem == SIM_TESLA) {
        switch (cmd) {
        case SIM_CMD_START:
            return "charge_start";
        case SIM_CMD_STOP:
            return "charge_stop";
        case SIM_CMD_WAKE:
            return "wake_up";
        default:
            return "none";
        }
    }
    switch (cmd) {
    case SIM_CMD_START:
        return "START";
    case SIM_CMD_STOP:
        return "STOP";
    case SIM_CMD_WAKE:
        return "WAKE";
    default:
        return "NONE";
    }
}

const char *sim_result_name(enum sim_result r)
{
    static const char *const names[] = { "applied", "ignored", "noop", "failed" };
    return (unsigned)r < NELEM(names) ? names[r] : "unknown";
}

const char *sim_reason_name(enum sim_reason r)
{
    static const char *const names[] = {
        "",
        "is_charging",
        "complete",
        "not_charging",
        "disconnected",
        "unreachable",
        "ignore_commands",
        "ignore_rate",
        "already_awake",
        "action_fail_rate",
        "superseded",
    };
    return (unsigned)r < NELEM(names) ? names[r] : "unknown";
}
