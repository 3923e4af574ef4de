/* threads.c: allocation from several threads: a larson-style server with
 * cross-thread frees, producer/consumer, thread-local churn, false sharing
 * (cache-thrash and cache-scratch) and thread scaling. Multi-thread families
 * run on real time: items_per_second is the throughput of all threads. */
#include <stdatomic.h>
#include <stdlib.h>

#include "bench.h"
#include "gbench.h"
#include "spsc.h"

#define MAX_THREADS 256

/* --- larson ---------------------------------------------------------------- */

/* A server (larson): worker threads replace random entries of a shared table
   of objects, so most blocks are freed by a thread that did not allocate
   them. One operation = one malloc + one free of another block. */
static struct {
    _Atomic(char *) *slot;
    size_t nslots;
} larson;

#define LARSON_SLOTS_PER_THREAD 1000

static void bm_larson(gb_state *st, void *user)
{
    (void)user;
    size_t lo = (size_t)gb_get_range(st, 0), hi = (size_t)gb_get_range(st, 1);
    int tid = gb_thread_index(st);
    if (tid == 0) {
        larson.nslots = (size_t)gb_thread_count(st) * LARSON_SLOTS_PER_THREAD;
        larson.slot = malloc(larson.nslots * sizeof *larson.slot);
        if (larson.slot == NULL)
            abort();
        uint64_t r = 0x1a750u;
        for (size_t i = 0; i < larson.nslots; i++) {
            char *p = malloc(lo + (size_t)hm_rng_below(&r, hi - lo + 1));
            if (p == NULL)
                abort();
            p[0] = 1;
            atomic_init(&larson.slot[i], p);
        }
    }
    uint64_t rng = 0x5eed0000u + (uint64_t)tid;
    int64_t bytes = 0;
    while (gb_keep_running_batch(st, GB_BATCH)) {
        for (int i = 0; i < GB_BATCH; i++) {
            uint64_t r = hm_rng_next(&rng);
            size_t k = (size_t)(((unsigned __int128)(r & 0xffffffffu) * larson.nslots) >> 32);
            size_t n = lo + (size_t)((r >> 32) % (hi - lo + 1));
            char *p = malloc(n);
            if (p == NULL)
                abort();
            p[0] = (char)i;
            bytes += (int64_t)n;
            char *old = atomic_exchange_explicit(&larson.slot[k], p, memory_order_acq_rel);
            free(old);
        }
    }
    /* every thread has left the loop (Google Benchmark's stop barrier) */
    if (tid == 0) {
        for (size_t i = 0; i < larson.nslots; i++)
            free(atomic_load(&larson.slot[i]));
        free(larson.slot);
        larson.slot = NULL;
    }
    gb_set_items_processed(st, gb_get_iterations(st));
    gb_set_bytes_processed(st, bytes);
}

/* --- producer / consumer --------------------------------------------------- */

/* A pipeline stage (message queues, logging threads): thread 2k allocates
   messages and hands them over a queue to thread 2k+1, which takes them
   PRODCONS_GRAB at a time and frees them (taken one by one, the two
   threads would read each other's queue index at every message, and the
   time would follow which side runs ahead more than the allocator).
   One operation = one malloc (producer) or one free (consumer), so the time
   per operation is half the time per message; items = messages. */
static struct spsc rings[MAX_THREADS / 2];
#define PRODCONS_GRAB 32 /* messages the consumer takes at a time */

static void bm_prodcons(gb_state *st, void *user)
{
    (void)user;
    size_t size = (size_t)gb_get_range(st, 0);
    int tid = gb_thread_index(st), nt = gb_thread_count(st);
    if (nt % 2 != 0 || nt > MAX_THREADS) {
        gb_skip_with_error(st, "producer/consumer needs an even thread count");
        return;
    }
    if (tid == 0)
        for (int i = 0; i < nt / 2; i++)
            spsc_reset(&rings[i]);
    struct spsc *q = &rings[tid / 2];
    if (tid % 2 == 0) {
        struct spsc_end head = {0, 0};
        while (gb_keep_running_batch(st, GB_BATCH)) {
            for (int i = 0; i < GB_BATCH; i++) {
                char *p = malloc(size);
                if (p == NULL)
                    abort();
                p[0] = (char)i;
                spsc_push(q, &head, p);
            }
        }
    } else {
        struct spsc_end tail = {0, 0};
        void *got[PRODCONS_GRAB];
        while (gb_keep_running_batch(st, GB_BATCH))
            for (int i = 0; i < GB_BATCH; i += PRODCONS_GRAB) {
                int n = GB_BATCH - i < PRODCONS_GRAB ? GB_BATCH - i : PRODCONS_GRAB;
                spsc_pop_many(q, &tail, got, (size_t)n);
                for (int k = 0; k < n; k++)
                    free(got[k]);
            }
    }
    /* both sides ran the same number of iterations: the queue is empty. The
       throughput counts messages, not per-thread operations. */
    gb_set_items_processed(st, tid % 2 == 0 ? gb_get_iterations(st) : 0);
    gb_set_bytes_processed(st, tid % 2 == 0 ? gb_get_iterations(st) * (int64_t)size : 0);
}

