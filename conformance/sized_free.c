/* sized_free.c: catalogue area SF (C23 free_sized, free_aligned_sized,
   memalignment, and the native sized free). */
#define _GNU_SOURCE
#include "conf.h"

#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

CONF_CHECK(sf01_free_sized, "SF-01", "sized-free", CONF_STD, 0,
           "C23 free_sized(p, n) with the requested size (calloc: nmemb*size) frees like free; "
           "free_sized(NULL, 0) is a no-op (C23 7.24.3.4; N2699; glibc tst-free-sized.c 2.43)")
{
    conf_free_sized_fn fs = CONF_NEED(conf_free_sized_fn, free_sized);
    fs(NULL, 0);
    for (int round = 0; round < 3; round++) {
        for (size_t n = 1; n < (8u << 20); n = n * 3 / 2 + 1) {
            void *p = conf_malloc(n);
            memset(p, 1, n);
            fs(p, n);
            void *c = conf_calloc(3, n);
            fs(c, 3 * n);
            void *r = conf_realloc(NULL, n);
            r = conf_realloc(r, n + 100);
            fs(r, n + 100);
        }
    }
    void *again = conf_malloc(100);
    if (again == NULL)
        conf_fail("malloc(100) = NULL after free_sized rounds");
    conf_free(again);
}

CONF_CHECK(sf02_free_aligned_sized, "SF-02", "sized-free", CONF_STD, 0,
           "C23 free_aligned_sized(p, a, n) frees aligned_alloc blocks; (NULL, 0, 0) is a no-op "
           "(C23 7.24.3.5; glibc tst-free-aligned-sized.c)")
{
    conf_free_aligned_sized_fn fas = CONF_NEED(conf_free_aligned_sized_fn, free_aligned_sized);
    conf_aligned_alloc_fn aa = CONF_NEED(conf_aligned_alloc_fn, aligned_alloc);
    fas(NULL, 0, 0);
    for (size_t a = 8; a <= 65536; a *= 4) {
        for (size_t n = 1; n < (1u << 20); n = n * 5 / 2 + 1) {
            void *p = aa(a, n);
            if (p == NULL)
                conf_fail("aligned_alloc(%zu, %zu) = NULL", a, n);
            memset(p, 1, n);
            fas(p, a, n);
        }
    }
}

CONF_CHECK(sf03_native_sized_range, "SF-03", "sized-free", CONF_OWN, 0,
           "the native sized free accepts any size in [requested, usable], aligned variant "
           "included (jemalloc manual sdallocx; integration/sdallocx.c)")
{
    void (*fs)(void *, size_t) = CONF_EXT_NEED(free_sized);
    size_t (*usable)(void *) = CONF_EXT_NEED(usable_size);
    conf_aligned_alloc_fn aa = CONF_NEED(conf_aligned_alloc_fn, aligned_alloc);
    for (size_t n = 1; n < (4u << 20); n = n * 3 / 2 + 1) {
        void *p = conf_malloc(n);
        size_t u = usable(p);
        fs(p, n);
        p = conf_malloc(n);
        fs(p, u);
        p = conf_malloc(n);
        fs(p, n + (u - n) / 2);
    }
    if (conf_ext()->free_aligned_sized != NULL) {
        void (*fas)(void *, size_t, size_t) = conf_ext()->free_aligned_sized;
        for (size_t a = 16; a <= 16384; a *= 4)
            for (size_t n = 1; n <= 3 * a; n += a / 2 + 1) {
                void *p = aa(a, n);
                fas(p, a, n);
                p = aa(a, n);
                fas(p, a, usable(p));
            }
    }
    for (int i = 0; i < 1000; i++) {
        char *q = conf_malloc((size_t)i + 1);
        if (q == NULL)
            conf_fail("malloc after sized frees = NULL");
        memset(q, 2, (size_t)i + 1);
        conf_free(q);
    }
}

static void sf04_probe(void *arg)
{
    void (*fs)(void *, size_t) = (void (*)(void *, size_t))arg;
    for (int i = 0; i < 16; i++) {
        void *p = conf_malloc(14336);
        fs(p, 7000);
    }
    for (int i = 0; i < 64; i++)
        conf_free(conf_malloc(14336));
    _exit(0);
}

static int detected(const struct conf_sub *s)
{
    return s->signo == SIGABRT || s->signo == SIGILL || s->signo == SIGTRAP ||
           (s->exited && s->code != 0);
}

CONF_CHECK(sf04_size_mismatch, "SF-04", "sized-free", CONF_CAP, 0,
           "a wrong size given to the native sized free (7000 for a 14 KiB block) is diagnosed "
           "(jemalloc unit/size_check.c --enable-opt-size-checks; hardened_malloc)")
{
    void (*fs)(void *, size_t) = CONF_EXT_NEED(free_sized);
    struct conf_sub s;
    conf_sub_run(&s, sf04_probe, (void *)fs, 3);
    if (detected(&s))
        conf_present("%s", conf_sub_describe(&s));
    conf_absent("accepted silently (%s)", conf_sub_describe(&s));
}

CONF_CHECK(sf05_memalignment, "SF-05", "sized-free", CONF_STD, 0,
           "C23 memalignment(p) is the largest power of two dividing p, 0 for NULL; from the "
           "allocator or the C library (C23 7.24.9.1; glibc 2.43)")
{
    /* a pure function of the address: whichever library defines it will do */
    char lib[512];
    if (conf_symbol_owner("memalignment", lib, sizeof lib) < 0)
        conf_unsupported("memalignment is not defined in this process (C23; glibc 2.43+)");
    size_t (*ma)(const void *) = (size_t (*)(const void *))dlsym(RTLD_DEFAULT, "memalignment");
    if (ma(NULL) != 0)
        conf_fail("memalignment(NULL) = %zu, expected 0", ma(NULL));
    uintptr_t probes[] = {1, 2, 24, 4096, 0x10000, 0x7f0000001230};
    for (int i = 0; i < 6; i++)
        if (ma((void *)probes[i]) != conf_alignment_of((void *)probes[i]))
            conf_fail("memalignment(%#lx) = %zu, expected %zu", (unsigned long)probes[i],
                      ma((void *)probes[i]), conf_alignment_of((void *)probes[i]));
}

static void sf06_probe(void *arg)
{
    conf_free_sized_fn fs = (conf_free_sized_fn)arg;
    conf_aligned_alloc_fn aa = (conf_aligned_alloc_fn)conf_need("aligned_alloc");
    for (int i = 0; i < 16; i++)
        fs(aa(4096, 100), 100);
    _exit(0);
}

CONF_CHECK(sf06_family_mismatch, "SF-06", "sized-free", CONF_CAP, 0,
           "free_sized on aligned_alloc memory (C23 UB) is diagnosed (C23 7.24.3.4; scudo "
           "allocation-family tags)")
{
    conf_free_sized_fn fs = CONF_NEED(conf_free_sized_fn, free_sized);
    struct conf_sub s;
    conf_sub_run(&s, sf06_probe, (void *)fs, 3);
    if (detected(&s))
        conf_present("%s", conf_sub_describe(&s));
    conf_absent("accepted silently (%s)", conf_sub_describe(&s));
}
