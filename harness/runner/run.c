/* run.c: `heapmark run` and `heapmark list`.
 *
 *   plan: allocators -> their identity -> their benchmark instances -> filter;
 *         the programs (program.c) -> their set-up
 *   run:  in rounds: round p runs every program (then every benchmark) under
 *         each allocator in turn (A B C A B C ...); the programs' rounds come
 *         first, then the benchmarks'; one fresh child process per instance,
 *         with a deadline
 *   record: one runs.jsonl line as each child ends, meta.json rewritten
 *         atomically after each, `latest` moved at the end
 *
 * With --instructions (callgrind.c), each single-thread instance runs once under
 * valgrind --tool=callgrind --collect-atstart=no with HEAPMARK_COUNT_OPS set:
 * the shim (harness/gbench.h) collects only inside its timed loops and
 * writes how many operations ran there, so instructions per operation =
 * callgrind's total Ir / operations.
 */
#define _GNU_SOURCE
#include "runner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_S 120.0
#define INSTRUCTIONS_TIMEOUT_S 600.0 /* callgrind runs programs ~50x slower */
/* Google Benchmark's first try (one batch, or one round of a workload) takes
   longer than this, so it is the only one: the same operations every run. */
#define INSTRUCTIONS_MIN_TIME_S 1e-9

struct profile {
    const char *name;
    long repetitions;
    double min_time;
    long processes;    /* per benchmark instance and allocator */
    long program_runs; /* per program and allocator */
};

static const struct profile profiles[] = {
    {"quick", 2, 0.02, 1, 1},
    {"default", 3, 0.05, 2, 3},
    {"full", 9, 0.2, 3, 3},
};

const char *const status_names[ST_COUNT] = {"ok",       "error",    "crash",    "timeout",
                                            "garbage",  "mismatch", "unproven", "no-server"};

struct instance {
    size_t alloc;
    const char *bench;      /* "program/NAME" for a program */
    long process;           /* 0-based round */
    struct program *prog;   /* NULL for a benchmark */
};

struct run {
    const char *root;
    const struct options *o;
    const struct profile *profile;
    long repetitions, processes, program_runs;
    double min_time, timeout;
    struct allocator_set set;
    struct program_set programs;
    struct strv program_names; /* "program/NAME", by programs index */
    const char *programs_dir;  /* the definitions' folder, or NULL */
    int listing;               /* heapmark list: no set-up */
    struct strv benchmarks; /* planned, in order */
    struct strv skipped, skip_reasons; /* --instructions: not single-thread */
    char *valgrind;         /* --instructions: the valgrind executable */
    double *per_op;         /* --instructions: by plan index; NAN when not counted */
    struct instance *plan;
    size_t planned, done;
    size_t counts[ST_COUNT];
    char *parent, *dir, *name, *cmdline;
    FILE *runs;
    struct sysinfo si;
    char started[32], finished[32];
    const char *state;
    /* progress */
    int tty;
    double t0;
    size_t current;
};

static const struct profile *find_profile(const char *name)
{
    for (size_t i = 0; i < sizeof profiles / sizeof *profiles; i++)
        if (strcmp(profiles[i].name, name) == 0)
            return &profiles[i];
    return NULL;
}

/* ---- planning -------------------------------------------------------------- */

/* Escapes POSIX extended-regex specials so that ^name$ matches name only. */
static char *regex_escape(const char *s)
{
    char *r = xmalloc(strlen(s) * 2 + 1), *o = r;
    for (; *s; s++) {
        if (strchr(".[]{}()\\*+?|^$", *s))
            *o++ = '\\';
        *o++ = *s;
    }
    *o = '\0';
    return r;
}

/* The thread count of an instance: N of its "threads:N" part (1 without). */
static long instance_threads(const char *name)
{
    const char *p = name;
    while ((p = strstr(p, "threads:")) != NULL) {
        if (p == name || p[-1] == '/') {
            long n = 0;
            const char *d = p + 8;
            while (*d >= '0' && *d <= '9')
                n = n * 10 + (*d++ - '0');
            if (d > p + 8 && (*d == '\0' || *d == '/'))
                return n;
        }
        p += 8;
    }
    return 1;
}

/* The allocator whose program results the others must match: glibc (its
   libc serves malloc, nothing preloaded) when it runs, else the first. */
static size_t reference_allocator(const struct allocator_set *set)
{
    for (size_t a = 0; a < set->n; a++) {
        const char *lib = set->v[a].library;
        const char *base = strrchr(lib, '/') ? strrchr(lib, '/') + 1 : lib;
        if (set->v[a].preload == NULL && strncmp(base, "libc.so", 7) == 0)
            return a;
    }
    return 0;
}

