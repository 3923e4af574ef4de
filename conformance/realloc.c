/* realloc.c: catalogue area RE (realloc semantics). */
#define _GNU_SOURCE
#include "conf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const size_t re_sizes[] = {16, 200, 3000, 70000, 600000, 5u << 20};
#define RE_NSIZES (sizeof re_sizes / sizeof re_sizes[0])

CONF_CHECK(re01_contents, "RE-01", "realloc", CONF_STD, 0,
           "realloc keeps contents up to min(old,new) over a 6x6 size matrix (16 B..5 MiB); a "
           "calloc'd prefix stays zero after growth (C17 7.22.3.5; glibc tst-realloc.c; jemalloc "
           "rallocx.c)")
{
    for (size_t i = 0; i < RE_NSIZES; i++) {
        for (size_t j = 0; j < RE_NSIZES; j++) {
            size_t a = re_sizes[i], b = re_sizes[j];
            char *p = conf_malloc(a);
            if (p == NULL)
                conf_fail("malloc(%zu) = NULL", a);
            conf_fill(p, a, (unsigned)(i * 7 + j));
            char *q = conf_realloc(p, b);
            if (q == NULL)
                conf_fail("realloc(%zu -> %zu) = NULL", a, b);
            size_t keep = a < b ? a : b;
            long bad = conf_check_fill(q, keep, (unsigned)(i * 7 + j));
            if (bad >= 0)
                conf_fail("realloc(%zu -> %zu)%s: byte %ld changed", a, b,
                          q == p ? " in place" : " moved", bad);
            memset(q, 0x33, b);
            conf_free(q);
        }
        /* a calloc'd block stays zero where it was zero */
        char *z = conf_calloc(1, re_sizes[i]);
        char *g = conf_realloc(z, re_sizes[i] * 2 + 1);
        if (g == NULL)
            conf_fail("realloc(calloc(%zu) -> %zu) = NULL", re_sizes[i], re_sizes[i] * 2 + 1);
        long nz = conf_first_nonzero(g, re_sizes[i]);
        if (nz >= 0)
            conf_fail("calloc(%zu) grown to %zu: byte %ld of the old part is not zero",
                      re_sizes[i], re_sizes[i] * 2 + 1, nz);
        conf_free(g);
    }
}

CONF_CHECK(re02_failed_realloc, "RE-02", "realloc", CONF_STD, 0,
           "a failed realloc (SIZE_MAX, PTRDIFF_MAX+1) returns NULL, keeps the block intact and "
           "sets ENOMEM (C17 7.22.3.5; POSIX realloc; glibc tst-realloc.c)")
{
    size_t sizes[] = {SIZE_MAX, (size_t)PTRDIFF_MAX + 1, SIZE_MAX - 4096};
    size_t blocks[] = {100, 100000, 3u << 20};
    for (size_t b = 0; b < 3; b++) {
        char *p = conf_malloc(blocks[b]);
        conf_fill(p, blocks[b], 5);
        for (size_t i = 0; i < 3; i++) {
            errno = CONF_ERRNO_SENTINEL;
            void *q = conf_realloc(p, sizes[i]);
            int e = errno;
            if (q != NULL)
                conf_fail("realloc(%zu-byte block, %zu) = %p, expected NULL", blocks[b], sizes[i], q);
            long bad = conf_check_fill(p, blocks[b], 5);
            if (bad >= 0)
                conf_fail("failed realloc(%zu-byte block, %zu) changed byte %ld", blocks[b],
                          sizes[i], bad);
            if (e != ENOMEM)
                conf_fail("realloc(%zu-byte block, %zu) = NULL with %s, expected ENOMEM",
                          blocks[b], sizes[i], conf_errname(e));
        }
        conf_free(p);
    }
}

CONF_CHECK(re03_realloc_null, "RE-03", "realloc", CONF_STD, 0,
           "realloc(NULL, n) behaves as malloc(n): a writable, aligned block of n bytes "
           "(C17 7.22.3.5; glibc tst-realloc.c; mimalloc realloc-null)")
{
    size_t sizes[] = {1, 100, 5000, 1u << 20};
    for (int i = 0; i < 4; i++) {
        char *p = conf_realloc(NULL, sizes[i]);
        if (p == NULL)
            conf_fail("realloc(NULL, %zu) = NULL", sizes[i]);
        if (!conf_aligned(p, conf_weak_alignment(sizes[i])))
            conf_fail("realloc(NULL, %zu) = %p, misaligned", sizes[i], p);
        if (conf_ext()->usable_size && conf_ext()->usable_size(p) < sizes[i])
            conf_fail("realloc(NULL, %zu): usable size %zu", sizes[i], conf_ext()->usable_size(p));
        memset(p, 0x77, sizes[i]);
        conf_free(p);
    }
}

