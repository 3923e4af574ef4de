/* program.c: real programs as workloads.
 *
 * A program is a definition file bench/programs/NAME.def (format: that
 * folder's README.md) or a user's `--program 'NAME=CMD ARGS'`. Each run is
 * one fresh process tree under one allocator:
 *
 *   command:  the measured process is CMD itself (exec'd directly, no shell),
 *             with the allocator's library in LD_PRELOAD (glibc: nothing)
 *   server:   the measured process is the server, started on a free
 *             loopback port; once it accepts connections, the client (the
 *             load generator, never preloaded) runs to its end; then the
 *             server's RSS 100 ms and 1 s later, and SIGTERM (SIGKILL after
 *             5 s). Every path out of a run stops the server.
 *
 * While the measured process runs, its RSS is sampled from /proc every 10 ms
 * (rss.c) and its maps are read until they show the allocator's library: the
 * preload proof. Its result (stdout, or a file it writes) is digested and
 * compared with the reference allocator's (glibc when it runs).
 */
#define _GNU_SOURCE
#include "runner.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <regex.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define SAMPLE_PERIOD_S 0.01
#define DEFAULT_PROGRAM_TIMEOUT_S 60.0
#define READY_TIMEOUT_S 10.0
#define STOP_GRACE_S 5.0
#define SETUP_TIMEOUT_S 300.0
#define FIGURE_TAIL_BYTES 65536

enum check { CHECK_OUTPUT, CHECK_FILE, CHECK_NONE };

struct program {
    char *name;
    char *file;         /* the definition (relative to the root), NULL for --program */
    char *about, *package;
    struct strv setup;  /* shell lines run once in workdir */
    char *command;      /* the measured command, or NULL for a server */
    char *server, *client;
    char *figure;       /* POSIX ERE; group 1 (or the match) is the figure */
    regex_t re;
    int higher;         /* the figure: 1 higher is better, 0 lower */
    char *unit;
    enum check check;
    char *check_file;
    double timeout;
    int quick;          /* one of the few the quick profile runs */
    char *root, *workdir, *runcwd; /* runcwd: where it runs (--program: heapmark's cwd) */
    char *ref_digest;   /* the reference allocator's digest, once it has one */
};

const char *program_name(const struct program *p)
{
    return p->name;
}

int program_quick(const struct program *p)
{
    return p->quick;
}

/* ---- definitions ------------------------------------------------------------ */

static int valid_name(const char *s)
{
    if (*s == '\0' || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return 0;
    return 1;
}

/* s with {root}, {dir} and {port} replaced; NULL (*bad = the name) on another {...}. */
static char *expand(const struct program *p, const char *s, int port, char **bad)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    while (*s) {
        if (*s == '{') {
            const char *e = strchr(s, '}');
            size_t n = e ? (size_t)(e - s - 1) : 0;
            if (e && n == 4 && strncmp(s + 1, "root", 4) == 0)
                fputs(p->root, f);
            else if (e && n == 3 && strncmp(s + 1, "dir", 3) == 0)
                fputs(p->workdir ? p->workdir : ".", f);
            else if (e && n == 4 && strncmp(s + 1, "port", 4) == 0)
                fprintf(f, "%d", port);
            else {
                fclose(f);
                free(buf);
                if (bad)
                    *bad = e ? xasprintf("%.*s", (int)(n + 2), s) : xstrdup(s);
                return NULL;
            }
            s = e + 1;
            continue;
        }
        fputc(*s++, f);
    }
    fclose(f);
    return buf;
}

/* Splits a command into words like a shell without expansions: blanks
   separate, '...' and "..." quote, a backslash outside '...' makes the next
   character literal. -1 on an unfinished quote or nothing at all. */
static int split_words(const char *s, struct strv *out)
{
    char *w = xmalloc(strlen(s) + 1);
    for (;;) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '\0')
            break;
        size_t n = 0;
        while (*s && *s != ' ' && *s != '\t') {
            if (*s == '\'') {
                const char *e = strchr(s + 1, '\'');
                if (e == NULL)
                    goto bad;
                memcpy(w + n, s + 1, (size_t)(e - s - 1));
                n += (size_t)(e - s - 1);
                s = e + 1;
            } else if (*s == '"') {
                for (s++; *s && *s != '"'; s++) {
                    if (*s == '\\' && s[1])
                        s++;
                    w[n++] = *s;
                }
                if (*s != '"')
                    goto bad;
                s++;
            } else {
                if (*s == '\\' && s[1])
                    s++;
                w[n++] = *s++;
            }
        }
        w[n] = '\0';
        strv_push(out, w);
    }
    free(w);
    return out->n > 0 ? 0 : -1;
bad:
    free(w);
    return -1;
}

static void program_free(struct program *p)
{
    free(p->name);
    free(p->file);
    free(p->about);
    free(p->package);
    strv_free(&p->setup);
    free(p->command);
    free(p->server);
    free(p->client);
    if (p->figure)
        regfree(&p->re);
    free(p->figure);
    free(p->unit);
    free(p->check_file);
    free(p->root);
    free(p->workdir);
    free(p->runcwd);
    free(p->ref_digest);
    free(p);
}

