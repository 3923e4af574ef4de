/* realloc.c: growing and shrinking blocks (realloc), zeroed blocks (calloc)
 * and aligned blocks (posix_memalign). */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "gbench.h"

#define MiB (1 << 20)

/* Writes the bytes [from, to) of p the way a program filling a buffer would:
   one byte per page (and the last), so new pages become resident. */
static void fill(char *p, size_t from, size_t to)
{
    if (to > from)
        hm_touch(p + from, to - from);
}

/* A growing vector (std::vector, Python lists): capacity doubles from 16 B up
   to `limit`, the new half is written, then the vector is dropped. One
   operation = one realloc (or the first malloc, or the final free). */
static void bm_realloc_double(gb_state *st, void *user)
{
    (void)user;
    size_t limit = (size_t)gb_get_range(st, 0);
    int64_t steps = 2; /* malloc, free */
    for (size_t n = 16; n < limit; n *= 2)
        steps++;
    int64_t rounds = 0;
    while (gb_keep_running_batch(st, steps)) {
        size_t n = 16;
        char *p = malloc(n);
        if (p == NULL)
            abort();
        fill(p, 0, n);
        while (n < limit) {
            char *q = realloc(p, n * 2);
            if (q == NULL)
                abort();
            fill(q, n, n * 2);
            p = q;
            n *= 2;
        }
        gb_do_not_optimize(p);
        free(p);
        rounds++;
    }
    gb_set_items_processed(st, gb_get_iterations(st));
    gb_set_bytes_processed(st, rounds * (int64_t)limit);
}

/* A string builder or a log buffer: `step` bytes appended at a time (each
   append reallocs to the exact length) up to `limit`, then dropped. One
   operation = one realloc. */
static void bm_realloc_step(gb_state *st, void *user)
{
    (void)user;
    size_t limit = (size_t)gb_get_range(st, 0);
    size_t step = (size_t)gb_get_range(st, 1);
    int64_t steps = (int64_t)(limit / step) + 1; /* reallocs from NULL + free */
    int64_t rounds = 0;
    while (gb_keep_running_batch(st, steps)) {
        char *p = NULL;
        for (size_t n = step; n <= limit; n += step) {
            char *q = realloc(p, n);
            if (q == NULL)
                abort();
            memset(q + n - step, 'a', step < 64 ? step : 64);
            fill(q, n - step, n);
            p = q;
        }
        gb_do_not_optimize(p);
        free(p);
        rounds++;
    }
    gb_set_items_processed(st, gb_get_iterations(st));
    gb_set_bytes_processed(st, rounds * (int64_t)limit);
}

/* Trimming a buffer that was sized for the worst case (read whole file, then
   shrink to fit; shrinking a hash table): a written block of `limit` bytes
   halved down to 16 B. One operation = one realloc (or the malloc, or the
   free). */
static void bm_realloc_shrink(gb_state *st, void *user)
{
    (void)user;
    size_t limit = (size_t)gb_get_range(st, 0);
    int64_t steps = 2;
    for (size_t n = limit; n > 16; n /= 2)
        steps++;
    while (gb_keep_running_batch(st, steps)) {
        char *p = malloc(limit);
        if (p == NULL)
            abort();
        fill(p, 0, limit);
        for (size_t n = limit; n > 16; n /= 2) {
            char *q = realloc(p, n / 2);
            if (q == NULL)
                abort();
            p = q;
            p[0] = 1;
        }
        gb_do_not_optimize(p);
        free(p);
    }
    gb_set_items_processed(st, gb_get_iterations(st));
}

/* Zero-initialised objects and arrays (calloc'd structs, buffers that must
   start cleared); the block is read, not written. One operation = calloc +
   free. */
static void bm_calloc_free(gb_state *st, void *user)
{
    (void)user;
    size_t size = (size_t)gb_get_range(st, 0);
    while (gb_keep_running_batch(st, 100)) {
        for (int i = 0; i < 100; i++) {
            volatile char *p = calloc(1, size);
            if (p == NULL)
                abort();
            if (p[size / 2] != 0) /* the caller relies on the zeroes */
                abort();
            free((void *)p);
        }
    }
    gb_set_items_processed(st, gb_get_iterations(st));
    gb_set_bytes_processed(st, gb_get_iterations(st) * (int64_t)size);
}

/* Cache-line and page-aligned buffers (SIMD data, DMA and I/O buffers,
   lock-free nodes). One operation = posix_memalign + free. */
static void bm_memalign_free(gb_state *st, void *user)
{
    (void)user;
    size_t align = (size_t)gb_get_range(st, 0);
    size_t size = (size_t)gb_get_range(st, 1);
    while (gb_keep_running_batch(st, 100)) {
        for (int i = 0; i < 100; i++) {
            void *p;
            if (posix_memalign(&p, align, size) != 0 || ((uintptr_t)p & (align - 1)) != 0)
                abort();
            *(char *)p = 1;
            gb_do_not_optimize(p);
            free(p);
        }
    }
    gb_set_items_processed(st, gb_get_iterations(st));
    gb_set_bytes_processed(st, gb_get_iterations(st) * (int64_t)size);
}