CONF_CHECK(re04_reallocarray, "RE-04", "realloc", CONF_EXT, 0,
           "reallocarray overflow (p,2,SIZE_MAX), (NULL,65537,SIZE_MAX/65537+1) -> NULL ENOMEM, "
           "block untouched; growth keeps contents (glibc tst-reallocarray.c; POSIX.1-2024)")
{
    conf_reallocarray_fn ra = CONF_NEED(conf_reallocarray_fn, reallocarray);
    char *p = ra(NULL, 10, 10);
    if (p == NULL)
        conf_fail("reallocarray(NULL, 10, 10) = NULL");
    conf_fill(p, 100, 9);
    struct { void *p; size_t n, m; } cases[] = {
        {p, 2, SIZE_MAX}, {p, SIZE_MAX, 2}, {NULL, 65537, SIZE_MAX / 65537 + 1},
        {NULL, SIZE_MAX / 2 + 1, 2}};
    for (int i = 0; i < 4; i++) {
        errno = CONF_ERRNO_SENTINEL;
        void *q = ra(cases[i].p, cases[i].n, cases[i].m);
        int e = errno;
        if (q != NULL || e != ENOMEM)
            conf_fail("reallocarray(%s, %zu, %zu) = %p with %s, expected NULL with ENOMEM",
                      cases[i].p ? "p" : "NULL", cases[i].n, cases[i].m, q, conf_errname(e));
        if (conf_check_fill(p, 100, 9) >= 0)
            conf_fail("failed reallocarray changed the block");
    }
    char *g = ra(p, 1000, 10);
    if (g == NULL || conf_check_fill(g, 100, 9) >= 0)
        conf_fail("reallocarray(p, 1000, 10) = %p lost the contents", g);
    char *s = ra(g, 5, 10);
    if (s == NULL || conf_check_fill(s, 50, 9) >= 0)
        conf_fail("reallocarray(p, 5, 10) = %p lost the contents", s);
    conf_free(s);
}

CONF_CHECK(re05_zeroing_realloc, "RE-05", "realloc", CONF_CAP, 0,
           "are bytes gained by realloc growth zero even over recycled dirty memory? (jemalloc "
           "rallocx MALLOCX_ZERO; mimalloc mi_rezalloc; not a C guarantee)")
{
    int dirty = 0, trials = 0;
    for (size_t n = 64; n <= 65536; n *= 4) {
        for (int t = 0; t < 4; t++) {
            /* a dirty block of the grown size, freed just before: the block a
               moving realloc is most likely to be given */
            char *junk = conf_malloc(n * 4);
            memset(junk, 0xa5, n * 4);
            conf_free(junk);
            char *p = conf_malloc(n);
            memset(p, 0x11, n);
            char *q = conf_realloc(p, n * 4);
            if (q == NULL)
                conf_unsupported("realloc(%zu -> %zu) = NULL", n, n * 4);
            trials++;
            if (conf_first_nonzero(q + n, n * 3) >= 0)
                dirty++;
            conf_free(q);
        }
    }
    if (dirty == 0)
        conf_present("grown bytes were zero in all %d trials", trials);
    conf_absent("grown bytes were not zero in %d of %d trials", dirty, trials);
}

CONF_CHECK(re06_realloc_alignment_usable, "RE-06", "realloc", CONF_STD, 0,
           "every realloc result, growing 1..8192 then shrinking, is aligned (AL-01) and has "
           "usable size >= the request (C17 7.22.3p1)")
{
    char *p = NULL;
    size_t n = 1;
    for (int dir = 0; dir < 2; dir++) {
        for (int i = 0; i < 222; i++) {
            n = dir == 0 ? 1 + (size_t)i * 37 : 8192 - (size_t)i * 37;
            p = conf_realloc(p, n);
            if (p == NULL)
                conf_fail("realloc(p, %zu) = NULL", n);
            if (!conf_aligned(p, conf_weak_alignment(n)))
                conf_fail("realloc(p, %zu) = %p: aligned to %zu only", n, p, conf_alignment_of(p));
            if (conf_ext()->usable_size && conf_ext()->usable_size(p) < n)
                conf_fail("realloc(p, %zu): usable size %zu", n, conf_ext()->usable_size(p));
            p[n - 1] = 1;
        }
    }
    conf_free(p);
}
