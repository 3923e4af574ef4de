/* memory.c: memory efficiency. Fragmentation, long-lived plus short-lived
 * mixes, and the RSS that stays after everything is freed.
 *
 * Counters (all bytes are process-wide; "over startup" means minus the RSS
 * the bench process had when the benchmarks started, i.e. the harness):
 *   peak_rss_bytes        VmHWM during this run (reset at its start)
 *   peak_live_bytes       the workload's own peak of requested, live bytes
 *   overhead              (peak_rss_bytes - startup RSS - the workload's own
 *                         bookkeeping arrays) / peak_live_bytes
 *   rss_after_free_bytes  RSS over startup once every block is freed
 *   rss_after_purge_bytes the same after alloc_ext purge (absent when the
 *                         allocator has none)
 *   rss_after_idle_bytes  rss_after_free only: RSS over startup after an idle
 *                         second once everything is freed (measured once per
 *                         process)
 *   rss_t0 .. rss_t9      memory over time: RSS over startup sampled after
 *                         1/10, 2/10 ... 10/10 of the operations of the last
 *                         round (rss_t9: at its end, everything freed)
 * A round is the workload's whole life cycle, from the first malloc to the
 * last free; the timed loop repeats rounds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "alloc_ext.h"
#include "bench.h"
#include "gbench.h"

#define NSAMPLES 10

struct track {
    size_t live, peak_live;
    int64_t ops, next_sample_op, ops_per_round;
    int nsample;
    double sample[NSAMPLES];
};

static void track_round_start(struct track *t, int64_t ops_per_round)
{
    t->ops = 0;
    t->nsample = 0;
    t->ops_per_round = ops_per_round;
    t->next_sample_op = ops_per_round / NSAMPLES;
}

static double over_startup(size_t rss)
{
    size_t base = hm_startup_rss_bytes();
    return rss > base ? (double)(rss - base) : 0.0;
}

/* Counts one operation; at each tenth of the round, samples RSS with the
   clock stopped. */
static inline void track_op(gb_state *st, struct track *t)
{
    if (++t->ops >= t->next_sample_op && t->nsample < NSAMPLES) {
        gb_pause_timing(st);
        t->sample[t->nsample++] = over_startup(hm_rss_bytes());
        t->next_sample_op += t->ops_per_round / NSAMPLES;
        gb_resume_timing(st);
    }
}

static inline void *track_malloc(gb_state *st, struct track *t, size_t n)
{
    char *p = malloc(n);
    if (p == NULL)
        abort();
    hm_touch(p, n); /* the program uses what it allocates */
    t->live += n;
    if (t->live > t->peak_live)
        t->peak_live = t->live;
    track_op(st, t);
    return p;
}

static inline void track_free(gb_state *st, struct track *t, void *p, size_t n)
{
    free(p);
    t->live -= n;
    track_op(st, t);
}

/* own: bytes of the workload's own bookkeeping arrays (resident, not the
   allocator's doing), left out of the overhead. */
static void track_export(gb_state *st, const struct track *t, size_t own)
{
    size_t peak = hm_rss_peak_bytes();
    gb_counter(st, "peak_rss_bytes", (double)peak, GB_COUNTER_DEFAULT);
    gb_counter(st, "peak_live_bytes", (double)t->peak_live, GB_COUNTER_DEFAULT);
    if (t->peak_live) {
        double used = over_startup(peak) - (double)own;
        gb_counter(st, "overhead", (used > 0 ? used : 0) / (double)t->peak_live,
                   GB_COUNTER_DEFAULT);
    }
    gb_counter(st, "rss_after_free_bytes", over_startup(hm_rss_bytes()), GB_COUNTER_DEFAULT);
    const struct alloc_ext *ext = alloc_ext_get();
    if (ext->purge != NULL && ext->purge() == 0)
        gb_counter(st, "rss_after_purge_bytes", over_startup(hm_rss_bytes()), GB_COUNTER_DEFAULT);
    for (int i = 0; i < t->nsample; i++) {
        char name[16];
        snprintf(name, sizeof name, "rss_t%d", i);
        gb_counter(st, name, t->sample[i], GB_COUNTER_DEFAULT);
    }
}

/* Log-uniform in [lo, hi): many small blocks, some large. */
static size_t log_uniform(uint64_t *rng, unsigned lo_bits, unsigned hi_bits)
{
    unsigned bits = lo_bits + (unsigned)hm_rng_below(rng, hi_bits - lo_bits);
    size_t lo = (size_t)1 << bits;
    return lo + (size_t)hm_rng_below(rng, lo);
}

