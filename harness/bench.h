/* bench.h: helpers shared by heapmark's workloads (linked only into the bench
 * binaries): the profile, a seeded PRNG, a clock, process memory figures.
 * The latency histogram is in bench_hist.h. */
#ifndef HEAPMARK_BENCH_H
#define HEAPMARK_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "gbench.h"

/* HEAPMARK_PROFILE: quick (a representative subset), default (every
   workload), full (more sizes and threads). Set by the bench main before the
   registration functions run. */
enum hm_profile { HM_QUICK, HM_DEFAULT, HM_FULL };
enum hm_profile hm_profile(void);
const char *hm_profile_name(enum hm_profile p);
/* Parses a profile name; -1 when unknown. */
int hm_profile_parse(const char *s);
void hm_profile_set(enum hm_profile p);

/* Online CPUs, at least 1. */
int hm_ncpus(void);

/* splitmix64: the same seeded sequence for every allocator. */
static inline uint64_t hm_rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0 (multiply-shift; bias is negligible here). */
static inline uint64_t hm_rng_below(uint64_t *s, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)hm_rng_next(s) * n) >> 64);
}

static inline uint64_t hm_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Writes at least one byte in every page of [p, p+n): the memory becomes
   resident, as in a program that uses what it allocates. */
static inline void hm_touch(void *p, size_t n)
{
    unsigned char *c = p;
    for (size_t i = 0; i < n; i += 4096)
        c[i] = (unsigned char)i;
    if (n)
        c[n - 1] = 1;
    gb_do_not_optimize(p);
}

/* Process memory from /proc/self/status, in bytes; 0 when unreadable. */
size_t hm_rss_bytes(void);      /* VmRSS */
size_t hm_rss_peak_bytes(void); /* VmHWM */
/* Resets VmHWM to the current RSS (writes "5" to /proc/self/clear_refs);
   returns 0, or -1 when the kernel refuses. */
int hm_rss_reset_peak(void);
/* RSS when the benchmarks started (set by the bench main before running
   them): the harness's own share, subtracted from memory figures. */
size_t hm_startup_rss_bytes(void);
void hm_startup_rss_record(void);

#endif
