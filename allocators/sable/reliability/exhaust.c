/* exhaust.c: sable out of address space (linked with libsable.so, the
 * standard names).
 *
 * Each case runs in a forked child under RLIMIT_AS (its current address
 * space plus a little), watched by the parent: a child that has not ended
 * after WATCHDOG seconds is killed and the case fails (a bound on wall
 * time, not a timing measurement).
 *
 *  1. every allocation entry point (malloc, calloc, realloc of NULL, realloc
 *     growing a block, reallocarray, posix_memalign, aligned_alloc, memalign,
 *     valloc, pvalloc, sable_aligned_alloc_any), for small, medium, large
 *     and huge sizes: called until it fails, which must be NULL with errno
 *     ENOMEM (posix_memalign: the return value ENOMEM and *out untouched; a
 *     failed realloc leaves its block intact); then everything is freed and
 *     the same call must succeed again;
 *  2. thread churn: 2 threads allocate until they fail and free, over and
 *     over, while 1500 short-lived threads are created and joined, each
 *     allocating and freeing, and freeing a block another thread allocated;
 *  3. a fork storm: 150 forks while the 2 threads keep the address space
 *     full; each child allocates, checks, frees and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sable.h"

#define RELI_PROGRAM "exhaust"
#include "reli.h"

#define MiB ((size_t)1 << 20)
#define WATCHDOG 120 /* seconds for one case */

static size_t vm_size(void)
{
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL || fscanf(f, "%ld", &pages) != 1)
        pages = 0;
    if (f != NULL)
        fclose(f);
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

static void limit_as(size_t headroom)
{
    struct rlimit rl = {vm_size() + headroom, RLIM_INFINITY};
    if (setrlimit(RLIMIT_AS, &rl) != 0)
        die("setrlimit(RLIMIT_AS) failed");
}

/* ---- 1. every entry point ---------------------------------------------------- */
enum entry {
    E_MALLOC,
    E_CALLOC,
    E_REALLOC_NULL,
    E_REALLOCARRAY,
    E_POSIX_MEMALIGN,
    E_ALIGNED_ALLOC,
    E_MEMALIGN,
    E_VALLOC,
    E_PVALLOC,
    E_ALIGNED_ANY,
    E_COUNT
};
static const char *const entry_names[] = {
    "malloc",        "calloc",   "realloc(NULL)", "reallocarray", "posix_memalign",
    "aligned_alloc", "memalign", "valloc",        "pvalloc",      "sable_aligned_alloc_any"};

/* one call; *err: errno, or posix_memalign's result */
static void *call(enum entry e, size_t n, int *err)
{
    void *p = NULL;
    errno = 0;
    switch (e) {
    case E_MALLOC: p = malloc(n); break;
    case E_CALLOC: p = calloc(n / 16, 16); break;
    case E_REALLOC_NULL: p = realloc(NULL, n); break;
    case E_REALLOCARRAY: p = reallocarray(NULL, n / 8, 8); break;
    case E_POSIX_MEMALIGN: {
        void *out = (void *)0x1;
        int rc = posix_memalign(&out, 64, n);
        if (rc != 0 && out != (void *)0x1)
            die("posix_memalign failed (%d) and changed *out", rc);
        *err = rc;
        return rc == 0 ? out : NULL;
    }
    case E_ALIGNED_ALLOC: p = aligned_alloc(256, n); break;
    case E_MEMALIGN: p = memalign(4096, n); break;
    case E_VALLOC: p = valloc(n); break;
    case E_PVALLOC: p = pvalloc(n); break;
    case E_ALIGNED_ANY: p = sable_aligned_alloc_any(48, n); break;
    case E_COUNT: break;
    }
    *err = errno;
    return p;
}

/* allocates blocks of n bytes until a call fails; returns them as a list */
static void **fill_up(enum entry e, size_t n, size_t *count)
{
    void **list = NULL;
    *count = 0;
    for (;;) {
        int err;
        void **b = call(e, n, &err);
        if (b == NULL) {
            if (err != ENOMEM)
                die("%s(%zu) failed with %d (%s), not ENOMEM, after %zu blocks", entry_names[e], n,
                    err, strerror(err), *count);
            return list;
        }
        if (malloc_usable_size(b) < n)
            die("%s(%zu): usable size %zu", entry_names[e], n, malloc_usable_size(b));
        b[0] = list;
        ((uint8_t *)b)[n - 1] = 0xa5;
        list = b;
        ++*count;
    }
}