/* Aligned blocks that stay live in between (a pool of aligned nodes): 100
   live, freed in random order, so alignment padding shows in fragmentation.
   One operation = posix_memalign + its free. */
static void bm_memalign_live(gb_state *st, void *user)
{
    (void)user;
    size_t align = (size_t)gb_get_range(st, 0);
    size_t size = (size_t)gb_get_range(st, 1);
    enum { LIVE = 100 };
    void *slot[LIVE];
    uint64_t rng = 0xa119u;
    for (int i = 0; i < LIVE; i++)
        if (posix_memalign(&slot[i], align, size) != 0)
            abort();
    while (gb_keep_running_batch(st, LIVE)) {
        for (int i = 0; i < LIVE; i++) {
            unsigned k = (unsigned)hm_rng_below(&rng, LIVE);
            free(slot[k]);
            if (posix_memalign(&slot[k], align, size) != 0)
                abort();
            *(char *)slot[k] = 1;
        }
    }
    for (int i = 0; i < LIVE; i++)
        free(slot[i]);
    gb_set_items_processed(st, gb_get_iterations(st));
}

GB_REGISTRATION(register_realloc)
{
    enum hm_profile prof = hm_profile();
    gb_bench *b;

    b = gb_register("realloc_double", bm_realloc_double, NULL);
    gb_arg_name(b, "limit");
    if (prof != HM_QUICK)
        gb_arg(b, 1 * MiB);
    gb_arg(b, 64 * MiB);
    gb_threads(b, 1);

    /* A realloc that must move costs a copy of the whole block: an allocator
       whose large blocks have no slack (bench/README.md) pays a copy per step
       above its large-block threshold, seconds for 1 MiB in 64 B steps (the
       full profile; the default one stops at 512 KiB); the quick profile
       appends 1 KiB at a time, which shows the same in less. */
    b = gb_register("realloc_step", bm_realloc_step, NULL);
    GB_ARG_NAMES(b, "limit", "step");
    GB_ARGS(b, 1 * MiB, 1024);
    if (prof != HM_QUICK) {
        GB_ARGS(b, prof == HM_FULL ? 1 * MiB : 512 * 1024, 64);
        GB_ARGS(b, 16 * MiB, 65536);
        GB_ARGS(b, 64 * 1024, 16);
    }
    if (prof == HM_FULL)
        GB_ARGS(b, 64 * MiB, 4096);
    gb_threads(b, 1);

    if (prof != HM_QUICK) {
        b = gb_register("realloc_shrink", bm_realloc_shrink, NULL);
        gb_arg_name(b, "limit");
        gb_arg(b, 1 * MiB);
        gb_arg(b, 64 * MiB);
        gb_threads(b, 1);
    }

    b = gb_register("calloc_free", bm_calloc_free, NULL);
    gb_arg_name(b, "size");
    if (prof == HM_QUICK) {
        gb_arg(b, 4096);
    } else {
        gb_range_multiplier(b, prof == HM_FULL ? 4 : 16);
        gb_range(b, 16, 1 * MiB); /* 16 256 4096 65536 1 MiB */
    }
    gb_threads(b, 1);

    b = gb_register("memalign_free", bm_memalign_free, NULL);
    GB_ARG_NAMES(b, "align", "size");
    {
        static const int64_t aligns[] = {16, 64, 4096};
        static const int64_t aligns_full[] = {16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
        static const int64_t sizes[] = {64, 4096};
        static const int64_t sizes_full[] = {8, 64, 1000, 4096, 65536};
        static const int64_t quick_align[] = {64}, quick_size[] = {64};
        const int64_t *lists[2];
        size_t lens[2];
        if (prof == HM_QUICK) {
            lists[0] = quick_align, lens[0] = 1, lists[1] = quick_size, lens[1] = 1;
        } else if (prof == HM_DEFAULT) {
            lists[0] = aligns, lens[0] = 3, lists[1] = sizes, lens[1] = 2;
        } else {
            lists[0] = aligns_full, lens[0] = 9, lists[1] = sizes_full, lens[1] = 5;
        }
        gb_args_product(b, lists, lens, 2);
    }
    gb_threads(b, 1);

    if (prof != HM_QUICK) {
        b = gb_register("memalign_live", bm_memalign_live, NULL);
        GB_ARG_NAMES(b, "align", "size");
        GB_ARGS(b, 64, 48);
        GB_ARGS(b, 4096, 100);
        if (prof == HM_FULL)
            GB_ARGS(b, 4096, 5000);
        gb_threads(b, 1);
    }
}
