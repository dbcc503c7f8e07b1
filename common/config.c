/* config.c: table-driven settings from defaults, environment and flags. */
#include "d2ev/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "d2ev/log.h"

#define SECRET_FILE_MAX (64 * 1024)

struct d2ev_config {
    char **owned; /* strings read from *_FILE */
    size_t nowned;
};

static const char *type_name(enum d2ev_cfg_type t)
{
    switch (t) {
    case D2EV_CFG_INT:
        return "INT";
    case D2EV_CFG_DOUBLE:
        return "NUM";
    case D2EV_CFG_BOOL:
        return "BOOL";
    case D2EV_CFG_SECRET:
        return "SECRET";
    default:
        return "STR";
    }
}

void d2ev_config_env_name(const char *name, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "D2EV_");
    for (const char *p = name; *p && n + 1 < size; p++)
        buf[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    if (size)
        buf[n < size ? n : size - 1] = '\0';
}

static int parse_bool(const char *v, bool *out)
{
    if (!strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
        !strcasecmp(v, "on")) {
        *out = true;
        return 0;
    }
    if (!strcasecmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") ||
        !strcasecmp(v, "off")) {
        *out = false;
        return 0;
    }
    return -1;
}

/* Store one textual value into the field; `origin` names where it came from. */
static int apply(const struct d2ev_cfg_entry *e, void *base, const char *val, const char *origin,
                 struct d2ev_err *err)
{
    char *field = (char *)base + e->offset;
    switch (e->type) {
    case D2EV_CFG_STR:
    case D2EV_CFG_SECRET:
        *(const char **)field = val;
        return D2EV_OK;
    case D2EV_CFG_BOOL: {
        bool b;
        if (!val || parse_bool(val, &b) != 0)
            return d2ev_err_set(err, D2EV_ERR_INVALID, "%s: want true or false, got '%.40s'",
                                origin, val ? val : "");
        *(bool *)field = b;
        return D2EV_OK;
    }
    case D2EV_CFG_INT:
    case D2EV_CFG_DOUBLE: {
        if (!val || !*val) {
            if (e->type == D2EV_CFG_INT)
                *(int64_t *)field = 0;
            else
                *(double *)field = 0;
            return D2EV_OK;
        }
        char *end = NULL;
        errno = 0;
        double d;
        if (e->type == D2EV_CFG_INT) {
            long long v = strtoll(val, &end, 10);
            d = (double)v;
            if (errno || end == val || *end)
                return d2ev_err_set(err, D2EV_ERR_INVALID, "%s: want an integer, got '%.40s'",
                                    origin, val);
            if (e->min < e->max && (d < e->min || d > e->max))
                return d2ev_err_set(err, D2EV_ERR_INVALID,
                                    "%s: must be between %.0f and %.0f, got %lld", origin, e->min,
                                    e->max, v);
            *(int64_t *)field = v;
        } else {
            d = strtod(val, &end);
            if (errno || end == val || *end || !isfinite(d))
                return d2ev_err_set(err, D2EV_ERR_INVALID, "%s: want a number, got '%.40s'", origin,
                                    val);
            if (e->min < e->max && (d < e->min || d > e->max))
                return d2ev_err_set(err, D2EV_ERR_INVALID, "%s: must be between %g and %g, got %g",
                                    origin, e->min, e->max, d);
            *(double *)field = d;
        }
        return D2EV_OK;
    }
    }
    return D2EV_ERR_INVALID;
}

