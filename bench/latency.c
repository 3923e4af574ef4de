/* latency.c: per-operation latency of malloc and free, sampled into per-thread
 * log-linear histograms (bench_hist.h) and merged after the timed loop.
 *
 * Counters: lat_malloc_{p50,p99,p999,max}_ns, lat_malloc_samples and the same
 * for lat_free; timer_floor_ns (the median cost of an empty clock bracket,
 * already subtracted from every sample). With a ~25 ns clock, p50 of a fast
 * path is dominated by the clock: read p50 from the time per operation and
 * the histogram for the tail (p99, p99.9, max).
 *
 * Warm and cross-thread workloads time about one operation in four (a
 * seeded random stride) so that the clock does not change the workload; the
 * cold workload times every operation. */
#include <stdatomic.h>
#include <stdlib.h>

#include "alloc_ext.h"
#include "bench.h"
#include "bench_hist.h"
#include "gbench.h"
#include "spsc.h"

#define MAX_THREADS 256

struct lat {
    struct hm_hist m, f; /* malloc, free */
    uint64_t floor;
    uint64_t rng;
    int countdown;
};

/* The histograms of every thread of one run, merged. */
static struct {
    struct hm_hist m, f;
    atomic_int done;
    uint64_t floor_max;
} merged;

static uint64_t timer_floor(void)
{
    enum { N = 1001 };
    uint64_t d[N];
    for (int i = 0; i < N; i++) {
        uint64_t t0 = hm_now_ns();
        uint64_t t1 = hm_now_ns();
        d[i] = t1 - t0;
    }
    /* median by counting: the values are small integers */
    for (uint64_t v = 0;; v++) {
        int below = 0;
        for (int i = 0; i < N; i++)
            below += d[i] <= v;
        if (below > N / 2)
            return v;
    }
}

/* Allocates this thread's histograms (outside the timed loop); thread 0 also
   clears the shared merge (before the start barrier, so before anyone merges). */
static struct lat *lat_begin(gb_state *st, uint64_t seed)
{
    struct lat *l = calloc(1, sizeof *l);
    if (l == NULL) {
        gb_skip_with_error(st, "out of memory for the histograms");
        return NULL;
    }
    l->floor = timer_floor();
    l->rng = seed + (uint64_t)gb_thread_index(st);
    l->countdown = 1;
    if (gb_thread_index(st) == 0) {
        hm_hist_clear(&merged.m);
        hm_hist_clear(&merged.f);
        atomic_store(&merged.done, 0);
        merged.floor_max = 0;
    }
    return l;
}

static inline uint64_t lat_sample(const struct lat *l, uint64_t t0, uint64_t t1)
{
    uint64_t d = t1 - t0;
    return d > l->floor ? d - l->floor : 0;
}

/* 1 when this operation is to be timed: a random stride of 1..7. */
static inline int lat_pick(struct lat *l)
{
    if (--l->countdown > 0)
        return 0;
    l->countdown = 1 + (int)(hm_rng_next(&l->rng) % 7);
    return 1;
}

static inline void *timed_malloc(struct lat *l, size_t n, int timed)
{
    if (!timed) {
        char *p = malloc(n);
        if (p == NULL)
            abort();
        return p;
    }
    uint64_t t0 = hm_now_ns();
    char *p = malloc(n);
    uint64_t t1 = hm_now_ns();
    if (p == NULL)
        abort();
    hm_hist_record(&l->m, lat_sample(l, t0, t1));
    return p;
}

static inline void timed_free(struct lat *l, void *p, int timed)
{
    if (!timed) {
        free(p);
        return;
    }
    uint64_t t0 = hm_now_ns();
    free(p);
    uint64_t t1 = hm_now_ns();
    hm_hist_record(&l->f, lat_sample(l, t0, t1));
}

/* After the loop (every thread has left it): merge; the last thread to merge
   exports the counters, so each appears once in the summed counters. */
