/* conformance.c: `heapmark conformance`: every allocator's conformance
 * binary (two at a time), then scripts/conformance_report.py on the run. */
#define _GNU_SOURCE
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_LIMIT_S 600.0
#define REPORT_LIMIT_S 600.0
#define PYTHON "/usr/bin/python3"

struct conf_proc {
    const char *state; /* NULL until it ends: "done", "crash", "timeout", "no-json" */
    struct child_status cs;
    char *json_rel, *log_rel;
};

static void write_meta(const char *dir, const char *started, const char *finished,
                       const char *state, const char *cmdline, const struct sysinfo *si,
                       const struct options *o, double limit, const struct allocator_set *set,
                       const struct conf_proc *procs, int report_status)
{
    struct meta_doc m;
    meta_begin(&m, "conformance", started, finished, state, cmdline, si);
    struct json_writer *w = &m.w;
    jw_key(w, "options");
    jw_begin_object(w);
    jw_key(w, "filter"); jw_string(w, o->filter);
    jw_key(w, "timeout_s");
    if (o->timeout > 0) jw_number(w, o->timeout); else jw_null(w);
    jw_key(w, "limit_s"); jw_number(w, limit);
    jw_key(w, "check"); jw_bool(w, o->check);
    jw_key(w, "allocators"); jw_string(w, o->allocators);
    jw_end_object(w);
    jw_key(w, "allocators");
    jw_begin_array(w);
    for (size_t i = 0; i < set->n; i++) {
        const struct conf_proc *p = &procs[i];
        jw_begin_object(w);
        meta_allocator(w, &set->v[i]);
        jw_key(w, "status"); jw_string(w, p->state ? p->state : "not run");
        jw_key(w, "exit_code");
        if (p->state && p->cs.exited) jw_int(w, p->cs.exit_code); else jw_null(w);
        jw_key(w, "signal");
        jw_string(w, p->state && p->cs.signaled && !p->cs.timed_out ? signal_name(p->cs.sig) : NULL);
        jw_key(w, "wall_s");
        if (p->state) jw_number(w, p->cs.wall_s); else jw_null(w);
        jw_key(w, "json"); jw_string(w, p->json_rel);
        jw_key(w, "log"); jw_string(w, p->log_rel);
        jw_end_object(w);
    }
    jw_end_array(w);
    jw_key(w, "report_exit_code");
    if (report_status >= 0) jw_int(w, report_status); else jw_null(w);
    meta_commit(&m, dir);
}