static char *read_secret_file(struct d2ev_config *cfg, const char *path, const char *var,
                              struct d2ev_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        d2ev_err_set(err, D2EV_ERR_IO, "%s: cannot open '%s': %s", var, path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(SECRET_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        d2ev_err_set(err, D2EV_ERR_NOMEM, "%s: out of memory", var);
        return NULL;
    }
    size_t n = fread(buf, 1, SECRET_FILE_MAX + 1, f);
    fclose(f);
    if (n > SECRET_FILE_MAX) {
        free(buf);
        d2ev_err_set(err, D2EV_ERR_LIMIT, "%s: file '%s' is larger than %d bytes", var, path,
                     SECRET_FILE_MAX);
        return NULL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--; /* mounted secrets often end with a newline */
    buf[n] = '\0';
    char **grown = realloc(cfg->owned, (cfg->nowned + 1) * sizeof(*grown));
    if (!grown) {
        free(buf);
        d2ev_err_set(err, D2EV_ERR_NOMEM, "%s: out of memory", var);
        return NULL;
    }
    cfg->owned = grown;
    cfg->owned[cfg->nowned++] = buf;
    return buf;
}

static const struct d2ev_cfg_entry *find_entry(const struct d2ev_cfg_section *sections, size_t n,
                                               const char *name, size_t len, void **base)
{
    for (size_t s = 0; s < n; s++) {
        for (const struct d2ev_cfg_entry *e = sections[s].entries; e && e->name; e++) {
            if (strlen(e->name) == len && strncmp(e->name, name, len) == 0) {
                *base = sections[s].base;
                return e;
            }
        }
    }
    return NULL;
}

static bool field_is_set(const struct d2ev_cfg_entry *e, void *base)
{
    char *field = (char *)base + e->offset;
    if (e->type == D2EV_CFG_STR || e->type == D2EV_CFG_SECRET) {
        const char *v = *(const char **)field;
        return v && *v;
    }
    return true;
}

int d2ev_config_load(struct d2ev_config **cfgp, const struct d2ev_cfg_program *prog,
                     const struct d2ev_cfg_section *sections, size_t nsections, int argc,
                     char **argv, FILE *out, bool *exit_now, struct d2ev_err *err)
{
    struct d2ev_config *cfg = calloc(1, sizeof(*cfg));
    *cfgp = cfg;
    *exit_now = false;
    if (!cfg)
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    if (!out)
        out = stdout;

    /* 1. informational flags first, so --help works even with a bad env */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            d2ev_config_print_help(out, prog, sections, nsections);
            *exit_now = true;
            return D2EV_OK;
        }
        if (!strcmp(argv[i], "--help-markdown")) {
            d2ev_config_print_markdown(out, prog, sections, nsections);
            *exit_now = true;
            return D2EV_OK;
        }
        if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
            d2ev_config_print_version(out, prog->name);
            *exit_now = true;
            return D2EV_OK;
        }
    }

    /* 2. defaults, then environment */
    for (size_t s = 0; s < nsections; s++) {
        for (const struct d2ev_cfg_entry *e = sections[s].entries; e && e->name; e++) {
            char var[96], what[128];
            d2ev_config_env_name(e->name, var, sizeof(var));
            snprintf(what, sizeof(what), "default of %s", e->name);
            int rc = apply(e, sections[s].base, e->def, what, err);
            if (rc)
                return rc;
            const char *v = getenv(var);
            if (v) {
                rc = apply(e, sections[s].base, v, var, err);
                if (rc)
                    return rc;
            }
            if (e->type == D2EV_CFG_SECRET) {
                char fvar[104];
                snprintf(fvar, sizeof(fvar), "%s_FILE", var);
                const char *path = getenv(fvar);
                if (path && *path) {
                    if (v)
                        return d2ev_err_set(err, D2EV_ERR_INVALID,
                                            "both %s and %s are set; use one", var, fvar);
                    char *secret = read_secret_file(cfg, path, fvar, err);
                    if (!secret)
                        return err ? err->code : D2EV_ERR_IO;
                    apply(e, sections[s].base, secret, fvar, err);
                }
            }
        }
    }

    /* 3. command line */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0)
            return d2ev_err_set(err, D2EV_ERR_INVALID,
                                "unexpected argument '%.60s' (options start with --; see --help)",
                                a);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        void *base = NULL;
        const struct d2ev_cfg_entry *e = find_entry(sections, nsections, name, len, &base);
        bool negated = false;
        if (!e && len > 3 && !strncmp(name, "no-", 3)) {
            e = find_entry(sections, nsections, name + 3, len - 3, &base);
            negated = e && e->type == D2EV_CFG_BOOL && !eq;
            if (!negated)
                e = NULL;
        }
        if (!e)
            return d2ev_err_set(err, D2EV_ERR_INVALID, "unknown option --%.*s (see --help)",
                                (int)(len > 60 ? 60 : len), name);
        char origin[96];
        snprintf(origin, sizeof(origin), "--%s", e->name);
        const char *val;
        if (eq) {
            val = eq + 1;
        } else if (e->type == D2EV_CFG_BOOL) {
            val = negated ? "false" : "true";
        } else {
            if (i + 1 >= argc)
                return d2ev_err_set(err, D2EV_ERR_INVALID, "%s needs a value", origin);
            val = argv[++i];
        }
        int rc = apply(e, base, val, origin, err);
        if (rc)
            return rc;
    }

    /* 4. required settings */
    for (size_t s = 0; s < nsections; s++) {
        for (const struct d2ev_cfg_entry *e = sections[s].entries; e && e->name; e++) {
            if (e->required && !field_is_set(e, sections[s].base)) {
                char var[96];
                d2ev_config_env_name(e->name, var, sizeof(var));
                return d2ev_err_set(err, D2EV_ERR_INVALID,
                                    "missing required setting: set %s or --%s (%s)", var, e->name,
                                    e->help ? e->help : "");
            }
        }
    }
    return D2EV_OK;
}

