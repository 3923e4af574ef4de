/* soak.c: sable under a long random load (linked with libsable.so, the
 * standard names).
 *
 *   soak SECONDS [THREADS]
 *
 * THREADS threads (default 4) run random operations on their own blocks:
 * malloc, calloc, realloc, posix_memalign, aligned_alloc,
 * sable_aligned_alloc_any, free, sable_free_range (the tail of a block),
 * sable_resize_in_place; and pass blocks to each other through a shared
 * exchange table, so that a block is often freed or reallocated by
 * another thread than the one that allocated it. Every block carries its
 * size and a seed in its first 16 bytes and a pattern after them, checked
 * before every free and realloc and after every realloc and resize. The
 * main thread forks every 0.5 s: the child checks and frees the blocks in
 * the exchange table (blocks of heaps whose threads do not exist in the
 * child), allocates and checks blocks of its own, and exits; the parent
 * checks its status. Once a second (or a tenth of the run) a line gives
 * the operations done and the RSS. Any mismatch: one line and exit 1. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sable.h"

#define RELI_PROGRAM "soak"
#include "reli.h"

/* C23, exported by sable; glibc 2.36 does not declare it */
void free_sized(void *p, size_t n);

#define SLOTS 512
#define XCHG 128
#define THREADS_MAX 16

#define PARTIAL (1ull << 63) /* in hdr.seed: the block was partially freed */

struct hdr {
    size_t size; /* bytes of the block in use, header included */
    uint64_t seed;
};

static _Atomic(struct hdr *) xchg[XCHG];
static atomic_bool stop;
static _Atomic unsigned long total_ops;

static uint64_t rnd(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint8_t pat(uint64_t seed, size_t i)
{
    return (uint8_t)(seed ^ (seed >> 8) ^ (i * 0x9du) ^ (i >> 8));
}

static void fill(struct hdr *h, size_t from)
{
    uint8_t *b = (uint8_t *)h;
    if (from < sizeof *h)
        from = sizeof *h;
    for (size_t i = from; i < h->size; i++)
        b[i] = pat(h->seed, i);
}

static void check(const struct hdr *h, size_t upto, const char *when)
{
    const uint8_t *b = (const uint8_t *)h;
    if (upto > h->size)
        upto = h->size;
    for (size_t i = sizeof *h; i < upto; i++)
        if (b[i] != pat(h->seed, i))
            die("%s: block %p (%zu bytes) byte %zu is 0x%02x, expected 0x%02x", when,
                (const void *)h, h->size, i, b[i], pat(h->seed, i));
}

static struct hdr *make(void *p, size_t n, uint64_t seed)
{
    struct hdr *h = p;
    h->size = n;
    h->seed = seed;
    fill(h, 0);
    return h;
}

static size_t pick_size(uint64_t *r)
{
    uint64_t x = rnd(r);
    unsigned c = (unsigned)(x % 100);
    x >>= 8;
    if (c < 70)
        return 16 + x % 240;
    if (c < 90)
        return 256 + x % 8000;
    if (c < 99)
        return 8192 + x % (120 << 10);
    return (128 << 10) + x % (2 << 20);
}

static struct hdr *alloc_block(uint64_t *r)
{
    size_t n = pick_size(r);
    uint64_t seed = rnd(r);
    void *p = NULL;
    switch (rnd(r) % 8) {
    case 0:
        p = calloc(1, n);
        if (p != NULL)
            for (size_t i = 0; i < n; i += 61)
                if (((uint8_t *)p)[i] != 0)
                    die("calloc(%zu) = %p: byte %zu is not 0", n, p, i);
        break;
    case 1: {
        size_t a = (size_t)16 << rnd(r) % 9;
        if (posix_memalign(&p, a, n) != 0)
            p = NULL;
        else if ((uintptr_t)p % a)
            die("posix_memalign(%zu) = %p", a, p);
        break;
    }
    case 2: {
        size_t a = (size_t)16 << rnd(r) % 9;
        p = aligned_alloc(a, n);
        if (p != NULL && (uintptr_t)p % a)
            die("aligned_alloc(%zu) = %p", a, p);
        break;
    }
    case 3: {
        size_t a = 8 + rnd(r) % 200;
        p = sable_aligned_alloc_any(a, n);
        if (p != NULL && (uintptr_t)p % a)
            die("sable_aligned_alloc_any(%zu) = %p", a, p);
        break;
    }
    default: p = malloc(n); break;
    }
    if (p == NULL)
        die("allocation of %zu bytes failed (errno %d)", n, errno);
    if (malloc_usable_size(p) < n)
        die("usable size of %p is %zu, below %zu", p, malloc_usable_size(p), n);
    return make(p, n, seed);
}

static void free_block(struct hdr *h, uint64_t *r)
{
    check(h, h->size, "before free");
    if (rnd(r) & 1)
        free_sized(h, h->size);
    else
        free(h);
}

struct worker {
    pthread_t t;
    uint64_t rng;
    unsigned long ops;
    struct hdr *s[SLOTS];
};

static void one_op(struct worker *w)
{
    uint64_t *r = &w->rng;
    unsigned k = (unsigned)(rnd(r) % SLOTS);
    struct hdr *h = w->s[k];
    unsigned op = (unsigned)(rnd(r) % 16);
    if (h == NULL) {
        w->s[k] = alloc_block(r);
        return;
    }
    switch (op) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
        free_block(h, r);
        w->s[k] = NULL;
        break;
    case 5:
    case 6: { /* realloc */
        check(h, h->size, "before realloc");
        size_t old = h->size, n = pick_size(r);
        uint64_t seed = h->seed;
        struct hdr *q = realloc(h, n);
        if (q == NULL)
            die("realloc(%p, %zu) failed", (void *)h, n);
        if (q->seed != seed || q->size != old)
            die("realloc(%zu -> %zu) lost the header", old, n);
        check(q, n < old ? n : old, "after realloc");
        q->size = n;
        q->seed &= ~PARTIAL; /* whole again */
        fill(q, old);
        w->s[k] = q;
        break;
    }
    case 7: { /* resize in place (of a block never partially freed) */
        if (h->seed & PARTIAL)
            break;
        size_t old = h->size, n = old + (rnd(r) % 2 ? old / 2 : 0) + 16;
        if (rnd(r) & 1)
            n = old / 2 + 16;
        if (sable_resize_in_place(h, n) == h) {
            if (malloc_usable_size(h) < n)
                die("resize_in_place(%zu): usable size %zu", n, malloc_usable_size(h));
            check(h, n < old ? n : old, "after resize_in_place");
            h->size = n;
            fill(h, old);
        } else {
            check(h, old, "after a failed resize_in_place");
        }
        break;
    }
    case 8: /* give back the tail */
        if (h->size >= 4096) {
            size_t keep = (h->size / 2 + 15) & ~(size_t)15;
            size_t ext = malloc_usable_size(h);
            int rc = sable_free_range((uint8_t *)h + keep, ext - keep);
            if (rc != 0)
                die("free_range(%p + %zu, %zu) = %d", (void *)h, keep, ext - keep, rc);
            h->size = keep;
            h->seed |= PARTIAL;
            check(h, keep, "after free_range");
        }
        break;
    case 9:
    case 10:
    case 11: { /* pass it on: take what was there */
        struct hdr *o = atomic_exchange(&xchg[rnd(r) % XCHG], h);
        w->s[k] = NULL;
        if (o != NULL) {
            check(o, o->size, "taken from another thread");
            if (rnd(r) & 1)
                w->s[k] = o;
            else
                free_block(o, r);
        }
        break;
    }
    default: check(h, h->size, "check"); break;
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        for (int i = 0; i < 256; i++)
            one_op(w);
        w->ops += 256;
        atomic_fetch_add_explicit(&total_ops, 256, memory_order_relaxed);
    }
    for (int k = 0; k < SLOTS; k++)
        if (w->s[k] != NULL)
            free_block(w->s[k], &w->rng);
    return NULL;
}

