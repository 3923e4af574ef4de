/* runner.h: the parts of build/heapmark (the benchmark and conformance
 * runner) and how they talk to each other.
 *
 *   main.c         command line, usage, dispatch
 *   run.c          `heapmark run`: plan -> run each instance -> record
 *   conformance.c  `heapmark conformance`
 *   trace.c        `heapmark trace`: a program's allocation trace
 *   allocators.c   which allocators, their identity, their benchmarks
 *   program.c      real programs (bench/programs/, --program): load, set up, run one
 *   rss.c          /proc: a process's RSS series, whether a library is mapped
 *   proc.c         child processes: spawn, wait with a deadline, signals
 *   outdir.c       results folders, free space, the `latest` link
 *   sysinfo.c      machine facts for meta.json
 *   meta.c         meta.json: the members every run folder shares
 *   util.c         strings, files, time
 */
#ifndef HEAPMARK_RUNNER_H
#define HEAPMARK_RUNNER_H

#include <stddef.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "json.h"

/* ---- util.c ------------------------------------------------------------ */
extern const char *prog_cmd; /* "run", "list", ... for messages */

/* Prints "heapmark[ cmd]: <message>" on stderr. */
void errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct strv {
    char **v;
    size_t n, cap;
};
void strv_push(struct strv *s, const char *str); /* copies str */
int strv_find(const struct strv *s, const char *str); /* index or -1 */
void strv_free(struct strv *s);

/* Whole file, NUL-terminated; NULL (errno set) on failure. */
char *read_file(const char *path, size_t *len);
/* First line of a file without the newline, or NULL. */
char *read_first_line(const char *path);
/* Last non-empty line of a file, at most max bytes, or NULL. */
char *read_last_line(const char *path, size_t max);
/* Writes data to path through path.tmp and rename(); 0 or -1 (errno). */
int atomic_write(const char *path, const char *data, size_t len);
/* mkdir -p; 0 or -1 (errno). */
int mkdir_p(const char *path, mode_t mode);
int is_executable_file(const char *path);
int is_regular_file(const char *path);
/* cmd as execvp would find it (searched in PATH unless it has a '/'), or NULL
   with *why (when not NULL) set to ENOENT (not found) or EACCES/errno. */
char *find_command(const char *cmd, int *why);

double mono_now(void);                  /* seconds, CLOCK_MONOTONIC */
void utc_iso(char *buf, size_t n);      /* 2026-11-21T05:00:00Z */
void utc_stamp(char *buf, size_t n);    /* 20261121T050000Z */
void format_duration(char *buf, size_t n, double s); /* 1:05, 1:02:03 */
/* Parses a number with nothing after it; 0 or -1. */
int parse_double(const char *s, double *out);
int parse_int(const char *s, long *out);

/* ---- proc.c ------------------------------------------------------------ */
/* main() blocks these for its whole life; waits pick them up synchronously. */
void proc_block_signals(void);

/* What a child gets in its environment. */
struct child_env {
    const char *preload;    /* absolute .so path: LD_PRELOAD, HEAPMARK_PRELOAD */
    const char *allocator;  /* HEAPMARK_ALLOCATOR (with preload only) */
    const char *profile;    /* HEAPMARK_PROFILE, or NULL to leave as is */
    const char *count_ops;  /* HEAPMARK_COUNT_OPS (instruction counting), else unset */
    const struct strv *vars; /* NAME=VALUE set last (an allocator variant's), or NULL */
    const char *cwd;        /* the child's working folder, or NULL for heapmark's */
};

/* Starts argv[0] in its own process group with stdout+stderr on out_fd
   (or inherited when out_fd < 0; a separate err_fd when >= 0), stdin from
   /dev/null. Returns the pid, or -1 with a message printed. */
pid_t proc_spawn(char *const argv[], const struct child_env *env, int out_fd, int err_fd);

struct child_status {
    int exited, exit_code;   /* exited normally with exit_code */
    int signaled, sig;       /* killed by signal sig */
    int timed_out;           /* we killed it at its deadline */
    double wall_s;
    struct rusage ru;
};

