/* main.c: build/heapmark's command line.
 *
 *   heapmark list         allocators and benchmarks
 *   heapmark run          every allocator x benchmark, one process each
 *   heapmark conformance  the conformance suite for every allocator
 *   heapmark trace        the allocation trace of a program
 *
 * The repository root is found from the executable's own path
 * (<root>/build/heapmark), so it works from any directory. */
#define _GNU_SOURCE
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The --allocators list, the same for list, run and conformance. */
#define ALLOCATORS_HELP(binary)                                                                 \
    "  --allocators A,B  the allocators, separated by commas or blanks; each one is\n"          \
    "                      NAME      build/NAME/" binary "\n"                                   \
    "                      NAME=LIB  glibc's " binary " binary with the malloc replacement\n"    \
    "                                LIB (a path) under LD_PRELOAD\n"                            \
    "                      NAME=BASE:VAR=VAL[:VAR=VAL...]\n"                                    \
    "                                a variant: BASE (a built allocator, or a library\n"         \
    "                                path with a '/') with these environment variables\n"       \
    "                                set in every child it runs (e.g.\n"                         \
    "                                sable-secure=sable:SABLE_SECURE=1)\n"                       \
    "                    A backslash makes the next character literal, for values\n"             \
    "                    with ',', ':', '=' or blanks (quote it for the shell):\n"               \
    "                    'jem-nodecay=jemalloc:MALLOC_CONF=dirty_decay_ms\\:0\\,muzzy_decay_ms\\:0'\n"

static const char usage_main[] =
    "usage: heapmark <command> [options]\n"
    "\n"
    "commands:\n"
    "  list          the allocators and the benchmarks a run would use\n"
    "  run           run every allocator x benchmark, each in a fresh process\n"
    "  conformance   run the conformance suite for every allocator\n"
    "  trace         record the allocation trace of a program (for the replay workload)\n"
    "\n"
    "`heapmark <command> --help` describes each command's options.\n";

static const char usage_list[] =
    "usage: heapmark list [--allocators A,B] [--profile P] [--filter REGEX]\n"
    "\n"
    "Prints the allocators (version, library serving malloc) and the benchmark\n"
    "instances of the profile.\n"
    "\n"
    ALLOCATORS_HELP("bench")
    "                    default: every built allocator, glibc first\n"
    "  --profile P       quick, default or full (HEAPMARK_PROFILE of the bench binaries)\n"
    "  --filter REGEX    POSIX extended regex on the instance name\n";

static const char usage_run[] =
    "usage: heapmark run [--allocators A,B] [--filter REGEX] [--repetitions N]\n"
    "                    [--min-time S] [--timeout S] [--profile P] [--out DIR]\n"
    "                    [--instructions] [--processes N] [--programs DIR|none]\n"
    "                    [--program 'NAME=CMD ARGS'...] [--program-runs N]\n"
    "\n"
    "Runs each allocator x benchmark instance in a fresh process, interleaved\n"
    "(A B C A B C ...), and writes results/<UTC stamp>-<host>/ (meta.json,\n"
    "runs.jsonl, raw/<allocator>/<id>.json and .log); results/latest points at it.\n"
    "Real programs (bench/programs/*.def) run first, each under every allocator by\n"
    "LD_PRELOAD of its library (glibc: nothing preloaded), recording times, peak RSS,\n"
    "an RSS series (raw/<allocator>/<id>.rss), the program's own figure, the proof\n"
    "that the library was mapped, and whether its result matches glibc's.\n"
    "A crash, a non-zero exit, a timeout or unreadable output is recorded and\n"
    "the run goes on. Ctrl-C or SIGTERM keeps the finished results and marks\n"
    "the run interrupted (exit 130 or 143).\n"
    "Exit status: 0 when every planned process ran, whatever each one did (see\n"
    "runs.jsonl); 1 on a problem found before the run (nothing is run); 2 on bad usage.\n"
    "\n"
    ALLOCATORS_HELP("bench")
    "                    default: every built allocator, glibc first\n"
    "  --filter REGEX    POSIX extended regex on the instance name (see `heapmark list`)\n"
    "  --repetitions N   repetitions per process (profile: quick 2, default 3, full 9)\n"
    "  --min-time S      Google Benchmark's minimum time per repetition, in seconds\n"
    "                    (profile: quick 0.02, default 0.05, full 0.2)\n"
    "  --timeout S       a process still running after S seconds is killed and recorded\n"
    "                    as a timeout (default 120)\n"
    "  --profile P       quick, default or full: the workload set and the defaults above\n"
    "  --out DIR         the folder that receives the run folder (default <root>/results)\n"
    "  --processes N     processes per benchmark instance and allocator, run in rounds\n"
    "                    (profile: quick 1, default 2, full 3)\n"
    "  --programs DIR    the program definitions to run (default bench/programs), or\n"
    "                    none; --filter applies to them as program/NAME\n"
    "  --program 'NAME=CMD ARGS'\n"
    "                    also run CMD (no shell; quotes group words) under every\n"
    "                    allocator, in the current folder, comparing its stdout with\n"
    "                    glibc's; repeatable. Given alone, only these run (add\n"
    "                    --programs DIR or --filter for the others)\n"
    "  --program-runs N  processes per program and allocator (profile: quick 1,\n"
    "                    default 3, full 3)\n"
    "  --instructions    count instructions per operation instead of timing: each\n"
    "                    single-thread instance (threads:1) runs once under\n"
    "                    valgrind --tool=callgrind, collecting only inside the timed\n"
    "                    loops; runs.jsonl gets instructions_per_op. Instances with more\n"
    "                    threads are skipped (listed in meta.json \"skipped\"). Repeatable\n"
    "                    where times are not (CI on a noisy machine). Defaults: one batch\n"
    "                    of operations (min time 1e-9 s: the same count every run; a\n"
    "                    longer --min-time gets nearer the steady state, but Google\n"
    "                    Benchmark then picks the count by time), timeout 600 s.\n"
    "                    At the end, a table of the counts goes to stdout.\n"
    "\n"
    "Environment: HEAPMARK_MIN_FREE_MB (free space a run needs, default 16),\n"
    "HEAPMARK_TRACES (the folder of traces the replay workload runs, default bench/traces).\n";

