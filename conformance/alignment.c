/* alignment.c: catalogue area AL (alignment of every allocation function). */
#define _GNU_SOURCE
#include "conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ALIGN 16 /* alignof(max_align_t) on x86-64 and aarch64 */

CONF_CHECK(al01_fundamental, "AL-01", "alignment", CONF_STD, 0,
           "malloc/calloc/realloc results for n = 1..4096 are aligned to max_align_t "
           "(C17 7.22.3p1; C23 7.24.3p1 allows the weak form; glibc tst-mallocalign1.c)")
{
    static void *keep[4096];
    size_t weak_only = 0, weak_example = 0;
    void *grow = NULL;
    for (size_t n = 1; n <= 4096; n++) {
        void *p[3];
        const char *what[3] = {"malloc", "calloc", "realloc"};
        p[0] = conf_malloc(n);
        p[1] = conf_calloc(1, n);
        p[2] = grow = conf_realloc(grow, n);
        for (int k = 0; k < 3; k++) {
            if (p[k] == NULL)
                conf_fail("%s(%zu) returned NULL", what[k], n);
            if (!conf_aligned(p[k], MAX_ALIGN)) {
                if (!conf_aligned(p[k], conf_weak_alignment(n)))
                    conf_fail("%s(%zu) = %p: aligned to %zu, expected %zu (weak form %zu)",
                              what[k], n, p[k], conf_alignment_of(p[k]), (size_t)MAX_ALIGN,
                              conf_weak_alignment(n));
                if (weak_only++ == 0)
                    weak_example = n;
            }
        }
        keep[n - 1] = p[0];
        conf_free(p[1]);
    }
    for (size_t n = 0; n < 4096; n++)
        conf_free(keep[n]);
    conf_free(grow);
    if (weak_only)
        conf_pass("weak (C23) alignment only: %zu results below 16-alignment, first for n = %zu",
                  weak_only, weak_example);
}

static void sweep_one(const char *fn, void *p, size_t a, size_t n)
{
    if (p == NULL)
        conf_fail("%s(align %zu, size %zu) returned NULL", fn, a, n);
    if (!conf_aligned(p, a))
        conf_fail("%s(align %zu, size %zu) = %p: only %zu-aligned", fn, a, n, p,
                  conf_alignment_of(p));
    if (conf_ext()->usable_size != NULL && conf_ext()->usable_size(p) < n)
        conf_fail("%s(align %zu, size %zu): usable size %zu < %zu", fn, a, n,
                  conf_ext()->usable_size(p), n);
    ((volatile char *)p)[n - 1] = 1;
    ((volatile char *)p)[0] = 1;
}

CONF_CHECK(al02_sweep, "AL-02", "alignment", CONF_STD, 20,
           "aligned_alloc/posix_memalign/memalign: align 2^0..2^22 x size {1,a/2,a-1,a,a+1,2a,3a}, "
           "aligned, usable >= size (jemalloc integration/aligned_alloc.c, posix_memalign.c; "
           "mimalloc malloc-aligned*)")
{
    conf_aligned_alloc_fn aa = CONF_NEED(conf_aligned_alloc_fn, aligned_alloc);
    conf_posix_memalign_fn pm = CONF_NEED(conf_posix_memalign_fn, posix_memalign);
    char lib[256];
    conf_memalign_fn ma = NULL;
    if (conf_symbol_owner("memalign", lib, sizeof lib) == 1)
        ma = CONF_NEED(conf_memalign_fn, memalign);
    for (int k = 0; k <= 22; k++) {
        size_t a = (size_t)1 << k;
        size_t sizes[] = {1, a / 2, a - 1, a, a + 1, 2 * a, 3 * a};
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t n = sizes[s];
            if (n == 0)
                continue;
            for (int rep = 0; rep < 8; rep++) {
                void *p = aa(a, n);
                sweep_one("aligned_alloc", p, a, n);
                conf_free(p);
                if (a >= sizeof(void *)) {
                    void *q = NULL;
                    int r = pm(&q, a, n);
                    if (r != 0)
                        conf_fail("posix_memalign(align %zu, size %zu) returned %s", a, n,
                                  conf_errname(r));
                    sweep_one("posix_memalign", q, a, n);
                    conf_free(q);
                }
                if (ma != NULL) {
                    void *m = ma(a, n);
                    sweep_one("memalign", m, a, n);
                    conf_free(m);
                }
            }
        }
    }
    if (ma == NULL)
        conf_pass("memalign not the allocator's own: aligned_alloc and posix_memalign only");
}

