/* oom.c: out-of-memory handling under RLIMIT_AS: failing calls return NULL
 * with ENOMEM and nothing aborts; the process-wide handler can free memory
 * and ask for a retry; a thread's handler overrides the process-wide one;
 * threads that all run out at once fail cleanly and recover. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "check.h"
#include "sable.h"

#define MiB ((size_t)1 << 20)

static size_t vm_size(void)
{
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL || fscanf(f, "%ld", &pages) != 1)
        pages = 0;
    if (f)
        fclose(f);
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* allocates blocks of size n until one fails; returns them as a list */
static void **exhaust(size_t n, size_t *count, int *err)
{
    void **list = NULL;
    *count = 0;
    for (;;) {
        errno = 0;
        void **b = malloc(n);
        if (b == NULL) {
            *err = errno;
            return list;
        }
        b[0] = list;
        list = b;
        ++*count;
    }
}

static void release(void **list)
{
    while (list) {
        void **next = list[0];
        free(list);
        list = next;
    }
}

static void *ballast;
static _Atomic int global_calls, thread_calls;

static int global_handler(size_t n, void *arg)
{
    (void)n;
    CHECK(arg == &ballast);
    atomic_fetch_add(&global_calls, 1);
    if (ballast == NULL)
        return 0;
    free(ballast); /* give memory back, ask for one more try */
    ballast = NULL;
    return 1;
}

static int thread_handler(size_t n, void *arg)
{
    (void)n;
    (void)arg;
    atomic_fetch_add(&thread_calls, 1);
    return 0;
}

static void *thread_main(void *arg)
{
    (void)arg;
    CHECK(sable_set_thread_oom_handler(thread_handler, NULL) == NULL);
    size_t k;
    int err = 0;
    void **l = exhaust(3 * MiB, &k, &err); /* huge blocks */
    CHECK(err == ENOMEM && k > 0);
    release(l);
    return NULL;
}

static pthread_barrier_t storm_barrier;

/* all four start together, all run out, all give back, then each
   allocates again */
static void *storm_main(void *arg)
{
    size_t n = (uintptr_t)arg;
    size_t k;
    int err = 0;
    pthread_barrier_wait(&storm_barrier);
    void **l = exhaust(n, &k, &err);
    CHECK(err == ENOMEM);
    pthread_barrier_wait(&storm_barrier);
    release(l);
    pthread_barrier_wait(&storm_barrier);
    void *again = malloc(n); /* recovers once memory is back */
    CHECK(again != NULL);
    free(again);
    return NULL;
}

int main(void)
{
    struct rlimit rl = {vm_size() + 256 * MiB, vm_size() + 256 * MiB};
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0);

    /* no handler: NULL with ENOMEM, for small, large and huge blocks */
    size_t sizes[] = {64, 200000, 5 * MiB};
    for (int i = 0; i < 3; i++) {
        size_t k;
        int err = 0;
        void **l = exhaust(sizes[i], &k, &err);
        CHECK(err == ENOMEM && k > 0);
        errno = 0;
        CHECK(calloc(1, sizes[i]) == NULL && errno == ENOMEM);
        void *q = NULL;
        CHECK(posix_memalign(&q, 4096, sizes[i]) == ENOMEM && q == NULL);
        release(l);
        void *p = malloc(sizes[i]);
        CHECK(p != NULL);
        free(p);
    }

    /* the process-wide handler frees its ballast and asks for a retry */
    ballast = malloc(64 * MiB);
    CHECK(sable_set_oom_handler(global_handler, &ballast) == NULL);
    size_t k1;
    int err = 0;
    void **l = exhaust(1 * MiB, &k1, &err);
    CHECK(err == ENOMEM);
    CHECK(ballast == NULL && atomic_load(&global_calls) >= 2);
    release(l);

    /* sable keeps some freed memory warm for its purge delay (at most 128 MiB
       of segments and 32 MiB of huge mappings); under RLIMIT_AS a program
       that now needs address space for thread stacks gives it back first */
    CHECK(sable_purge() == 0);

    /* a thread's handler overrides it */
    int before = atomic_load(&global_calls);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, thread_main, NULL) == 0);
    pthread_join(t, NULL);
    CHECK(atomic_load(&thread_calls) >= 1);
    CHECK(atomic_load(&global_calls) == before);
    CHECK(sable_set_oom_handler(NULL, NULL) == global_handler);

    CHECK(sable_purge() == 0);
    /* four threads run out at the same time */
    pthread_t ts[4];
    pthread_barrier_init(&storm_barrier, NULL, 4);
    for (uintptr_t i = 0; i < 4; i++)
        CHECK(pthread_create(&ts[i], NULL, storm_main, (void *)(i % 2 ? 100000 : 5 * MiB)) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(ts[i], NULL);
    return check_done("sable oom");
}