static const char usage_conformance[] =
    "usage: heapmark conformance [--allocators A,B] [--filter S] [--timeout S]\n"
    "                            [--limit S] [--jobs N] [--out DIR]\n"
    "\n"
    "Runs build/<A>/conformance --json <run>/conformance/<A>.json for each allocator\n"
    "(two at a time) and records how each one ended in <run>/meta.json; a binary that\n"
    "crashes, hangs or writes no verdicts is recorded there, not an error. Exits 0\n"
    "when every allocator went through (results/latest-conformance then points at\n"
    "the run folder), 1 when the run could not be made (2: a bad command line),\n"
    "128+N when signal N interrupted it.\n"
    "The matrix, and its comparison with conformance/expected, come from\n"
    "/usr/bin/python3 scripts/conformance_report.py RUN [--check]; make conformance\n"
    "runs this command and then that script on its run folder.\n"
    "\n"
    ALLOCATORS_HELP("conformance")
    "                    default: every built allocator, glibc first\n"
    "  --filter S        passed to the conformance binaries (which checks to run)\n"
    "  --timeout S       passed to the conformance binaries (time limit of one check)\n"
    "  --limit S         a conformance binary still running after S seconds is killed\n"
    "                    (default 600)\n"
    "  --jobs N          binaries run at the same time (default 2)\n"
    "  --out DIR         the folder that receives the run folder (default <root>/results)\n";

static const char usage_trace[] =
    "usage: heapmark trace [--out FILE] [--follow] [--] CMD [ARG...]\n"
    "\n"
    "Runs CMD with the recorder build/lib/libhmtrace.so preloaded in front of\n"
    "whatever allocator it uses, and writes its allocation trace (every malloc,\n"
    "calloc, realloc, free and aligned allocation, block ids instead of addresses,\n"
    "threads kept; format bench/trace/FORMAT.md). Only CMD's own process is\n"
    "recorded, not the programs it starts (see --follow): one that exec()s another\n"
    "(a wrapper script) leaves no trace. Python: set PYTHONMALLOC=malloc, or\n"
    "pymalloc serves small objects out of sight.\n"
    "CMD keeps the terminal, stdin and stdout; the summary (events, threads,\n"
    "size) goes to stderr.\n"
    "Exit status: CMD's (128+N when killed by signal N); 126/127 when CMD cannot\n"
    "be run or is not found; 1 when CMD exited 0 but no readable trace came out\n"
    "(nothing is left then); 2 on bad usage.\n"
    "\n"
    "  --out FILE   the trace file; never replaced when it exists; compressed with\n"
    "               gzip -9 when it ends in .gz (default: ./<CMD>-<UTC stamp>.hmt)\n"
    "  --follow     also record every program CMD starts (exec, also from a forked\n"
    "               child; a fork without exec is never recorded) and keep the trace\n"
    "               of the process with the most events: the real program behind a\n"
    "               wrapper script, or cc1 behind gcc\n"
    "\n"
    "To replay it under every allocator, put it into bench/traces/ as NAME.hmt (or\n"
    "NAME.hmt.gz): every bench binary then has the instance replay/trace:NAME/threads:1\n"
    "in every profile (`heapmark run --filter replay/trace:NAME`). Or point\n"
    "HEAPMARK_TRACES at another folder of traces (it replaces bench/traces).\n"
    "Inspect one with /usr/bin/python3 bench/trace/dump.py FILE.\n";

