/* options.c: the settings, read once from the environment at start-up
 * (sbl_init, before any allocation: nothing here allocates). One row of
 * `settings` per variable; an unknown SABLE_* variable or a malformed value
 * gets one warning line on stderr and is ignored. */
#include "internal.h"

extern char **environ;

struct sbl_options sbl_opt = {
    .purge_delay_ms = 50,
    .log_fd = -1,
    .stats_fd = 2,
};

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* "sable: <what>: <entry> (ignored)" */
static void warn_setting(const char *what, const char *entry)
{
    struct sbl_line l = {.n = 0};
    sbl_line_str(&l, "sable: ");
    sbl_line_str(&l, what);
    sbl_line_str(&l, ": ");
    sbl_line_str(&l, entry);
    sbl_line_str(&l, " (ignored)");
    sbl_line_write(&l, 2);
}

/* "0" or "1" */
static bool parse_flag(const char *entry, const char *val, bool *out)
{
    if ((val[0] == '0' || val[0] == '1') && val[1] == '\0') {
        *out = val[0] == '1';
        return true;
    }
    warn_setting("malformed value (want 0 or 1)", entry);
    return false;
}

static void log_open(const char *entry, const char *val)
{
    if (strcmp(val, "stderr") == 0) { /* a copy: the program may close its stderr */
        int fd = sbl_os_dup_stderr();
        sbl_opt.log_fd = fd >= 0 ? fd : 2;
        return;
    }
    if (*val == '\0') {
        warn_setting("malformed value (want a file name or stderr)", entry);
        return;
    }
    int fd = sbl_os_open_append(val);
    if (fd < 0)
        warn_setting("cannot open the log file", entry);
    else
        sbl_opt.log_fd = fd;
}

static void set_purge_delay(const char *entry, const char *val)
{
    uint64_t ms;
    if (parse_u64(val, 3600000, &ms))
        sbl_opt.purge_delay_ms = ms;
    else
        warn_setting("malformed value (want milliseconds, 0..3600000)", entry);
}

static void set_secure(const char *entry, const char *val)
{
    parse_flag(entry, val, &sbl_opt.secure);
}

static void set_stats(const char *entry, const char *val)
{
    if (parse_flag(entry, val, &sbl_opt.stats) && sbl_opt.stats) {
        int fd = sbl_os_dup_stderr();
        if (fd >= 0)
            sbl_opt.stats_fd = fd;
    }
}

static const struct setting {
    const char *name;
    void (*apply)(const char *entry, const char *val); /* entry: "NAME=val" */
} settings[] = {
    {"SABLE_PURGE_DELAY", set_purge_delay},
    {"SABLE_SECURE", set_secure},
    {"SABLE_STATS", set_stats},
    {"SABLE_LOG", log_open},
};

void sbl_options_read(void)
{
    if (environ == NULL)
        return;
    for (char **e = environ; *e; e++) {
        const char *v = *e;
        if (strncmp(v, "SABLE_", 6) != 0)
            continue;
        const char *eq = strchr(v, '=');
        if (eq == NULL)
            continue;
        size_t klen = (size_t)(eq - v);
        const struct setting *st = NULL;
        for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
            if (strlen(settings[i].name) == klen && strncmp(v, settings[i].name, klen) == 0)
                st = &settings[i];
        if (st != NULL)
            st->apply(v, eq + 1);
        else
            warn_setting("unknown setting", v);
    }
}
