/* partial_free.c: catalogue area PF (freeing part of a live block). The
   native call is reached through alloc_ext's free_range; PF-04/05 are the
   portable analogues through realloc shrinking. */
#define _GNU_SOURCE
#include "conf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

CONF_CHECK(pf01_tail_then_head, "PF-01", "partial-free", CONF_OWN, 0,
           "free_range of [p+8,p+63) of a 63-byte block keeps [p,p+8) usable; then [p,p+4) "
           "keeps [p+4,p+8) usable (ralloc tests/partial_free.rs partial_free)")
{
    int (*free_range)(void *, size_t) = CONF_EXT_NEED(free_range);
    volatile char *p = conf_malloc(63);
    if (p == NULL)
        conf_fail("malloc(63) = NULL");
    memset((char *)p, 7, 63);
    int r = free_range((char *)p + 8, 55);
    if (r != 0)
        conf_fail("free_range(p+8, 55) of a 63-byte block returned %d, expected 0", r);
    for (int i = 0; i < 8; i++)
        if (p[i] != 7)
            conf_fail("after free_range(p+8, 55), byte %d changed", i);
    p[0] = 3;
    r = free_range((char *)p, 4);
    if (r != 0)
        conf_fail("free_range(p, 4) returned %d, expected 0", r);
    p[4] = 5;
    if (p[4] != 5 || p[5] != 7)
        conf_fail("after free_range(p, 4), [p+4, p+8) does not hold its bytes");
    r = free_range((char *)p + 4, 4);
    if (r != 0)
        conf_fail("free_range(p+4, 4) (the last live bytes) returned %d, expected 0", r);
}

CONF_CHECK(pf02_halves, "PF-02", "partial-free", CONF_OWN, 0,
           "free_range of the upper then the lower half of a 64-byte block: no double-free "
           "false positive, allocation keeps working (ralloc partial_free_double)")
{
    int (*free_range)(void *, size_t) = CONF_EXT_NEED(free_range);
    for (int round = 0; round < 100; round++) {
        char *p = conf_malloc(64);
        memset(p, 1, 64);
        int r = free_range(p + 32, 32);
        if (r != 0)
            conf_fail("round %d: free_range(p+32, 32) returned %d", round, r);
        ((volatile char *)p)[0] = 2;
        r = free_range(p, 32);
        if (r != 0)
            conf_fail("round %d: free_range(p, 32) (the rest) returned %d", round, r);
        void *q = conf_malloc(64);
        if (q == NULL)
            conf_fail("round %d: malloc(64) after releasing a whole block = NULL", round);
        memset(q, 3, 64);
        conf_free(q);
    }
}

CONF_CHECK(pf04_shrink_reuse, "PF-04", "partial-free", CONF_REP, 0,
           "is the tail released by an in-place realloc shrink reused? realloc 96 KiB->40 KiB, "
           "then malloc(48 KiB) (portable analogue of partial free)")
{
    char *p = conf_malloc(96 << 10);
    memset(p, 1, 96 << 10);
    char *q = conf_realloc(p, 40 << 10);
    char *n = conf_malloc(48 << 10);
    int in_tail = n > q && n < q + (96 << 10);
    conf_observe("shrink %s; next malloc(48K) %s", q == p ? "in place" : "moved",
                 in_tail ? "inside the released tail" : "elsewhere");
}

CONF_CHECK(pf05_shrink_rss, "PF-05", "partial-free", CONF_REP, 0,
           "does an in-place shrink return the tail to the OS? RSS after realloc 64 MiB (touched) "
           "-> 1 MiB (portable analogue of partial free)")
{
    long base = conf_rss_kb();
    char *p = conf_malloc(64u << 20);
    memset(p, 1, 64u << 20);
    long full = conf_rss_kb();
    char *q = conf_realloc(p, 1u << 20);
    long after = conf_rss_kb();
    conf_observe("shrink %s; RSS %+ld MiB at 64 MiB, %+ld MiB after the shrink",
                 q == p ? "in place" : "moved", (full - base) / 1024, (after - base) / 1024);
}