/* Which programs run: --programs DIR or none; by default bench/programs
   (when it exists), unless the user names his own with --program, or
   --instructions counts. */
static int plan_programs(struct run *r, const char *filter, int *sig)
{
    const struct options *o = r->o;
    char *dflt = xasprintf("%s/bench/programs", r->root);
    const char *dir = NULL;
    if (o->programs && strcmp(o->programs, "none") != 0)
        dir = o->programs;
    else if (o->programs == NULL && o->user_programs.n == 0 && !o->instructions &&
             access(dflt, F_OK) == 0)
        dir = dflt;
    if (o->instructions && (dir || o->user_programs.n)) {
        errmsg("--instructions counts the benchmarks only: --program and --programs do not apply");
        free(dflt);
        return 1;
    }
    r->programs_dir = dir ? xstrdup(dir) : NULL;
    int rc = programs_load(r->root, dir, &o->user_programs, &r->programs);
    free(dflt);
    if (rc != 0)
        return 1;
    if (filter) {
        regex_t re;
        int e = regcomp(&re, filter, REG_EXTENDED | REG_NOSUB);
        if (e != 0) {
            char msg[256];
            regerror(e, &re, msg, sizeof msg);
            errmsg("bad --filter '%s': %s", filter, msg);
            return 1;
        }
        /* a user's own program always runs */
        struct program_set mine = {0}, defs = {0};
        for (size_t i = 0; i < r->programs.n; i++) {
            int own = i >= r->programs.n - o->user_programs.n;
            struct program_set *to = own ? &mine : &defs;
            to->v = xrealloc(to->v, (to->n + 1) * sizeof *to->v);
            to->v[to->n++] = r->programs.v[i];
        }
        programs_filter(&defs, &re, 0);
        regfree(&re);
        r->programs.n = 0;
        for (size_t i = 0; i < defs.n + mine.n; i++)
            r->programs.v[r->programs.n++] = i < defs.n ? defs.v[i] : mine.v[i - defs.n];
        free(defs.v);
        free(mine.v);
    }
    /* the quick profile runs the default definitions marked quick only */
    if (o->programs == NULL && strcmp(r->profile->name, "quick") == 0)
        programs_filter(&r->programs, NULL, 1);
    if (!r->listing && programs_prepare(&r->programs, sig) != 0)
        return -2;
    for (size_t i = 0; i < r->programs.n; i++) {
        char *n = xasprintf("program/%s", program_name(r->programs.v[i]));
        strv_push(&r->program_names, n);
        free(n);
    }
    return 0;
}

/* Resolves allocators, asks their identity and their benchmarks, applies
   the filter. 0, 1 (error printed) or 128+sig (interrupted). */