enum { WAIT_DONE = 0, WAIT_INTERRUPTED = -1 };
/* Waits until one of the n children (pids[i] > 0) ends or reaches its
   deadline (monotonic seconds; a child at its deadline is killed and
   reaped with timed_out set). Calls tick(arg) about twice a second.
   Returns the index of the child that ended, with *st filled (wall_s left
   to the caller), or WAIT_INTERRUPTED when SIGINT, SIGTERM or SIGHUP came
   (*sig_out = the signal); the children are then still running. */
int proc_wait_any(const pid_t *pids, const double *deadlines, int n, struct child_status *st,
                  void (*tick)(void *), void *arg, int *sig_out);
/* proc_wait_any, calling tick(arg) every period seconds instead. */
int proc_wait_every(const pid_t *pids, const double *deadlines, int n, struct child_status *st,
                    void (*tick)(void *), void *arg, int *sig_out, double period);
/* 1 with *st filled when the child has ended (reaped), else 0. */
int proc_poll(pid_t pid, struct child_status *st);
/* Sleeps; -1 (*sig_out set) when SIGINT, SIGTERM or SIGHUP came first. */
int proc_pause(double seconds, int *sig_out);
/* Kills the child's whole process group and reaps it. */
void proc_kill(pid_t pid, struct child_status *st);
/* Runs argv to completion with a time limit, capturing stdout and stderr.
   Returns 0 when it ran (see *st), -1 when it could not start,
   -2 when a terminating signal came (*sig_out; it is left pending, so the
   next wait meets it too). */
int proc_capture(char *const argv[], const struct child_env *env, double timeout_s,
                 char **out, char **err, struct child_status *st, int *sig_out);
/* Starts argv[0] (a path) like a shell runs a foreground command: the same
   process group, stdin and stderr inherited, stdout on out_fd when >= 0;
   env holds NAME, value pairs to set, ending with NULL. -1 (message
   printed) when it cannot fork; an exec failure exits the child with 127. */
pid_t proc_spawn_fg(char *const argv[], const char *const *env, int out_fd);
/* Waits for a child of proc_spawn_fg; SIGINT, SIGTERM or SIGHUP sent to
   heapmark alone (kill, not the terminal) is passed on to it. */
void proc_wait_fg(pid_t pid, struct child_status *st);
/* "SIGSEGV" */
const char *signal_name(int sig);
/* Exit status for a terminating signal: 128 + sig. */
int interrupted_exit_code(int sig);

/* ---- allocators.c -------------------------------------------------------- */
struct allocator {
    char *name;
    char *binary;       /* absolute path of the binary to run */
    char *binary_rel;   /* the same, relative to the root (for meta.json) */
    char *preload;      /* absolute .so path, or NULL for a built allocator */
    char *version;      /* from --heapmark-info */
    char *library;
    char *package;      /* "libjemalloc2 5.3.0-1" (Debian package of library) or NULL */
    char *base;         /* the built allocator's name, or the preloaded library's path */
    struct strv env;    /* a variant's NAME=VALUE settings (empty for a plain allocator) */
    struct strv benchmarks; /* instance names, as listed */
};

struct allocator_set {
    struct allocator *v;
    size_t n;
};

enum binary_kind { BIN_BENCH, BIN_CONFORMANCE };
/* Resolves the --allocators spec (NULL = every built one) to binaries:
   items NAME, NAME=LIB or NAME=BASE:VAR=VAL[:VAR=VAL...] (a variant),
   separated by commas or blanks, '\' making the next character literal.
   Prints a one-line error and returns -1 on an unknown name or base, a
   missing library, a bad name or variable, or a duplicate. */
int allocators_resolve(const char *root, const char *spec, enum binary_kind kind,
                       struct allocator_set *set);
/* Asks each binary `--heapmark-info`; -1 (message printed) when one fails or
   is not verified; -2 when interrupted (*sig). */
int allocators_identify(struct allocator_set *set, const char *profile, int *sig);
/* Lists each allocator's benchmarks with --benchmark_list_tests=true under
   HEAPMARK_PROFILE=profile; -1/-2 as above. */
int allocators_list_benchmarks(struct allocator_set *set, const char *profile, int *sig);
/* The allocators left out of this run, as "NAME\tREASON" lines: not built
   because make found no library for them (build/<A>/skipped), or their
   binary cannot load it. Each was announced on stderr when skipped. */
const struct strv *allocators_skipped(void);
/* Fills each allocator's package (dpkg-query; costs a few processes). */
void allocators_packages(struct allocator_set *set);
void allocators_free(struct allocator_set *set);
/* The child environment for one allocator. */
struct child_env allocator_env(const struct allocator *a, const char *profile);

