/* zero_size.c: catalogue area ZR (requests of size zero). */
#define _GNU_SOURCE
#include "conf.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

CONF_CHECK(zr01_malloc0, "ZR-01", "zero-size", CONF_STD, 0,
           "malloc(0) returns NULL or a unique pointer that can be freed; usable size reported "
           "(C17 7.22.3p1; glibc tst-malloc.c; jemalloc integration/malloc.c; hardened_malloc "
           "malloc_zero_different)")
{
    void *p[8];
    for (int i = 0; i < 8; i++) {
        p[i] = conf_malloc(0);
        for (int j = 0; j < i; j++)
            if (p[i] != NULL && p[i] == p[j])
                conf_fail("malloc(0) returned %p twice while both are live", p[i]);
    }
    size_t usable = p[0] && conf_ext()->usable_size ? conf_ext()->usable_size(p[0]) : 0;
    for (int i = 0; i < 8; i++)
        conf_free(p[i]);
    if (p[0] == NULL)
        conf_pass("malloc(0) -> NULL");
    conf_pass("malloc(0) -> unique pointers, usable size %zu", usable);
}

CONF_CHECK(zr02_calloc0, "ZR-02", "zero-size", CONF_STD, 0,
           "calloc(0,0), (0,SIZE_MAX), (SIZE_MAX,0), (0,UINT_MAX), (UINT_MAX,0): no crash, no "
           "false overflow (glibc tst-calloc.c null_test; scudo Calloc)")
{
    size_t cases[][2] = {{0, 0}, {0, SIZE_MAX}, {SIZE_MAX, 0}, {0, UINT_MAX}, {UINT_MAX, 0},
                         {1, 0}, {0, 1}};
    void *ref = conf_calloc(0, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        errno = CONF_ERRNO_SENTINEL;
        void *p = conf_calloc(cases[i][0], cases[i][1]);
        int e = errno;
        if ((p == NULL) != (ref == NULL))
            conf_fail("calloc(%zu, %zu) = %p (%s) but calloc(0, 0) = %p: a zero-size product "
                      "taken for an overflow",
                      cases[i][0], cases[i][1], p, conf_errname(e), ref);
        conf_free(p);
    }
    conf_free(ref);
}

CONF_CHECK(zr03_realloc_null0, "ZR-03", "zero-size", CONF_STD, 0,
           "realloc(NULL, 0) behaves as malloc(0) (C17 7.22.3.5; glibc tst-realloc.c; mimalloc "
           "realloc-null-sizezero)")
{
    void *m = conf_malloc(0);
    void *r = conf_realloc(NULL, 0);
    void *r2 = conf_realloc(NULL, 0);
    if ((m == NULL) != (r == NULL))
        conf_fail("malloc(0) = %p but realloc(NULL, 0) = %p", m, r);
    if (r != NULL && r == r2)
        conf_fail("realloc(NULL, 0) returned %p twice while both are live", r);
    conf_free(m);
    conf_free(r);
    conf_free(r2);
}

CONF_CHECK(zr04_realloc_p0, "ZR-04", "zero-size", CONF_REP, 0,
           "realloc(p, 0) for live p: result, is p freed, errno (C17 impl-defined, C23 UB, "
           "POSIX.1-2024 EINVAL when NULL; jemalloc opt.zero_realloc)")
{
    void *p = conf_malloc(100);
    errno = CONF_ERRNO_SENTINEL;
    void *q = conf_realloc(p, 0);
    int e = errno;
    char fate[96];
    if (q == NULL) {
        void *again = conf_malloc(100);
        snprintf(fate, sizeof fate, "%s",
                 again == p ? "p freed (its address handed out again)"
                            : "p not handed out again by malloc(100)");
        conf_free(again);
        conf_observe("realloc(p,0) -> NULL, %s, %s", fate, conf_errname(e));
    }
    size_t u = conf_ext()->usable_size ? conf_ext()->usable_size(q) : 0;
    conf_free(q);
    conf_observe("realloc(p,0) -> %s block (usable %zu), %s", q == p ? "the same" : "a new", u,
                 conf_errname(e));
}

CONF_CHECK(zr05_realloc0_leak, "ZR-05", "zero-size", CONF_REP, 0,
           "RSS growth over 256 x (malloc 1 MiB touched, realloc(p,0), free the result): does "
           "the free-the-result convention leak? (derived from ZR-04)")
{
    long before = conf_rss_kb();
    for (int i = 0; i < 256; i++) {
        char *p = conf_malloc(1 << 20);
        if (p == NULL)
            conf_observe("malloc(1 MiB) failed at round %d", i);
        memset(p, 1, 1 << 20);
        void *q = conf_realloc(p, 0);
        conf_free(q);
    }
    long after = conf_rss_kb();
    conf_observe("RSS %+ld MiB after 256 MiB passed through realloc(p,0)", (after - before) / 1024);
}