static void release(void **list)
{
    while (list != NULL) {
        void **next = list[0];
        free(list);
        list = next;
    }
}

static const size_t entry_sizes[] = {48, 3000, 100 << 10, 3 << 20};

static int case_entry(enum entry e)
{
    limit_as(96 * MiB);
    char line[300];
    int len = snprintf(line, sizeof line,
                       "  %-24s blocks until ENOMEM, then again after freeing:", entry_names[e]);
    for (size_t i = 0; i < sizeof entry_sizes / sizeof entry_sizes[0]; i++) {
        size_t n = entry_sizes[i], count, again;
        for (int round = 0; round < 2; round++) {
            void **list = fill_up(e, n, round == 0 ? &count : &again);
            if (list == NULL)
                die("%s(%zu): not a single block under the limit", entry_names[e], n);
            release(list);
        }
        /* after freeing everything, the same amount fits again (give or
           take what the allocator's own bookkeeping costs) */
        if (again < count / 2)
            die("%s(%zu): %zu blocks the first time, only %zu after freeing them", entry_names[e],
                n, count, again);
        int err;
        void *p = call(e, n, &err);
        if (p == NULL)
            die("%s(%zu) fails after everything was freed (errno %d)", entry_names[e], n, err);
        free(p);
        len += snprintf(line + len, sizeof line - (size_t)len, " %zu B: %zu/%zu", n, count, again);
    }
    printf("%s\n", line);
    return 0;
}

/* realloc growing one block until it fails: NULL, ENOMEM, the block intact */
static int case_realloc_grow(void)
{
    limit_as(96 * MiB);
    for (int arr = 0; arr < 2; arr++) {
        size_t n = 4096;
        uint8_t *p = malloc(n);
        if (p == NULL)
            die("malloc(4096) failed");
        memset(p, 0x5a, n);
        for (;;) {
            size_t m = n + n / 2;
            errno = 0;
            uint8_t *q = arr ? reallocarray(p, m / 8, 8) : realloc(p, m);
            if (q == NULL) {
                if (errno != ENOMEM)
                    die("%s(%zu) failed with errno %d", arr ? "reallocarray" : "realloc", m, errno);
                break;
            }
            memset(q + n, 0x5a, m - n);
            p = q;
            n = m;
        }
        for (size_t i = 0; i < n; i += 512)
            if (p[i] != 0x5a)
                die("a failed realloc damaged its block: byte %zu", i);
        /* under the limit, a smaller growth still works after a shrink */
        uint8_t *q = realloc(p, n / 4);
        if (q == NULL)
            die("realloc shrinking to %zu failed", n / 4);
        free(q);
        q = malloc(n / 2);
        if (q == NULL)
            die("malloc(%zu) failed after freeing the grown block", n / 2);
        free(q);
        printf("  %-24s grew to %zu bytes, then ENOMEM with the block intact\n",
               arr ? "reallocarray" : "realloc", n);
    }
    return 0;
}

/* ---- 2 and 3: load near the limit ---------------------------------------------- */
static atomic_bool stop_load, go_load;
static _Atomic unsigned long load_failures;
static _Atomic(void *) handoff;

static void *load_main(void *arg)
{
    uint64_t x = (uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
    void **list = NULL;
    while (!atomic_load(&go_load)) /* both threads exist before the space is full */
        sched_yield();
    while (!atomic_load(&stop_load)) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t n = 16 + x % (x & 1 ? 512 : 300000);
        errno = 0;
        void **b = malloc(n);
        if (b == NULL) {
            if (errno != ENOMEM)
                die("malloc(%zu) under load failed with errno %d", n, errno);
            atomic_fetch_add(&load_failures, 1);
            release(list);
            list = NULL;
            continue;
        }
        b[0] = list;
        list = b;
    }
    release(list);
    return NULL;
}

static void start_load(pthread_t *t)
{
    for (uintptr_t i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, load_main, (void *)(i + 1)) != 0)
            die("pthread_create (load) failed");
    atomic_store(&go_load, true);
}

static void stop_load_threads(pthread_t *t)
{
    atomic_store(&stop_load, true);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
}

