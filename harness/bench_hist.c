/* bench_hist.c: the latency histogram of bench_hist.h. */
#include "bench_hist.h"

#include <stdio.h>
#include <string.h>

void hm_hist_clear(struct hm_hist *h) { memset(h, 0, sizeof *h); }

uint64_t hm_hist_bucket_low(unsigned i)
{
    if (i < 64)
        return i;
    unsigned shift = i / 32 - 1;
    return (uint64_t)(i - shift * 32) << shift;
}

static uint64_t bucket_width(unsigned i) { return i < 64 ? 1 : 1ull << (i / 32 - 1); }

void hm_hist_merge_atomic(struct hm_hist *dst, const struct hm_hist *src)
{
    for (unsigned i = 0; i < HM_HIST_BUCKETS; i++)
        if (src->bucket[i])
            __atomic_fetch_add(&dst->bucket[i], src->bucket[i], __ATOMIC_RELAXED);
    __atomic_fetch_add(&dst->count, src->count, __ATOMIC_RELAXED);
    uint64_t m = __atomic_load_n(&dst->max, __ATOMIC_RELAXED);
    while (src->max > m &&
           !__atomic_compare_exchange_n(&dst->max, &m, src->max, 0, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
        ;
}

double hm_hist_quantile(const struct hm_hist *h, double q)
{
    if (h->count == 0)
        return 0;
    if (q >= 1)
        return (double)h->max;
    double x = q * (double)h->count;
    uint64_t rank = (uint64_t)x;
    if ((double)rank < x || rank == 0)
        rank++;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HM_HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            double mid = (double)hm_hist_bucket_low(i) + (double)(bucket_width(i) - 1) / 2;
            return mid < (double)h->max ? mid : (double)h->max;
        }
    }
    return (double)h->max;
}

void hm_hist_export(gb_state *st, const char *prefix, const struct hm_hist *h)
{
    static const struct {
        const char *suffix;
        double q;
    } points[] = {{"p50_ns", 0.5}, {"p99_ns", 0.99}, {"p999_ns", 0.999}, {"max_ns", 1}};
    char name[96];
    for (size_t i = 0; i < sizeof points / sizeof *points; i++) {
        snprintf(name, sizeof name, "%s_%s", prefix, points[i].suffix);
        gb_counter(st, name, hm_hist_quantile(h, points[i].q), GB_COUNTER_DEFAULT);
    }
    snprintf(name, sizeof name, "%s_samples", prefix);
    gb_counter(st, name, (double)h->count, GB_COUNTER_DEFAULT);
}