/* Checks that a command line expands and splits; -1 with a message. */
static int check_command(const struct program *p, const char *where, const char *key,
                         const char *cmd)
{
    char *bad = NULL;
    char *e = expand(p, cmd, 1, &bad);
    if (e == NULL) {
        errmsg("%s: %s: unknown placeholder %s (known: {root} {dir} {port})", where, key, bad);
        free(bad);
        return -1;
    }
    struct strv w = {0};
    int rc = split_words(e, &w);
    if (rc != 0)
        errmsg("%s: %s: empty, or a quote is not closed: %s", where, key, cmd);
    strv_free(&w);
    free(e);
    return rc;
}

static int set_figure(struct program *p, const char *where, const char *pattern)
{
    int e = regcomp(&p->re, pattern, REG_EXTENDED | REG_NEWLINE);
    if (e != 0) {
        char msg[200];
        regerror(e, &p->re, msg, sizeof msg);
        errmsg("%s: figure: bad pattern '%s': %s", where, pattern, msg);
        return -1;
    }
    p->figure = xstrdup(pattern);
    return 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = '\0';
    return s;
}

/* One definition file; NULL (message printed) when malformed. */
static struct program *load_def(const char *root, const char *path, const char *rel)
{
    size_t len;
    char *text = read_file(path, &len);
    if (text == NULL) {
        errmsg("cannot read %s: %s", rel, strerror(errno));
        return NULL;
    }
    struct program *p = xmalloc(sizeof *p);
    memset(p, 0, sizeof *p);
    p->root = xstrdup(root);
    p->file = xstrdup(rel);
    const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
    p->name = xasprintf("%.*s", (int)(strlen(base) - 4), base); /* without .def */
    p->timeout = DEFAULT_PROGRAM_TIMEOUT_S;
    p->higher = -1;
    int have_check = 0, lineno = 0, ok = 1;
    char where[512];
    for (char *line = text, *next; ok && line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        snprintf(where, sizeof where, "%s:%d", rel, lineno);
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            errmsg("%s: want 'key = value', got '%s'", where, s);
            ok = 0;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        if (strcmp(key, "setup") == 0) {
            strv_push(&p->setup, val);
            continue;
        }
        char **slot = NULL;
        if (strcmp(key, "about") == 0) slot = &p->about;
        else if (strcmp(key, "package") == 0) slot = &p->package;
        else if (strcmp(key, "command") == 0) slot = &p->command;
        else if (strcmp(key, "server") == 0) slot = &p->server;
        else if (strcmp(key, "client") == 0) slot = &p->client;
        else if (strcmp(key, "unit") == 0) slot = &p->unit;
        if (slot) {
            if (*slot) {
                errmsg("%s: '%s' given twice", where, key);
                ok = 0;
            } else if (*val == '\0') {
                errmsg("%s: '%s' has no value", where, key);
                ok = 0;
            } else {
                *slot = xstrdup(val);
            }
        } else if (strcmp(key, "figure") == 0) {
            ok = p->figure == NULL && set_figure(p, where, val) == 0;
        } else if (strcmp(key, "better") == 0) {
            p->higher = strcmp(val, "higher") == 0 ? 1 : strcmp(val, "lower") == 0 ? 0 : -2;
            if (p->higher == -2) {
                errmsg("%s: better must be 'higher' or 'lower', not '%s'", where, val);
                ok = 0;
            }
        } else if (strcmp(key, "check") == 0) {
            have_check = 1;
            if (strcmp(val, "output") == 0)
                p->check = CHECK_OUTPUT;
            else if (strcmp(val, "none") == 0)
                p->check = CHECK_NONE;
            else if (strncmp(val, "file ", 5) == 0 && *trim(val + 5)) {
                p->check = CHECK_FILE;
                p->check_file = xstrdup(trim(val + 5));
            } else {
                errmsg("%s: check must be 'output', 'file NAME' or 'none', not '%s'", where, val);
                ok = 0;
            }
        } else if (strcmp(key, "quick") == 0) {
            p->quick = strcmp(val, "yes") == 0 ? 1 : strcmp(val, "no") == 0 ? 0 : -1;
            if (p->quick < 0) {
                errmsg("%s: quick must be 'yes' or 'no', not '%s'", where, val);
                ok = 0;
            }
        } else if (strcmp(key, "timeout") == 0) {
            if (parse_double(val, &p->timeout) != 0 || p->timeout <= 0) {
                errmsg("%s: timeout must be seconds above 0, not '%s'", where, val);
                ok = 0;
            }
        } else {
            errmsg("%s: unknown key '%s' (see bench/programs/README.md)", where, key);
            ok = 0;
        }
    }
    free(text);
    snprintf(where, sizeof where, "%s", rel);
    if (ok && !valid_name(p->name)) {
        errmsg("%s: the name '%s' may hold only letters, digits, '-', '_' and '.'", where, p->name);
        ok = 0;
    }
    if (ok && !p->command == !p->server) {
        errmsg("%s: needs either 'command' or 'server' with 'client'", where);
        ok = 0;
    }
    if (ok && !p->server != !p->client) {
        errmsg("%s: 'server' and 'client' go together", where);
        ok = 0;
    }
    if (ok && p->server && p->check != CHECK_NONE) {
        errmsg("%s: a server's result cannot be compared: say 'check = none'", where);
        ok = 0;
    }
    if (ok && !have_check) {
        errmsg("%s: needs 'check = output', 'check = file NAME' or 'check = none'", where);
        ok = 0;
    }
    if (ok && (p->figure != NULL) != (p->higher >= 0)) {
        errmsg("%s: 'figure' and 'better' go together", where);
        ok = 0;
    }
    if (ok && p->command)
        ok = check_command(p, where, "command", p->command) == 0;
    if (ok && p->server)
        ok = check_command(p, where, "server", p->server) == 0 &&
             check_command(p, where, "client", p->client) == 0;
    for (size_t i = 0; ok && i < p->setup.n; i++)
        ok = check_command(p, where, "setup", p->setup.v[i]) == 0;
    if (!ok) {
        program_free(p);
        return NULL;
    }
    p->workdir = xasprintf("%s/build/programs/%s", root, p->name);
    p->runcwd = xasprintf("%s/run", p->workdir);
    return p;
}