/* --- fragmentation --------------------------------------------------------- */

/* A heap that ages (a document editor, a long-running interpreter): n blocks
   of mixed sizes (16 B .. 2 KiB), a random half freed, then n/2 larger blocks
   (1 .. 16 KiB) that do not fit the holes; then everything is freed. One
   operation = one malloc or one free (3n per round). */
static void bm_fragmentation(gb_state *st, void *user)
{
    (void)user;
    size_t n = (size_t)gb_get_range(st, 0);
    size_t half = n / 2;
    char **blk = malloc(n * sizeof *blk);
    size_t *size = malloc(n * sizeof *size);
    char **big = malloc(half * sizeof *big);
    size_t *bsize = malloc(half * sizeof *bsize);
    uint32_t *perm = malloc(n * sizeof *perm);
    if (!blk || !size || !big || !bsize || !perm) {
        gb_skip_with_error(st, "out of memory for the workload's arrays");
        free(blk), free(size), free(big), free(bsize), free(perm);
        return;
    }
    uint64_t rng = 0xf7a9u;
    for (size_t i = 0; i < n; i++) {
        size[i] = log_uniform(&rng, 4, 10);
        perm[i] = (uint32_t)i;
    }
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)hm_rng_below(&rng, i + 1);
        uint32_t tmp = perm[i];
        perm[i] = perm[j], perm[j] = tmp;
    }
    for (size_t i = 0; i < half; i++)
        bsize[i] = log_uniform(&rng, 10, 13);

    struct track t = {0};
    hm_rss_reset_peak();
    int64_t per_round = (int64_t)(n + half + half + (n - half) + half);
    while (gb_keep_running_batch(st, per_round)) {
        track_round_start(&t, per_round);
        for (size_t i = 0; i < n; i++)
            blk[i] = track_malloc(st, &t, size[i]);
        for (size_t i = 0; i < half; i++) /* a random half dies */
            track_free(st, &t, blk[perm[i]], size[perm[i]]);
        for (size_t i = 0; i < half; i++)
            big[i] = track_malloc(st, &t, bsize[i]);
        for (size_t i = half; i < n; i++)
            track_free(st, &t, blk[perm[i]], size[perm[i]]);
        for (size_t i = 0; i < half; i++)
            track_free(st, &t, big[i], bsize[i]);
    }
    track_export(st, &t, n * (sizeof *blk + sizeof *size + sizeof *perm) +
                             half * (sizeof *big + sizeof *bsize));
    free(blk), free(size), free(big), free(bsize), free(perm);
    gb_set_items_processed(st, gb_get_iterations(st));
}

/* --- long-lived plus short-lived ------------------------------------------- */

/* A cache inside a request loop (web server, compiler with a symbol table):
   `long` blocks (16 B .. 8 KiB) stay live for the whole round while
   short-lived temporaries (16 B .. 1 KiB, a window of 64) churn around them; every 64th operation evicts one
   long-lived block for a new one of another size. One operation = one malloc
   or one free. */
#define SHORT_OPS 200000
#define WINDOW 64

static void bm_long_short(gb_state *st, void *user)
{
    (void)user;
    size_t nlong = (size_t)gb_get_range(st, 0);
    char **lng = malloc(nlong * sizeof *lng);
    size_t *lsize = malloc(nlong * sizeof *lsize);
    if (!lng || !lsize) {
        gb_skip_with_error(st, "out of memory for the workload's arrays");
        free(lng), free(lsize);
        return;
    }
    char *win[WINDOW];
    size_t wsize[WINDOW];
    struct track t = {0};
    hm_rss_reset_peak();
    /* per round: nlong mallocs and frees, SHORT_OPS short mallocs and frees,
       and an eviction (free + malloc) at each multiple of WINDOW below
       SHORT_OPS */
    int64_t evictions = (SHORT_OPS - 1) / WINDOW;
    int64_t per_round = 2 * (int64_t)nlong + 2 * SHORT_OPS + 2 * evictions;
    while (gb_keep_running_batch(st, per_round)) {
        uint64_t rng = 0x10a6u; /* the same sequence every round */
        track_round_start(&t, per_round);
        for (size_t i = 0; i < nlong; i++) {
            lsize[i] = log_uniform(&rng, 4, 12);
            lng[i] = track_malloc(st, &t, lsize[i]);
        }
        for (int i = 0; i < WINDOW; i++) {
            wsize[i] = log_uniform(&rng, 4, 9);
            win[i] = track_malloc(st, &t, wsize[i]);
        }
        for (int i = WINDOW; i < SHORT_OPS; i++) {
            int k = i % WINDOW;
            track_free(st, &t, win[k], wsize[k]);
            wsize[k] = log_uniform(&rng, 4, 9);
            win[k] = track_malloc(st, &t, wsize[k]);
            if (k == 0) {
                size_t e = (size_t)hm_rng_below(&rng, nlong);
                track_free(st, &t, lng[e], lsize[e]);
                lsize[e] = log_uniform(&rng, 4, 12);
                lng[e] = track_malloc(st, &t, lsize[e]);
            }
        }
        for (size_t i = 0; i < nlong; i++)
            track_free(st, &t, lng[i], lsize[i]);
        for (int i = 0; i < WINDOW; i++)
            track_free(st, &t, win[i], wsize[i]);
    }
    track_export(st, &t, nlong * (sizeof *lng + sizeof *lsize));
    free(lng), free(lsize);
    gb_set_items_processed(st, gb_get_iterations(st));
}

