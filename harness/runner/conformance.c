/* conformance.c: `heapmark conformance`: every allocator's conformance
 * binary, two at a time by default, each writing its verdicts into the run
 * folder. Like `heapmark run` it goes
 *
 *   plan:   allocators -> their identity -> the run folder
 *   launch: the next allocator's binary, while fewer than --jobs run
 *   reap:   one child ends (or its --limit passes): its status recorded,
 *           meta.json rewritten
 *   finish: meta.json "complete", latest-conformance moved
 *
 * and it never returns with a child still running: a signal or a failure to
 * start kills the running ones first. A binary that crashes, hangs or writes
 * no verdicts is a recorded result, as a benchmark's crash is for `heapmark
 * run`: the exit status says only whether the run itself went through. The
 * matrix, and its comparison with conformance/expected, are
 * scripts/conformance_report.py's, which the Makefile runs on the folder. */
#define _GNU_SOURCE
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_LIMIT_S 600.0

struct conf_proc {
    const char *state; /* NULL until it ends: "done", "crash", "timeout", "no-json" */
    struct child_status cs;
    char *json_rel, *log_rel;
    double start;
};

struct conformance {
    const char *root;
    const struct options *o;
    struct allocator_set set;
    double limit;
    long jobs;
    char *dir, *parent, *name; /* the run folder, its parent, its name */
    struct sysinfo si;
    char *cmdline;
    char started[32], finished[32];
    const char *state;     /* meta.json "state" */
    struct conf_proc *procs;
    pid_t *pids;           /* 0: not running */
    double *deadlines;
    size_t next, running, ended;
};

/* Writes <dir>/meta.json for the run as it stands, in state (with the time it
   ended, unless still "running"). */
static void record_state(struct conformance *c, const char *state)
{
    c->state = state;
    if (strcmp(state, "running") != 0)
        utc_iso(c->finished, sizeof c->finished);
    const struct options *o = c->o;
    double limit = c->limit;
    const struct allocator_set *set = &c->set;
    const struct conf_proc *procs = c->procs;
    const char *dir = c->dir;
    struct meta_doc m;
    meta_begin(&m, "conformance", c->started, strcmp(state, "running") ? c->finished : NULL, state,
               c->cmdline, &c->si);
    struct json_writer *w = &m.w;
    jw_key(w, "options");
    jw_begin_object(w);
    jw_key(w, "filter"); jw_string(w, o->filter);
    jw_key(w, "timeout_s");
    if (o->timeout > 0) jw_number(w, o->timeout); else jw_null(w);
    jw_key(w, "limit_s"); jw_number(w, limit);
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
    meta_commit(&m, dir);
}

/* Resolves and identifies the allocators and creates the run folder. Returns
   0, or the exit code when the command stops here (message printed). */
static int plan(struct conformance *c)
{
    const struct options *o = c->o;
    if (allocators_resolve(c->root, o->allocators, BIN_CONFORMANCE, &c->set) != 0)
        return 1;
    int sig = 0;
    int idr = allocators_identify(&c->set, NULL, &sig);
    if (idr == -2) {
        errmsg("interrupted by %s before anything ran", signal_name(sig));
        return interrupted_exit_code(sig);
    }
    if (idr != 0)
        return 1;
    allocators_packages(&c->set);
    c->limit = o->limit > 0 ? o->limit : DEFAULT_LIMIT_S;
    c->jobs = o->jobs > 0 ? o->jobs : 2;

    char *parent = o->out ? xstrdup(o->out) : xasprintf("%s/results", c->root);
    c->dir = outdir_create(parent, &c->name);
    free(parent);
    if (c->dir == NULL)
        return 1;
    c->parent = xstrdup(c->dir);
    *strrchr(c->parent, '/') = '\0';
    char *cdir = xasprintf("%s/conformance", c->dir);
    if (mkdir_p(cdir, 0755) != 0) {
        errmsg("cannot create %s: %s", cdir, strerror(errno));
        return 1;
    }
    free(cdir);
    sysinfo_collect(&c->si, c->root);
    c->cmdline = command_line(o->argc, o->argv);
    utc_iso(c->started, sizeof c->started);

    size_t n = c->set.n;
    c->procs = calloc(n, sizeof *c->procs);
    c->pids = calloc(n, sizeof *c->pids);
    c->deadlines = calloc(n, sizeof *c->deadlines);
    if (!c->procs || !c->pids || !c->deadlines) {
        errmsg("out of memory");
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        c->procs[i].json_rel = xasprintf("conformance/%s.json", c->set.v[i].name);
        c->procs[i].log_rel = xasprintf("conformance/%s.log", c->set.v[i].name);
    }
    record_state(c, "running");
    fprintf(stderr, "heapmark conformance: %zu allocators, %ld at a time, into %s\n", n, c->jobs,
            c->dir);
    return 0;
}