static void lat_end(gb_state *st, struct lat *l)
{
    hm_hist_merge_atomic(&merged.m, &l->m);
    hm_hist_merge_atomic(&merged.f, &l->f);
    uint64_t fm = __atomic_load_n(&merged.floor_max, __ATOMIC_RELAXED);
    while (l->floor > fm && !__atomic_compare_exchange_n(&merged.floor_max, &fm, l->floor, 0,
                                                         __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
    if (atomic_fetch_add(&merged.done, 1) + 1 == gb_thread_count(st)) {
        hm_hist_export(st, "lat_malloc", &merged.m);
        hm_hist_export(st, "lat_free", &merged.f);
        gb_counter(st, "timer_floor_ns", (double)merged.floor_max, GB_COUNTER_DEFAULT);
    }
    free(l);
}

/* --- warm ------------------------------------------------------------------ */

/* Steady state of a long-running service: a working set of 256 blocks of one
   size, the oldest replaced by a new one per operation, after a warm-up. One
   operation = one free + one malloc. */
static void bm_latency_warm(gb_state *st, void *user)
{
    (void)user;
    size_t size = (size_t)gb_get_range(st, 0);
    enum { LIVE = 256 };
    char *ring[LIVE];
    struct lat *l = lat_begin(st, 0x1a7e);
    if (l == NULL)
        return;
    for (int i = 0; i < LIVE; i++)
        ring[i] = timed_malloc(l, size, 0);
    for (int i = 0; i < 20 * LIVE; i++) { /* warm-up */
        free(ring[i % LIVE]);
        ring[i % LIVE] = timed_malloc(l, size, 0);
    }
    unsigned k = 0;
    while (gb_keep_running_batch(st, LIVE)) {
        for (int i = 0; i < LIVE; i++) {
            int timed = lat_pick(l);
            timed_free(l, ring[k], timed);
            char *p = timed_malloc(l, size, timed);
            p[0] = (char)i;
            ring[k] = p;
            k = (k + 1) % LIVE;
        }
    }
    for (int i = 0; i < LIVE; i++)
        free(ring[i]);
    gb_set_items_processed(st, gb_get_iterations(st));
    lat_end(st, l);
}

/* --- cold ------------------------------------------------------------------ */

/* Start-up and bursts (a process loading its data, a request that needs more
   memory than ever before): 1000 blocks (at most 64 MiB) allocated into
   memory the allocator does not hold warm, touched, then freed; between
   rounds the allocator returns its free memory to the OS (alloc_ext purge,
   where it has one; counter `purged` = 1), so the next round starts cold
   again. Whether it does is measured: counter `kept_after_purge_bytes` is
   the most RSS found after a purge over the process's RSS when the
   benchmarks started; a round after a purge that kept memory is partly warm.
   In a fresh process the first round is also the allocator's very first.
   Every operation is timed; the time per operation excludes the purge
   (manual time). One operation = one malloc or one free. */
static void bm_latency_cold(gb_state *st, void *user)
{
    (void)user;
    size_t size = (size_t)gb_get_range(st, 0);
    enum { NMAX = 1000 };
    char *blk[NMAX];
    const int N = (size_t)NMAX * size > (64u << 20) ? (int)((64u << 20) / size) : NMAX;
    int (*purge)(void) = alloc_ext_get()->purge;
    struct lat *l = lat_begin(st, 0xc01d);
    if (l == NULL)
        return;
    size_t base = hm_startup_rss_bytes(), kept = 0;
    while (gb_keep_running_batch(st, 2 * N)) {
        uint64_t t0 = hm_now_ns();
        for (int i = 0; i < N; i++) {
            blk[i] = timed_malloc(l, size, 1);
            hm_touch(blk[i], size);
        }
        for (int i = 0; i < N; i++)
            timed_free(l, blk[i], 1);
        uint64_t t1 = hm_now_ns();
        gb_set_iteration_time(st, (double)(t1 - t0) * 1e-9);
        if (purge != NULL) {
            purge();
            size_t now = hm_rss_bytes();
            if (now > base && now - base > kept)
                kept = now - base;
        }
    }
    gb_counter(st, "purged", purge != NULL, GB_COUNTER_DEFAULT);
    if (purge != NULL)
        gb_counter(st, "kept_after_purge_bytes", (double)kept, GB_COUNTER_DEFAULT);
    gb_set_items_processed(st, gb_get_iterations(st));
    lat_end(st, l);
}

/* --- cross-thread ---------------------------------------------------------- */

/* Blocks freed by another thread than the one that allocated them (work
   queues, futures, connection hand-off): thread 2k allocates and queues,
   thread 2k+1 frees; the free histogram holds remote frees only. One
   operation = one malloc (producer) or one free (consumer). */
static struct spsc lat_queues[MAX_THREADS / 2];

static void bm_latency_cross(gb_state *st, void *user)
{
    (void)user;
    size_t size = (size_t)gb_get_range(st, 0);
    int tid = gb_thread_index(st), nt = gb_thread_count(st);
    if (nt % 2 != 0 || nt > MAX_THREADS) {
        gb_skip_with_error(st, "cross-thread latency needs an even thread count");
        return;
    }
    struct lat *l = lat_begin(st, 0xc7055);
    if (l == NULL)
        return;
    if (tid == 0)
        for (int i = 0; i < nt / 2; i++)
            spsc_reset(&lat_queues[i]);
    struct spsc *q = &lat_queues[tid / 2];
    struct spsc_end end = {0, 0};
    while (gb_keep_running_batch(st, GB_BATCH)) {
        if (tid % 2 == 0) {
            for (int i = 0; i < GB_BATCH; i++) {
                char *p = timed_malloc(l, size, lat_pick(l));
                p[0] = (char)i;
                spsc_push(q, &end, p);
            }
        } else {
            for (int i = 0; i < GB_BATCH; i++)
                timed_free(l, spsc_pop(q, &end), lat_pick(l));
        }
    }
    gb_set_items_processed(st, tid % 2 == 0 ? gb_get_iterations(st) : 0);
    lat_end(st, l);
}

GB_REGISTRATION(register_latency)
{
    enum hm_profile prof = hm_profile();
    gb_bench *b;

    b = gb_register("latency_warm", bm_latency_warm, NULL);
    gb_arg_name(b, "size");
    gb_arg(b, 64);
    if (prof != HM_QUICK) {
        gb_arg(b, 4096);
        gb_arg(b, 1 << 20);
    }
    if (prof == HM_FULL)
        gb_arg(b, 16 << 20);
    gb_threads(b, 1);

    b = gb_register("latency_cold", bm_latency_cold, NULL);
    gb_use_manual_time(b);
    gb_arg_name(b, "size");
    if (prof != HM_QUICK)
        gb_arg(b, 64);
    gb_arg(b, 1 << 20);
    if (prof == HM_FULL)
        gb_arg(b, 4096);
    gb_threads(b, 1);

    b = gb_register("latency_cross_thread", bm_latency_cross, NULL);
    gb_arg_name(b, "size");
    gb_arg(b, 64);
    if (prof != HM_QUICK)
        gb_arg(b, 65536);
    gb_threads(b, 2);
}
