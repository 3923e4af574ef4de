/* usable_size.c: catalogue area US (malloc_usable_size and native size queries). */
#define _GNU_SOURCE
#include "conf.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

CONF_CHECK(us01_usable_ge_request, "US-01", "usable-size", CONF_EXT, 0,
           "malloc_usable_size(p) >= the request for malloc, calloc, realloc, aligned_alloc, "
           "posix_memalign; malloc_usable_size(NULL) == 0 (glibc tst-malloc-usable.c, "
           "tst-reallocarray.c; jemalloc aligned_alloc.c)")
{
    conf_usable_size_fn us = CONF_NEED(conf_usable_size_fn, malloc_usable_size);
    conf_aligned_alloc_fn aa = CONF_NEED(conf_aligned_alloc_fn, aligned_alloc);
    conf_posix_memalign_fn pm = CONF_NEED(conf_posix_memalign_fn, posix_memalign);
    if (us(NULL) != 0)
        conf_fail("malloc_usable_size(NULL) = %zu, expected 0", us(NULL));
    void *grow = NULL;
    for (size_t n = 1; n < (4u << 20); n = n * 5 / 4 + 1) {
        void *p[5];
        const char *fn[5] = {"malloc", "calloc", "realloc", "aligned_alloc(64)", "posix_memalign(256)"};
        p[0] = conf_malloc(n);
        p[1] = conf_calloc(n, 1);
        p[2] = grow = conf_realloc(grow, n);
        p[3] = aa(64, n);
        p[4] = NULL;
        if (pm(&p[4], 256, n) != 0)
            p[4] = NULL;
        for (int k = 0; k < 5; k++) {
            if (p[k] == NULL)
                conf_fail("%s(%zu) = NULL", fn[k], n);
            if (us(p[k]) < n)
                conf_fail("malloc_usable_size(%s(%zu)) = %zu", fn[k], n, us(p[k]));
        }
        for (int k = 0; k < 5; k++)
            if (k != 2)
                conf_free(p[k]);
    }
    conf_free(grow);
}

CONF_CHECK(us02_whole_usable, "US-02", "usable-size", CONF_EXT, 0,
           "the whole usable range of 3000 live blocks can be written without touching the "
           "neighbours (glibc manual malloc_usable_size; jemalloc manual)")
{
    conf_usable_size_fn us = CONF_NEED(conf_usable_size_fn, malloc_usable_size);
    static unsigned char *blk[3000];
    static size_t req[3000], use[3000];
    for (int i = 0; i < 3000; i++) {
        req[i] = i < 2900 ? (size_t)(i % 700) + 1 : (size_t)(i - 2899) * 20000;
        blk[i] = conf_malloc(req[i]);
        if (blk[i] == NULL)
            conf_fail("malloc(%zu) = NULL", req[i]);
        use[i] = us(blk[i]);
        memset(blk[i], (unsigned char)i, use[i]);
    }
    for (int i = 0; i < 3000; i++)
        for (size_t j = 0; j < use[i]; j++)
            if (blk[i][j] != (unsigned char)i)
                conf_fail("block %d (%zu bytes, usable %zu): byte %zu overwritten after "
                          "neighbours filled their usable size",
                          i, req[i], use[i], j);
    for (int i = 0; i < 3000; i++)
        conf_free(blk[i]);
}

CONF_CHECK(us03_slack, "US-03", "usable-size", CONF_REP, 0,
           "usable(malloc(0)), usable(malloc(7)) and the worst usable/requested ratio for "
           "16 <= n <= 1 MiB (glibc tst-malloc-usable.c; mimalloc calloc0)")
{
    size_t (*usable)(void *) = CONF_EXT_NEED(usable_size);
    void *z = conf_malloc(0), *s = conf_malloc(7);
    size_t uz = z ? usable(z) : 0, us7 = usable(s);
    conf_free(z);
    conf_free(s);
    double worst = 0;
    size_t worst_n = 0;
    for (size_t n = 16; n <= (1u << 20); n = n * 9 / 8 + 1) {
        void *p = conf_malloc(n);
        double r = (double)usable(p) / (double)n;
        if (r > worst) {
            worst = r;
            worst_n = n;
        }
        conf_free(p);
    }
    conf_observe("usable(malloc(0)) = %zu, usable(malloc(7)) = %zu, worst ratio %.2f at n = %zu",
                 uz, us7, worst, worst_n);
}

CONF_CHECK(us04_native_agrees, "US-04", "usable-size", CONF_OWN, 0,
           "the native size query (alloc_ext usable_size) equals malloc_usable_size and is >= "
           "the request (jemalloc mallocx.c test_basic; mimalloc umalloc1)")
{
    size_t (*usable)(void *) = CONF_EXT_NEED(usable_size);
    conf_usable_size_fn us = CONF_NEED(conf_usable_size_fn, malloc_usable_size);
    for (size_t n = 1; n < (8u << 20); n = n * 3 / 2 + 1) {
        void *p = conf_malloc(n);
        if (usable(p) != us(p) || usable(p) < n)
            conf_fail("malloc(%zu): native usable size %zu, malloc_usable_size %zu", n,
                      usable(p), us(p));
        conf_free(p);
    }
}

static void us05_probe(void *arg)
{
    conf_usable_size_fn us = arg;
    char *p = conf_malloc(64);
    memset(p, 0, 64);
    size_t u = us(p + 16);
    conf_touch((void *)u);
    _exit(0);
}

CONF_CHECK(us05_invalid_pointer, "US-05", "usable-size", CONF_CAP, 0,
           "malloc_usable_size of an interior pointer is diagnosed (abort or trap), not answered "
           "(hardened_malloc invalid_malloc_usable_size_small)")
{
    conf_usable_size_fn us = CONF_NEED(conf_usable_size_fn, malloc_usable_size);
    struct conf_sub s;
    conf_sub_run(&s, us05_probe, (void *)us, 3);
    if (s.signo == SIGABRT || s.signo == SIGILL || s.signo == SIGTRAP)
        conf_present("malloc_usable_size(p+16): %s", conf_sub_describe(&s));
    conf_absent("malloc_usable_size(p+16): %s", conf_sub_describe(&s));
}
