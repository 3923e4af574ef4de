/* in_place.c: catalogue area IP (resizing without moving). */
#define _GNU_SOURCE
#include "conf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

CONF_CHECK(ip01_realloc_to_usable, "IP-01", "in-place", CONF_REP, 0,
           "does realloc(p, usable_size(p)) return p? sizes 3 KiB..256 KiB step 2 KiB (glibc "
           "tst-realloc.c, guaranteed from 2.37, commit f4f2ca15)")
{
    size_t (*usable)(void *) = CONF_EXT_NEED(usable_size);
    int moved = 0, total = 0;
    size_t first = 0;
    for (size_t n = 3072; n <= 256 * 1024; n += 2048) {
        char *p = conf_malloc(n);
        size_t u = usable(p);
        char *q = conf_realloc(p, u);
        total++;
        if (q != p && moved++ == 0)
            first = n;
        conf_free(q);
    }
    if (moved == 0)
        conf_observe("kept in place for all %d sizes", total);
    conf_observe("moved for %d of %d sizes (first at %zu)", moved, total, first);
}

static const char *ip_try(size_t from, size_t to, char *buf, size_t size)
{
    char *p = conf_malloc(from);
    conf_fill(p, from < to ? from : to, 3);
    char *q = conf_realloc(p, to);
    snprintf(buf, size, "%s", q == NULL ? "NULL" : q == p ? "in place" : "moved");
    conf_free(q);
    return buf;
}

CONF_CHECK(ip02_shrink, "IP-02", "in-place", CONF_REP, 0,
           "which realloc shrinks stay in place: 24->16, 1000->600, 1000->100, 64K->60K, "
           "1M->512K, 1M->4K, 16M->1M (jemalloc manual; mimalloc _mi_heap_realloc_zero; glibc "
           "_int_realloc, mremap)")
{
    size_t cases[][2] = {{24, 16}, {1000, 600}, {1000, 100}, {65536, 61440},
                         {1u << 20, 512u << 10}, {1u << 20, 4096}, {16u << 20, 1u << 20}};
    const char *names[] = {"24->16", "1000->600", "1000->100", "64K->60K", "1M->512K", "1M->4K",
                           "16M->1M"};
    char out[400] = "", one[16];
    size_t len = 0;
    for (int i = 0; i < 7; i++)
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%s %s", i ? ", " : "", names[i],
                                ip_try(cases[i][0], cases[i][1], one, sizeof one));
    conf_observe("%s", out);
}

CONF_CHECK(ip03_grow, "IP-03", "in-place", CONF_REP, 0,
           "which realloc growths stay in place: 100->101, 1M->1M+4K, and doubling 1 KiB->64 MiB "
           "(jemalloc manual; catalogue IP-03)")
{
    char out[400] = "", one[16];
    size_t len = 0;
    len += (size_t)snprintf(out + len, sizeof out - len, "100->101 %s",
                            ip_try(100, 101, one, sizeof one));
    len += (size_t)snprintf(out + len, sizeof out - len, ", 1M->1M+4K %s",
                            ip_try(1u << 20, (1u << 20) + 4096, one, sizeof one));
    char *p = conf_malloc(1024);
    int inplace = 0, steps = 0;
    for (size_t n = 2048; n <= (64u << 20); n *= 2) {
        char *q = conf_realloc(p, n);
        if (q == NULL)
            conf_observe("%s, doubling: NULL at %zu", out, n);
        steps++;
        inplace += q == p;
        q[n - 1] = 1;
        p = q;
    }
    conf_free(p);
    conf_observe("%s, doubling 1K->64M: %d of %d steps in place", out, inplace, steps);
}