enum {
    OPT_ALLOCATORS = 1000, OPT_FILTER, OPT_REPETITIONS, OPT_MIN_TIME, OPT_TIMEOUT,
    OPT_PROFILE, OPT_OUT, OPT_LIMIT, OPT_JOBS, OPT_INSTRUCTIONS, OPT_FOLLOW, OPT_HELP,
    OPT_PROCESSES, OPT_PROGRAMS, OPT_PROGRAM, OPT_PROGRAM_RUNS
};

struct command {
    const char *name;
    const char *usage;
    int (*fn)(const char *root, const struct options *o);
    const int *allowed; /* terminated by 0 */
    int takes_command;  /* the arguments after the options are a command to run */
};

static const int list_opts[] = {OPT_ALLOCATORS, OPT_FILTER, OPT_PROFILE, OPT_PROGRAMS, OPT_PROGRAM, 0};
static const int run_opts[] = {OPT_ALLOCATORS, OPT_FILTER, OPT_REPETITIONS, OPT_MIN_TIME,
                               OPT_TIMEOUT, OPT_PROFILE, OPT_OUT, OPT_INSTRUCTIONS,
                               OPT_PROCESSES, OPT_PROGRAMS, OPT_PROGRAM, OPT_PROGRAM_RUNS, 0};
static const int trace_opts[] = {OPT_OUT, OPT_FOLLOW, 0};
static const int conf_opts[] = {OPT_ALLOCATORS, OPT_FILTER, OPT_TIMEOUT, OPT_LIMIT,
                                OPT_JOBS,       OPT_OUT,    0};

static const struct command commands[] = {
    {"list", usage_list, cmd_list, list_opts, 0},
    {"run", usage_run, cmd_run, run_opts, 0},
    {"conformance", usage_conformance, cmd_conformance, conf_opts, 0},
    {"trace", usage_trace, cmd_trace, trace_opts, 1},
};

static const struct option long_opts[] = {
    {"allocators", required_argument, NULL, OPT_ALLOCATORS},
    {"filter", required_argument, NULL, OPT_FILTER},
    {"repetitions", required_argument, NULL, OPT_REPETITIONS},
    {"min-time", required_argument, NULL, OPT_MIN_TIME},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"profile", required_argument, NULL, OPT_PROFILE},
    {"out", required_argument, NULL, OPT_OUT},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"jobs", required_argument, NULL, OPT_JOBS},
    {"instructions", no_argument, NULL, OPT_INSTRUCTIONS},
    {"follow", no_argument, NULL, OPT_FOLLOW},
    {"help", no_argument, NULL, OPT_HELP},
    {"processes", required_argument, NULL, OPT_PROCESSES},
    {"programs", required_argument, NULL, OPT_PROGRAMS},
    {"program", required_argument, NULL, OPT_PROGRAM},
    {"program-runs", required_argument, NULL, OPT_PROGRAM_RUNS},
    {NULL, 0, NULL, 0},
};

static int allowed(const struct command *c, int opt)
{
    for (const int *a = c->allowed; *a; a++)
        if (*a == opt)
            return 1;
    return 0;
}

static const char *opt_name(int opt)
{
    for (const struct option *l = long_opts; l->name; l++)
        if (l->val == opt)
            return l->name;
    return "?";
}

static int bad_usage(const char *fmt, const char *arg)
{
    fflush(stdout);
    fprintf(stderr, "heapmark %s: ", prog_cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see heapmark %s --help)\n", prog_cmd);
    return 2;
}

/* <root> from /proc/self/exe = <root>/build/heapmark */
static char *find_root(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        errmsg("cannot read /proc/self/exe to find the heapmark tree");
        return NULL;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash == NULL)
        return NULL;
    *slash = '\0';
    slash = strrchr(exe, '/');
    if (slash == NULL || strcmp(slash + 1, "build") != 0) {
        errmsg("%s is not a build folder: heapmark must be run as <root>/build/heapmark", exe);
        return NULL;
    }
    *slash = '\0';
    return xstrdup(*exe ? exe : "/");
}

/* Started with a standard descriptor closed (e.g. CI with no standard
   input), the files and pipes opened for children would take the numbers 0-2
   and be overwritten by the children's own redirections: open /dev/null
   there first. */
static void std_fds_open(void)
{
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
            if (n >= 0 && n != fd) {
                dup2(n, fd);
                close(n);
            }
        }
}