CONF_CHECK(al03_size_eq_align, "AL-03", "alignment", CONF_STD, 0,
           "aligned_alloc(a, a) and posix_memalign(a, a) for a = 16..4096, 64 live blocks each "
           "(mimalloc test-api mimalloc-aligned12/13, after 2.0.9)")
{
    conf_aligned_alloc_fn aa = CONF_NEED(conf_aligned_alloc_fn, aligned_alloc);
    conf_posix_memalign_fn pm = CONF_NEED(conf_posix_memalign_fn, posix_memalign);
    void *live[128];
    for (size_t a = 16; a <= 4096; a *= 2) {
        for (int i = 0; i < 64; i++) {
            live[2 * i] = aa(a, a);
            if (live[2 * i] == NULL)
                conf_fail("aligned_alloc(%zu, %zu) #%d = NULL", a, a, i);
            if (!conf_aligned(live[2 * i], a))
                conf_fail("aligned_alloc(%zu, %zu) #%d = %p: only %zu-aligned", a, a, i,
                          live[2 * i], conf_alignment_of(live[2 * i]));
            live[2 * i + 1] = NULL;
            int r = pm(&live[2 * i + 1], a, a);
            if (r != 0 || !conf_aligned(live[2 * i + 1], a))
                conf_fail("posix_memalign(%zu, %zu) #%d = %p, returned %s", a, a, i,
                          live[2 * i + 1], conf_errname(r));
            memset(live[2 * i], 0x5a, a);
            memset(live[2 * i + 1], 0xa5, a);
        }
        for (int i = 0; i < 128; i++)
            conf_free(live[i]);
    }
}

CONF_CHECK(al04_huge_alignment, "AL-04", "alignment", CONF_STD, 0,
           "aligned_alloc(64 MiB, 1) and posix_memalign(64 MiB, 1) succeed and are aligned "
           "(mimalloc malloc-aligned7/8; jemalloc rallocx test_align)")
{
    conf_aligned_alloc_fn aa = CONF_NEED(conf_aligned_alloc_fn, aligned_alloc);
    conf_posix_memalign_fn pm = CONF_NEED(conf_posix_memalign_fn, posix_memalign);
    size_t a = (size_t)64 << 20;
    void *p = aa(a, 1);
    if (p == NULL || !conf_aligned(p, a))
        conf_fail("aligned_alloc(64 MiB, 1) = %p (%s)", p, p ? "misaligned" : "NULL");
    *(volatile char *)p = 1;
    void *q = NULL;
    int r = pm(&q, a, 1);
    if (r != 0 || q == NULL || !conf_aligned(q, a))
        conf_fail("posix_memalign(64 MiB, 1) returned %s, p = %p", conf_errname(r), q);
    *(volatile char *)q = 1;
    conf_free(p);
    conf_free(q);
}