static int plan(struct run *r)
{
    int sig = 0, rc;
    if (allocators_resolve(r->root, r->o->allocators, BIN_BENCH, &r->set) != 0)
        return 1;
    rc = allocators_identify(&r->set, r->profile->name, &sig);
    if (rc == 0)
        rc = allocators_list_benchmarks(&r->set, r->profile->name, &sig);
    if (rc == -2) {
        errmsg("interrupted by %s before anything ran", signal_name(sig));
        return interrupted_exit_code(sig);
    }
    if (rc != 0)
        return 1;
    rc = plan_programs(r, r->o->filter, &sig);
    if (rc == -2) {
        errmsg("interrupted by %s before anything ran", signal_name(sig));
        return interrupted_exit_code(sig);
    }
    if (rc != 0)
        return 1;
    /* with only the user's own programs asked for, no benchmark runs */
    int benchmarks_wanted = r->o->user_programs.n == 0 || r->o->filter != NULL;

    struct strv all = {0};
    for (size_t a = 0; a < r->set.n; a++) {
        if (r->set.v[a].benchmarks.n == 0) {
            errmsg("allocator '%s': %s lists no benchmarks for profile %s", r->set.v[a].name,
                   r->set.v[a].binary_rel, r->profile->name);
            strv_free(&all);
            return 1;
        }
        for (size_t b = 0; b < r->set.v[a].benchmarks.n; b++)
            if (strv_find(&all, r->set.v[a].benchmarks.v[b]) < 0)
                strv_push(&all, r->set.v[a].benchmarks.v[b]);
    }

    regex_t re;
    if (r->o->filter) {
        int e = regcomp(&re, r->o->filter, REG_EXTENDED | REG_NOSUB);
        if (e != 0) {
            char msg[256];
            regerror(e, &re, msg, sizeof msg);
            errmsg("bad --filter '%s': %s", r->o->filter, msg);
            strv_free(&all);
            return 1;
        }
    }
    for (size_t b = 0; b < all.n && benchmarks_wanted; b++)
        if (r->o->filter == NULL || regexec(&re, all.v[b], 0, NULL, 0) == 0)
            strv_push(&r->benchmarks, all.v[b]);
    if (r->o->filter)
        regfree(&re);
    if (r->o->instructions && r->benchmarks.n > 0) {
        struct strv single = {0};
        for (size_t b = 0; b < r->benchmarks.n; b++) {
            long th = instance_threads(r->benchmarks.v[b]);
            if (th == 1) {
                strv_push(&single, r->benchmarks.v[b]);
                continue;
            }
            char *why = xasprintf("%ld threads: callgrind's collection is switched per thread, "
                                  "instructions are counted for single-thread instances only",
                                  th);
            strv_push(&r->skipped, r->benchmarks.v[b]);
            strv_push(&r->skip_reasons, why);
            free(why);
        }
        if (single.n == 0) {
            errmsg("--instructions counts single-thread instances (threads:1) only, and none of "
                   "the %zu selected is one", r->benchmarks.n);
            strv_free(&single);
            strv_free(&all);
            return 1;
        }
        strv_free(&r->benchmarks);
        r->benchmarks = single;
    }
    if (r->benchmarks.n == 0 && r->programs.n == 0) {
        if (!benchmarks_wanted) {
            errmsg("no program left to run (see the notices above)");
            strv_free(&all);
            return 1;
        }
        errmsg("--filter '%s' matches none of the %zu benchmarks of profile %s (see `heapmark "
               "list --profile %s`)",
               r->o->filter, all.n, r->profile->name, r->profile->name);
        strv_free(&all);
        return 1;
    }
    strv_free(&all);

    /* interleaved: every allocator in turn for each instance, in rounds;
       a program's reference allocator first, so the others compare with it */
    size_t max = (r->benchmarks.n * (size_t)r->processes +
                  r->programs.n * (size_t)r->program_runs) * r->set.n;
    r->plan = xmalloc((max ? max : 1) * sizeof *r->plan);
    r->per_op = xmalloc((max ? max : 1) * sizeof *r->per_op);
    for (size_t i = 0; i < max; i++)
        r->per_op[i] = NAN;
    size_t ref = reference_allocator(&r->set);
    for (long p = 0; p < r->program_runs; p++)
        for (size_t g = 0; g < r->programs.n; g++)
            for (size_t k = 0; k < r->set.n; k++) {
                size_t a = k == 0 ? ref : k <= ref ? k - 1 : k;
                r->plan[r->planned++] =
                    (struct instance){a, r->program_names.v[g], p, r->programs.v[g]};
            }
    for (long p = 0; p < r->processes; p++)
        for (size_t b = 0; b < r->benchmarks.n; b++)
            for (size_t a = 0; a < r->set.n; a++)
                if (strv_find(&r->set.v[a].benchmarks, r->benchmarks.v[b]) >= 0)
                    r->plan[r->planned++] = (struct instance){a, r->benchmarks.v[b], p, NULL};
    return 0;
}

/* ---- recording ------------------------------------------------------------- */

static void write_meta(struct run *r)
{
    struct meta_doc m;
    meta_begin(&m, "bench", r->started, r->finished[0] ? r->finished : NULL, r->state, r->cmdline,
               &r->si);
    struct json_writer *w = &m.w;
    jw_key(w, "options");
    jw_begin_object(w);
    jw_key(w, "profile"); jw_string(w, r->profile->name);
    jw_key(w, "repetitions"); jw_int(w, r->repetitions);
    jw_key(w, "min_time_s"); jw_number(w, r->min_time);
    jw_key(w, "timeout_s"); jw_number(w, r->timeout);
    jw_key(w, "filter"); jw_string(w, r->o->filter);
    jw_key(w, "allocators"); jw_string(w, r->o->allocators);
    jw_key(w, "instructions"); jw_bool(w, r->o->instructions);
    jw_key(w, "processes"); jw_int(w, r->processes);
    jw_key(w, "program_runs"); jw_int(w, r->program_runs);
    jw_key(w, "programs_dir"); jw_string(w, r->programs_dir);
    jw_end_object(w);
    jw_key(w, "allocators");
    jw_begin_array(w);
    for (size_t a = 0; a < r->set.n; a++) {
        jw_begin_object(w);
        meta_allocator(w, &r->set.v[a]);
        jw_end_object(w);
    }
    jw_end_array(w);
    jw_key(w, "benchmarks");
    jw_begin_array(w);
    for (size_t b = 0; b < r->benchmarks.n; b++)
        jw_string(w, r->benchmarks.v[b]);
    jw_end_array(w);
    jw_reason_list(w, "skipped", "benchmark", &r->skipped, &r->skip_reasons);
    programs_write_meta(w, &r->programs);
    jw_key(w, "planned"); jw_int(w, (long long)r->planned);
    jw_key(w, "done"); jw_int(w, (long long)r->done);
    jw_key(w, "counts");
    jw_begin_object(w);
    for (int s = 0; s < ST_COUNT; s++) {
        jw_key(w, status_names[s]);
        jw_int(w, (long long)r->counts[s]);
    }
    jw_end_object(w);
    meta_commit(&m, r->dir);
}