/* Starts the next allocator's conformance binary. 0, or -1 (message printed)
   when it could not. */
static int launch(struct conformance *c)
{
    const struct options *o = c->o;
    size_t i = c->next;
    struct allocator *a = &c->set.v[i];
    struct conf_proc *p = &c->procs[i];
    char *json_abs = xasprintf("%s/%s", c->dir, p->json_rel);
    char *log_abs = xasprintf("%s/%s", c->dir, p->log_rel);
    int log = open(log_abs, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log < 0) {
        errmsg("cannot create %s: %s", log_abs, strerror(errno));
        free(json_abs);
        free(log_abs);
        return -1;
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
    p->start = mono_now();
    pid_t pid = proc_spawn(argv, &env, log, -1);
    close(log);
    free(t);
    free(json_abs);
    free(log_abs);
    if (pid < 0)
        return -1;
    c->pids[i] = pid;
    c->deadlines[i] = p->start + c->limit;
    c->running++;
    c->next++;
    return 0;
}

/* Kills every child still running. */
static void stop_all(struct conformance *c)
{
    for (size_t k = 0; k < c->set.n; k++)
        if (c->pids[k] > 0) {
            proc_kill(c->pids[k], NULL);
            c->pids[k] = 0;
        }
    c->running = 0;
}

/* Waits for one child to end and records it. 0, or WAIT_INTERRUPTED (*sig
   set) when a terminating signal came first. */
static int reap(struct conformance *c, int *sig)
{
    struct child_status cs;
    int i = proc_wait_any(c->pids, c->deadlines, (int)c->set.n, &cs, NULL, NULL, sig);
    if (i == WAIT_INTERRUPTED)
        return WAIT_INTERRUPTED;
    struct conf_proc *p = &c->procs[i];
    cs.wall_s = mono_now() - p->start;
    c->pids[i] = 0;
    c->running--;
    c->ended++;
    p->cs = cs;
    char *json_abs = xasprintf("%s/%s", c->dir, p->json_rel);
    if (cs.timed_out)
        p->state = "timeout";
    else if (cs.signaled)
        p->state = "crash";
    else if (access(json_abs, F_OK) != 0)
        p->state = "no-json";
    else
        p->state = "done";
    free(json_abs);
    int done = strcmp(p->state, "done") == 0;
    char detail[128];
    if (cs.timed_out)
        snprintf(detail, sizeof detail, "killed after %g s (--limit)", c->limit);
    else if (cs.signaled)
        snprintf(detail, sizeof detail, "killed by %s", signal_name(cs.sig));
    else
        snprintf(detail, sizeof detail, "exit status %d", cs.exit_code);
    fprintf(stderr, "[%zu/%zu] %s: %s, %s (%.1f s)%s%s\n", c->ended, c->set.n, c->set.v[i].name,
            p->state, detail, cs.wall_s, done ? "" : "; see ", done ? "" : p->log_rel);
    record_state(c, "running");
    return 0;
}

/* The end of a run that every allocator went through: meta.json complete,
   latest-conformance. A binary that left no verdicts is in meta.json (and in
   its [i/n] line above), not in the exit status. */
static int finish(struct conformance *c)
{
    record_state(c, "complete");
    outdir_link(c->parent, c->name, "latest-conformance");
    fprintf(stderr, "conformance results: %s\n", c->dir);
    return 0;
}

int cmd_conformance(const char *root, const struct options *o)
{
    struct conformance c = {.root = root, .o = o};
    int rc = plan(&c);
    if (rc != 0)
        return rc;
    while (c.ended < c.set.n) {
        while (c.running < (size_t)c.jobs && c.next < c.set.n)
            if (launch(&c) != 0) {
                stop_all(&c);
                return 1;
            }
        int sig = 0;
        if (reap(&c, &sig) == WAIT_INTERRUPTED) {
            stop_all(&c);
            record_state(&c, "interrupted");
            errmsg("interrupted by %s; the finished allocators' results are kept in %s",
                   signal_name(sig), c.dir);
            return interrupted_exit_code(sig);
        }
    }
    return finish(&c);
}