CONF_CHECK(al05_valloc, "AL-05", "alignment", CONF_EXT, 0,
           "valloc(32) and pvalloc(32) are page-aligned, pvalloc covers a whole page, both "
           "free (glibc tst-valloc.c, tst-pvalloc.c, tst-pvalloc-fortify.c)")
{
    char lib[256];
    size_t page = conf_page();
    int have_v = conf_symbol_owner("valloc", lib, sizeof lib) == 1;
    int have_p = conf_symbol_owner("pvalloc", lib, sizeof lib) == 1;
    if (!have_v && !have_p)
        conf_need("valloc"); /* ends as unsupported, naming the owner */
    if (have_v) {
        conf_valloc_fn v = CONF_NEED(conf_valloc_fn, valloc);
        void *p = v(32);
        if (p == NULL || !conf_aligned(p, page))
            conf_fail("valloc(32) = %p, expected a %zu-aligned block", p, page);
        memset(p, 1, 32);
        conf_free(p);
    }
    if (have_p) {
        conf_valloc_fn pv = CONF_NEED(conf_valloc_fn, pvalloc);
        void *p = pv(32);
        if (p == NULL || !conf_aligned(p, page))
            conf_fail("pvalloc(32) = %p, expected a %zu-aligned block", p, page);
        if (conf_ext()->usable_size != NULL && conf_ext()->usable_size(p) < page)
            conf_fail("pvalloc(32): usable size %zu, expected >= page %zu",
                      conf_ext()->usable_size(p), page);
        memset(p, 1, page); /* the whole rounded-up page belongs to the caller */
        conf_free(p);
    }
    if (!have_v || !have_p)
        conf_pass("%s is not the allocator's own; the other one passed", have_v ? "pvalloc" : "valloc");
}

CONF_CHECK(al06_bad_alignment, "AL-06", "alignment", CONF_STD, 0,
           "aligned_alloc with alignment 0, 3, 24, 65, SIZE_MAX/2+1 returns NULL, errno EINVAL "
           "(C17 7.22.3.1 DR 460; POSIX.1-2024; glibc tst-aligned-alloc.c 2.38+; jemalloc "
           "aligned_alloc.c)")
{
    conf_aligned_alloc_fn aa = CONF_NEED(conf_aligned_alloc_fn, aligned_alloc);
    size_t bad[] = {0, 3, 24, 65, SIZE_MAX / 2 + 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = CONF_ERRNO_SENTINEL;
        void *p = aa(bad[i], 64);
        int e = errno;
        if (p != NULL)
            conf_fail("aligned_alloc(%zu, 64) = %p (%zu-aligned), expected NULL for an "
                      "unsupported alignment",
                      bad[i], p, conf_alignment_of(p));
        /* 2^63 is a power of two: "not supported" (EINVAL) or "no memory" (ENOMEM) */
        int ok = e == EINVAL || (bad[i] == SIZE_MAX / 2 + 1 && e == ENOMEM);
        if (!ok)
            conf_fail("aligned_alloc(%zu, 64) = NULL with %s, expected EINVAL", bad[i],
                      conf_errname(e));
    }
}

CONF_CHECK(al07_size_not_multiple, "AL-07", "alignment", CONF_STD, 0,
           "aligned_alloc(64, 1) and (4096, 100) succeed: C17 dropped the size-multiple rule "
           "(C17 7.22.3.1 DR 460)")
{
    conf_aligned_alloc_fn aa = CONF_NEED(conf_aligned_alloc_fn, aligned_alloc);
    size_t cases[][2] = {{64, 1}, {4096, 100}, {256, 1000}};
    for (size_t i = 0; i < 3; i++) {
        errno = CONF_ERRNO_SENTINEL;
        void *p = aa(cases[i][0], cases[i][1]);
        if (p == NULL)
            conf_fail("aligned_alloc(%zu, %zu) = NULL (%s), expected a block", cases[i][0],
                      cases[i][1], conf_errname(errno));
        if (!conf_aligned(p, cases[i][0]))
            conf_fail("aligned_alloc(%zu, %zu) = %p, misaligned", cases[i][0], cases[i][1], p);
        memset(p, 1, cases[i][1]);
        conf_free(p);
    }
}

