/* memory_return.c: catalogue area RT (giving memory back to the OS). All
   REP: what happens, and when, is the allocator's policy. */
#define _GNU_SOURCE
#include "conf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB(kb) ((kb) / 1024)

CONF_CHECK(rt01_large_free, "RT-01", "memory-return", CONF_REP, 0,
           "RSS right after freeing a single touched 128 MiB block (derived: mmap threshold, "
           "jemalloc oversize_threshold)")
{
    long base = conf_rss_kb();
    char *p = conf_malloc(128u << 20);
    if (p == NULL)
        conf_observe("malloc(128 MiB) = NULL");
    memset(p, 1, 128u << 20);
    long full = conf_rss_kb();
    conf_free(p);
    long after = conf_rss_kb();
    conf_observe("RSS %+ld MiB with the block, %+ld MiB right after free", MIB(full - base),
                 MIB(after - base));
}

CONF_CHECK(rt02_small_free, "RT-02", "memory-return", CONF_REP, 10,
           "RSS after freeing 1 M x 48-byte blocks: at once, after 1 s idle, after the purge "
           "extension (glibc tst-trim1.c; jemalloc arena.<i>.purge; mimalloc mi_collect)")
{
    enum { N = 1 << 20 };
    static void *blk[N];
    long base = conf_rss_kb();
    for (int i = 0; i < N; i++) {
        blk[i] = conf_malloc(48);
        memset(blk[i], 1, 48);
    }
    long full = conf_rss_kb();
    for (int i = 0; i < N; i++)
        conf_free(blk[i]);
    long at_once = conf_rss_kb();
    conf_sleep_ms(1000);
    conf_free(conf_malloc(48));
    long idle = conf_rss_kb();
    char purged[64] = "no purge extension";
    if (conf_ext()->purge != NULL) {
        int r = conf_ext()->purge();
        snprintf(purged, sizeof purged, "%+ld MiB after purge (returned %d)",
                 MIB(conf_rss_kb() - base), r);
    }
    conf_observe("RSS %+ld MiB live, %+ld MiB after free, %+ld MiB after 1 s, %s",
                 MIB(full - base), MIB(at_once - base), MIB(idle - base), purged);
}

CONF_CHECK(rt03_decay, "RT-03", "memory-return", CONF_REP, 10,
           "decay without an explicit call: RSS after freeing 64 x 4 MiB, at once and after 3 s "
           "idle plus one malloc (jemalloc opt.dirty_decay_ms 10 s; mimalloc decommit delays)")
{
    static void *blk[64];
    long base = conf_rss_kb();
    for (int i = 0; i < 64; i++) {
        blk[i] = conf_malloc(4u << 20);
        memset(blk[i], 1, 4u << 20);
    }
    long full = conf_rss_kb();
    for (int i = 0; i < 64; i++)
        conf_free(blk[i]);
    long at_once = conf_rss_kb();
    conf_sleep_ms(3000);
    conf_free(conf_malloc(4u << 20));
    long later = conf_rss_kb();
    conf_observe("RSS %+ld MiB live, %+ld MiB after free, %+ld MiB after 3 s", MIB(full - base),
                 MIB(at_once - base), MIB(later - base));
}

CONF_CHECK(rt04_brk_blocked, "RT-04", "memory-return", CONF_REP, 0,
           "with the program break blocked by a fixed mapping, do small and 10 MiB requests fall "
           "back to mmap? (glibc tst-malloc-alternate-path.c, 2.40+)")
{
    uintptr_t brk_end = (uintptr_t)sbrk(0);
    size_t page = conf_page();
    uintptr_t at = (brk_end + page - 1) & ~(uintptr_t)(page - 1);
    void *m = mmap((void *)at, 64 * page, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (m == MAP_FAILED)
        conf_unsupported("cannot map over the program break: %s", strerror(errno));
    static void *small[20000];
    int ok_small = 1;
    for (int i = 0; i < 20000; i++) {
        small[i] = conf_malloc(200);
        if (small[i] == NULL) {
            ok_small = 0;
            break;
        }
        memset(small[i], 1, 200);
    }
    void *big = conf_malloc(10u << 20);
    if (big != NULL)
        memset(big, 1, 10u << 20);
    conf_observe("20000 x 200 B %s, 10 MiB %s", ok_small ? "served" : "failed",
                 big ? "served" : "failed");
}

CONF_CHECK(rt05_purge_after_fragmentation, "RT-05", "memory-return", CONF_REP, 0,
           "the purge extension after heavy fragmentation: its result, RSS, and whether "
           "surviving blocks stay intact (glibc tst-trim1.c; glibc manual Replacing malloc)")
{
    int (*purge)(void) = CONF_EXT_NEED(purge);
    enum { N = 100000 };
    static char *blk[N];
    for (int i = 0; i < N; i++) {
        size_t n = 16 + (size_t)(i % 37) * 61;
        blk[i] = conf_malloc(n);
        conf_fill(blk[i], n, (unsigned)i);
    }
    for (int i = 0; i < N; i += 2)
        conf_free(blk[i]);
    long before = conf_rss_kb();
    int r = purge();
    long after = conf_rss_kb();
    int damaged = 0;
    for (int i = 1; i < N; i += 2) {
        if (conf_check_fill(blk[i], 16 + (size_t)(i % 37) * 61, (unsigned)i) >= 0)
            damaged++;
        conf_free(blk[i]);
    }
    conf_observe("purge returned %d, RSS %ld -> %ld MiB, %s", r, MIB(before), MIB(after),
                 damaged ? "SURVIVING BLOCKS DAMAGED" : "survivors intact");
}
