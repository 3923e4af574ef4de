/* stress.c: threads allocating blocks of random sizes (16 B .. 4 MiB),
 * each block filled with a pattern derived from its address and size and
 * checked before it is freed; then a cross-thread free storm: threads swap
 * blocks through shared slots, so most frees are remote. Some storm blocks
 * come from sable_aligned_alloc_any (interior pointers) and some lose their
 * second half to sable_free_range before they are handed over, so remote
 * frees also meet flagged pages. Counts of operations are fixed; nothing
 * depends on timing. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "sable.h"

#define THREADS 4
#define LOCAL_OPS 30000
#define SLOTS 4096
#define STORM_OPS 100000

struct blk {
    void *p;
    size_t n;
};

static _Atomic int bad_blocks;

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* mostly small, sometimes large or huge */
static size_t rnd_size(uint64_t *s)
{
    uint64_t r = rnd(s) % 1000;
    if (r < 900)
        return 1 + rnd(s) % 512;
    if (r < 990)
        return 513 + rnd(s) % 65536;
    if (r < 998)
        return 65536 + rnd(s) % (2u << 20);
    return (2u << 20) + rnd(s) % (2u << 20);
}

static void check_free(void *p, size_t n)
{
    if (!intact(p, n))
        atomic_fetch_add(&bad_blocks, 1);
    free(p);
}

static void *local_worker(void *arg)
{
    uint64_t seed = (uintptr_t)arg * 7919 + 1;
    struct blk live[256] = {{0}};
    for (int i = 0; i < LOCAL_OPS; i++) {
        struct blk *b = &live[rnd(&seed) % 256];
        if (b->p)
            check_free(b->p, b->n);
        b->n = rnd_size(&seed);
        b->p = rnd(&seed) % 4 == 0 ? calloc(1, b->n) : malloc(b->n);
        if (b->p == NULL) {
            atomic_fetch_add(&bad_blocks, 1);
            continue;
        }
        if (rnd(&seed) % 8 == 0) { /* grow or shrink through realloc */
            size_t m = rnd_size(&seed);
            fill(b->p, b->n);
            void *q = realloc(b->p, m);
            if (q == NULL) {
                atomic_fetch_add(&bad_blocks, 1);
                continue;
            }
            size_t keep = b->n < m ? b->n : m;
            for (size_t k = 0; k < keep; k++)
                if (((unsigned char *)q)[k] != pattern(b->p, b->n, k)) {
                    atomic_fetch_add(&bad_blocks, 1);
                    break;
                }
            b->p = q;
            b->n = m;
        }
        fill(b->p, b->n);
    }
    for (int i = 0; i < 256; i++)
        if (live[i].p)
            check_free(live[i].p, live[i].n);
    return NULL;
}

static _Atomic(struct blk *) slots[SLOTS];

static void *storm_worker(void *arg)
{
    uint64_t seed = (uintptr_t)arg * 104729 + 3;
    for (int i = 0; i < STORM_OPS; i++) {
        struct blk *b = malloc(sizeof *b); /* the record itself is swapped too */
        b->n = rnd(&seed) % 64 == 0 ? rnd_size(&seed) : 1 + rnd(&seed) % 256;
        unsigned kind = (unsigned)(rnd(&seed) % 16);
        if (kind == 0) {
            size_t align = 24 + rnd(&seed) % 100;
            b->p = sable_aligned_alloc_any(align, b->n);
            if (b->p == NULL || (uintptr_t)b->p % align != 0)
                atomic_fetch_add(&bad_blocks, 1);
        } else {
            b->p = malloc(b->n);
        }
        if (kind == 1 && b->n >= 32) { /* keep the first half */
            size_t half = b->n / 2;
            if (sable_free_range((char *)b->p + half, sable_usable_size(b->p) - half) != 0)
                atomic_fetch_add(&bad_blocks, 1);
            b->n = half;
        }
        fill(b->p, b->n);
        struct blk *old = atomic_exchange(&slots[rnd(&seed) % SLOTS], b);
        if (old) {
            check_free(old->p, old->n);
            free(old);
        }
    }
    return NULL;
}

int main(void)
{
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        CHECK(pthread_create(&t[i], NULL, local_worker, (void *)(i + 1)) == 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK(atomic_load(&bad_blocks) == 0);

    for (uintptr_t i = 0; i < THREADS; i++)
        CHECK(pthread_create(&t[i], NULL, storm_worker, (void *)(i + 1)) == 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < SLOTS; i++) {
        struct blk *b = atomic_load(&slots[i]);
        if (b) {
            check_free(b->p, b->n);
            free(b);
        }
    }
    CHECK(atomic_load(&bad_blocks) == 0);
    return check_done("sable stress");
}