CONF_CHECK(pf06_misuse, "PF-06", "partial-free", CONF_OWN, 0,
           "free_range refuses (non-zero) a range already released, one reaching past the block, "
           "and a pointer that is no block; the block stays usable (catalogue PF-06)")
{
    int (*free_range)(void *, size_t) = CONF_EXT_NEED(free_range);
    char *p = conf_malloc(256);
    memset(p, 9, 256);
    int r = free_range(p + 128, 64);
    if (r != 0)
        conf_fail("free_range(p+128, 64) of a 256-byte block returned %d, expected 0", r);
    r = free_range(p + 150, 10);
    if (r == 0)
        conf_fail("free_range(p+150, 10) inside the released [p+128, p+192) returned 0");
    r = free_range(p + 120, 16);
    if (r == 0)
        conf_fail("free_range(p+120, 16) overlapping the released range returned 0");
    r = free_range(p + 200, 1u << 20);
    if (r == 0)
        conf_fail("free_range(p+200, 1 MiB) past the end of the block returned 0");
    static char not_heap[64];
    r = free_range(not_heap, 16);
    if (r == 0)
        conf_fail("free_range(static array, 16) returned 0");
    for (int i = 0; i < 128; i++)
        if (p[i] != 9)
            conf_fail("refused free_range calls changed byte %d of the block", i);
    memset(p, 4, 128);
    if (free_range(p, 128) != 0 || free_range(p + 192, 64) != 0)
        conf_fail("releasing the remaining live ranges [p, p+128) and [p+192, p+256) failed");
}

CONF_CHECK(pf07_usable_after, "PF-07", "partial-free", CONF_OWN, 0,
           "after free_range of the tail [p+16K, p+64K) of a 64 KiB block, usable_size(p) is at "
           "least 16 KiB and below the old usable size (ralloc __rust_usable_size)")
{
    int (*free_range)(void *, size_t) = CONF_EXT_NEED(free_range);
    size_t (*usable)(void *) = CONF_EXT_NEED(usable_size);
    char *p = conf_malloc(64 << 10);
    size_t u0 = usable(p);
    int r = free_range(p + (16 << 10), u0 - (16 << 10));
    if (r != 0)
        conf_fail("free_range(p+16K, %zu) returned %d", u0 - (16 << 10), r);
    size_t u1 = usable(p);
    if (u1 < (16 << 10) || u1 >= u0)
        conf_fail("usable size after releasing the tail from 16 KiB: %zu, expected in [16384, %zu)",
                  u1, u0);
    memset(p, 1, 16 << 10);
    conf_free(p);
}

CONF_CHECK(pf08_range_returns_pages, "PF-08", "partial-free", CONF_OWN, 0,
           "free_range of the middle 8 MiB of a touched 16 MiB block gives those pages back to "
           "the OS at once (RSS drops), and both ends keep their bytes (heapmark DESIGN.md, "
           "sable_free_range)")
{
    int (*free_range)(void *, size_t) = CONF_EXT_NEED(free_range);
    size_t n = 16u << 20, mid = 4u << 20, len = 8u << 20;
    char *p = conf_malloc(n);
    if (p == NULL)
        conf_fail("malloc(16 MiB) = NULL");
    conf_fill(p, mid, 21);
    memset(p + mid, 1, len);
    conf_fill(p + mid + len, n - mid - len, 22);
    long before = conf_rss_kb();
    int r = free_range(p + mid, len);
    long after = conf_rss_kb();
    if (r != 0)
        conf_fail("free_range(p+4M, 8M) of a 16 MiB block returned %d", r);
    if (before - after < 4096)
        conf_fail("RSS dropped by %ld KiB after releasing 8 MiB in the middle, expected >= 4096",
                  before - after);
    long bad = conf_check_fill(p, mid, 21);
    if (bad >= 0)
        conf_fail("byte %ld of the head changed", bad);
    bad = conf_check_fill(p + mid + len, n - mid - len, 22);
    if (bad >= 0)
        conf_fail("byte %ld of the tail (from p+12M) changed", bad);
    if (free_range(p, mid) != 0 || free_range(p + mid + len, n - mid - len) != 0)
        conf_fail("releasing the head and the tail failed");
}