int main(int argc, char **argv)
{
    std_fds_open();
    if (argc < 2) {
        fputs(usage_main, stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_main, stdout);
        return 0;
    }
    const struct command *cmd = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            cmd = &commands[i];
    if (cmd == NULL) {
        fprintf(stderr, "heapmark: unknown command '%s': use list, run, conformance or trace "
                        "(see heapmark --help)\n", argv[1]);
        return 2;
    }
    prog_cmd = cmd->name;

    struct options o;
    memset(&o, 0, sizeof o);
    o.argc = argc;
    o.argv = argv;
    opterr = 0;
    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    int c, idx;
    /* a command to run keeps its own options: stop at the first non-option */
    const char *optstring = cmd->takes_command ? "+:h" : ":h";
    while ((c = getopt_long(sub_argc, sub_argv, optstring, long_opts, &idx)) != -1) {
        if (c == 'h')
            c = OPT_HELP;
        if (c == '?')
            return bad_usage("unknown option '%s'", sub_argv[optind - 1]);
        if (c == ':')
            return bad_usage("option '%s' needs a value", sub_argv[optind - 1]);
        if (c == OPT_HELP) {
            fputs(cmd->usage, stdout);
            return 0;
        }
        if (!allowed(cmd, c)) {
            char buf[64];
            snprintf(buf, sizeof buf, "--%s", opt_name(c));
            return bad_usage("option '%s' does not apply to this command", buf);
        }
        double d;
        long l;
        switch (c) {
        case OPT_ALLOCATORS: o.allocators = optarg; break;
        case OPT_FILTER: o.filter = optarg; break;
        case OPT_PROFILE:
            if (strcmp(optarg, "quick") && strcmp(optarg, "default") && strcmp(optarg, "full"))
                return bad_usage("unknown profile '%s': use quick, default or full", optarg);
            o.profile = optarg;
            break;
        case OPT_OUT:
            if (*optarg == '\0')
                return bad_usage("--out needs a %s", cmd->takes_command ? "file" : "folder");
            o.out = optarg;
            break;
        case OPT_INSTRUCTIONS: o.instructions = 1; break;
        case OPT_FOLLOW: o.follow = 1; break;
        case OPT_REPETITIONS:
            if (parse_int(optarg, &l) != 0 || l < 1 || l > 1000)
                return bad_usage("--repetitions must be a whole number from 1 to 1000, not '%s'",
                                 optarg);
            o.repetitions = l;
            break;
        case OPT_PROCESSES:
        case OPT_PROGRAM_RUNS:
            if (parse_int(optarg, &l) != 0 || l < 1 || l > 100)
                return bad_usage(c == OPT_PROCESSES ? "--processes must be a whole number from 1 "
                                                      "to 100, not '%s'"
                                                    : "--program-runs must be a whole number "
                                                      "from 1 to 100, not '%s'",
                                 optarg);
            if (c == OPT_PROCESSES)
                o.processes = l;
            else
                o.program_runs = l;
            break;
        case OPT_PROGRAMS:
            if (*optarg == '\0')
                return bad_usage("--programs needs a folder or none%s", "");
            o.programs = optarg;
            break;
        case OPT_PROGRAM: strv_push(&o.user_programs, optarg); break;
        case OPT_JOBS:
            if (parse_int(optarg, &l) != 0 || l < 1 || l > 64)
                return bad_usage("--jobs must be a whole number from 1 to 64, not '%s'", optarg);
            o.jobs = l;
            break;
        case OPT_MIN_TIME:
            if (parse_double(optarg, &d) != 0 || d <= 0 || d > 3600)
                return bad_usage("--min-time must be a number of seconds above 0, not '%s'",
                                 optarg);
            o.min_time = d;
            break;
        case OPT_TIMEOUT:
            if (parse_double(optarg, &d) != 0 || d <= 0 || d > 86400)
                return bad_usage("--timeout must be a number of seconds above 0, not '%s'",
                                 optarg);
            o.timeout = d;
            break;
        case OPT_LIMIT:
            if (parse_double(optarg, &d) != 0 || d <= 0 || d > 86400)
                return bad_usage("--limit must be a number of seconds above 0, not '%s'", optarg);
            o.limit = d;
            break;
        }
    }
    if (cmd->takes_command) {
        if (optind >= sub_argc)
            return bad_usage("no command given%s", "");
        o.cmd_argc = sub_argc - optind;
        o.cmd_argv = sub_argv + optind;
    } else if (optind < sub_argc) {
        return bad_usage("unexpected argument '%s'", sub_argv[optind]);
    }

    char *root = find_root();
    if (root == NULL)
        return 1;
    /* SIGINT/SIGTERM/SIGHUP are taken synchronously from here on (proc.c) */
    proc_block_signals();
    int rc = cmd->fn(root, &o);
    free(root);
    return rc;
}
