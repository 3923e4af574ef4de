/* microbench.c: a small local benchmark (not a test) to compare sable with
 * other allocators on the same binary code; link it with each allocator:
 *   build/sable/tests/microbench-<alloc> [scale]
 * Prints ns per operation for each pattern and the peak RSS. Timings are
 * for comparison on one machine only. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static void *(*volatile p_malloc)(size_t) = malloc;
static void (*volatile p_free)(void *) = free;
static void *(*volatile p_realloc)(void *, size_t) = realloc;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

static long scale = 1;

static double pairs(size_t n)
{
    long iters = 5000000 * scale;
    double t = now();
    for (long i = 0; i < iters; i++)
        p_free(p_malloc(n));
    return (now() - t) * 1e9 / iters;
}

/* allocate a batch of random small blocks, free them in another order */
static double batch(size_t maxsz, int batchn, int fifo)
{
    void **v = malloc(sizeof(void *) * batchn);
    uint64_t s = 1;
    long rounds = 2000000 * scale / batchn;
    double t = now();
    for (long r = 0; r < rounds; r++) {
        for (int i = 0; i < batchn; i++) {
            v[i] = p_malloc(8 + rnd(&s) % maxsz);
            *(char *)v[i] = 1;
        }
        for (int i = 0; i < batchn; i++)
            p_free(v[fifo ? i : batchn - 1 - i]);
    }
    double ns = (now() - t) * 1e9 / (rounds * (double)batchn);
    free(v);
    return ns;
}

/* a working set of random sizes with random replacement (fragmentation) */
static double churn(size_t maxsz, int live)
{
    void **v = calloc(live, sizeof(void *));
    uint64_t s = 3;
    long iters = 3000000 * scale;
    double t = now();
    for (long i = 0; i < iters; i++) {
        int k = (int)(rnd(&s) % live);
        p_free(v[k]);
        size_t n = 8 + rnd(&s) % maxsz;
        v[k] = p_malloc(n);
        memset(v[k], 0, n < 64 ? n : 64);
    }
    double ns = (now() - t) * 1e9 / iters;
    for (int i = 0; i < live; i++)
        p_free(v[i]);
    free(v);
    return ns;
}

static double realloc_grow(void)
{
    long rounds = 2000 * scale;
    double t = now();
    long ops = 0;
    for (long r = 0; r < rounds; r++) {
        void *p = NULL;
        for (size_t n = 16; n <= (1u << 20); n += n / 2 + 8, ops++)
            p = p_realloc(p, n);
        p_free(p);
    }
    return (now() - t) * 1e9 / ops;
}

/* producer allocates, consumer frees (all frees are remote) */
#define RING 1024
static void *ring[RING];
static volatile long head, tail;
static long xthread_n;

static void *consumer(void *arg)
{
    (void)arg;
    for (long i = 0; i < xthread_n; i++) {
        while (__atomic_load_n(&tail, __ATOMIC_ACQUIRE) <= i)
            ;
        void *p = ring[i % RING];
        __atomic_store_n(&head, i + 1, __ATOMIC_RELEASE);
        p_free(p);
    }
    return NULL;
}

static double xthread(void)
{
    xthread_n = 1000000 * scale;
    pthread_t t;
    pthread_create(&t, NULL, consumer, NULL);
    double t0 = now();
    uint64_t s = 5;
    for (long i = 0; i < xthread_n; i++) {
        while (i - __atomic_load_n(&head, __ATOMIC_ACQUIRE) >= RING)
            ;
        ring[i % RING] = p_malloc(16 + rnd(&s) % 256);
        __atomic_store_n(&tail, i + 1, __ATOMIC_RELEASE);
    }
    pthread_join(t, NULL);
    return (now() - t0) * 1e9 / xthread_n;
}

static const char *only;
#define RUN(name, expr)                                                                            \
    if (only == NULL || strcmp(only, name) == 0)                                                   \
    printf("%s %.2f\n", name, expr)

int main(int argc, char **argv)
{
    if (argc > 1)
        scale = atol(argv[1]);
    if (argc > 2)
        only = argv[2];
    RUN("pair16", pairs(16));
    RUN("pair64", pairs(64));
    RUN("pair512", pairs(512));
    RUN("pair4k", pairs(4096));
    RUN("pair100k", pairs(100000));
    RUN("batch_lifo", batch(256, 1000, 0));
    RUN("batch_fifo", batch(256, 1000, 1));
    RUN("batch_mid", batch(8192, 200, 1));
    RUN("churn_small", churn(512, 100000));
    RUN("churn_mixed", churn(40000, 10000));
    RUN("realloc_grow", realloc_grow());
    RUN("xthread", xthread());
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak_rss_kib %ld\n", ru.ru_maxrss);
    return 0;
}
