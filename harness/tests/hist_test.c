/* hist_test.c: the latency histogram of bench_hist.h (buckets, quantiles,
   merging). Exits 1 with a message per failure. */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "bench_hist.h"

static int failures;
#define CHECK(c, ...)                                                                     \
    do {                                                                                  \
        if (!(c)) {                                                                       \
            failures++;                                                                   \
            printf("FAIL: " __VA_ARGS__);                                                 \
            printf("\n");                                                                 \
        }                                                                                 \
    } while (0)

static struct hm_hist a, b, m;

int main(void)
{
    /* every value lies in its bucket, buckets are ordered, precision 3.2 % */
    uint64_t s = 1;
    unsigned prev = 0;
    for (uint64_t v = 0; v < 200000; v++) {
        unsigned i = hm_hist_index(v);
        CHECK(i >= prev, "index not monotonic at %llu", (unsigned long long)v);
        prev = i;
        CHECK(hm_hist_bucket_low(i) <= v, "bucket low above %llu", (unsigned long long)v);
        if (i + 1 < HM_HIST_BUCKETS)
            CHECK(hm_hist_bucket_low(i + 1) > v, "value %llu beyond its bucket", (unsigned long long)v);
        if (failures > 5)
            return 1;
    }
    for (int k = 0; k < 100000; k++) {
        uint64_t v = hm_rng_next(&s) >> (hm_rng_next(&s) % 64);
        unsigned i = hm_hist_index(v);
        CHECK(i < HM_HIST_BUCKETS, "index %u out of range", i);
        uint64_t lo = hm_hist_bucket_low(i);
        CHECK(lo <= v && (double)(v - lo) <= 0.032 * (double)v + 1, "precision at %llu",
              (unsigned long long)v);
        if (failures > 5)
            return 1;
    }
    CHECK(hm_hist_index(UINT64_MAX) == HM_HIST_BUCKETS - 1, "top bucket %u", hm_hist_index(UINT64_MAX));

    /* quantiles of 1..10000 (in a) and 20001..30000 (in b) */
    for (uint64_t v = 1; v <= 10000; v++)
        hm_hist_record(&a, v);
    for (uint64_t v = 20001; v <= 30000; v++)
        hm_hist_record(&b, v);
    double p50 = hm_hist_quantile(&a, 0.5), p99 = hm_hist_quantile(&a, 0.99);
    CHECK(p50 > 5000 * 0.968 && p50 < 5000 * 1.032, "p50 %.1f, expected ~5000", p50);
    CHECK(p99 > 9900 * 0.968 && p99 < 9900 * 1.032, "p99 %.1f, expected ~9900", p99);
    CHECK(hm_hist_quantile(&a, 1) == 10000, "max %.1f", hm_hist_quantile(&a, 1));
    CHECK(hm_hist_quantile(&a, 0) >= 1 && hm_hist_quantile(&a, 0) < 2, "min %.1f",
          hm_hist_quantile(&a, 0));
    CHECK(hm_hist_quantile(&m, 0.5) == 0, "empty histogram");
    hm_hist_merge_atomic(&m, &a);
    hm_hist_merge_atomic(&m, &b);
    CHECK(m.count == 20000 && m.max == 30000, "merge: count %llu max %llu",
          (unsigned long long)m.count, (unsigned long long)m.max);
    double mp50 = hm_hist_quantile(&m, 0.5), mp75 = hm_hist_quantile(&m, 0.75);
    CHECK(mp50 > 10000 * 0.968 && mp50 <= 10000 * 1.032, "merged p50 %.1f", mp50);
    CHECK(mp75 > 25000 * 0.968 && mp75 < 25000 * 1.032, "merged p75 %.1f", mp75);
    /* small values are exact */
    hm_hist_clear(&a);
    for (int k = 0; k < 99; k++)
        hm_hist_record(&a, 40);
    hm_hist_record(&a, 63);
    CHECK(hm_hist_quantile(&a, 0.5) == 40 && hm_hist_quantile(&a, 0.999) == 63,
          "exact small values: %.1f %.1f", hm_hist_quantile(&a, 0.5), hm_hist_quantile(&a, 0.999));
    if (failures)
        return 1;
    printf("hist_test: ok\n");
    return 0;
}
