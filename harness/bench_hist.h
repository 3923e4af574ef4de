/* bench_hist.h: a log-linear latency histogram (HdrHistogram-style) for the
 * latency workloads: exact below 64 ns, then 32 buckets per power of two
 * (every value is within 3.2 % of its bucket's lower bound). One histogram
 * per thread, no locks; merged after the timed loop. */
#ifndef HEAPMARK_BENCH_HIST_H
#define HEAPMARK_BENCH_HIST_H

#include <stdint.h>

#include "gbench.h"

#define HM_HIST_BUCKETS 1920 /* covers every uint64_t value */

struct hm_hist {
    uint64_t count;
    uint64_t max;
    uint64_t bucket[HM_HIST_BUCKETS];
};

static inline unsigned hm_hist_index(uint64_t v)
{
    if (v < 64)
        return (unsigned)v;
    unsigned shift = (unsigned)(63 - __builtin_clzll(v)) - 5;
    return shift * 32 + (unsigned)(v >> shift);
}

static inline void hm_hist_record(struct hm_hist *h, uint64_t v)
{
    h->bucket[hm_hist_index(v)]++;
    h->count++;
    if (v > h->max)
        h->max = v;
}

void hm_hist_clear(struct hm_hist *h);
/* Lowest value that falls in bucket i. */
uint64_t hm_hist_bucket_low(unsigned i);
/* Adds src into dst, atomically per field: safe when several threads merge
   into one shared dst at once. */
void hm_hist_merge_atomic(struct hm_hist *dst, const struct hm_hist *src);
/* The value at quantile q (0..1): the middle of the bucket holding the
   ceil(q*count)-th smallest sample; the exact max for q = 1; 0 when empty. */
double hm_hist_quantile(const struct hm_hist *h, double q);

/* Sets counters <prefix>_p50_ns, _p99_ns, _p999_ns, _max_ns and _samples
   from h on this thread's state (call from one thread only). */
void hm_hist_export(gb_state *st, const char *prefix, const struct hm_hist *h);

#endif