CONF_CHECK(al08_posix_memalign_errors, "AL-08", "alignment", CONF_STD, 0,
           "posix_memalign: alignment 0, 4, 24, 0x300, SIZE_MAX -> EINVAL; (8, SIZE_MAX), "
           "(4096, -4096) -> ENOMEM; *p untouched or NULL (POSIX; glibc tst-posix_memalign.c; "
           "mimalloc posix_memalign_*)")
{
    conf_posix_memalign_fn pm = CONF_NEED(conf_posix_memalign_fn, posix_memalign);
    static char marker;
    size_t page = conf_page();
    struct { size_t a, n; int want; } cases[] = {
        {0, 16, EINVAL},       {4, 16, EINVAL},          {24, 16, EINVAL},
        {0x300, 16, EINVAL},   {SIZE_MAX, 16, EINVAL},   {8, SIZE_MAX, ENOMEM},
        {page, (size_t)0 - page, ENOMEM},
    };
    int errno_written = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        void *p = &marker;
        errno = CONF_ERRNO_SENTINEL;
        int r = pm(&p, cases[i].a, cases[i].n);
        if (errno != CONF_ERRNO_SENTINEL)
            errno_written++;
        if (r != cases[i].want) {
            if (r == 0)
                conf_free(p);
            conf_fail("posix_memalign(&p, %zu, %zu) returned %s, expected %s", cases[i].a,
                      cases[i].n, conf_errname(r), conf_errname(cases[i].want));
        }
        if (p != &marker && p != NULL)
            conf_fail("posix_memalign(&p, %zu, %zu) failed but set p to %p (expected unchanged "
                      "or NULL)",
                      cases[i].a, cases[i].n, p);
    }
    if (errno_written)
        conf_pass("errno also written in %d of 7 error cases", errno_written);
}

#define PROBLEM(...)                                                                     \
    do {                                                                                 \
        if (len < sizeof problems)                                                       \
            len += (size_t)snprintf(problems + len, sizeof problems - len, "%s",        \
                                    len ? "; " : "");                                   \
        if (len < sizeof problems)                                                       \
            len += (size_t)snprintf(problems + len, sizeof problems - len, __VA_ARGS__); \
    } while (0)

CONF_CHECK(al09_memalign, "AL-09", "alignment", CONF_EXT, 0,
           "memalign: (0x100,10) and (4096,0) aligned; (8,SIZE_MAX), (page,-page) -> NULL "
           "ENOMEM; (SIZE_MAX,page) -> NULL; alignment 0/3/48 -> NULL or rounded up "
           "(glibc tst-memalign.c; glibc manual and malloc(3))")
{
    conf_memalign_fn ma = CONF_NEED(conf_memalign_fn, memalign);
    size_t page = conf_page();
    char problems[440] = "";
    size_t len = 0;
    void *p = ma(0x100, 10);
    if (p == NULL || !conf_aligned(p, 0x100))
        PROBLEM("memalign(0x100, 10) = %p", p);
    conf_free(p);
    void *z[4];
    for (int i = 0; i < 4; i++) {
        z[i] = ma(4096, 0);
        if (z[i] != NULL && !conf_aligned(z[i], 4096)) {
            PROBLEM("memalign(4096, 0) #%d = %p: only %zu-aligned", i, z[i],
                    conf_alignment_of(z[i]));
            break;
        }
    }
    struct { size_t a, n; } nomem[] = {{8, SIZE_MAX}, {page, (size_t)0 - page}};
    for (int i = 0; i < 2; i++) {
        errno = CONF_ERRNO_SENTINEL;
        p = ma(nomem[i].a, nomem[i].n);
        int e = errno;
        if (p != NULL)
            PROBLEM("memalign(%zu, %zu) = %p, expected NULL", nomem[i].a, nomem[i].n, p);
        else if (e != ENOMEM)
            PROBLEM("memalign(%zu, %zu) = NULL with %s, expected ENOMEM", nomem[i].a,
                    nomem[i].n, conf_errname(e));
    }
    errno = CONF_ERRNO_SENTINEL;
    p = ma(SIZE_MAX, page);
    if (p != NULL)
        PROBLEM("memalign(SIZE_MAX, %zu) = %p, expected NULL", page, p);
    size_t odd[] = {0, 3, 48};
    for (int i = 0; i < 3; i++) {
        p = ma(odd[i], 10);
        if (p == NULL)
            continue;
        size_t want = 1;
        while (want < odd[i])
            want <<= 1;
        if (!conf_aligned(p, want))
            PROBLEM("memalign(%zu, 10) = %p: expected NULL or %zu-aligned", odd[i], p, want);
        conf_free(p);
    }
    if (len)
        conf_fail("%s", problems);
}

