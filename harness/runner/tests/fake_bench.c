/* fake_bench.c: a stand-in for build/<A>/bench and build/<A>/conformance
 * that misbehaves on request, so the runner's tests can prove that every
 * kind of failure is recorded and that the run goes on.
 *
 * As a bench binary (argv[0] ends in /bench) it lists these instances:
 *   ok/a ok/b ok/profile:<HEAPMARK_PROFILE> crash/segv crash/abort hang/x
 *   garbage/text garbage/empty nojson/x exit/3 error/x wrongname/x
 * and runs the one named by --benchmark_filter=^<escaped name>$:
 *   ok/...      valid Google Benchmark JSON (with a bare NaN, as 1.7.1 writes)
 *   crash/segv  SIGSEGV; crash/abort: SIGABRT
 *   hang/x      starts a grandchild that sleeps, then sleeps itself
 *   garbage/... unparsable or empty JSON; nojson/x: no JSON file at all
 *   exit/3      a message on stderr and exit status 3
 *   error/x     JSON with error_occurred
 *   wrongname/x valid JSON about another benchmark
 *   ok/x.y+(z)|w[1]^$  a name full of regex specials: the runner must escape it
 * --heapmark-info prints a verified identity, or an unverified one (exit 1)
 * when FAKE_UNVERIFIED is set. FAKE_MARKER=file gets one line per run
 * started (not for --heapmark-info or listing): "nothing ran" is checkable.
 * HEAPMARK_TEST_ENV (an allocator variant's variable in the runner's tests)
 * shows in everything: --heapmark-info's version becomes
 * "0.1-HEAPMARK_TEST_ENV=<value>", the listing gains ok/env, a benchmark
 * run prints every HEAPMARK_TEST_* variable into its log, and the
 * conformance JSON has it as "test_env" (else null).
 * FAKE_LIST_SLEEP_MS makes the listing slow (to interrupt the planning);
 * FAKE_LIST_STARTED=file is created when a listing starts.
 * With HEAPMARK_COUNT_OPS=file (heapmark run --instructions) an ok/...
 * instance does what the shim does: 1000 "operations" with callgrind's
 * collection on, and {"operations": 1000, "under_callgrind": ...} into the
 * file (not when FAKE_NO_COUNT is set).
 *
 * As a conformance binary it writes --json FILE with its arguments, the
 * start and end times (to check how many ran at once) and FAKE_SLEEP_MS of
 * sleep in between; FAKE_CONF_CRASH=<allocator> makes that allocator's
 * binary crash instead. */
#define _GNU_SOURCE
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

static const char *names[] = {"ok/a",         "ok/b",          "ok/profile:", "crash/segv",
                              "crash/abort",  "hang/x",        "garbage/text", "garbage/empty",
                              "nojson/x",     "exit/3",        "error/x",      "wrongname/x",
                              "ok/x.y+(z)|w[1]^$"};

static char self_name[256];
extern char **environ;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *profile(void)
{
    const char *p = getenv("HEAPMARK_PROFILE");
    return p ? p : "none";
}

