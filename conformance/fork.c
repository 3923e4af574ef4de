/* fork.c: catalogue area FK (fork safety). */
#define _GNU_SOURCE
#include "conf.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* the child of a fork does some allocation work and exits 0 when it went well */
static void child_work(int rounds)
{
    for (int i = 0; i < rounds; i++) {
        char *p = conf_malloc((size_t)(i % 50) * 40 + 1);
        if (p == NULL)
            _exit(2);
        p[0] = 1;
        conf_free(p);
    }
    _exit(0);
}

/* waits for a forked child up to ms milliseconds: 0 ok, 1 deadlock (killed),
   2 bad exit, 3 signal; *sig gets the signal */
static int wait_ms(pid_t pid, long ms, int *sig)
{
    int status;
    for (long t = 0; t <= ms; t++) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            if (WIFSIGNALED(status)) {
                *sig = WTERMSIG(status);
                return 3;
            }
            return WEXITSTATUS(status) == 0 ? 0 : 2;
        }
        if (w < 0 && errno != EINTR)
            return 2;
        conf_sleep_ms(1);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return 1;
}

static atomic_int fk_stop;
static atomic_int fk_go; /* FK-01's new threads wait for it to allocate */

static void *fk_churn(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    void *keep[64] = {0};
    while (!fk_stop) {
        seed = seed * 1103515245u + 12345u;
        int slot = (int)((seed >> 8) % 64);
        conf_free(keep[slot]);
        keep[slot] = conf_malloc(1 + (seed >> 12) % 3000);
    }
    for (int i = 0; i < 64; i++)
        conf_free(keep[i]);
    return NULL;
}

/* FK-01's threads: their first allocation waits for the round's forks */
static void *fk01_churn(void *arg)
{
    while (!fk_go)
        ;
    return fk_churn(arg);
}

/* seconds on the monotonic clock */
static double fk_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Rounds of: 4 new threads start malloc/free together as the first of
   FK01_FORKS forks comes, the threads stop; for FK01_SECONDS (at least 10
   rounds). A lock left held by a thread the child does not inherit is hit
   only when a fork falls in its window, and some windows open only while
   threads are new (their first allocations set up per-thread caches), so
   the check starts threads anew in every round, all at once, and keeps
   the rounds short: as many rounds as fit, each with a fork in the few
   milliseconds after its threads' first allocations. */
#define FK01_SECONDS 4.0
#define FK01_ROUNDS_MAX 1000
#define FK01_FORKS 3

CONF_CHECK(fk01_fork_while_threads, "FK-01", "fork", CONF_STD, 30,
           "rounds of 3 forks while 4 new threads malloc/free, for 4 s; every child allocates "
           "100 times and exits, no deadlock (glibc tst-malloc-fork-deadlock.c; jemalloc "
           "unit/fork.c)")
{
    double end = fk_now() + FK01_SECONDS;
    int forks = 0, round;
    for (round = 0; round < FK01_ROUNDS_MAX && (round < 10 || fk_now() < end); round++) {
        pthread_t t[4];
        fk_stop = 0;
        fk_go = 0;
        for (int i = 0; i < 4; i++)
            pthread_create(&t[i], NULL, fk01_churn, (void *)(uintptr_t)(round * 4 + i + 7));
        fk_go = 1; /* their first allocations, all at once, as the first fork comes */
        for (int k = 0; k < FK01_FORKS; k++) {
            pid_t pid = fork();
            if (pid < 0)
                conf_unsupported("fork failed: %s", strerror(errno));
            if (pid == 0)
                child_work(100);
            forks++;
            int sig = 0, r = wait_ms(pid, 3000, &sig);
            if (r == 1)
                conf_fail("fork %d (round %d): the child deadlocked in the allocator (killed after "
                          "3 s)", forks, round + 1);
            if (r == 3)
                conf_fail("fork %d (round %d): the child died of %s", forks, round + 1,
                          conf_signame(sig));
            if (r == 2)
                conf_fail("fork %d (round %d): the child failed to allocate", forks, round + 1);
        }
        fk_stop = 1;
        for (int i = 0; i < 4; i++)
            pthread_join(t[i], NULL);
    }
    conf_pass("%d forks in %d rounds, every child allocated and exited", forks, round);
}

static void *fk02_thread(void *arg)
{
    int *result = arg;
    conf_free(conf_malloc(100));
    pid_t pid = fork();
    if (pid == 0)
        child_work(1000);
    int sig = 0;
    result[0] = pid < 0 ? 4 : wait_ms(pid, 3000, &sig);
    result[1] = sig;
    return NULL;
}

CONF_CHECK(fk02_fork_from_thread, "FK-02", "fork", CONF_REP, 0,
           "fork from a non-main thread while main allocates; does the child allocate? (jemalloc "
           "unit/fork.c test_fork_multithreaded)")
{
    int result[2] = {0, 0};
    pthread_t t;
    pthread_create(&t, NULL, fk_churn, (void *)(uintptr_t)3);
    pthread_t f;
    pthread_create(&f, NULL, fk02_thread, result);
    pthread_join(f, NULL);
    fk_stop = 1;
    pthread_join(t, NULL);
    static const char *const what[] = {"the child allocates normally", "the child deadlocked",
                                       "the child could not allocate", "the child died",
                                       "fork failed"};
    conf_observe("%s%s%s", what[result[0]], result[0] == 3 ? " of " : "",
                 result[0] == 3 ? conf_signame(result[1]) : "");
}