/* the child of a fork: the table's blocks, then blocks of its own */
static int child(uint64_t seed)
{
    uint64_t r = seed;
    for (int i = 0; i < XCHG; i++) {
        struct hdr *o = atomic_exchange(&xchg[i], NULL);
        if (o != NULL)
            free_block(o, &r);
    }
    static struct hdr *mine[500];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 500; i++)
            mine[i] = alloc_block(&r);
        for (int i = 0; i < 500; i++)
            free_block(mine[i], &r);
    }
    return 0;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static long rss_kib(void)
{
    long pages = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: soak SECONDS [THREADS]\n");
        return 2;
    }
    char *end;
    double secs = strtod(argv[1], &end);
    if (*end != '\0' || !(secs > 0)) {
        fprintf(stderr, "soak: SECONDS must be a positive number, not '%s'\n", argv[1]);
        return 2;
    }
    long threads = argc == 3 ? strtol(argv[2], &end, 10) : 4;
    if (argc == 3 && (*end != '\0' || threads < 1 || threads > THREADS_MAX)) {
        fprintf(stderr, "soak: THREADS must be 1..%d, not '%s'\n", THREADS_MAX, argv[2]);
        return 2;
    }
    static struct worker ws[THREADS_MAX];
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("soak: %ld threads for %.0f s (sable %s)\n", threads, secs, sable_version());
    for (long i = 0; i < threads; i++) {
        ws[i].rng = 0x50a4 + (uint64_t)i;
        if (pthread_create(&ws[i].t, NULL, worker_main, &ws[i]) != 0)
            die("pthread_create failed");
    }
    double t0 = now(), interval = secs / 10 < 1 ? 1 : secs / 10, next_report = t0 + interval;
    double next_fork = t0 + 0.5;
    unsigned forks = 0;
    uint64_t r = 77;
    long rss_max = 0;
    while (now() - t0 < secs) {
        usleep(50000);
        double t = now();
        if (t >= next_fork) {
            next_fork = t + 0.5;
            pid_t pid = fork();
            if (pid < 0)
                die("fork failed (errno %d)", errno);
            if (pid == 0)
                _exit(child(rnd(&r)));
            int st;
            if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
                die("forked child %d ended with status 0x%x", (int)pid, st);
            forks++;
        }
        if (t >= next_report) {
            next_report += interval;
            long rss = rss_kib();
            if (rss > rss_max)
                rss_max = rss;
            printf("soak: %5.1f s  %12lu operations  RSS %7ld KiB  %u forks\n", t - t0,
                   atomic_load(&total_ops), rss, forks);
        }
    }
    atomic_store(&stop, true);
    for (long i = 0; i < threads; i++) {
        pthread_join(ws[i].t, NULL);
        if (ws[i].ops == 0)
            die("thread %ld did no operation", i);
    }
    for (int i = 0; i < XCHG; i++) {
        struct hdr *o = atomic_exchange(&xchg[i], NULL);
        if (o != NULL)
            free_block(o, &r);
    }
    sable_purge();
    printf("soak: done: %lu operations in %.1f s, %u forks, peak RSS seen %ld KiB, RSS at the end "
           "%ld KiB\n",
           atomic_load(&total_ops), now() - t0, forks, rss_max, rss_kib());
    return 0;
}