int cmd_conformance(const char *root, const struct options *o)
{
    struct allocator_set set;
    if (allocators_resolve(root, o->allocators, BIN_CONFORMANCE, &set) != 0)
        return 1;
    char *script = xasprintf("%s/scripts/conformance_report.py", root);
    if (!is_regular_file(script)) {
        errmsg("scripts/conformance_report.py is missing, so the conformance matrix cannot be "
               "built; nothing was run");
        return 1;
    }
    char *expected = xasprintf("%s/conformance/expected", root);
    if (o->check && access(expected, F_OK) != 0) {
        errmsg("--check needs the expected matrix conformance/expected: %s", strerror(errno));
        return 1;
    }
    if (!is_executable_file(PYTHON)) {
        errmsg("%s is missing; run scripts/bootstrap-deps.sh", PYTHON);
        return 1;
    }
    int sig = 0;
    int idr = allocators_identify(&set, NULL, &sig);
    if (idr == -2) {
        errmsg("interrupted by %s before anything ran", signal_name(sig));
        return interrupted_exit_code(sig);
    }
    if (idr != 0)
        return 1;
    allocators_packages(&set);
    double limit = o->limit > 0 ? o->limit : DEFAULT_LIMIT_S;
    long jobs = o->jobs > 0 ? o->jobs : 2;

    char *parent = o->out ? xstrdup(o->out) : xasprintf("%s/results", root);
    char *name = NULL;
    char *dir = outdir_create(parent, &name);
    if (dir == NULL)
        return 1;
    free(parent);
    parent = xstrdup(dir);
    *strrchr(parent, '/') = '\0';
    char *cdir = xasprintf("%s/conformance", dir);
    if (mkdir_p(cdir, 0755) != 0) {
        errmsg("cannot create %s: %s", cdir, strerror(errno));
        return 1;
    }
    struct sysinfo si;
    sysinfo_collect(&si, root);
    char *cmdline = command_line(o->argc, o->argv);
    char started[32], finished[32];
    utc_iso(started, sizeof started);

    struct conf_proc *procs = calloc(set.n, sizeof *procs);
    pid_t *pids = calloc(set.n, sizeof *pids);
    double *deadlines = calloc(set.n, sizeof *deadlines);
    double *starts = calloc(set.n, sizeof *starts);
    if (!procs || !pids || !deadlines || !starts) {
        errmsg("out of memory");
        return 1;
    }
    for (size_t i = 0; i < set.n; i++) {
        procs[i].json_rel = xasprintf("conformance/%s.json", set.v[i].name);
        procs[i].log_rel = xasprintf("conformance/%s.log", set.v[i].name);
    }
    write_meta(dir, started, NULL, "running", cmdline, &si, o, limit, &set, procs, -1);
    fprintf(stderr, "heapmark conformance: %zu allocators, %ld at a time, into %s\n", set.n, jobs,
            dir);

    size_t next = 0, running = 0, ended = 0;
    int missing = 0;
    while (ended < set.n) {
        while (running < (size_t)jobs && next < set.n) {
            struct allocator *a = &set.v[next];
            char *json_abs = xasprintf("%s/%s", dir, procs[next].json_rel);
            char *log_abs = xasprintf("%s/%s", dir, procs[next].log_rel);
            int log = open(log_abs, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (log < 0) {
                errmsg("cannot create %s: %s", log_abs, strerror(errno));
                return 1;
            }
            char *argv[8];
            int n = 0;
            char *t = o->timeout > 0 ? xasprintf("%g", o->timeout) : NULL;
            argv[n++] = a->binary;
            argv[n++] = "--json";
            argv[n++] = json_abs;
            if (o->filter) {
                argv[n++] = "--filter";
                argv[n++] = (char *)o->filter;
            }
            if (t) {
                argv[n++] = "--timeout";
                argv[n++] = t;
            }
            argv[n] = NULL;
            struct child_env env = allocator_env(a, NULL);
            starts[next] = mono_now();
            pids[next] = proc_spawn(argv, &env, log, -1);
            close(log);
            free(t);
            free(json_abs);
            free(log_abs);
            if (pids[next] < 0)
                return 1;
            deadlines[next] = starts[next] + limit;
            running++;
            next++;
        }
        struct child_status cs;
        int i = proc_wait_any(pids, deadlines, (int)set.n, &cs, NULL, NULL, &sig);
        if (i == WAIT_INTERRUPTED) {
            for (size_t k = 0; k < set.n; k++)
                if (pids[k] > 0)
                    proc_kill(pids[k], NULL);
            utc_iso(finished, sizeof finished);
            write_meta(dir, started, finished, "interrupted", cmdline, &si, o, limit, &set, procs,
                       -1);
            errmsg("interrupted by %s; the finished allocators' results are kept in %s",
                   signal_name(sig), dir);
            return interrupted_exit_code(sig);
        }
        cs.wall_s = mono_now() - starts[i];
        pids[i] = 0;
        running--;
        ended++;
        struct conf_proc *p = &procs[i];
        p->cs = cs;
        char *json_abs = xasprintf("%s/%s", dir, p->json_rel);
        if (cs.timed_out)
            p->state = "timeout";
        else if (cs.signaled)
            p->state = "crash";
        else if (access(json_abs, F_OK) != 0)
            p->state = "no-json";
        else
            p->state = "done";
        free(json_abs);
        if (strcmp(p->state, "done") != 0)
            missing++;
        char detail[128];
        if (cs.timed_out)
            snprintf(detail, sizeof detail, "killed after %g s (--limit)", limit);
        else if (cs.signaled)
            snprintf(detail, sizeof detail, "killed by %s", signal_name(cs.sig));
        else
            snprintf(detail, sizeof detail, "exit status %d", cs.exit_code);
        fprintf(stderr, "[%zu/%zu] %s: %s, %s (%.1f s)%s%s\n", ended, set.n, set.v[i].name,
                p->state, detail, cs.wall_s, strcmp(p->state, "done") ? "; see " : "",
                strcmp(p->state, "done") ? p->log_rel : "");
        write_meta(dir, started, NULL, "running", cmdline, &si, o, limit, &set, procs, -1);
    }

    /* the matrix */
    char *argv[8];
    int n = 0;
    argv[n++] = PYTHON;
    argv[n++] = script;
    argv[n++] = dir;
    if (o->check) {
        argv[n++] = "--expected";
        argv[n++] = expected;
        argv[n++] = "--check";
    }
    argv[n] = NULL;
    struct child_env env = {0};
    double t0 = mono_now();
    pid_t pid = proc_spawn(argv, &env, -1, -1);
    if (pid < 0)
        return 1;
    double deadline = t0 + REPORT_LIMIT_S;
    struct child_status cs;
    int rc;
    if (proc_wait_any(&pid, &deadline, 1, &cs, NULL, NULL, &sig) == WAIT_INTERRUPTED) {
        proc_kill(pid, NULL);
        utc_iso(finished, sizeof finished);
        write_meta(dir, started, finished, "interrupted", cmdline, &si, o, limit, &set, procs, -1);
        errmsg("interrupted by %s while building the matrix", signal_name(sig));
        return interrupted_exit_code(sig);
    }
    if (cs.timed_out) {
        errmsg("scripts/conformance_report.py ran past %g s and was killed", REPORT_LIMIT_S);
        rc = 1;
    } else if (cs.signaled) {
        errmsg("scripts/conformance_report.py was killed by %s", signal_name(cs.sig));
        rc = 1;
    } else {
        rc = cs.exit_code;
    }
    utc_iso(finished, sizeof finished);
    write_meta(dir, started, finished, "complete", cmdline, &si, o, limit, &set, procs,
               cs.exited ? cs.exit_code : -1);
    outdir_link(parent, name, "latest-conformance");
    if (rc == 0 && missing > 0) {
        errmsg("%d allocator(s) left no conformance results (see above)", missing);
        rc = 1;
    }
    fprintf(stderr, "conformance results: %s\n", dir);
    return rc;
}
