/* orders.c: batch orders. N blocks are allocated, then all freed in FIFO,
 * LIFO or random order; fixed (64 B) and mixed sizes. One operation = one
 * malloc and its free; a round of N operations per batch. */
#include <stdlib.h>

#include "bench.h"
#include "gbench.h"

enum order { FIFO, LIFO, RANDOM };

struct order_args {
    enum order order;
    int mixed;
};

/* Mixed sizes: log-uniform 8 B .. 2 KiB, the bulk of a typical heap. */
static size_t mixed_size(uint64_t *rng)
{
    unsigned bits = 3 + (unsigned)hm_rng_below(rng, 8); /* 8 .. 1024 */
    size_t lo = (size_t)1 << bits;
    return lo + (size_t)hm_rng_below(rng, lo);
}

/* Building a big structure and tearing it down: a parse tree freed in
   creation order (FIFO), a stack of scopes (LIFO), a hash table or graph
   freed in arbitrary order (random). */
static void bm_batch(gb_state *st, void *user)
{
    const struct order_args *a = user;
    size_t n = (size_t)gb_get_range(st, 0);
    size_t fixed = a->mixed ? 0 : (size_t)gb_get_range(st, 1);
    void **slot = malloc(n * sizeof *slot);
    size_t *size = malloc(n * sizeof *size);
    uint32_t *perm = malloc(n * sizeof *perm);
    if (slot == NULL || size == NULL || perm == NULL) {
        gb_skip_with_error(st, "out of memory for the workload's arrays");
        free(slot), free(size), free(perm);
        return;
    }
    uint64_t rng = 0x0bde75u + n;
    int64_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        size[i] = a->mixed ? mixed_size(&rng) : fixed;
        bytes += (int64_t)size[i];
        perm[i] = (uint32_t)i;
    }
    for (size_t i = n - 1; i > 0; i--) { /* Fisher-Yates, seeded */
        size_t j = (size_t)hm_rng_below(&rng, i + 1);
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    int64_t rounds = 0;
    while (gb_keep_running_batch(st, (int64_t)n)) {
        for (size_t i = 0; i < n; i++) {
            char *p = malloc(size[i]);
            if (p == NULL)
                abort();
            p[0] = (char)i;
            slot[i] = p;
        }
        gb_clobber_memory();
        switch (a->order) {
        case FIFO:
            for (size_t i = 0; i < n; i++)
                free(slot[i]);
            break;
        case LIFO:
            for (size_t i = n; i-- > 0;)
                free(slot[i]);
            break;
        case RANDOM:
            for (size_t i = 0; i < n; i++)
                free(slot[perm[i]]);
            break;
        }
        rounds++;
    }
    free(slot), free(size), free(perm);
    gb_set_items_processed(st, gb_get_iterations(st));
    gb_set_bytes_processed(st, rounds * bytes);
}

static const struct order_args args[] = {
    {FIFO, 0}, {LIFO, 0}, {RANDOM, 0}, {FIFO, 1}, {LIFO, 1}, {RANDOM, 1},
};
static const char *const names[] = {
    "batch_fifo", "batch_lifo", "batch_random", "batch_fifo_mixed", "batch_lifo_mixed",
    "batch_random_mixed",
};

GB_REGISTRATION(register_orders)
{
    enum hm_profile prof = hm_profile();
    for (int f = 0; f < 6; f++) {
        int mixed = args[f].mixed;
        if (prof == HM_QUICK && (args[f].order != RANDOM || mixed))
            continue;
        gb_bench *b = gb_register(names[f], bm_batch, (void *)&args[f]);
        if (mixed)
            gb_arg_name(b, "n");
        else
            GB_ARG_NAMES(b, "n", "size");
        static const int64_t ns[] = {1000, 100000, 1000000};
        for (int i = 0; i < 3; i++) {
            if (prof == HM_QUICK && ns[i] != 100000)
                continue;
            if (prof == HM_DEFAULT && mixed && ns[i] == 1000000)
                continue; /* seconds per process under some allocators; full only */
            if (mixed)
                gb_arg(b, ns[i]);
            else
                GB_ARGS(b, ns[i], 64);
        }
        if (prof == HM_FULL && !mixed) {
            GB_ARGS(b, 100000, 16);
            GB_ARGS(b, 100000, 1024);
            GB_ARGS(b, 10000, 65536);
        }
        gb_threads(b, 1);
    }
}