/* FK-03/04: forks from a signal handler that interrupts allocation. The
   window (the signal landing while the allocator holds a lock) is narrow:
   the loop forks as often as it can for FK_BUDGET_S seconds, up to
   FK_MAX_FORKS times, so that a deadlock shows rather than hides. The timer
   is one-shot, re-armed by the handler after a random 20-220 us: a periodic
   one keeps a signal pending during the handler's own fork, which the kernel
   then restarts over and over (a livelock that would look like a deadlock
   in every allocator). */
#define FK_BUDGET_S 1.5
#define FK_MAX_FORKS 2000
static volatile sig_atomic_t fk_forks, fk_bad, fk_use_raw;

static void fk_handler(int sig)
{
    (void)sig;
    int saved = errno;
    static unsigned seed = 17;
    pid_t pid = fk_use_raw ? _Fork() : fork();
    if (pid == 0) {
        if (fk_use_raw)
            _exit(0); /* after _Fork only async-signal-safe calls are allowed */
        child_work(20);
    }
    if (pid > 0) {
        int status;
        if (waitpid(pid, &status, 0) == pid && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            fk_bad = fk_bad + 1;
        fk_forks = fk_forks + 1;
    }
    seed = seed * 1103515245u + 12345u;
    struct itimerval next = {{0, 0}, {0, 20 + (long)((seed >> 8) % 200)}};
    if (!fk_stop)
        setitimer(ITIMER_REAL, &next, NULL);
    errno = saved;
}

static void fk_signal_loop(void *arg)
{
    int threads = (int)(uintptr_t)arg;
    pthread_t t[2];
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, fk_churn, (void *)(uintptr_t)(i + 11));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fk_handler;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 0}, {0, 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
    void *keep[32] = {0};
    unsigned seed = 1;
    double end = fk_now() + FK_BUDGET_S;
    for (unsigned i = 1; fk_forks < FK_MAX_FORKS && (i % 64 != 0 || fk_now() < end); i++) {
        seed = seed * 1103515245u + 12345u;
        int slot = (int)((seed >> 8) % 32);
        conf_free(keep[slot]);
        keep[slot] = conf_malloc(1 + (seed >> 12) % 2000);
    }
    fk_stop = 1;
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    fprintf(stderr, "%d forks\n", (int)fk_forks);
    _exit(fk_bad ? 1 : 0);
}

static void fk_signal_report(const char *what, int threads, int raw)
{
    struct conf_sub s;
    fk_use_raw = raw;
    conf_sub_run(&s, fk_signal_loop, (void *)(uintptr_t)threads, FK_BUDGET_S + 2);
    if (s.exited && s.code == 0)
        conf_observe("%s: %s in %.1f s, all fine", what, s.err, FK_BUDGET_S);
    if (s.exited && s.code == 1)
        conf_observe("%s: some children failed to allocate", what);
    if (s.timed_out)
        conf_observe("%s: deadlock (the process hung)", what);
    conf_observe("%s: %s", what, conf_sub_describe(&s));
}

CONF_CHECK(fk03_fork_in_handler, "FK-03", "fork", CONF_REP, 10,
           "fork inside a SIGALRM handler that interrupted malloc/free, single-threaded; the "
           "child allocates (glibc tst-mallocfork.c BZ 838, tst-mallocfork2.c)")
{
    fk_signal_report("fork in a handler interrupting malloc", 0, 0);
}

CONF_CHECK(fk04_raw_fork_threads, "FK-04", "fork", CONF_REP, 10,
           "_Fork from a signal handler in a multithreaded process that keeps allocating "
           "(glibc tst-mallocfork3.c, 2.34+)")
{
    fk_signal_report("_Fork in a handler, 2 more threads allocating", 2, 1);
}

CONF_CHECK(fk05_free_after_fork, "FK-05", "fork", CONF_STD, 0,
           "after fork, parent and child both free blocks from before the fork, with contents "
           "intact, and keep allocating (jemalloc unit/fork.c; POSIX fork)")
{
    static char *pre[200];
    for (int i = 0; i < 200; i++) {
        size_t n = 16 + (size_t)i * 997;
        pre[i] = conf_malloc(n);
        conf_fill(pre[i], n, (unsigned)i);
    }
    pid_t pid = fork();
    if (pid < 0)
        conf_unsupported("fork failed");
    for (int i = 0; i < 200; i++) {
        size_t n = 16 + (size_t)i * 997;
        if (conf_check_fill(pre[i], n, (unsigned)i) >= 0) {
            if (pid == 0)
                _exit(3);
            conf_fail("parent: block %d changed across fork", i);
        }
        conf_free(pre[i]);
    }
    for (int i = 0; i < 1000; i++) {
        void *p = conf_malloc((size_t)i * 13 + 1);
        if (p == NULL) {
            if (pid == 0)
                _exit(4);
            conf_fail("parent: malloc after fork failed");
        }
        conf_free(p);
    }
    if (pid == 0)
        _exit(0);
    int sig = 0, r = wait_ms(pid, 3000, &sig);
    if (r == 1)
        conf_fail("child: deadlocked freeing pre-fork blocks");
    if (r == 3)
        conf_fail("child: died of %s freeing pre-fork blocks", conf_signame(sig));
    if (r == 2)
        conf_fail("child: pre-fork blocks changed or allocation failed");
}