static void write_json(const char *path, const char *bench, int reps, int error)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        exit(5);
    }
    fprintf(f, "{\n  \"context\": {\"host_name\": \"fake\", \"allocator\": \"%s\", "
               "\"load_avg\": [NaN, Infinity, -Infinity]},\n  \"benchmarks\": [\n",
            self_name);
    for (int r = 0; r < reps; r++) {
        fprintf(f, "    {\"name\": \"%s\", \"run_name\": \"%s\", \"run_type\": \"iteration\", "
                   "\"repetitions\": %d, \"repetition_index\": %d, \"threads\": 1, "
                   "\"iterations\": 1000, \"real_time\": 1.5e+01, \"cpu_time\": 14.5, "
                   "\"time_unit\": \"ns\", \"odd\": NaN",
                bench, bench, reps, r);
        if (error)
            fprintf(f, ", \"error_occurred\": true, \"error_message\": \"out of fake memory\"");
        fprintf(f, "}%s\n", r + 1 < reps ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    fclose(f);
}

static volatile unsigned long fake_sink;

/* the shim's HEAPMARK_COUNT_OPS protocol (harness/gbench.h), 1000 operations */
static void count_ops(void)
{
    const char *file = getenv("HEAPMARK_COUNT_OPS");
    if (file == NULL || getenv("FAKE_NO_COUNT") != NULL)
        return;
    CALLGRIND_TOGGLE_COLLECT;
    for (unsigned long i = 0; i < 1000; i++)
        fake_sink += i;
    CALLGRIND_TOGGLE_COLLECT;
    FILE *f = fopen(file, "w");
    if (f == NULL) {
        perror(file);
        exit(5);
    }
    fprintf(f, "{\"operations\": 1000, \"under_callgrind\": %s}\n",
            RUNNING_ON_VALGRIND ? "true" : "false");
    fclose(f);
}

static int conformance(int argc, char **argv)
{
    const char *json = NULL;
    const char *crash = getenv("FAKE_CONF_CRASH");
    if (crash && strcmp(crash, self_name) == 0) {
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
    }
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--json") == 0)
            json = argv[i + 1];
    if (json == NULL) {
        fprintf(stderr, "fake conformance: --json FILE is required\n");
        return 2;
    }
    double start = now();
    const char *ms = getenv("FAKE_SLEEP_MS");
    if (ms)
        usleep((useconds_t)atoi(ms) * 1000);
    FILE *f = fopen(json, "w");
    if (f == NULL) {
        perror(json);
        return 3;
    }
    const char *test_env = getenv("HEAPMARK_TEST_ENV");
    fprintf(f, "{\"allocator\": \"%s\", \"start\": %.6f, \"end\": %.6f, \"preload\": \"%s\", "
               "\"test_env\": %s%s%s, \"args\": [",
            self_name, start, now(), getenv("HEAPMARK_PRELOAD") ? getenv("HEAPMARK_PRELOAD") : "",
            test_env ? "\"" : "", test_env ? test_env : "null", test_env ? "\"" : "");
    for (int i = 1; i < argc; i++)
        fprintf(f, "%s\"%s\"", i > 1 ? ", " : "", argv[i]);
    fprintf(f, "], \"checks\": []}\n");
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    char *copy = strdup(argv[0]);
    const char *kind = basename(copy);
    char *copy2 = strdup(argv[0]);
    snprintf(self_name, sizeof self_name, "%s", basename(dirname(copy2)));
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--heapmark-info") == 0) {
            int ok = getenv("FAKE_UNVERIFIED") == NULL;
            const char *test_env = getenv("HEAPMARK_TEST_ENV");
            printf("{\"allocator\": \"%s\", \"version\": \"0.1%s%s\", \"library\": \"/fake/%s\", "
                   "\"expected\": \"%s\", \"verified\": %s}\n",
                   self_name, test_env ? "-HEAPMARK_TEST_ENV=" : "", test_env ? test_env : "",
                   ok ? "libfake.so" : "libc.so.6", "libfake", ok ? "true" : "false");
            return ok ? 0 : 1;
        }
    /* FAKE_MARKER=file: one line per benchmark or conformance run started */
    const char *marker = getenv("FAKE_MARKER");
    int is_list = argc > 1 && strcmp(argv[1], "--benchmark_list_tests=true") == 0;
    if (marker && !is_list) {
        FILE *m = fopen(marker, "a");
        if (m) {
            fprintf(m, "%s %s\n", self_name, kind);
            fclose(m);
        }
    }
    if (strcmp(kind, "conformance") == 0)
        return conformance(argc, argv);

    const char *filter = NULL, *out = NULL;
    int reps = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--benchmark_list_tests=true") == 0) {
            const char *ms = getenv("FAKE_LIST_SLEEP_MS");
            const char *started = getenv("FAKE_LIST_STARTED");
            if (started)
                fclose(fopen(started, "w"));
            if (ms)
                usleep((useconds_t)atoi(ms) * 1000);
            for (size_t k = 0; k < sizeof names / sizeof *names; k++)
                printf("%s%s\n", names[k], strcmp(names[k], "ok/profile:") ? "" : profile());
            if (getenv("HEAPMARK_TEST_ENV"))
                printf("ok/env\n");
            return 0;
        }
        if (strncmp(argv[i], "--benchmark_filter=", 19) == 0)
            filter = argv[i] + 19;
        else if (strncmp(argv[i], "--benchmark_out=", 16) == 0)
            out = argv[i] + 16;
        else if (strncmp(argv[i], "--benchmark_repetitions=", 24) == 0)
            reps = atoi(argv[i] + 24);
    }
    /* the runner hands one anchored, escaped instance name */
    if (filter == NULL || out == NULL || filter[0] != '^' || filter[strlen(filter) - 1] != '$') {
        fprintf(stderr, "fake bench: needs --benchmark_filter=^name$ and --benchmark_out\n");
        return 2;
    }
    char name[512];
    size_t n = 0;
    for (const char *c = filter + 1; c[1] != '\0' && n + 1 < sizeof name; c++) {
        if (*c == '\\')
            c++;
        name[n++] = *c;
    }
    name[n] = '\0';
    printf("fake bench %s: running %s, %d repetitions, profile %s\n", self_name, name, reps,
           profile());
    for (int i = 0; i < argc; i++)
        printf("argv[%d] = %s\n", i, argv[i]);
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "HEAPMARK_TEST_", 14) == 0)
            printf("env %s\n", *e);
    fflush(stdout);

    if (strncmp(name, "ok/", 3) == 0) {
        count_ops();
        write_json(out, name, reps, 0);
    } else if (strcmp(name, "crash/segv") == 0) {
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
    } else if (strcmp(name, "crash/abort") == 0) {
        abort();
    } else if (strcmp(name, "hang/x") == 0) {
        /* a runner that fails to kill them must not leave them forever */
        pid_t pid = fork();
        if (pid == 0) {
            alarm(120);
            for (;;)
                pause();
        }
        alarm(120);
        printf("grandchild %d\n", (int)pid);
        fflush(stdout);
        for (;;)
            pause();
    } else if (strcmp(name, "garbage/text") == 0) {
        FILE *f = fopen(out, "w");
        fprintf(f, "{\"benchmarks\": [ this is not JSON\n");
        fclose(f);
    } else if (strcmp(name, "garbage/empty") == 0) {
        fclose(fopen(out, "w"));
    } else if (strcmp(name, "nojson/x") == 0) {
        /* writes nothing */
    } else if (strcmp(name, "exit/3") == 0) {
        fprintf(stderr, "fake bench: failing on purpose\n");
        return 3;
    } else if (strcmp(name, "error/x") == 0) {
        write_json(out, name, reps, 1);
    } else if (strcmp(name, "wrongname/x") == 0) {
        write_json(out, "something/else", reps, 0);
    } else {
        fprintf(stderr, "fake bench: no benchmark matches %s\n", filter);
        return 4;
    }
    return 0;
}