/* ---- meta.c ------------------------------------------------------------ */
struct sysinfo;
/* meta.json of a run folder (bench or conformance), built in memory. */
struct meta_doc {
    char *buf;
    size_t len;
    FILE *f;
    struct json_writer w;
};
/* Opens the top object and writes the members every run folder has:
   schema, tool, kind, started ... command_line, then the machine facts. */
void meta_begin(struct meta_doc *m, const char *kind, const char *started, const char *finished,
                const char *state, const char *cmdline, const struct sysinfo *si);
/* The members that describe one allocator (inside its object): name,
   version, library, package, binary, preload, base, env. */
void meta_allocator(struct json_writer *w, const struct allocator *a);
/* Writes key: [{"<item>": names[i], "reason": reasons[i]}, ...] (what was
   left out of a run, and why). */
void jw_reason_list(struct json_writer *w, const char *key, const char *item,
                    const struct strv *names, const struct strv *reasons);
/* Writes NAME=VALUE strings as one JSON object {"NAME": "VALUE", ...}. */
void jw_env_object(struct json_writer *w, const struct strv *env);
/* Closes the top object and writes <dir>/meta.json atomically; exits 1
   (message printed) when it cannot. */
void meta_commit(struct meta_doc *m, const char *dir);

/* ---- outdir.c ---------------------------------------------------------- */
/* Bytes of free space a run needs before it starts (HEAPMARK_MIN_FREE_MB
   overrides the default of 16 MB); -1 (message printed) when malformed. */
int outdir_min_free(unsigned long long *bytes);
/* Creates <parent>/<stamp>-<host>[-N] (parent made if missing), checks that
   it is writable and has free space. Returns the new folder's path (and
   its base name in *name), or NULL after printing a one-line error. */
char *outdir_create(const char *parent, char **name);
/* Points <parent>/<link> at <name> (relative symlink, replaced atomically). */
int outdir_link(const char *parent, const char *name, const char *link);

/* ---- sysinfo.c --------------------------------------------------------- */
struct sysinfo {
    char *host, *cpu_model, *kernel, *arch, *os, *thp, *thp_defrag, *smt, *governor,
        *overcommit, *aslr, *clocksource, *compiler, *git_revision;
    long cores;
    double load_avg[3]; /* at the start; negative when unknown */
    struct strv env; /* NAME=value of allocator-tuning variables */
};
void sysinfo_collect(struct sysinfo *si, const char *root);
/* Writes the facts as members of the object being written. */
void sysinfo_write(struct json_writer *w, const struct sysinfo *si);

/* ---- rss.c ------------------------------------------------------------- */
struct rss_series {
    FILE *f;
    pid_t pid;
    double t0, period;
    size_t n;       /* samples written */
    long peak_kb;   /* the largest sample */
    int execed;     /* the process has left heapmark's image */
    int gone;
};
/* The resident size of pid in KiB (/proc/<pid>/statm), or -1. */
long rss_now_kb(pid_t pid);
/* Starts a series file at path for pid (t0: its start, monotonic); 0 or -1. */
int rss_open(struct rss_series *s, const char *path, pid_t pid, double t0, double period);
/* Appends one sample (nothing before pid has exec'd, or after it is gone). */
void rss_sample(struct rss_series *s);
void rss_close(struct rss_series *s);
/* 1 when /proc/<pid>/maps maps the file library (compared after realpath);
   *seen is 1 when the maps of the exec'd process could be read at all. */
int maps_has_library(pid_t pid, const char *library, int *seen);

/* ---- run.c: what a run records per process --------------------------------- */
enum status { ST_OK, ST_ERROR, ST_CRASH, ST_TIMEOUT, ST_GARBAGE, ST_MISMATCH, ST_UNPROVEN,
              ST_NOSERVER, ST_COUNT };
extern const char *const status_names[ST_COUNT];

/* ---- callgrind.c ------------------------------------------------------- */
/* What an instructions run (--instructions) learnt from one process. */
struct counts {
    int counted;           /* per_op is valid */
    double per_op;
    long long ir, ops;     /* -1 when unknown */
    long threads;          /* threads callgrind saw in the process, 0 when unknown */
    int have_summary;      /* raw/<A>/<id>.callgrind was written */
    char *note;            /* why per_op is missing although the process was ok */
};
/* Fills out (16 slots) with the valgrind command that runs bench_argv under
   callgrind, its output files named by cg_out (--callgrind-out-file=...). */