/* --program NAME=CMD ARGS: runs in heapmark's working folder, its stdout compared. */
static struct program *load_user(const char *root, const char *item)
{
    const char *eq = strchr(item, '=');
    struct program *p = xmalloc(sizeof *p);
    memset(p, 0, sizeof *p);
    p->root = xstrdup(root);
    p->timeout = DEFAULT_PROGRAM_TIMEOUT_S;
    p->higher = -1;
    p->check = CHECK_OUTPUT;
    p->name = eq ? xasprintf("%.*s", (int)(eq - item), item) : xstrdup("");
    char where[300];
    snprintf(where, sizeof where, "--program '%s'", item);
    if (eq == NULL || !valid_name(p->name)) {
        errmsg("%s: want NAME=CMD ARGS, NAME of letters, digits, '-', '_' and '.'", where);
        goto bad;
    }
    p->command = xstrdup(eq + 1);
    if (check_command(p, where, "command", p->command) != 0)
        goto bad;
    struct strv w = {0};
    char *e = expand(p, p->command, 0, NULL);
    split_words(e, &w);
    char *found = find_command(w.v[0], NULL);
    if (found == NULL)
        errmsg("%s: command '%s' not found", where, w.v[0]);
    strv_free(&w);
    free(e);
    if (found == NULL)
        goto bad;
    free(found);
    char cwd[4096];
    p->runcwd = xstrdup(getcwd(cwd, sizeof cwd) ? cwd : ".");
    return p;
bad:
    program_free(p);
    return NULL;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void set_push(struct program_set *set, struct program *p)
{
    set->v = xrealloc(set->v, (set->n + 1) * sizeof *set->v);
    set->v[set->n++] = p;
}

/* One line per file of the tree that a set-up line names ({root}/...):
   its size and modification time, so that editing it makes the inputs again. */
static void stamp_files(FILE *f, const struct program *p, const char *line)
{
    char *words = expand(p, line, 0, NULL);
    if (words == NULL)
        return;
    size_t rl = strlen(p->root);
    for (char *save = NULL, *w = strtok_r(words, " \t'\"", &save); w;
         w = strtok_r(NULL, " \t'\"", &save)) {
        struct stat sb;
        if (strncmp(w, p->root, rl) == 0 && w[rl] == '/' && stat(w, &sb) == 0 &&
            S_ISREG(sb.st_mode))
            fprintf(f, "  %s %lld %lld.%09ld\n", w + rl + 1, (long long)sb.st_size,
                    (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
    }
    free(words);
}

int programs_load(const char *root, const char *dir, const struct strv *user,
                  struct program_set *set)
{
    memset(set, 0, sizeof *set);
    if (dir) {
        DIR *d = opendir(dir);
        if (d == NULL) {
            errmsg("--programs %s: %s", dir, strerror(errno));
            return -1;
        }
        struct strv files = {0};
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            size_t n = strlen(e->d_name);
            if (n > 4 && strcmp(e->d_name + n - 4, ".def") == 0)
                strv_push(&files, e->d_name);
        }
        closedir(d);
        qsort(files.v, files.n, sizeof *files.v, name_cmp);
        size_t rl = strlen(root);
        for (size_t i = 0; i < files.n; i++) {
            char *path = xasprintf("%s/%s", dir, files.v[i]);
            const char *rel = strncmp(path, root, rl) == 0 && path[rl] == '/' ? path + rl + 1 : path;
            struct program *p = load_def(root, path, rel);
            free(path);
            if (p == NULL) {
                strv_free(&files);
                return -1;
            }
            set_push(set, p);
        }
        strv_free(&files);
    }
    for (size_t i = 0; user && i < user->n; i++) {
        struct program *p = load_user(root, user->v[i]);
        if (p == NULL)
            return -1;
        set_push(set, p);
    }
    for (size_t i = 0; i < set->n; i++)
        for (size_t k = 0; k < i; k++)
            if (strcmp(set->v[i]->name, set->v[k]->name) == 0) {
                errmsg("two programs are named '%s'", set->v[i]->name);
                return -1;
            }
    return 0;
}

void programs_filter(struct program_set *set, const void *regex, int quick_only)
{
    size_t kept = 0;
    for (size_t i = 0; i < set->n; i++) {
        char *inst = xasprintf("program/%s", set->v[i]->name);
        int keep = (regex == NULL || regexec(regex, inst, 0, NULL, 0) == 0) &&
                   (!quick_only || set->v[i]->quick || set->v[i]->file == NULL);
        free(inst);
        if (keep)
            set->v[kept++] = set->v[i];
        else
            program_free(set->v[i]);
    }
    set->n = kept;
}

void programs_free(struct program_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        program_free(set->v[i]);
    free(set->v);
    strv_free(&set->skipped);
    strv_free(&set->skip_reasons);
    memset(set, 0, sizeof *set);
}

/* ---- set-up ------------------------------------------------------------------ */

/* The first word of a command line that is not found, or NULL. */
static char *missing_command(const struct program *p, const char *cmd)
{
    char *e = expand(p, cmd, 0, NULL);
    struct strv w = {0};
    split_words(e, &w);
    char *found = find_command(w.v[0], NULL);
    char *miss = found ? NULL : xstrdup(w.v[0]);
    free(found);
    strv_free(&w);
    free(e);
    return miss;
}

static void skip(struct program_set *set, size_t i, char *why)
{
    fprintf(stderr, "heapmark run: program %s skipped: %s\n", set->v[i]->name, why);
    strv_push(&set->skipped, set->v[i]->name);
    strv_push(&set->skip_reasons, why);
    free(why);
    program_free(set->v[i]);
    set->v[i] = NULL;
}

/* The first command (after set-up when after is set) not installed, or NULL. */
static char *first_missing(const struct program *p, int after)
{
    const char *cmds[] = {p->command, p->server, p->client};
    for (size_t c = 0; c < 3; c++) {
        if (cmds[c] == NULL || (!after && strstr(cmds[c], "{dir}")))
            continue;
        char *m = missing_command(p, cmds[c]);
        if (m)
            return m;
    }
    return NULL;
}

int programs_prepare(struct program_set *set, int *sig)
{
    for (size_t i = 0; i < set->n; i++) {
        struct program *p = set->v[i];
        if (p->file == NULL)
            continue; /* --program: checked when loaded */
        char *miss = first_missing(p, 0);
        if (miss) {
            skip(set, i, xasprintf("%s is not installed (Debian package %s)", miss,
                                   p->package ? p->package : "unknown"));
            free(miss);
            continue;
        }
        if (mkdir_p(p->workdir, 0755) != 0) {
            skip(set, i, xasprintf("cannot create %s: %s", p->workdir, strerror(errno)));
            continue;
        }
        /* inputs are made once; again only when the set-up lines, or the
           files of the tree they name (a generator, a source), change */
        char *stamp = xasprintf("%s/.setup", p->workdir), *want = NULL;
        size_t wl = 0;
        FILE *f = open_memstream(&want, &wl);
        for (size_t s = 0; s < p->setup.n; s++) {
            fprintf(f, "%s\n", p->setup.v[s]);
            stamp_files(f, p, p->setup.v[s]);
        }
        fclose(f);
        size_t hl;
        char *have = read_file(stamp, &hl);
        int fresh = have && strcmp(have, want) == 0;
        free(have);
        char *why = NULL;
        if (!fresh && p->setup.n)
            fprintf(stderr, "heapmark run: program %s: making its inputs in %s\n", p->name,
                    p->workdir);
        for (size_t s = 0; !fresh && why == NULL && s < p->setup.n; s++) {
            char *line = expand(p, p->setup.v[s], 0, NULL);
            char *argv[] = {"/bin/sh", "-c", line, NULL};
            struct child_env env = {.cwd = p->workdir};
            char *out = NULL, *err = NULL;
            struct child_status st;
            int rc = proc_capture(argv, &env, SETUP_TIMEOUT_S, &out, &err, &st, sig);
            if (rc == -2) {
                free(line);
                free(stamp);
                free(want);
                return -2;
            }
            if (rc != 0)
                why = xasprintf("set-up '%s' could not start", p->setup.v[s]);
            else if (st.timed_out || !st.exited || st.exit_code != 0) {
                char *last = err + strlen(err);
                while (last > err && last[-1] == '\n')
                    *--last = '\0';
                last = strrchr(err, '\n') ? strrchr(err, '\n') + 1 : err;
                why = xasprintf("set-up '%s' failed (%s)%s%s", p->setup.v[s],
                                st.timed_out ? "timeout" : st.exited ? "non-zero exit" : "killed",
                                *last ? ": " : "", last);
            }
            free(out);
            free(err);
            free(line);
        }
        if (why == NULL && !fresh && atomic_write(stamp, want, wl) != 0)
            why = xasprintf("cannot write %s: %s", stamp, strerror(errno));
        free(stamp);
        free(want);
        if (why == NULL && (miss = first_missing(p, 1)) != NULL) {
            why = xasprintf("%s does not exist after its set-up", miss);
            free(miss);
        }
        if (why)
            skip(set, i, why);
    }
    size_t kept = 0;
    for (size_t i = 0; i < set->n; i++)
        if (set->v[i])
            set->v[kept++] = set->v[i];
    set->n = kept;
    return 0;
}

void programs_write_meta(struct json_writer *w, const struct program_set *set)
{
    jw_key(w, "programs");
    jw_begin_array(w);
    for (size_t i = 0; i < set->n; i++) {
        const struct program *p = set->v[i];
        jw_begin_object(w);
        jw_key(w, "name"); jw_string(w, p->name);
        jw_key(w, "definition"); jw_string(w, p->file);
        jw_key(w, "about"); jw_string(w, p->about);
        jw_key(w, "package"); jw_string(w, p->package);
        jw_key(w, "command"); jw_string(w, p->command);
        jw_key(w, "server"); jw_string(w, p->server);
        jw_key(w, "client"); jw_string(w, p->client);
        jw_key(w, "figure"); jw_string(w, p->figure);
        jw_key(w, "better"); jw_string(w, p->higher < 0 ? NULL : p->higher ? "higher" : "lower");
        jw_key(w, "unit"); jw_string(w, p->unit);
        jw_key(w, "check");
        if (p->check == CHECK_FILE) {
            char *c = xasprintf("file %s", p->check_file);
            jw_string(w, c);
            free(c);
        } else {
            jw_string(w, p->check == CHECK_OUTPUT ? "output" : "none");
        }
        jw_key(w, "timeout_s"); jw_number(w, p->timeout);
        jw_end_object(w);
    }
    jw_end_array(w);
    jw_reason_list(w, "programs_skipped", "program", &set->skipped, &set->skip_reasons);
}

/* ---- one run ----------------------------------------------------------------- */

/* The library to preload and prove mapped (*path, to free). glibc's is
   build/lib/libhmlibc.so, which puts glibc's malloc in front of one a program
   is linked against; without it, nothing is preloaded (*preload 0) and the
   proof is libc itself. */
static char *allocator_library(const struct allocator *a, const char *root, int *preload)
{
    *preload = 1;
    if (a->preload)
        return xstrdup(a->preload);
    const char *base = strrchr(a->library, '/') ? strrchr(a->library, '/') + 1 : a->library;
    if (strncmp(base, "libc.so", 7) != 0)
        return xstrdup(a->library);
    char *shim = xasprintf("%s/build/lib/libhmlibc.so", root);
    if (access(shim, R_OK) == 0)
        return shim;
    free(shim);
    *preload = 0;
    return xstrdup(a->library);
}

/* A TCP port on 127.0.0.1 that was free a moment ago, or -1. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static int port_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* "fnv1a64:0123456789abcdef" of a file, or NULL. */
static char *digest_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    uint64_t h = 0xcbf29ce484222325ull;
    unsigned char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++)
            h = (h ^ buf[i]) * 0x100000001b3ull;
    close(fd);
    return n < 0 ? NULL : xasprintf("fnv1a64:%016llx", (unsigned long long)h);
}

