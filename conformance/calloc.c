/* calloc.c: catalogue area CA. */
#define _GNU_SOURCE
#include "conf.h"
#include "oom.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

CONF_CHECK(ca01_zeroed, "CA-01", "calloc", CONF_STD, 0,
           "calloc memory is zero for fresh and recycled dirty blocks of 16 B..2 MiB and 2000 "
           "small blocks per size 5..96 (C17 7.22.3.2; glibc tst-calloc.c; mimalloc "
           "zeroinit-calloc)")
{
    size_t sizes[] = {16, 24, 100, 1000, 4096, 20000, 131072, 600000, 2u << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (int rep = 0; rep < 4; rep++) {
            char *d = conf_malloc(sizes[i]);
            memset(d, 0xff, sizes[i]);
            conf_free(d);
            char *z = conf_calloc(1, sizes[i]);
            if (z == NULL)
                conf_fail("calloc(1, %zu) = NULL", sizes[i]);
            long nz = conf_first_nonzero(z, sizes[i]);
            if (nz >= 0)
                conf_fail("calloc(1, %zu) (round %d): byte %ld is 0x%02x", sizes[i], rep, nz,
                          (unsigned char)z[nz]);
            memset(z, 0xff, sizes[i]);
            conf_free(z);
        }
    }
    static void *blocks[2000];
    for (size_t n = 5; n <= 96; n += 7) {
        for (int i = 0; i < 2000; i++) {
            blocks[i] = conf_calloc(1, n);
            long nz = conf_first_nonzero(blocks[i], n);
            if (nz >= 0)
                conf_fail("calloc(1, %zu) block %d: byte %ld not zero", n, i, nz);
            memset(blocks[i], 0xff, n);
        }
        for (int i = 0; i < 2000; i++)
            conf_free(blocks[i]);
    }
}

CONF_CHECK(ca02_overflow, "CA-02", "calloc", CONF_STD, 0,
           "calloc overflow (SIZE_MAX,2), (65537,SIZE_MAX/65537+1), (SIZE_MAX,SIZE_MAX), "
           "(LONG_MAX+1,2) -> NULL with ENOMEM (C23 7.24.3.2; POSIX calloc; glibc "
           "tst-malloc-too-large.c)")
{
    size_t cases[][2] = {{SIZE_MAX, 2}, {2, SIZE_MAX}, {65537, SIZE_MAX / 65537 + 1},
                         {SIZE_MAX, SIZE_MAX}, {(size_t)LONG_MAX + 1, 2}};
    for (int i = 0; i < 5; i++) {
        errno = CONF_ERRNO_SENTINEL;
        void *p = conf_calloc(cases[i][0], cases[i][1]);
        int e = errno;
        if (p != NULL)
            conf_fail("calloc(%zu, %zu) = %p for an overflowing product", cases[i][0],
                      cases[i][1], p);
        if (e != ENOMEM)
            conf_fail("calloc(%zu, %zu) = NULL with %s, expected ENOMEM", cases[i][0],
                      cases[i][1], conf_errname(e));
    }
}

CONF_CHECK(ca03_ptrdiff_product, "CA-03", "calloc", CONF_REP, 0,
           "calloc(PTRDIFF_MAX/2+1, 2): a product above PTRDIFF_MAX without overflow (glibc "
           "PTRDIFF_MAX rule)")
{
    errno = CONF_ERRNO_SENTINEL;
    void *p = conf_calloc((size_t)PTRDIFF_MAX / 2 + 1, 2);
    int e = errno;
    conf_free(p);
    conf_observe("-> %s, %s", p ? "a block" : "NULL", conf_errname(e));
}

CONF_CHECK(ca04_threads_oom, "CA-04", "calloc", CONF_STD, 10,
           "4 threads calloc 256 KiB blocks up to RLIMIT_AS: every block is zero, failures are "
           "NULL with ENOMEM (glibc tst-malloc-thread-fail.c with_calloc)")
{
    conf_pass("%s", conf_oom_threads(CONF_OOM_CALLOC, 4, 256 << 10));
}