void callgrind_argv(char **out, const char *valgrind, const char *cg_out, char *const *bench_argv);
/* After a process of an instructions run: reads raw/<A>/<id>.ops.json and
   callgrind's per-thread files raw/<A>/<id>.cg-NN, condenses the main
   thread's into raw/<A>/<id>.callgrind and removes the rest. For a process
   whose status is ok, returns that status or ST_GARBAGE (*reason set) when
   a figure is missing. */
enum status callgrind_collect(const char *adir, const char *id, enum status st, char **reason,
                              struct counts *c);

/* ---- program.c ---------------------------------------------------------- */
struct program;
struct program_set {
    struct program **v;
    size_t n;
    struct strv skipped, skip_reasons; /* names left out, and why (one line each) */
};
/* Reads every *.def of dir (NULL: none) and the user's NAME=CMD ARGS items.
   -1 (message printed) on a malformed definition or item. */
int programs_load(const char *root, const char *dir, const struct strv *user,
                  struct program_set *set);
/* Runs each definition's set-up once (inputs under build/programs/NAME/),
   moving the ones that cannot run to skipped with a notice on stderr.
   0, or -2 when interrupted (*sig). */
int programs_prepare(struct program_set *set, int *sig);
/* Keeps the programs whose "program/NAME" the regex accepts (NULL: all),
   and with quick_only, only the definitions marked "quick = yes". */
void programs_filter(struct program_set *set, const void *regex, int quick_only);
const char *program_name(const struct program *p);
void programs_free(struct program_set *set);
/* The "programs" and "programs_skipped" members of meta.json. */
void programs_write_meta(struct json_writer *w, const struct program_set *set);

struct program_job {
    struct program *p;
    const struct allocator *a;
    int reference;        /* a is the allocator whose digest the others must match */
    const char *dir;      /* the run folder */
    const char *id;       /* "0007" */
    long process;         /* 0-based round */
    double timeout;       /* 0: the definition's */
    FILE *runs;           /* runs.jsonl */
};
/* Runs one program under one allocator and appends its runs.jsonl line.
   Returns 0 (*st set, *tail a one-line summary to free), or 128+sig when
   interrupted (everything it started is stopped, nothing recorded). */
int program_run(struct program_job *j, enum status *st, char **tail);

/* ---- commands -------------------------------------------------------------- */
struct options {
    const char *allocators;
    const char *filter;
    const char *profile;
    const char *out;
    long repetitions;  /* 0 = profile default */
    double min_time;   /* 0 = profile default */
    double timeout;    /* 0 = default */
    double limit;      /* conformance: time limit of one binary, 0 = default */
    long jobs;         /* conformance: binaries at a time, 0 = default */
    int instructions;  /* run: count instructions under callgrind */
    long processes;    /* run: processes per benchmark instance, 0 = profile default */
    long program_runs; /* run: processes per program, 0 = profile default */
    const char *programs; /* run: folder of definitions, "none", or NULL (default) */
    struct strv user_programs; /* run: --program NAME=CMD ARGS items */
    int follow;        /* trace: record the programs CMD starts too */
    int cmd_argc;      /* trace: the command and its arguments */
    char **cmd_argv;
    int argc;          /* the whole command line, for meta.json */
    char **argv;
};

int cmd_list(const char *root, const struct options *o);
int cmd_trace(const char *root, const struct options *o);

/* ---- trace.c ------------------------------------------------------------ */
struct trace_summary {
    unsigned long long events;
    unsigned long long ops[16]; /* by op code (bench/trace/FORMAT.md) */
    unsigned long threads;      /* highest thread index + 1 */
    unsigned long long bytes;   /* file size */
    int complete;               /* ends with the END mark */
};
/* Reads an uncompressed trace; 0, or -1 with a one-line reason in err. */
int trace_summarize(const char *path, struct trace_summary *s, char *err, size_t errlen);
int cmd_run(const char *root, const struct options *o);
int cmd_conformance(const char *root, const struct options *o);

/* Shared by run and conformance: the command line as one shell-quoted string. */
char *command_line(int argc, char **argv);

#endif