static void value_text(const struct d2ev_cfg_entry *e, void *base, char *buf, size_t size)
{
    char *field = (char *)base + e->offset;
    switch (e->type) {
    case D2EV_CFG_SECRET:
        snprintf(buf, size, "%s", field_is_set(e, base) ? "(set)" : "(unset)");
        break;
    case D2EV_CFG_STR: {
        const char *v = *(const char **)field;
        snprintf(buf, size, "%s", v ? v : "");
        break;
    }
    case D2EV_CFG_INT:
        snprintf(buf, size, "%lld", (long long)*(int64_t *)field);
        break;
    case D2EV_CFG_DOUBLE:
        snprintf(buf, size, "%g", *(double *)field);
        break;
    case D2EV_CFG_BOOL:
        snprintf(buf, size, "%s", *(bool *)field ? "true" : "false");
        break;
    }
}

void d2ev_config_log(const struct d2ev_cfg_section *sections, size_t nsections)
{
    for (size_t s = 0; s < nsections; s++) {
        for (const struct d2ev_cfg_entry *e = sections[s].entries; e && e->name; e++) {
            char v[256];
            value_text(e, sections[s].base, v, sizeof(v));
            d2ev_log_debug("config", D2EV_LF_STR("setting", e->name), D2EV_LF_STR("value", v));
        }
    }
}

void d2ev_config_print_help(FILE *out, const struct d2ev_cfg_program *prog,
                            const struct d2ev_cfg_section *sections, size_t nsections)
{
    fprintf(out, "Usage: %s [--option=value ...]\n\n%s\n", prog->name,
            prog->summary ? prog->summary : "");
    fprintf(out, "\nEvery option can also be set by its environment variable;\n"
                 "command-line options win. SECRET options also accept <VAR>_FILE,\n"
                 "the path of a file that holds the value.\n");
    for (size_t s = 0; s < nsections; s++) {
        fprintf(out, "\n%s:\n", sections[s].title);
        for (const struct d2ev_cfg_entry *e = sections[s].entries; e && e->name; e++) {
            char var[96];
            d2ev_config_env_name(e->name, var, sizeof(var));
            fprintf(out, "  --%s=%s\n      %s%s\n      env %s", e->name, type_name(e->type),
                    e->help ? e->help : "", e->required ? " (required)" : "", var);
            if (e->def && e->type != D2EV_CFG_SECRET)
                fprintf(out, "; default: %s", *e->def ? e->def : "\"\"");
            if (e->min < e->max)
                fprintf(out, "; range %g..%g", e->min, e->max);
            fputc('\n', out);
        }
    }
    fprintf(out, "\nOther options:\n  --help            show this help and exit\n"
                 "  --help-markdown   print the settings as a Markdown table and exit\n"
                 "  --version         print the version and exit\n");
}

void d2ev_config_print_markdown(FILE *out, const struct d2ev_cfg_program *prog,
                                const struct d2ev_cfg_section *sections, size_t nsections)
{
    fprintf(out, "## %s\n\n", prog->name);
    for (size_t s = 0; s < nsections; s++) {
        fprintf(out, "#### %s settings\n\n", sections[s].title);
        fprintf(out, "| Environment | Flag | Type | Default | Description |\n");
        fprintf(out, "|---|---|---|---|---|\n");
        for (const struct d2ev_cfg_entry *e = sections[s].entries; e && e->name; e++) {
            char var[96];
            d2ev_config_env_name(e->name, var, sizeof(var));
            bool show_def = e->def && *e->def && e->type != D2EV_CFG_SECRET;
            fprintf(out, "| `%s` | `--%s` | %s | %s%s%s | %s%s |\n", var, e->name,
                    type_name(e->type), show_def ? "`" : "", show_def ? e->def : "",
                    show_def ? "`" : "", e->help ? e->help : "",
                    e->required ? " **Required.**" : "");
        }
        fputc('\n', out);
    }
}

void d2ev_config_print_version(FILE *out, const char *program)
{
    fprintf(out, "%s %s (git %s)\n", program, D2EV_VERSION, D2EV_GIT_DESC);
}

void d2ev_config_destroy(struct d2ev_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->nowned; i++) {
        /* scrub secrets before releasing the memory */
        volatile char *p = cfg->owned[i];
        while (*p)
            *p++ = 0;
        free(cfg->owned[i]);
    }
    free(cfg->owned);
    free(cfg);
}
