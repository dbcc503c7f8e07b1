/*
 * Declarative configuration: one table per component gives each setting's
 * name, type, default, bounds and description. The same table
 *   - fills a plain config struct (by offset),
 *   - reads D2EV_<NAME> from the environment and --<name> from the command line
 *     (flags win over environment, which wins over the default),
 *   - validates types and bounds with a clear error,
 *   - prints --help, and the Markdown table in docs/configuration.md
 *     (--help-markdown).
 *
 * Setting "kafka-brokers" is the flag --kafka-brokers=VALUE (or
 * --kafka-brokers VALUE) and the variable D2EV_KAFKA_BROKERS.
 * A SECRET setting may instead be read from a file named by D2EV_<NAME>_FILE
 * (a mounted Kubernetes Secret); secrets are never printed.
 *
 * Field types in the target struct:
 *   D2EV_CFG_STR, D2EV_CFG_SECRET -> const char *  (NULL when unset)
 *   D2EV_CFG_INT                  -> int64_t
 *   D2EV_CFG_DOUBLE               -> double
 *   D2EV_CFG_BOOL                 -> bool
 *
 * Ownership: strings in the filled struct are borrowed from argv, the
 * environment, the table, or storage owned by the struct d2ev_config handle;
 * they stay valid until d2ev_config_destroy().
 */
#ifndef D2EV_CONFIG_H
#define D2EV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "d2ev/error.h"

enum d2ev_cfg_type { D2EV_CFG_STR, D2EV_CFG_SECRET, D2EV_CFG_INT, D2EV_CFG_DOUBLE, D2EV_CFG_BOOL };

struct d2ev_cfg_entry {
    const char *name; /* lower-case, dash-separated; NULL ends the table */
    enum d2ev_cfg_type type;
    size_t offset;    /* offsetof() the field in the config struct */
    const char *def;  /* default as text; NULL = unset */
    const char *help; /* one line */
    double min, max;  /* numeric bounds, enforced when min < max */
    bool required;    /* error when unset after env and flags */
};

#define D2EV_CFG_END                                                                               \
    {                                                                                              \
        0                                                                                          \
    }

struct d2ev_cfg_section {
    const char *title;                    /* "Kafka", "Scheduler", ... */
    const struct d2ev_cfg_entry *entries; /* ends with D2EV_CFG_END */
    void *base;                           /* struct the offsets refer to */
};

struct d2ev_cfg_program {
    const char *name;    /* "d2ev-scheduler" */
    const char *summary; /* one paragraph for --help */
};

struct d2ev_config;

/* Apply defaults, environment and argv to every section.
 * On --help, --help-markdown or --version, prints to `out` (stdout if NULL),
 * sets *exit_now = true and returns 0. On error returns a negative code with a
 * message naming the setting ("--admin-port: must be between 0 and 65535, got
 * 70000"). *cfg receives a handle to destroy with d2ev_config_destroy() (also
 * on error; it may be NULL). */
int d2ev_config_load(struct d2ev_config **cfg, const struct d2ev_cfg_program *prog,
                     const struct d2ev_cfg_section *sections, size_t nsections, int argc,
                     char **argv, FILE *out, bool *exit_now, struct d2ev_err *err);

/* Log the effective configuration (secrets as "(set)"/"(unset)"). */
void d2ev_config_log(const struct d2ev_cfg_section *sections, size_t nsections);

/* Print --help text / the Markdown table for the sections. */
void d2ev_config_print_help(FILE *out, const struct d2ev_cfg_program *prog,
                            const struct d2ev_cfg_section *sections, size_t nsections);
void d2ev_config_print_markdown(FILE *out, const struct d2ev_cfg_program *prog,
                                const struct d2ev_cfg_section *sections, size_t nsections);

/* "d2ev-scheduler 0.1.0 (git abc123)" into out. */
void d2ev_config_print_version(FILE *out, const char *program);

/* Free storage owned by the handle. NULL is a no-op. */
void d2ev_config_destroy(struct d2ev_config *cfg);

/* Environment variable name for a setting: "kafka-brokers" ->
 * "D2EV_KAFKA_BROKERS". Writes at most size bytes. */
void d2ev_config_env_name(const char *name, char *buf, size_t size);

#endif