static void *short_main(void *arg)
{
    (void)arg;
    void *mine[64];
    int got = 0;
    for (int i = 0; i < 64; i++)
        if ((mine[got] = malloc(16 + (size_t)i * 40)) != NULL)
            got++;
    void *p = malloc(200);
    free(atomic_exchange(&handoff, p)); /* a block of another thread */
    for (int i = 0; i < got; i++)
        free(mine[i]);
    return NULL;
}

static int case_threads(void)
{
    limit_as(160 * MiB);
    pthread_t load[2];
    start_load(load);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 << 10);
    unsigned retries = 0;
    for (int i = 0; i < 1500; i++) {
        pthread_t t;
        int rc;
        while ((rc = pthread_create(&t, &attr, short_main, NULL)) != 0) {
            if (rc != EAGAIN && rc != ENOMEM)
                die("pthread_create failed with %d", rc);
            retries++; /* no room for a stack right now: the load frees soon */
            usleep(1000);
        }
        pthread_join(t, NULL);
    }
    stop_load_threads(load);
    free(atomic_exchange(&handoff, NULL));
    printf("  thread churn: 1500 threads created and joined (%u retries for room), %lu ENOMEM in "
           "the load\n",
           retries, atomic_load(&load_failures));
    if (atomic_load(&load_failures) == 0)
        die("the load threads never reached the limit");
    return 0;
}

static int case_forks(void)
{
    limit_as(160 * MiB);
    pthread_t load[2];
    start_load(load);
    unsigned enomem = 0;
    for (int i = 0; i < 150; i++) {
        pid_t pid = fork();
        if (pid < 0)
            die("fork failed (errno %d)", errno);
        if (pid == 0) {
            unsigned fails = 0;
            for (int k = 0; k < 200; k++) {
                size_t n = 16 + (size_t)k * 97;
                uint8_t *p = malloc(n);
                if (p == NULL) {
                    if (errno != ENOMEM)
                        _exit(3);
                    fails++;
                    continue;
                }
                memset(p, k, n);
                for (size_t j = 0; j < n; j++)
                    if (p[j] != (uint8_t)k)
                        _exit(4);
                free(p);
            }
            _exit(fails > 0 ? 10 : 0);
        }
        int st;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
            die("fork storm: child %d did not exit (status 0x%x)", (int)pid, st);
        if (WEXITSTATUS(st) == 10)
            enomem++; /* the limit was reached in the child: fine */
        else if (WEXITSTATUS(st) != 0)
            die("fork storm: child %d exited %d", (int)pid, WEXITSTATUS(st));
    }
    stop_load_threads(load);
    printf("  fork storm: 150 children allocated, checked and exited (%u of them met ENOMEM), %lu "
           "ENOMEM in the "
           "load\n",
           enomem, atomic_load(&load_failures));
    return 0;
}

/* ---- the watched children ------------------------------------------------------------ */
static int run_case(const char *name, int (*fn)(int), int arg)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        die("fork failed");
    if (pid == 0)
        _exit(fn(arg));
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
                return 0;
            if (WIFSIGNALED(st))
                printf("exhaust: FAIL: %s: killed by signal %d\n", name, WTERMSIG(st));
            else
                printf("exhaust: FAIL: %s: exit status %d\n", name, WEXITSTATUS(st));
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > WATCHDOG) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            printf("exhaust: FAIL: %s did not finish within %d s (watchdog)\n", name, WATCHDOG);
            return 1;
        }
        usleep(20000);
    }
}

static int entry_case(int e) { return case_entry((enum entry)e); }
static int grow_case(int unused)
{
    (void)unused;
    return case_realloc_grow();
}
static int threads_case(int unused)
{
    (void)unused;
    return case_threads();
}
static int forks_case(int unused)
{
    (void)unused;
    return case_forks();
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int failed = 0;
    printf("exhaust: every entry point under RLIMIT_AS (+96 MiB)\n");
    for (int e = 0; e < E_COUNT; e++)
        failed += run_case(entry_names[e], entry_case, e);
    failed += run_case("realloc growing", grow_case, 0);
    printf("exhaust: under RLIMIT_AS (+160 MiB), 2 threads allocating to the limit and freeing\n");
    failed += run_case("thread churn", threads_case, 0);
    failed += run_case("fork storm", forks_case, 0);
    printf("exhaust: %d failed\n", failed);
    return failed != 0;
}