/* The last at most max bytes of a file, NUL-terminated ("" when unreadable). */
static char *file_tail(const char *path, size_t max)
{
    char *buf = xmalloc(max + 1);
    size_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        off_t end = lseek(fd, 0, SEEK_END);
        lseek(fd, end > (off_t)max ? end - (off_t)max : 0, SEEK_SET);
        ssize_t r;
        while (n < max && (r = read(fd, buf + n, max - n)) > 0)
            n += (size_t)r;
        close(fd);
    }
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    return buf;
}

/* The figure: the last match of the pattern in text; 0, or -1. */
static int find_figure(const struct program *p, const char *text, double *out)
{
    regmatch_t m[2];
    int found = 0;
    const char *s = text;
    int flags = 0;
    while (*s && regexec(&p->re, s, 2, m, flags) == 0) {
        regmatch_t g = m[1].rm_so >= 0 ? m[1] : m[0];
        char *num = xasprintf("%.*s", (int)(g.rm_eo - g.rm_so), s + g.rm_so);
        double v;
        if (parse_double(trim(num), &v) == 0) {
            *out = v;
            found = 1;
        }
        free(num);
        s += m[0].rm_eo > 0 ? m[0].rm_eo : 1;
        flags = REG_NOTBOL;
    }
    return found ? 0 : -1;
}

