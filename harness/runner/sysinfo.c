/* sysinfo.c: the facts about the machine and the build that a result
 * depends on, for meta.json. A fact that cannot be read is "unknown". */
#define _GNU_SOURCE
#include "runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

extern char **environ;

static char *or_unknown(char *s)
{
    if (s == NULL || *s == '\0') {
        free(s);
        return xstrdup("unknown");
    }
    return s;
}

/* "always [madvise] never" -> "madvise" */
static char *bracketed(const char *path)
{
    char *s = read_first_line(path);
    if (s == NULL)
        return NULL;
    char *open = strchr(s, '['), *close = open ? strchr(open, ']') : NULL;
    if (open && close) {
        *close = '\0';
        char *r = xstrdup(open + 1);
        free(s);
        return r;
    }
    return s;
}

static char *cpu_model(void)
{
    char *info = read_file("/proc/cpuinfo", NULL);
    if (info == NULL)
        return NULL;
    const char *keys[] = {"model name", "Model", "cpu model", "uarch"};
    char *r = NULL;
    for (size_t k = 0; k < sizeof keys / sizeof *keys && r == NULL; k++) {
        for (char *line = info; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
            size_t kl = strlen(keys[k]);
            if (strncmp(line, keys[k], kl) != 0)
                continue;
            const char *c = line + kl;
            while (*c == ' ' || *c == '\t')
                c++;
            if (*c != ':')
                continue;
            c++;
            while (*c == ' ')
                c++;
            r = xstrdup(c);
            r[strcspn(r, "\n")] = '\0';
            break;
        }
    }
    free(info);
    return r;
}

static char *os_name(void)
{
    char *s = read_file("/etc/os-release", NULL);
    if (s == NULL)
        return NULL;
    char *r = NULL;
    char *p = strstr(s, "PRETTY_NAME=");
    if (p && (p == s || p[-1] == '\n')) {
        p += strlen("PRETTY_NAME=");
        p[strcspn(p, "\n")] = '\0';
        size_t l = strlen(p);
        if (l >= 2 && p[0] == '"' && p[l - 1] == '"') {
            p[l - 1] = '\0';
            p++;
        }
        r = xstrdup(p);
    }
    free(s);
    return r;
}

static char *git_revision(const char *root)
{
    char *dotgit = xasprintf("%s/.git", root);
    int has = access(dotgit, F_OK) == 0;
    free(dotgit);
    if (!has)
        return NULL;
    const char *git = NULL;
    const char *cands[] = {"/usr/bin/git", "/usr/local/bin/git", "/bin/git"};
    for (size_t i = 0; i < sizeof cands / sizeof *cands; i++)
        if (is_executable_file(cands[i])) {
            git = cands[i];
            break;
        }
    if (git == NULL)
        return NULL;
    char *rev = NULL;
    char *argv1[] = {(char *)git, "-C", (char *)root, "rev-parse", "--short=12", "HEAD", NULL};
    char *out = NULL, *err = NULL;
    struct child_status st;
    int sig;
    if (proc_capture(argv1, NULL, 30, &out, &err, &st, &sig) == 0 && st.exited &&
        st.exit_code == 0) {
        out[strcspn(out, "\n")] = '\0';
        if (*out)
            rev = xstrdup(out);
    }
    free(out);
    free(err);
    out = err = NULL;
    if (rev == NULL)
        return NULL;
    /* tracked files changed (untracked ones do not count) */
    char *argv2[] = {(char *)git, "-C", (char *)root, "status", "--porcelain",
                     "--untracked-files=no", NULL};
    if (proc_capture(argv2, NULL, 30, &out, &err, &st, &sig) == 0 && st.exited &&
        st.exit_code == 0 && out[0] != '\0') {
        char *d = xasprintf("%s-dirty", rev);
        free(rev);
        rev = d;
    }
    free(out);
    free(err);
    return rev;
}