/* Decides the status of a child that exited 0 from its JSON. */
static enum status check_json(const char *path, const char *bench, char **reason)
{
    size_t len;
    char *text = read_file(path, &len);
    if (text == NULL) {
        *reason = xasprintf("exited 0 but wrote no JSON (%s)", strerror(errno));
        return ST_GARBAGE;
    }
    char err[160];
    json_t *doc = json_read(text, len, err, sizeof err);
    free(text);
    if (doc == NULL) {
        *reason = xasprintf("JSON does not parse: %s", err);
        return ST_GARBAGE;
    }
    const json_t *list = json_object_get(doc, "benchmarks");
    enum status st = ST_GARBAGE;
    if (!json_is_array(list)) {
        *reason = xstrdup("JSON has no \"benchmarks\" array");
        goto out;
    }
    int found = 0;
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *e = json_array_get(list, i);
        if (json_is_true(json_object_get(e, "error_occurred"))) {
            const char *m = json_string_value(json_object_get(e, "error_message"));
            *reason = xasprintf("benchmark reported an error: %s", m ? m : "(no message)");
            st = ST_ERROR;
            goto out;
        }
        const char *name = json_string_value(json_object_get(e, "run_name"));
        if (name == NULL)
            name = json_string_value(json_object_get(e, "name"));
        if (name && strcmp(name, bench) == 0)
            found = 1;
    }
    if (!found) {
        *reason = xasprintf("JSON has no result for %s", bench);
        goto out;
    }
    st = ST_OK;
out:
    json_decref(doc);
    return st;
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

static void write_record(struct run *r, const char *id, const struct allocator *a,
                         const char *bench, long process, enum status st, const char *reason,
                         const struct child_status *cs, const char *json_rel, int json_exists,
                         const char *log_rel, const struct counts *c, const char *cg_rel)
{
    struct json_writer w;
    jw_init(&w, r->runs, 0);
    jw_begin_object(&w);
    jw_key(&w, "id"); jw_string(&w, id);
    jw_key(&w, "allocator"); jw_string(&w, a->name);
    jw_key(&w, "benchmark"); jw_string(&w, bench);
    jw_key(&w, "status"); jw_string(&w, status_names[st]);
    jw_key(&w, "reason"); jw_string(&w, reason);
    jw_key(&w, "exit_code");
    if (cs->exited) jw_int(&w, cs->exit_code); else jw_null(&w);
    jw_key(&w, "signal"); jw_string(&w, cs->signaled ? signal_name(cs->sig) : NULL);
    jw_key(&w, "wall_s"); jw_number(&w, cs->wall_s);
    jw_key(&w, "user_s"); jw_number(&w, tv_s(cs->ru.ru_utime));
    jw_key(&w, "sys_s"); jw_number(&w, tv_s(cs->ru.ru_stime));
    jw_key(&w, "max_rss_kb"); jw_int(&w, cs->ru.ru_maxrss);
    jw_key(&w, "minflt"); jw_int(&w, cs->ru.ru_minflt);
    jw_key(&w, "majflt"); jw_int(&w, cs->ru.ru_majflt);
    jw_key(&w, "json"); jw_string(&w, json_exists ? json_rel : NULL);
    jw_key(&w, "log"); jw_string(&w, log_rel);
    jw_key(&w, "process"); jw_int(&w, process);
    if (c) {
        jw_key(&w, "instructions_per_op");
        if (c->counted) jw_fixed(&w, c->per_op, 2); else jw_null(&w);
        jw_key(&w, "instructions");
        if (c->ir >= 0) jw_int(&w, c->ir); else jw_null(&w);
        jw_key(&w, "operations");
        if (c->ops >= 0) jw_int(&w, c->ops); else jw_null(&w);
        jw_key(&w, "process_threads");
        if (c->threads > 0) jw_int(&w, c->threads); else jw_null(&w);
        jw_key(&w, "callgrind"); jw_string(&w, c->have_summary ? cg_rel : NULL);
        jw_key(&w, "note"); jw_string(&w, c->note);
    }
    jw_end_object(&w);
    fputc('\n', r->runs);
    if (fflush(r->runs) != 0 || ferror(r->runs)) {
        errmsg("cannot write %s/runs.jsonl: %s; stopping", r->dir, strerror(errno));
        exit(1);
    }
}

