/* sizes.c: size classes. malloc+free pairs and LIFO batches of live blocks,
 * 8 B .. 4 MiB, powers of two and odd sizes, one and two threads. */
#include <stdlib.h>

#include "bench.h"
#include "gbench.h"

/* Short-lived temporaries: a buffer allocated, used once and freed at once
   (string formatting, scratch arrays). One operation = one malloc + free. */
static void bm_malloc_free(gb_state *st, void *user)
{
    (void)user;
    size_t size = (size_t)gb_get_range(st, 0);
    while (gb_keep_running_batch(st, GB_BATCH)) {
        for (int i = 0; i < GB_BATCH; i++) {
            char *p = malloc(size);
            if (p == NULL)
                abort();
            p[0] = (char)i; /* the block is used, as in a program */
            gb_do_not_optimize(p);
            free(p);
        }
    }
    gb_set_items_processed(st, gb_get_iterations(st));
    gb_set_bytes_processed(st, gb_get_iterations(st) * (int64_t)size);
}

/* Nested scopes: `live` blocks of one size allocated, then freed in reverse
   order (recursive descent, per-request arenas built from malloc). One
   operation = one malloc + its free. */
static void bm_lifo_batch(gb_state *st, void *user)
{
    (void)user;
    size_t size = (size_t)gb_get_range(st, 0);
    int live = (int)gb_get_range(st, 1);
    void **slot = malloc((size_t)live * sizeof *slot);
    if (slot == NULL) {
        gb_skip_with_error(st, "out of memory for the slot array");
        return;
    }
    while (gb_keep_running_batch(st, live)) {
        for (int i = 0; i < live; i++) {
            char *p = malloc(size);
            if (p == NULL)
                abort();
            p[0] = (char)i;
            slot[i] = p;
        }
        gb_clobber_memory();
        for (int i = live - 1; i >= 0; i--)
            free(slot[i]);
    }
    free(slot);
    gb_set_items_processed(st, gb_get_iterations(st));
    gb_set_bytes_processed(st, gb_get_iterations(st) * (int64_t)size);
}

static void add_pairs(gb_bench *b, const int64_t *sizes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        gb_arg(b, sizes[i]);
}

GB_REGISTRATION(register_sizes)
{
    enum hm_profile prof = hm_profile();
    int ncpu = hm_ncpus();

    /* powers of two, the sizes of the first workload included */
    static const int64_t quick_sizes[] = {16, 256, 65536, 1 << 20};
    static const int64_t pow2[] = {8, 16, 64, 256, 1024, 4096, 16384, 65536, 1 << 20, 4 << 20};
    static const int64_t pow2_full[] = {8,     16,    32,     64,     128,     256,
                                        512,   1024,  2048,   4096,   8192,    16384,
                                        32768, 65536, 131072, 262144, 524288,  1 << 20,
                                        2 << 20, 4 << 20};
    /* odd sizes between classes: one above a power of two, or prime-ish */
    static const int64_t odd[] = {24, 100, 1000, 5000, 100000};
    static const int64_t odd_full[] = {1, 13, 24, 33, 100, 257, 1000, 3000, 5000, 33000, 100000,
                                       300001, 1500000};

    gb_bench *b = gb_register("malloc_free", bm_malloc_free, NULL);
    gb_arg_name(b, "size");
    if (prof == HM_QUICK)
        add_pairs(b, quick_sizes, sizeof quick_sizes / sizeof *quick_sizes);
    else if (prof == HM_DEFAULT)
        add_pairs(b, pow2, sizeof pow2 / sizeof *pow2);
    else
        add_pairs(b, pow2_full, sizeof pow2_full / sizeof *pow2_full);
    gb_threads(b, 1);
    gb_threads(b, 2);
    if (prof == HM_FULL && ncpu > 2)
        gb_threads(b, ncpu);

    if (prof != HM_QUICK) {
        b = gb_register("malloc_free_odd", bm_malloc_free, NULL);
        gb_arg_name(b, "size");
        if (prof == HM_DEFAULT)
            add_pairs(b, odd, sizeof odd / sizeof *odd);
        else
            add_pairs(b, odd_full, sizeof odd_full / sizeof *odd_full);
        gb_threads(b, 1);
        if (prof == HM_FULL)
            gb_threads(b, 2);
    }

    /* LIFO batches: 1..1000 live blocks */
    b = gb_register("lifo_batch", bm_lifo_batch, NULL);
    GB_ARG_NAMES(b, "size", "live");
    if (prof == HM_QUICK) {
        GB_ARGS(b, 256, 1000);
    } else {
        static const int64_t bsizes[] = {16, 256, 4096, 65536, 1 << 20};
        static const int64_t bsizes_full[] = {8, 16, 24, 64, 100, 256, 1000, 4096, 65536,
                                              1 << 20, 4 << 20};
        static const int64_t lives[] = {10, 1000};
        static const int64_t lives_full[] = {1, 10, 100, 1000};
        const int64_t *lists[2] = {bsizes, lives};
        size_t lens[2] = {sizeof bsizes / sizeof *bsizes, sizeof lives / sizeof *lives};
        if (prof == HM_FULL) {
            lists[0] = bsizes_full, lens[0] = sizeof bsizes_full / sizeof *bsizes_full;
            lists[1] = lives_full, lens[1] = sizeof lives_full / sizeof *lives_full;
        }
        gb_args_product(b, lists, lens, 2);
    }
    gb_threads(b, 1);
}