/* --- RSS after everything is freed ------------------------------------------ */

/* A phase that builds a large structure and drops it (loading a file into
   objects, a batch job), followed by a quiet phase: how much memory stays
   with the process. size 0 = mixed sizes 16 B .. 8 KiB. One operation = one
   malloc or one free. */
static void bm_rss_after_free(gb_state *st, void *user)
{
    (void)user;
    size_t fixed = (size_t)gb_get_range(st, 0);
    size_t total = (size_t)gb_get_range(st, 1) << 20; /* MiB */
    uint64_t rng = 0x2a11u;
    size_t n = 0, sum = 0;
    size_t cap = total / (fixed ? fixed : 16) + 1;
    size_t *size = malloc(cap * sizeof *size);
    char **blk = malloc(cap * sizeof *blk);
    if (!size || !blk) {
        gb_skip_with_error(st, "out of memory for the workload's arrays");
        free(size), free(blk);
        return;
    }
    while (sum < total && n < cap) {
        size[n] = fixed ? fixed : log_uniform(&rng, 4, 12);
        sum += size[n++];
    }
    struct track t = {0};
    hm_rss_reset_peak();
    while (gb_keep_running_batch(st, (int64_t)(2 * n))) {
        track_round_start(&t, (int64_t)(2 * n));
        for (size_t i = 0; i < n; i++)
            blk[i] = track_malloc(st, &t, size[i]);
        for (size_t i = 0; i < n; i++)
            track_free(st, &t, blk[i], size[i]);
    }
    free(size), free(blk);
    track_export(st, &t, n * (sizeof *size + sizeof *blk));
    /* the quiet phase: RSS over startup after an idle second (time-based
       purging, e.g. decay, has had its chance). Measured once per process and
       instance, outside the timed loop, and reported by every later run. */
    static double idle_rss = -1.0;
    static int64_t idle_for[2] = {-1, -1};
    if (idle_for[0] != gb_get_range(st, 0) || idle_for[1] != gb_get_range(st, 1)) {
        sleep(1);
        idle_rss = over_startup(hm_rss_bytes());
        idle_for[0] = gb_get_range(st, 0);
        idle_for[1] = gb_get_range(st, 1);
    }
    gb_counter(st, "rss_after_idle_bytes", idle_rss, GB_COUNTER_DEFAULT);
    gb_set_items_processed(st, gb_get_iterations(st));
}

GB_REGISTRATION(register_memory)
{
    enum hm_profile prof = hm_profile();
    gb_bench *b;

    b = gb_register("fragmentation", bm_fragmentation, NULL);
    gb_arg_name(b, "n");
    gb_arg(b, 100000);
    if (prof == HM_FULL)
        gb_arg(b, 1000000);
    gb_threads(b, 1);

    b = gb_register("long_short", bm_long_short, NULL);
    gb_arg_name(b, "long");
    if (prof != HM_QUICK)
        gb_arg(b, 1000);
    gb_arg(b, 50000);
    gb_threads(b, 1);

    if (prof != HM_QUICK) {
        b = gb_register("rss_after_free", bm_rss_after_free, NULL);
        GB_ARG_NAMES(b, "size", "mib");
        GB_ARGS(b, 64, 64);
        GB_ARGS(b, 4096, 64);
        GB_ARGS(b, 0, 64);
        if (prof == HM_FULL)
            GB_ARGS(b, 0, 512);
        gb_threads(b, 1);
    }
}