/* The state of one run while it goes. */
struct live {
    struct rss_series rss;
    pid_t pid;
    const char *library;
    int mapped, maps_seen;
};

static void sample(void *arg)
{
    struct live *l = arg;
    rss_sample(&l->rss);
    if (!l->mapped) {
        int seen;
        l->mapped = maps_has_library(l->pid, l->library, &seen);
        l->maps_seen |= seen;
    }
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

static char *last_line_of(const char *path)
{
    return read_last_line(path, 200);
}

/* The words of a command line, argv[0] resolved to a path; NULL if not found. */
static char **command_argv(const struct program *p, const char *cmd, int port, struct strv *w)
{
    char *e = expand(p, cmd, port, NULL);
    split_words(e, w);
    free(e);
    char *path = find_command(w->v[0], NULL);
    if (path == NULL)
        return NULL;
    free(w->v[0]);
    w->v[0] = path;
    strv_push(w, "");
    free(w->v[w->n - 1]);
    w->v[w->n - 1] = NULL;
    return w->v;
}

/* The status of an ended process; reason set when not ok ("what: " before
   it, e.g. "the server: ", or "" for the program itself). */
static enum status ended(const struct child_status *cs, double timeout, const char *what,
                         const char *log, char **reason)
{
    char *last = last_line_of(log);
    enum status st = ST_OK;
    if (cs->timed_out) {
        st = ST_TIMEOUT;
        *reason = xasprintf("%sstill running after %g s; killed", what, timeout);
    } else if (cs->signaled) {
        st = ST_CRASH;
        *reason = xasprintf("%skilled by %s%s%s", what, signal_name(cs->sig), last ? ": " : "",
                            last ? last : "");
    } else if (cs->exit_code != 0) {
        st = ST_ERROR;
        *reason = xasprintf("%sexit status %d%s%s", what, cs->exit_code, last ? ": " : "",
                            last ? last : "");
    }
    free(last);
    return st;
}

struct outcome {
    struct child_status cs, client;
    int server, have_client;
    int port;
    long rss_end_kb, rss_100ms_kb, rss_1s_kb;
};

/* Stops a server: SIGTERM to its group, SIGKILL after the grace time. */
static void stop_server(pid_t pid, struct child_status *st)
{
    kill(-pid, SIGTERM);
    double dl = mono_now() + STOP_GRACE_S;
    int sig;
    if (proc_wait_every(&pid, &dl, 1, st, NULL, NULL, &sig, 0.05) == WAIT_INTERRUPTED)
        proc_kill(pid, st);
}

/* Runs the server and its client; 0, or -1 when interrupted (*sig).
   Status and reason for what went wrong before the client finished. */
static int run_server(struct program_job *j, struct live *l, const struct child_env *env,
                      const char *log_abs, const char *client_log_abs, double timeout,
                      struct outcome *o, enum status *st, char **reason, int *sig)
{
    struct strv sw = {0}, cw = {0};
    o->server = 1;
    o->port = free_port();
    char **sargv = command_argv(j->p, j->p->server, o->port, &sw);
    char **cargv = command_argv(j->p, j->p->client, o->port, &cw);
    int rc = 0;
    int log = open(log_abs, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int clog = open(client_log_abs, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    pid_t server = -1, client = -1;
    if (o->port < 0 || sargv == NULL || cargv == NULL || log < 0 || clog < 0) {
        *st = ST_ERROR;
        *reason = xstrdup(o->port < 0 ? "no free loopback port"
                          : sargv == NULL || cargv == NULL ? "server or client not found"
                                                          : "cannot create its logs");
        goto out;
    }
    double t0 = mono_now();
    server = proc_spawn(sargv, env, log, -1);
    if (server < 0)
        exit(1);
    l->pid = l->rss.pid = server;
    l->rss.t0 = t0;
    /* up when it accepts a connection */
    for (;;) {
        sample(l);
        if (proc_poll(server, &o->cs)) {
            server = -1;
            char *last = last_line_of(log_abs);
            *st = ST_NOSERVER;
            *reason = xasprintf("the server ended (%s %d) before it accepted connections on "
                                "port %d%s%s", o->cs.signaled ? "signal" : "exit status",
                                o->cs.signaled ? o->cs.sig : o->cs.exit_code, o->port,
                                last ? ": " : "", last ? last : "");
            free(last);
            goto out;
        }
        if (port_accepts(o->port))
            break;
        if (mono_now() - t0 > READY_TIMEOUT_S) {
            *st = ST_NOSERVER;
            *reason = xasprintf("the server did not accept connections on port %d within %g s",
                                o->port, READY_TIMEOUT_S);
            goto out;
        }
        if (proc_pause(SAMPLE_PERIOD_S, sig) != 0) {
            rc = -1;
            goto out;
        }
    }
    struct child_env cenv = {.cwd = env->cwd}; /* the load generator: glibc, no variables */
    double tl = mono_now();
    client = proc_spawn(cargv, &cenv, clog, -1);
    if (client < 0)
        exit(1);
    pid_t pids[2] = {server, client};
    double dls[2] = {tl + timeout, tl + timeout};
    struct child_status cs;
    int w = proc_wait_every(pids, dls, 2, &cs, sample, l, sig, SAMPLE_PERIOD_S);
    if (w == WAIT_INTERRUPTED) {
        rc = -1;
        goto out;
    }
    if (w == 0) { /* the server ended (or hit the deadline) during the load */
        server = -1;
        o->cs = cs;
        *st = ended(&cs, timeout, "the server: ", log_abs, reason);
        if (*st == ST_OK) {
            *st = ST_ERROR;
            *reason = xstrdup("the server exited during the load");
        }
        goto out;
    }
    client = -1;
    o->client = cs;
    o->client.wall_s = mono_now() - tl;
    o->have_client = 1;
    o->cs.wall_s = o->client.wall_s;
    if (cs.timed_out || cs.signaled || cs.exit_code != 0) {
        *st = ended(&cs, timeout, "the load generator: ", client_log_abs, reason);
        goto out;
    }
    /* what the server keeps after the load */
    o->rss_end_kb = rss_now_kb(server);
    double tend = mono_now();
    if (proc_pause(tend + 0.1 - mono_now(), sig) != 0) {
        rc = -1;
        goto out;
    }
    o->rss_100ms_kb = rss_now_kb(server);
    sample(l);
    if (proc_pause(tend + 1.0 - mono_now(), sig) != 0) {
        rc = -1;
        goto out;
    }
    o->rss_1s_kb = rss_now_kb(server);
    sample(l);
out:
    if (client > 0)
        proc_kill(client, NULL);
    if (server > 0) {
        struct child_status ss;
        if (rc == 0)
            stop_server(server, &ss);
        else
            proc_kill(server, &ss);
        /* its whole rusage; the time is the load's; the signal was ours */
        double wall = o->cs.wall_s;
        o->cs = ss;
        o->cs.wall_s = wall;
        if (!ss.exited) {
            o->cs.exited = 1;
            o->cs.exit_code = 0;
            o->cs.signaled = 0;
            o->cs.sig = 0;
        }
    }
    if (log >= 0)
        close(log);
    if (clog >= 0)
        close(clog);
    strv_free(&sw);
    strv_free(&cw);
    return rc;
}

static void write_line(struct program_job *j, enum status st, const char *reason,
                       const struct outcome *o, const struct live *l, const char *library,
                       int preload, const char *rss_rel, const char *log_rel,
                       const char *client_log_rel, const char *out_rel, int have_figure,
                       double figure, const char *digest)
{
    struct json_writer w;
    jw_init(&w, j->runs, 0);
    jw_begin_object(&w);
    jw_key(&w, "id"); jw_string(&w, j->id);
    jw_key(&w, "kind"); jw_string(&w, "program");
    jw_key(&w, "allocator"); jw_string(&w, j->a->name);
    jw_key(&w, "program"); jw_string(&w, j->p->name);
    jw_key(&w, "process"); jw_int(&w, j->process);
    jw_key(&w, "status"); jw_string(&w, status_names[st]);
    jw_key(&w, "reason"); jw_string(&w, reason);
    const struct child_status *cs = &o->cs;
    jw_key(&w, "exit_code");
    if (cs->exited) jw_int(&w, cs->exit_code); else jw_null(&w);
    jw_key(&w, "signal"); jw_string(&w, cs->signaled ? signal_name(cs->sig) : NULL);
    jw_key(&w, "wall_s"); jw_number(&w, cs->wall_s);
    jw_key(&w, "user_s"); jw_number(&w, tv_s(cs->ru.ru_utime));
    jw_key(&w, "sys_s"); jw_number(&w, tv_s(cs->ru.ru_stime));
    jw_key(&w, "max_rss_kb"); jw_int(&w, cs->ru.ru_maxrss);
    jw_key(&w, "minflt"); jw_int(&w, cs->ru.ru_minflt);
    jw_key(&w, "majflt"); jw_int(&w, cs->ru.ru_majflt);
    jw_key(&w, "rss"); jw_string(&w, rss_rel);
    jw_key(&w, "rss_samples"); jw_int(&w, (long long)l->rss.n);
    jw_key(&w, "rss_peak_sampled_kb"); jw_int(&w, l->rss.peak_kb);
    jw_key(&w, "server"); jw_bool(&w, o->server);
    jw_key(&w, "port");
    if (o->server) jw_int(&w, o->port); else jw_null(&w);
    jw_key(&w, "client_wall_s");
    if (o->have_client) jw_number(&w, o->client.wall_s); else jw_null(&w);
    jw_key(&w, "client_user_s");
    if (o->have_client) jw_number(&w, tv_s(o->client.ru.ru_utime)); else jw_null(&w);
    jw_key(&w, "client_sys_s");
    if (o->have_client) jw_number(&w, tv_s(o->client.ru.ru_stime)); else jw_null(&w);
    jw_key(&w, "client_max_rss_kb");
    if (o->have_client) jw_int(&w, o->client.ru.ru_maxrss); else jw_null(&w);
    const long after[3] = {o->rss_end_kb, o->rss_100ms_kb, o->rss_1s_kb};
    const char *after_keys[3] = {"rss_end_load_kb", "rss_after_100ms_kb", "rss_after_1s_kb"};
    for (int i = 0; i < 3; i++) {
        jw_key(&w, after_keys[i]);
        if (o->server && after[i] > 0) jw_int(&w, after[i]); else jw_null(&w);
    }
    jw_key(&w, "figure");
    if (have_figure) jw_number(&w, figure); else jw_null(&w);
    jw_key(&w, "better"); jw_string(&w, j->p->higher < 0 ? NULL : j->p->higher ? "higher" : "lower");
    jw_key(&w, "unit"); jw_string(&w, j->p->unit);
    jw_key(&w, "library"); jw_string(&w, library);
    jw_key(&w, "preloaded"); jw_bool(&w, preload);
    jw_key(&w, "library_mapped"); jw_bool(&w, l->mapped);
    jw_key(&w, "check");
    if (j->p->check == CHECK_FILE) {
        char *c = xasprintf("file %s", j->p->check_file);
        jw_string(&w, c);
        free(c);
    } else {
        jw_string(&w, j->p->check == CHECK_OUTPUT ? "output" : "none");
    }
    jw_key(&w, "digest"); jw_string(&w, digest);
    jw_key(&w, "digest_reference"); jw_string(&w, j->p->ref_digest);
    jw_key(&w, "log"); jw_string(&w, log_rel);
    jw_key(&w, "client_log"); jw_string(&w, client_log_rel);
    jw_key(&w, "output"); jw_string(&w, out_rel);
    jw_end_object(&w);
    fputc('\n', j->runs);
    if (fflush(j->runs) != 0 || ferror(j->runs)) {
        errmsg("cannot write %s/runs.jsonl: %s; stopping", j->dir, strerror(errno));
        exit(1);
    }
}

int program_run(struct program_job *j, enum status *st_out, char **tail)
{
    struct program *p = j->p;
    const struct allocator *a = j->a;
    int preload;
    char *library = allocator_library(a, p->root, &preload);
    double timeout = j->timeout > 0 ? j->timeout : p->timeout;
    char *adir = xasprintf("%s/raw/%s", j->dir, a->name);
    if (mkdir_p(adir, 0755) != 0) {
        errmsg("cannot create %s: %s", adir, strerror(errno));
        exit(1);
    }
    char *log_rel = xasprintf("raw/%s/%s.log", a->name, j->id);
    char *rss_rel = xasprintf("raw/%s/%s.rss", a->name, j->id);
    char *out_rel = xasprintf("raw/%s/%s.out", a->name, j->id);
    char *clog_rel = p->server ? xasprintf("raw/%s/%s.client.log", a->name, j->id) : NULL;
    char *log_abs = xasprintf("%s/%s", j->dir, log_rel);
    char *rss_abs = xasprintf("%s/%s", j->dir, rss_rel);
    char *out_abs = xasprintf("%s/%s", j->dir, out_rel);
    char *clog_abs = clog_rel ? xasprintf("%s/%s", j->dir, clog_rel) : NULL;
    if (p->file) { /* a definition runs in a fresh, empty folder */
        nftw(p->runcwd, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        mkdir_p(p->runcwd, 0755);
    }
    struct child_env env = allocator_env(a, NULL);
    env.preload = preload ? library : NULL;
    env.cwd = p->runcwd;
    struct live l = {.library = library};
    struct outcome o = {0};
    enum status st = ST_OK;
    char *reason = NULL;
    int sig = 0, rc = 0;
    int separate_out = p->check == CHECK_OUTPUT;
    if (rss_open(&l.rss, rss_abs, 0, 0, SAMPLE_PERIOD_S) != 0) {
        errmsg("cannot create %s: %s", rss_abs, strerror(errno));
        exit(1);
    }
    if (p->server) {
        if (run_server(j, &l, &env, log_abs, clog_abs, timeout, &o, &st, &reason, &sig) != 0)
            rc = -1;
    } else {
        struct strv words = {0};
        char **argv = command_argv(p, p->command, 0, &words);
        int log = open(log_abs, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int out = separate_out ? open(out_abs, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)
                               : log;
        if (argv == NULL || log < 0 || out < 0) {
            st = ST_ERROR;
            reason = xstrdup(argv == NULL ? "command not found" : "cannot create its log");
        } else {
            double t0 = mono_now();
            pid_t pid = proc_spawn(argv, &env, out, log);
            if (pid < 0)
                exit(1);
            l.pid = l.rss.pid = pid;
            l.rss.t0 = t0;
            double dl = t0 + timeout;
            int w = proc_wait_every(&pid, &dl, 1, &o.cs, sample, &l, &sig, SAMPLE_PERIOD_S);
            if (w == WAIT_INTERRUPTED) {
                proc_kill(pid, NULL);
                rc = -1;
            } else {
                o.cs.wall_s = mono_now() - t0;
                st = ended(&o.cs, timeout, "", log_abs, &reason);
                if (o.cs.timed_out) {
                    o.cs.signaled = 0;
                    o.cs.sig = 0;
                }
            }
        }
        if (log >= 0)
            close(log);
        if (separate_out && out >= 0)
            close(out);
        strv_free(&words);
    }
    rss_close(&l.rss);
    if (rc != 0) {
        errmsg("interrupted by %s: stopped %s %s", signal_name(sig), a->name, p->name);
        unlink(rss_abs);
        *tail = NULL;
        rc = interrupted_exit_code(sig);
        goto out;
    }

    if (st == ST_OK && !l.mapped) {
        st = ST_UNPROVEN;
        reason = l.maps_seen ? xasprintf("%s is not mapped in the measured process (pid %d)",
                                         library, (int)l.pid)
                             : xasprintf("the measured process ended before its maps could be "
                                         "read (in %.3f s): %s not proven loaded",
                                         o.cs.wall_s, library);
    }
    double figure = 0;
    int have_figure = 0;
    if (p->figure) {
        char *t1 = file_tail(log_abs, FIGURE_TAIL_BYTES);
        char *t2 = file_tail(clog_abs ? clog_abs : separate_out ? out_abs : "/dev/null",
                             FIGURE_TAIL_BYTES);
        char *text = xasprintf("%s\n%s", t1, t2);
        have_figure = find_figure(p, text, &figure) == 0;
        free(t1);
        free(t2);
        free(text);
        if (st == ST_OK && !have_figure) {
            st = ST_GARBAGE;
            reason = xasprintf("no figure: the pattern '%s' is not in its output", p->figure);
        }
    }
    char *digest = NULL;
    if (p->check != CHECK_NONE) {
        char *what = p->check == CHECK_FILE ? xasprintf("%s/%s", p->runcwd, p->check_file)
                                            : xstrdup(out_abs);
        digest = digest_file(what);
        if (st == ST_OK && digest == NULL) {
            st = ST_GARBAGE;
            reason = xasprintf("no result to compare: cannot read %s", what);
        }
        free(what);
        if (st == ST_OK && j->reference && p->ref_digest == NULL)
            p->ref_digest = xstrdup(digest);
        else if (st == ST_OK && p->ref_digest && strcmp(digest, p->ref_digest) != 0) {
            st = ST_MISMATCH;
            reason = xasprintf("its result differs from the reference's (%s against %s)", digest,
                               p->ref_digest);
        }
    }
    /* the output is kept only to show a mismatch */
    int keep_out = separate_out && st == ST_MISMATCH;
    if (separate_out && !keep_out)
        unlink(out_abs);
    write_line(j, st, reason, &o, &l, library, preload, rss_rel, log_rel, clog_rel,
               keep_out ? out_rel : NULL, have_figure, figure, digest);
    if (st == ST_OK && have_figure)
        *tail = xasprintf("ok (%.1f s, peak %.1f MiB, %g%s%s)", o.cs.wall_s,
                          (double)o.cs.ru.ru_maxrss / 1024.0, figure, p->unit ? " " : "",
                          p->unit ? p->unit : "");
    else if (st == ST_OK)
        *tail = xasprintf("ok (%.1f s, peak %.1f MiB)", o.cs.wall_s,
                          (double)o.cs.ru.ru_maxrss / 1024.0);
    else
        *tail = xasprintf("%s: %s", status_names[st], reason);
    free(digest);
    *st_out = st;
out:
    free(library);
    free(reason);
    free(adir);
    free(log_rel);
    free(rss_rel);
    free(out_rel);
    free(clog_rel);
    free(log_abs);
    free(rss_abs);
    free(out_abs);
    free(clog_abs);
    return rc;
}