void sysinfo_collect(struct sysinfo *si, const char *root)
{
    struct utsname u;
    int have_u = uname(&u) == 0;
    memset(si, 0, sizeof *si);
    si->host = or_unknown(have_u ? xstrdup(u.nodename) : NULL);
    si->kernel = or_unknown(have_u ? xstrdup(u.release) : NULL);
    si->arch = or_unknown(have_u ? xstrdup(u.machine) : NULL);
    si->cpu_model = or_unknown(cpu_model());
    si->cores = sysconf(_SC_NPROCESSORS_ONLN);
    si->load_avg[0] = si->load_avg[1] = si->load_avg[2] = -1;
    char *load = read_first_line("/proc/loadavg");
    if (load == NULL || sscanf(load, "%lf %lf %lf", &si->load_avg[0], &si->load_avg[1],
                               &si->load_avg[2]) != 3)
        si->load_avg[0] = si->load_avg[1] = si->load_avg[2] = -1;
    free(load);
    si->os = or_unknown(os_name());
    si->thp = or_unknown(bracketed("/sys/kernel/mm/transparent_hugepage/enabled"));
    si->thp_defrag = or_unknown(bracketed("/sys/kernel/mm/transparent_hugepage/defrag"));
    si->smt = or_unknown(read_first_line("/sys/devices/system/cpu/smt/active"));
    si->governor =
        or_unknown(read_first_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"));
    si->overcommit = or_unknown(read_first_line("/proc/sys/vm/overcommit_memory"));
    si->aslr = or_unknown(read_first_line("/proc/sys/kernel/randomize_va_space"));
    si->clocksource = or_unknown(
        read_first_line("/sys/devices/system/clocksource/clocksource0/current_clocksource"));
#if defined(__clang__)
    si->compiler = xasprintf("clang %s", __clang_version__);
#elif defined(__GNUC__)
    si->compiler = xasprintf("gcc %s", __VERSION__);
#else
    si->compiler = xstrdup("unknown");
#endif
    si->git_revision = or_unknown(git_revision(root));
    /* variables that tune allocators change results: record them */
    static const char *prefixes[] = {"MALLOC_", "GLIBC_TUNABLES=", "MIMALLOC_",
                                     "TCMALLOC_", "SABLE_", "LD_PRELOAD=",
                                     "TBB_", "TBBMALLOC_", "SCUDO_OPTIONS="};
    for (char **e = environ; *e; e++)
        for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
            if (strncmp(*e, prefixes[i], strlen(prefixes[i])) == 0) {
                strv_push(&si->env, *e);
                break;
            }
}

void sysinfo_write(struct json_writer *w, const struct sysinfo *si)
{
    jw_key(w, "host"); jw_string(w, si->host);
    jw_key(w, "cpu_model"); jw_string(w, si->cpu_model);
    jw_key(w, "cores"); jw_int(w, si->cores);
    jw_key(w, "load_avg");
    if (si->load_avg[0] < 0) {
        jw_null(w);
    } else {
        jw_begin_array(w);
        for (int i = 0; i < 3; i++)
            jw_number(w, si->load_avg[i]);
        jw_end_array(w);
    }
    jw_key(w, "kernel"); jw_string(w, si->kernel);
    jw_key(w, "arch"); jw_string(w, si->arch);
    jw_key(w, "os"); jw_string(w, si->os);
    jw_key(w, "thp"); jw_string(w, si->thp);
    jw_key(w, "thp_defrag"); jw_string(w, si->thp_defrag);
    jw_key(w, "smt"); jw_string(w, si->smt);
    jw_key(w, "governor"); jw_string(w, si->governor);
    jw_key(w, "overcommit_memory"); jw_string(w, si->overcommit);
    jw_key(w, "aslr"); jw_string(w, si->aslr);
    jw_key(w, "clocksource"); jw_string(w, si->clocksource);
    jw_key(w, "compiler"); jw_string(w, si->compiler);
    jw_key(w, "git_revision"); jw_string(w, si->git_revision);
    jw_key(w, "environment");
    jw_env_object(w, &si->env);
}