CONF_CHECK(zr06_aligned_zero, "ZR-06", "zero-size", CONF_STD, 0,
           "aligned_alloc(4096,0), posix_memalign(4096,0): NULL or a unique 4096-aligned "
           "pointer (C17 7.22.3p1; POSIX; jemalloc aligned_alloc.c test_zero_alloc; Rust ZST; "
           "memalign's case is in AL-09)")
{
    conf_aligned_alloc_fn aa = CONF_NEED(conf_aligned_alloc_fn, aligned_alloc);
    conf_posix_memalign_fn pm = CONF_NEED(conf_posix_memalign_fn, posix_memalign);
    void *p[4] = {0};
    const char *fn[4] = {"aligned_alloc", "aligned_alloc", "posix_memalign", "posix_memalign"};
    p[0] = aa(4096, 0);
    p[1] = aa(4096, 0);
    int r0 = pm(&p[2], 4096, 0), r1 = pm(&p[3], 4096, 0);
    if (r0 != 0 || r1 != 0)
        conf_fail("posix_memalign(&p, 4096, 0) returned %s", conf_errname(r0 ? r0 : r1));
    for (int i = 0; i < 4; i++) {
        if (p[i] != NULL && !conf_aligned(p[i], 4096))
            conf_fail("%s(4096, 0) = %p: only %zu-aligned", fn[i], p[i], conf_alignment_of(p[i]));
        if (i % 2 == 1 && p[i] != NULL && p[i] == p[i - 1])
            conf_fail("%s(4096, 0) returned %p twice while both are live", fn[i], p[i]);
    }
    for (int i = 0; i < 4; i++)
        conf_free(p[i]);
}

CONF_CHECK(zr07_reallocarray_null0, "ZR-07", "zero-size", CONF_EXT, 0,
           "reallocarray(NULL, 0, 16) behaves as malloc(0) and leaves errno alone (mimalloc "
           "reallocarray-null-sizezero; POSIX.1-2024 reallocarray)")
{
    conf_reallocarray_fn ra = CONF_NEED(conf_reallocarray_fn, reallocarray);
    void *m = conf_malloc(0);
    errno = CONF_ERRNO_SENTINEL;
    void *p = ra(NULL, 0, 16);
    int e = errno;
    if ((p == NULL) != (m == NULL))
        conf_fail("reallocarray(NULL, 0, 16) = %p but malloc(0) = %p", p, m);
    if (p != NULL && e != CONF_ERRNO_SENTINEL)
        conf_fail("reallocarray(NULL, 0, 16) succeeded but set errno to %s", conf_errname(e));
    conf_free(p);
    conf_free(m);
}

CONF_CHECK(zr08_valloc0, "ZR-08", "zero-size", CONF_EXT, 0,
           "valloc(0) and pvalloc(0) return a freeable block (glibc tst-valloc.c, tst-pvalloc.c)")
{
    char lib[256];
    int have_v = conf_symbol_owner("valloc", lib, sizeof lib) == 1;
    int have_p = conf_symbol_owner("pvalloc", lib, sizeof lib) == 1;
    if (!have_v && !have_p)
        conf_need("valloc");
    const char *names[2] = {"valloc", "pvalloc"};
    int have[2] = {have_v, have_p};
    for (int i = 0; i < 2; i++) {
        if (!have[i])
            continue;
        conf_valloc_fn f = (conf_valloc_fn)conf_need(names[i]);
        void *p = f(0);
        if (p == NULL)
            conf_fail("%s(0) = NULL, expected a block", names[i]);
        if (!conf_aligned(p, conf_page()))
            conf_fail("%s(0) = %p, not page-aligned", names[i], p);
        conf_free(p);
    }
    if (!have_v || !have_p)
        conf_pass("%s is not the allocator's own; the other one passed", have_v ? "pvalloc" : "valloc");
}

static void zr09_probe(void *arg)
{
    char *p = conf_malloc(0);
    if (p == NULL)
        _exit(3);
    if (arg != NULL)
        ((volatile char *)p)[0] = 0x41;
    else
        conf_touch((void *)(uintptr_t)((volatile char *)p)[0]);
    _exit(0);
}

CONF_CHECK(zr09_zero_traps, "ZR-09", "zero-size", CONF_CAP, 0,
           "writing to the block of malloc(0) traps (hardened_malloc write_zero_size)")
{
    struct conf_sub s;
    conf_sub_run(&s, zr09_probe, (void *)1, 3);
    if (s.exited && s.code == 3)
        conf_absent("malloc(0) returns NULL: nothing to access");
    if (s.signo == SIGSEGV || s.signo == SIGBUS)
        conf_present("write to malloc(0): %s", conf_sub_describe(&s));
    conf_absent("write to malloc(0): %s", conf_sub_describe(&s));
}