/* ---- progress ------------------------------------------------------------ */

static void progress_line(struct run *r, const char *tail, int final)
{
    const struct instance *in = &r->plan[r->current];
    char el[32], left[32], line[1024];
    double elapsed = mono_now() - r->t0;
    format_duration(el, sizeof el, elapsed);
    if (r->done > 0)
        format_duration(left, sizeof left, elapsed / (double)r->done * (double)(r->planned - r->done));
    else
        snprintf(left, sizeof left, "?");
    /* The median time per operation of the process that finished last (its
       Google Benchmark JSON, raw/<allocator>/<plan index + 1>.json), read once
       per finished process; empty when it wrote none. */
    static size_t seen_done = (size_t)-1;
    static char last_med[64];
    if (r->done != seen_done && r->done > 0 && !r->o->instructions &&
        (final || r->current > 0)) {
        size_t k = final ? r->current : r->current - 1;
        char *path = xasprintf("%s/raw/%s/%04zu.json", r->dir, r->set.v[r->plan[k].alloc].name, k + 1);
        size_t len;
        char *text = read_file(path, &len);
        char err[80];
        json_t *doc = text ? json_read(text, len, err, sizeof err) : NULL;
        const json_t *list = json_object_get(doc, "benchmarks");
        double t[64];
        size_t n = 0;
        for (size_t i = 0; i < json_array_size(list) && n < 64; i++) {
            const json_t *e = json_array_get(list, i), *rt = json_object_get(e, "real_time");
            const char *type = json_string_value(json_object_get(e, "run_type"));
            const char *unit = json_string_value(json_object_get(e, "time_unit"));
            if (type && strcmp(type, "iteration") != 0)
                continue;
            /* json_read makes NaN and Infinity null */
            if (!json_is_number(rt) || json_number_value(rt) <= 0)
                continue;
            double scale = !unit || !strcmp(unit, "ns") ? 1.0 : !strcmp(unit, "us") ? 1e3
                         : !strcmp(unit, "ms") ? 1e6 : !strcmp(unit, "s") ? 1e9 : 0.0;
            if (scale > 0)
                t[n++] = json_number_value(rt) * scale;
        }
        for (size_t i = 1; i < n; i++) /* insertion sort: a handful of repetitions */
            for (size_t j = i; j > 0 && t[j - 1] > t[j]; j--) {
                double x = t[j];
                t[j] = t[j - 1];
                t[j - 1] = x;
            }
        last_med[0] = '\0';
        if (n > 0) {
            double med = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2.0;
            const char *u = "ns";
            if (med >= 1e6)
                med /= 1e6, u = "ms";
            else if (med >= 1e3)
                med /= 1e3, u = "us";
            snprintf(last_med, sizeof last_med, "%.3g %s/op", med, u);
        }
        json_decref(doc);
        free(text);
        free(path);
        seen_done = r->done;
    }
    int width = (int)(snprintf(NULL, 0, "%zu", r->planned));
    if (!r->tty || final) {
        snprintf(line, sizeof line, "[%*zu/%zu] %s %s: %s%s%s, ~%s left", width, r->done, r->planned,
                 r->set.v[in->alloc].name, in->bench, tail, last_med[0] ? ", median " : "",
                 last_med, left);
        if (r->tty)
            fprintf(stderr, "\r\033[K%s\n", line);
        else
            fprintf(stderr, "%s\n", line);
        return;
    }
    snprintf(line, sizeof line, "[%*zu/%zu] %s %s  %s elapsed, ~%s left%s%s%s", width, r->done,
             r->planned, r->set.v[in->alloc].name, in->bench, el, left,
             last_med[0] ? " (last: " : "", last_med, last_med[0] ? ")" : "");
    struct winsize ws;
    if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10 && strlen(line) >= ws.ws_col)
        line[ws.ws_col - 1] = '\0';
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
}

static void tick(void *arg)
{
    struct run *r = arg;
    if (r->tty)
        progress_line(r, NULL, 0);
}

/* ---- the run ----------------------------------------------------------------- */

static int finish(struct run *r, const char *state)
{
    r->state = state;
    utc_iso(r->finished, sizeof r->finished);
    write_meta(r);
    outdir_link(r->parent, r->name, "latest");
    return 0;
}

/* --instructions: instructions per operation, one row per benchmark and one
   column per allocator, on stdout ("-": not counted, see runs.jsonl). */