CONF_CHECK(al10_realloc_keeps_alignment, "AL-10", "alignment", CONF_REP, 0,
           "does realloc of a 4096-aligned block keep 4096 alignment? (C 7.22.3p1 guarantees "
           "fundamental alignment only)")
{
    conf_aligned_alloc_fn aa = CONF_NEED(conf_aligned_alloc_fn, aligned_alloc);
    size_t sizes[] = {200, 5000, 100000, 2000000};
    char out[256] = "";
    size_t len = 0;
    for (size_t i = 0; i < 4; i++) {
        void *p = aa(4096, 100);
        void *q = conf_realloc(p, sizes[i]);
        len += (size_t)snprintf(out + len, sizeof out - len, "%s100->%zu: %s", i ? ", " : "",
                                sizes[i],
                                q == NULL ? "NULL" : conf_aligned(q, 4096) ? "kept" : "lost");
        conf_free(q);
    }
    conf_observe("4096 alignment after realloc %s", out);
}

CONF_CHECK(al11_memalign_reuse, "AL-11", "alignment", CONF_REP, 0,
           "is a freed aligned block reused by the next request of the same alignment and size? "
           "(glibc tst-memalign-2/3.c, 2.38+)")
{
    conf_aligned_alloc_fn aa = CONF_NEED(conf_aligned_alloc_fn, aligned_alloc);
    size_t cases[][2] = {{64, 200}, {4096, 4096}, {65536, 100000}};
    char out[256] = "";
    size_t len = 0;
    for (int i = 0; i < 3; i++) {
        void *p = aa(cases[i][0], cases[i][1]);
        conf_free(p);
        void *q = aa(cases[i][0], cases[i][1]);
        len += (size_t)snprintf(out + len, sizeof out - len, "%s(%zu,%zu): %s", i ? ", " : "",
                                cases[i][0], cases[i][1], p == q ? "reused" : "not reused");
        conf_free(q);
    }
    conf_observe("%s", out);
}

CONF_CHECK(al12_aligned_any, "AL-12", "alignment", CONF_OWN, 0,
           "aligned_any: any alignment > 0 (3, 24, 48, 100, 1000, 4095, 12288, and powers of two) "
           "gives an aligned block of usable size >= n; (4096, 0) gives unique aligned pointers "
           "(heapmark DESIGN.md, sable_aligned_alloc_any)")
{
    void *(*any)(size_t, size_t) = CONF_EXT_NEED(aligned_any);
    size_t aligns[] = {1, 3, 8, 24, 48, 64, 100, 1000, 4095, 4096, 12288, 65536, 100000};
    size_t sizes[] = {1, 7, 100, 4096, 70000};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
            void *p[4];
            for (int k = 0; k < 4; k++) {
                p[k] = any(aligns[i], sizes[j]);
                if (p[k] == NULL)
                    conf_fail("aligned_any(%zu, %zu) = NULL", aligns[i], sizes[j]);
                if ((uintptr_t)p[k] % aligns[i] != 0)
                    conf_fail("aligned_any(%zu, %zu) = %p: address %% %zu = %zu", aligns[i],
                              sizes[j], p[k], aligns[i], (size_t)((uintptr_t)p[k] % aligns[i]));
                if (conf_ext()->usable_size && conf_ext()->usable_size(p[k]) < sizes[j])
                    conf_fail("aligned_any(%zu, %zu): usable size %zu", aligns[i], sizes[j],
                              conf_ext()->usable_size(p[k]));
                memset(p[k], 0x5a, sizes[j]);
            }
            for (int k = 0; k < 4; k++)
                conf_free(p[k]);
        }
    }
    void *z[8];
    for (int k = 0; k < 8; k++) {
        z[k] = any(4096, 0);
        if (z[k] == NULL || !conf_aligned(z[k], 4096))
            conf_fail("aligned_any(4096, 0) #%d = %p, expected a unique 4096-aligned pointer", k,
                      z[k]);
        for (int m = 0; m < k; m++)
            if (z[m] == z[k])
                conf_fail("aligned_any(4096, 0) returned %p twice while both are live", z[k]);
    }
    for (int k = 0; k < 8; k++)
        conf_free(z[k]);
}