/* --- thread-local churn ---------------------------------------------------- */

/* Independent request handlers: each thread keeps its own small working set
   (64 blocks, 16 B .. 512 B) and replaces a random one per operation; no block
   crosses threads. One operation = one free + one malloc. */
static void bm_churn(gb_state *st, void *user)
{
    (void)user;
    enum { LIVE = 64 };
    char *slot[LIVE];
    uint64_t rng = 0xc4u + (uint64_t)gb_thread_index(st);
    for (int i = 0; i < LIVE; i++)
        if ((slot[i] = malloc(16 + hm_rng_below(&rng, 497))) == NULL)
            abort();
    while (gb_keep_running_batch(st, GB_BATCH)) {
        for (int i = 0; i < GB_BATCH; i++) {
            uint64_t r = hm_rng_next(&rng);
            unsigned k = (unsigned)(r % LIVE);
            free(slot[k]);
            char *p = malloc(16 + (size_t)((r >> 32) % 497));
            if (p == NULL)
                abort();
            p[0] = (char)i;
            slot[k] = p;
        }
    }
    for (int i = 0; i < LIVE; i++)
        free(slot[i]);
    gb_set_items_processed(st, gb_get_iterations(st));
}

/* --- false sharing --------------------------------------------------------- */

#define WRITES 64

static void write_object(volatile char *p)
{
    for (int w = 0; w < WRITES; w++)
        p[w & 7] = (char)(p[w & 7] + 1);
}

/* Small per-thread objects that are written a lot (counters, per-connection
   state), Hoard's cache-thrash: each thread allocates an 8-byte object,
   writes it 64 times and frees it. An allocator that hands neighbouring bytes
   of one cache line to different threads makes them fight over the line.
   One operation = malloc + 64 writes + free. */
static void bm_cache_thrash(gb_state *st, void *user)
{
    (void)user;
    while (gb_keep_running_batch(st, 100)) {
        for (int i = 0; i < 100; i++) {
            char *p = malloc(8);
            if (p == NULL)
                abort();
            write_object(p);
            free(p);
        }
    }
    gb_set_items_processed(st, gb_get_iterations(st));
}

/* Hoard's cache-scratch: the main thread allocates one small object per
   worker (neighbours in memory) and hands them out; each worker frees its
   object, then allocates, writes and frees its own. An allocator that gives
   the freed neighbour back to the worker keeps the false sharing alive.
   One operation = malloc + 64 writes + free. */
static char *scratch_obj[MAX_THREADS];

static void bm_cache_scratch(gb_state *st, void *user)
{
    (void)user;
    int tid = gb_thread_index(st), nt = gb_thread_count(st);
    if (nt > MAX_THREADS) {
        gb_skip_with_error(st, "too many threads");
        return;
    }
    if (tid == 0)
        for (int i = 0; i < nt; i++)
            if ((scratch_obj[i] = malloc(8)) == NULL)
                abort();
    int first = 1;
    while (gb_keep_running_batch(st, 100)) {
        if (first) { /* after the start barrier: every object exists */
            write_object(scratch_obj[tid]);
            free(scratch_obj[tid]);
            first = 0;
        }
        for (int i = 0; i < 100; i++) {
            char *p = malloc(8);
            if (p == NULL)
                abort();
            write_object(p);
            free(p);
        }
    }
    gb_set_items_processed(st, gb_get_iterations(st));
}

/* --- registration ---------------------------------------------------------- */

/* 1, 2, 4 ... up to `max`, and `max` itself */
static void scaling(gb_bench *b, int max)
{
    int t;
    for (t = 1; t < max; t *= 2)
        gb_threads(b, t);
    gb_threads(b, max);
}

GB_REGISTRATION(register_threads)
{
    enum hm_profile prof = hm_profile();
    int ncpu = hm_ncpus();
    int max = ncpu < 16 ? ncpu : 16;
    if (prof == HM_FULL)
        max = ncpu < 16 ? 16 : (ncpu < MAX_THREADS ? ncpu : MAX_THREADS);
    if (max < 2)
        max = 2;
    gb_bench *b;

    b = gb_register("larson", bm_larson, NULL);
    GB_ARG_NAMES(b, "min", "max");
    GB_ARGS(b, 16, 128);
    if (prof != HM_QUICK)
        GB_ARGS(b, 16, 4096);
    if (prof == HM_QUICK)
        gb_threads(b, 2);
    else
        scaling(b, max);

    b = gb_register("prodcons", bm_prodcons, NULL);
    gb_arg_name(b, "size");
    gb_arg(b, 64);
    if (prof != HM_QUICK)
        gb_arg(b, 4096);
    gb_threads(b, 2);
    if (prof == HM_FULL && ncpu >= 4)
        gb_threads(b, 4);

    if (prof != HM_QUICK) {
        b = gb_register("thread_churn", bm_churn, NULL);
        scaling(b, max);

        b = gb_register("cache_thrash", bm_cache_thrash, NULL);
        scaling(b, max);

        b = gb_register("cache_scratch", bm_cache_scratch, NULL);
        scaling(b, max);
    }
}