static void print_counts(const struct run *r)
{
    int w = 10;
    for (size_t a = 0; a < r->set.n; a++)
        if ((int)strlen(r->set.v[a].name) > w)
            w = (int)strlen(r->set.v[a].name);
    int bw = 9;
    for (size_t b = 0; b < r->benchmarks.n; b++)
        if ((int)strlen(r->benchmarks.v[b]) > bw)
            bw = (int)strlen(r->benchmarks.v[b]);
    printf("instructions per operation\n%-*s", bw, "benchmark");
    for (size_t a = 0; a < r->set.n; a++)
        printf("  %*s", w, r->set.v[a].name);
    printf("\n");
    for (size_t b = 0; b < r->benchmarks.n; b++) {
        printf("%-*s", bw, r->benchmarks.v[b]);
        for (size_t a = 0; a < r->set.n; a++) {
            double v = NAN;
            for (size_t k = 0; k < r->planned; k++)
                if (r->plan[k].alloc == a && r->plan[k].bench == r->benchmarks.v[b])
                    v = r->per_op[k];
            if (isnan(v))
                printf("  %*s", w, "-");
            else
                printf("  %*.2f", w, v);
        }
        printf("\n");
    }
    fflush(stdout);
}

/* Runs plan[k], a program; returns 0, or 128+sig when interrupted. */
static int run_program(struct run *r, size_t k, const char *id)
{
    const struct instance *in = &r->plan[k];
    struct program_job j = {.p = in->prog, .a = &r->set.v[in->alloc],
                            .reference = in->alloc == reference_allocator(&r->set),
                            .dir = r->dir, .id = id, .process = in->process,
                            .timeout = r->o->timeout, .runs = r->runs};
    r->current = k;
    if (r->tty)
        progress_line(r, NULL, 0);
    enum status st;
    char *tail = NULL;
    int rc = program_run(&j, &st, &tail);
    if (rc != 0) {
        if (r->tty)
            fputs("\r\033[K", stderr);
        errmsg("%zu of %zu finished results kept in %s", r->done, r->planned, r->dir);
        return rc;
    }
    r->done++;
    r->counts[st]++;
    write_meta(r);
    progress_line(r, tail, 1);
    free(tail);
    return 0;
}