CONF_CHECK(ip04_native_resize, "IP-04", "in-place", CONF_REP, 0,
           "what the native no-move call does (xallocx, mi_expand, sable_resize_in_place): shrink, "
           "grow by one byte, grow a large block (jemalloc xallocx.c + manual; mimalloc src/alloc.c)")
{
    void *(*resize)(void *, size_t) = CONF_EXT_NEED(resize_in_place);
    size_t cases[][2] = {{1000, 600}, {100, 101}, {1000, 4000}, {1u << 20, (1u << 20) + 4096},
                         {4u << 20, 8u << 20}, {4u << 20, 1u << 20}};
    const char *names[] = {"1000->600", "100->101", "1000->4000", "1M->1M+4K", "4M->8M", "4M->1M"};
    char out[400] = "";
    size_t len = 0;
    for (int i = 0; i < 6; i++) {
        char *p = conf_malloc(cases[i][0]);
        void *r = resize(p, cases[i][1]);
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%s %s", i ? ", " : "", names[i],
                                r == p ? "ok" : r == NULL ? "refused" : "MOVED");
        conf_free(p);
    }
    conf_observe("%s", out);
}

CONF_CHECK(ip05_resize_contract, "IP-05", "in-place", CONF_OWN, 0,
           "resize_in_place: a refusal leaves block, contents and usable size unchanged; success "
           "returns p with usable >= request and contents kept (jemalloc xallocx.c; ralloc)")
{
    void *(*resize)(void *, size_t) = CONF_EXT_NEED(resize_in_place);
    size_t (*usable)(void *) = CONF_EXT_NEED(usable_size);
    size_t sizes[] = {24, 100, 1000, 5000, 70000, 1u << 20};
    for (int i = 0; i < 6; i++) {
        size_t n = sizes[i];
        size_t targets[] = {n / 2, n + 1, 2 * n, 16 * n};
        for (int t = 0; t < 4; t++) {
            char *p = conf_malloc(n);
            conf_fill(p, n, (unsigned)t);
            size_t u0 = usable(p);
            void *r = resize(p, targets[t]);
            size_t keep = n < targets[t] ? n : targets[t];
            if (r == NULL) {
                if (usable(p) != u0)
                    conf_fail("refused resize %zu->%zu changed the usable size %zu -> %zu", n,
                              targets[t], u0, usable(p));
                if (conf_check_fill(p, n, (unsigned)t) >= 0)
                    conf_fail("refused resize %zu->%zu changed byte %ld", n, targets[t],
                              conf_check_fill(p, n, (unsigned)t));
            } else {
                if (r != p)
                    conf_fail("resize %zu->%zu returned %p, not p = %p", n, targets[t], r, (void *)p);
                if (usable(p) < targets[t])
                    conf_fail("resize %zu->%zu succeeded but usable size is %zu", n, targets[t],
                              usable(p));
                if (conf_check_fill(p, keep, (unsigned)t) >= 0)
                    conf_fail("resize %zu->%zu changed byte %ld", n, targets[t],
                              conf_check_fill(p, keep, (unsigned)t));
                memset(p, 0x44, targets[t]);
            }
            conf_free(p);
        }
    }
}

CONF_CHECK(ip06_resize_overflow, "IP-06", "in-place", CONF_OWN, 0,
           "resize_in_place to SIZE_MAX, SIZE_MAX-8, PTRDIFF_MAX+1 is refused, never wrapped "
           "(jemalloc xallocx.c test_size_extra_overflow)")
{
    void *(*resize)(void *, size_t) = CONF_EXT_NEED(resize_in_place);
    size_t (*usable)(void *) = CONF_EXT_NEED(usable_size);
    size_t huge[] = {SIZE_MAX, SIZE_MAX - 8, (size_t)PTRDIFF_MAX + 1};
    size_t blocks[] = {64, 100000, 4u << 20};
    for (int b = 0; b < 3; b++) {
        char *p = conf_malloc(blocks[b]);
        conf_fill(p, blocks[b], 1);
        size_t u0 = usable(p);
        for (int i = 0; i < 3; i++) {
            void *r = resize(p, huge[i]);
            if (r != NULL)
                conf_fail("resize(%zu-byte block, %zu) = %p, expected a refusal", blocks[b],
                          huge[i], r);
            if (usable(p) != u0 || conf_check_fill(p, blocks[b], 1) >= 0)
                conf_fail("refused resize(%zu-byte block, %zu) changed the block", blocks[b],
                          huge[i]);
        }
        conf_free(p);
    }
}