/* Runs plan[k]; returns 0, or 128+sig when interrupted. */
static int run_one(struct run *r, size_t k)
{
    const struct instance *in = &r->plan[k];
    const struct allocator *a = &r->set.v[in->alloc];
    char id[24];
    snprintf(id, sizeof id, "%04zu", k + 1);
    if (in->prog)
        return run_program(r, k, id);
    char *adir = xasprintf("%s/raw/%s", r->dir, a->name);
    if (mkdir_p(adir, 0755) != 0) {
        errmsg("cannot create %s: %s", adir, strerror(errno));
        exit(1);
    }
    char *json_rel = xasprintf("raw/%s/%s.json", a->name, id);
    char *log_rel = xasprintf("raw/%s/%s.log", a->name, id);
    char *json_abs = xasprintf("%s/%s", r->dir, json_rel);
    char *log_abs = xasprintf("%s/%s", r->dir, log_rel);
    int log = open(log_abs, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log < 0) {
        errmsg("cannot create %s: %s", log_abs, strerror(errno));
        exit(1);
    }
    char *esc = regex_escape(in->bench);
    char *a_filter = xasprintf("--benchmark_filter=^%s$", esc);
    char *a_reps = xasprintf("--benchmark_repetitions=%ld", r->repetitions);
    char *a_min = xasprintf("--benchmark_min_time=%g", r->min_time);
    char *a_out = xasprintf("--benchmark_out=%s", json_abs);
    char *bench_argv[] = {a->binary, a_filter, a_reps, a_min, a_out,
                          "--benchmark_out_format=json", NULL};
    char **argv = bench_argv;
    struct child_env env = allocator_env(a, r->profile->name);
    char *cg_out = NULL, *cg_rel = NULL, *ops_abs = NULL;
    char *vg_argv[16];
    if (r->o->instructions) {
        cg_out = xasprintf("--callgrind-out-file=%s/%s.cg", adir, id);
        cg_rel = xasprintf("raw/%s/%s.callgrind", a->name, id);
        ops_abs = xasprintf("%s/%s.ops.json", adir, id);
        env.count_ops = ops_abs;
        callgrind_argv(vg_argv, r->valgrind, cg_out, bench_argv);
        argv = vg_argv;
    }

    r->current = k;
    if (r->tty)
        progress_line(r, NULL, 0);
    double t0 = mono_now();
    pid_t pid = proc_spawn(argv, &env, log, -1);
    close(log);
    if (pid < 0)
        exit(1);
    double deadline = t0 + r->timeout;
    struct child_status cs;
    int sig = 0;
    int w = proc_wait_any(&pid, &deadline, 1, &cs, tick, r, &sig);
    int rc = 0;
    if (w == WAIT_INTERRUPTED) {
        proc_kill(pid, NULL);
        unlink(json_abs); /* a partial file; its log stays */
        if (r->tty)
            fputs("\r\033[K", stderr);
        errmsg("interrupted by %s: stopped %s %s; %zu of %zu finished results kept in %s",
               signal_name(sig), a->name, in->bench, r->done, r->planned, r->dir);
        rc = interrupted_exit_code(sig);
        goto out;
    }
    cs.wall_s = mono_now() - t0;

    enum status st;
    char *reason = NULL;
    char *last = read_last_line(log_abs, 200);
    if (cs.timed_out) {
        st = ST_TIMEOUT;
        reason = xasprintf("no result after %g s; killed", r->timeout);
        cs.signaled = 0; /* our SIGKILL, not the benchmark's doing */
        cs.sig = 0;
    } else if (cs.signaled) {
        st = ST_CRASH;
        reason = xasprintf("killed by %s%s%s", signal_name(cs.sig), last ? ": " : "",
                           last ? last : "");
    } else if (cs.exit_code != 0) {
        st = ST_ERROR;
        reason = xasprintf("exit status %d%s%s", cs.exit_code, last ? ": " : "",
                           last ? last : "");
    } else {
        st = check_json(json_abs, in->bench, &reason);
    }
    free(last);
    struct counts counts;
    if (r->o->instructions) {
        st = callgrind_collect(adir, id, st, &reason, &counts);
        if (counts.counted)
            r->per_op[k] = counts.per_op;
    }
    int json_exists = access(json_abs, F_OK) == 0;
    write_record(r, id, a, in->bench, in->process, st, reason, &cs, json_rel, json_exists, log_rel,
                 r->o->instructions ? &counts : NULL, cg_rel);
    r->done++;
    r->counts[st]++;
    write_meta(r);
    char tail[512];
    if (st == ST_OK && r->o->instructions && counts.counted)
        snprintf(tail, sizeof tail, "%.2f instructions/op (%.1f s)", counts.per_op, cs.wall_s);
    else if (st == ST_OK && r->o->instructions)
        snprintf(tail, sizeof tail, "ok, not counted: %s", counts.note);
    else if (st == ST_OK)
        snprintf(tail, sizeof tail, "ok (%.1f s)", cs.wall_s);
    else
        snprintf(tail, sizeof tail, "%s: %s", status_names[st], reason);
    if (!r->tty || st != ST_OK || r->o->instructions)
        progress_line(r, tail, 1);
    free(reason);
    if (r->o->instructions)
        free(counts.note);
out:
    free(adir);
    free(cg_out);
    free(cg_rel);
    free(ops_abs);
    free(esc);
    free(a_filter);
    free(a_reps);
    free(a_min);
    free(a_out);
    free(json_rel);
    free(log_rel);
    free(json_abs);
    free(log_abs);
    return rc;
}

static int settings(struct run *r, const struct options *o)
{
    r->profile = find_profile(o->profile ? o->profile : "default");
    if (r->profile == NULL) {
        errmsg("unknown profile '%s': use quick, default or full", o->profile);
        return -1;
    }
    r->repetitions = o->repetitions ? o->repetitions : r->profile->repetitions;
    r->min_time = o->min_time > 0 ? o->min_time : r->profile->min_time;
    r->timeout = o->timeout > 0 ? o->timeout : DEFAULT_TIMEOUT_S;
    r->processes = o->processes ? o->processes : r->profile->processes;
    r->program_runs = o->program_runs ? o->program_runs : r->profile->program_runs;
    if (o->instructions) {
        if (o->processes) {
            errmsg("--instructions runs each instance once: --processes does not apply");
            return -1;
        }
        r->processes = 1; /* counts are the same in every process */
        if (o->repetitions) {
            errmsg("--instructions runs each instance once: --repetitions does not apply "
                   "(see heapmark run --help)");
            return -1;
        }
        r->repetitions = 1; /* instruction counts do not vary: nothing to repeat */
        r->timeout = o->timeout > 0 ? o->timeout : INSTRUCTIONS_TIMEOUT_S;
        r->min_time = o->min_time > 0 ? o->min_time : INSTRUCTIONS_MIN_TIME_S;
    }
    return 0;
}

int cmd_run(const char *root, const struct options *o)
{
    struct run r;
    memset(&r, 0, sizeof r);
    r.root = root;
    r.o = o;
    if (settings(&r, o) != 0)
        return 2;
    if (o->instructions && (r.valgrind = find_command("valgrind", NULL)) == NULL) {
        errmsg("--instructions needs valgrind, which is not installed (scripts/bootstrap-deps.sh "
               "installs it)");
        return 1;
    }
    int rc = plan(&r);
    if (rc != 0)
        return rc;

    allocators_packages(&r.set);
    r.parent = o->out ? xstrdup(o->out) : xasprintf("%s/results", root);
    r.dir = outdir_create(r.parent, &r.name);
    if (r.dir == NULL)
        return 1;
    /* the link goes next to the run folder, wherever --out resolved to */
    free(r.parent);
    r.parent = xstrdup(r.dir);
    *strrchr(r.parent, '/') = '\0';
    char *runs = xasprintf("%s/runs.jsonl", r.dir);
    r.runs = fopen(runs, "we");
    if (r.runs == NULL) {
        errmsg("cannot create %s: %s", runs, strerror(errno));
        return 1;
    }
    free(runs);
    sysinfo_collect(&r.si, root);
    r.cmdline = command_line(o->argc, o->argv);
    utc_iso(r.started, sizeof r.started);
    r.state = "running";
    write_meta(&r);

    r.tty = isatty(2);
    r.t0 = mono_now();
    fprintf(stderr, "heapmark run: %zu processes (%zu program%s x %ld + %zu benchmark%s x %ld, "
            "x %zu allocator%s), profile %s, %ld repetition%s, min time %g s, %sinto %s\n",
            r.planned, r.programs.n, r.programs.n == 1 ? "" : "s", r.program_runs,
            r.benchmarks.n, r.benchmarks.n == 1 ? "" : "s", r.processes, r.set.n,
            r.set.n == 1 ? "" : "s", r.profile->name, r.repetitions,
            r.repetitions == 1 ? "" : "s", r.min_time,
            o->instructions ? "instructions counted under callgrind, " : "", r.dir);
    if (r.skipped.n > 0)
        fprintf(stderr, "heapmark run: --instructions skips %zu instance%s with more than one "
                "thread (listed in meta.json \"skipped\")\n",
                r.skipped.n, r.skipped.n == 1 ? "" : "s");
    for (size_t k = 0; k < r.planned; k++) {
        rc = run_one(&r, k);
        if (rc != 0) {
            finish(&r, "interrupted");
            fclose(r.runs);
            return rc;
        }
    }
    if (r.tty)
        fputs("\r\033[K", stderr);
    finish(&r, "complete");
    fclose(r.runs);
    if (o->instructions)
        print_counts(&r);

    char el[32];
    format_duration(el, sizeof el, mono_now() - r.t0);
    fprintf(stderr, "heapmark run: %zu processes in %s:", r.done, el);
    const char *sep = " ";
    for (int s = 0; s < ST_COUNT; s++)
        if (r.counts[s]) {
            fprintf(stderr, "%s%zu %s", sep, r.counts[s], status_names[s]);
            sep = ", ";
        }
    fprintf(stderr, "\nresults: %s\n", r.dir);
    return 0;
}

int cmd_list(const char *root, const struct options *o)
{
    struct run r;
    memset(&r, 0, sizeof r);
    r.root = root;
    r.o = o;
    r.listing = 1;
    if (settings(&r, o) != 0)
        return 2;
    int rc = plan(&r);
    if (rc != 0)
        return rc;
    allocators_packages(&r.set);
    printf("allocators:\n");
    for (size_t a = 0; a < r.set.n; a++) {
        const struct allocator *al = &r.set.v[a];
        printf("  %-12s %-24s %s", al->name, al->version, al->library);
        if (al->package)
            printf(" [%s]", al->package);
        if (al->preload)
            printf("  (LD_PRELOAD on %s)", al->binary_rel);
        if (al->env.n) {
            printf("  (variant of %s:", al->preload ? al->preload : al->base);
            for (size_t i = 0; i < al->env.n; i++)
                printf(" %s", al->env.v[i]);
            printf(")");
        }
        printf("\n");
    }
    printf("benchmarks (profile %s%s%s%s, %zu):\n", r.profile->name, o->filter ? ", filter '" : "",
           o->filter ? o->filter : "", o->filter ? "'" : "", r.benchmarks.n);
    for (size_t b = 0; b < r.benchmarks.n; b++) {
        printf("  %s", r.benchmarks.v[b]);
        const char *sep = "  (not for: ";
        for (size_t a = 0; a < r.set.n; a++)
            if (strv_find(&r.set.v[a].benchmarks, r.benchmarks.v[b]) < 0) {
                printf("%s%s", sep, r.set.v[a].name);
                sep = ", ";
            }
        printf("%s\n", sep[0] == ',' ? ")" : "");
    }
    printf("programs (%s, %zu):\n", r.programs_dir ? r.programs_dir : "--program", r.programs.n);
    for (size_t g = 0; g < r.programs.n; g++)
        printf("  %s\n", r.program_names.v[g]);
    return 0;
}
