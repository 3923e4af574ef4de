/* api.c: the standard API as sable serves it (linked with -lsable):
 * alignment, zero size, errno, overflow, realloc, calloc, usable size. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "sable.h"

/* through volatile pointers: no builtin folding of the calls under test */
static void *(*volatile p_malloc)(size_t) = malloc;
static void *(*volatile p_calloc)(size_t, size_t) = calloc;
static void *(*volatile p_realloc)(void *, size_t) = realloc;
static void *(*volatile p_reallocarray)(void *, size_t, size_t) = reallocarray;
static void *(*volatile p_aligned_alloc)(size_t, size_t) = aligned_alloc;
static int (*volatile p_posix_memalign)(void **, size_t, size_t) = posix_memalign;
static void *(*volatile p_memalign)(size_t, size_t) = memalign;
static void *(*volatile p_pvalloc)(size_t) = pvalloc;
static void *(*volatile p_valloc)(size_t) = valloc;
static void (*volatile p_free)(void *) = free;

static void test_basic(void)
{
    /* every result is 16-aligned and usable for its size */
    void *keep[4097];
    for (size_t n = 0; n <= 4096; n++) {
        keep[n] = p_malloc(n);
        CHECK(keep[n] != NULL && (uintptr_t)keep[n] % 16 == 0);
        CHECK(malloc_usable_size(keep[n]) >= n);
        memset(keep[n], 0xab, n);
    }
    for (size_t n = 1; n <= 4096; n++)
        CHECK(keep[n] != keep[n - 1]);
    for (size_t n = 0; n <= 4096; n++)
        p_free(keep[n]);
    /* malloc(0) gives unique pointers */
    void *a = p_malloc(0), *b = p_malloc(0);
    CHECK(a && b && a != b);
    p_free(a);
    p_free(b);
    CHECK(malloc_usable_size(NULL) == 0);
    CHECK(sable_memalignment(NULL) == 0);
    CHECK(sable_memalignment((void *)(uintptr_t)0x1230) == 16);
    CHECK(sable_memalignment((void *)(uintptr_t)0x4000) == 0x4000);
    CHECK(strcmp(sable_version(), "0.1.0") == 0);
}

static void test_failures(void)
{
    static const size_t bad[] = {SIZE_MAX, SIZE_MAX - 4096, (size_t)PTRDIFF_MAX + 1,
                                 (size_t)PTRDIFF_MAX};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        CHECK(p_malloc(bad[i]) == NULL && errno == ENOMEM);
        errno = 0;
        CHECK(p_calloc(1, bad[i]) == NULL && errno == ENOMEM);
        errno = 0;
        CHECK(p_aligned_alloc(4096, bad[i]) == NULL && errno == ENOMEM);
        errno = 0;
        CHECK(p_memalign(1 << 20, bad[i]) == NULL && errno == ENOMEM);
        errno = 0;
        CHECK(p_valloc(bad[i]) == NULL && errno == ENOMEM);
        errno = 0;
        CHECK(p_pvalloc(bad[i]) == NULL && errno == ENOMEM);
        void *q = (void *)0x1234;
        CHECK(p_posix_memalign(&q, 64, bad[i]) == ENOMEM && q == (void *)0x1234);
    }
    /* calloc and reallocarray overflow */
    errno = 0;
    CHECK(p_calloc(SIZE_MAX, 2) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(p_calloc(65537, SIZE_MAX / 65537 + 1) == NULL && errno == ENOMEM);
    CHECK(p_calloc(0, SIZE_MAX) != NULL || errno == ENOMEM);
    char *p = p_malloc(100);
    memset(p, 7, 100);
    errno = 0;
    CHECK(p_reallocarray(p, 2, SIZE_MAX) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(p_realloc(p, SIZE_MAX) == NULL && errno == ENOMEM);
    CHECK(p[0] == 7 && p[99] == 7); /* untouched */
    p_free(p);
    /* alignment errors */
    static const size_t bad_align[] = {0, 3, 24, 65, SIZE_MAX / 2 + 2};
    for (unsigned i = 0; i < sizeof bad_align / sizeof bad_align[0]; i++) {
        errno = 0;
        CHECK(p_aligned_alloc(bad_align[i], 64) == NULL && errno == EINVAL);
    }
    static const size_t bad_pm[] = {0, 4, 24, 0x300, SIZE_MAX};
    for (unsigned i = 0; i < sizeof bad_pm / sizeof bad_pm[0]; i++) {
        void *q = (void *)0x1234;
        CHECK(p_posix_memalign(&q, bad_pm[i], 64) == EINVAL && q == (void *)0x1234);
    }
    errno = 0;
    CHECK(p_memalign(SIZE_MAX, 1) == NULL && errno == EINVAL);
    /* memalign rounds a non-power of two up */
    void *m = p_memalign(48, 10);
    CHECK(m != NULL && (uintptr_t)m % 64 == 0);
    p_free(m);
}

static void test_aligned(void)
{
    for (size_t a = 1; a <= ((size_t)64 << 20); a *= 2) {
        size_t sizes[] = {0, 1, a / 2, a - 1, a, a + 1, 3 * a};
        for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            size_t n = sizes[i];
            if (n > ((size_t)200 << 20))
                continue;
            void *x = p_aligned_alloc(a, n);
            CHECK(x != NULL && (uintptr_t)x % a == 0 && (uintptr_t)x % 16 == 0);
            CHECK(malloc_usable_size(x) >= n);
            void *y = NULL;
            if (a >= sizeof(void *)) {
                CHECK(p_posix_memalign(&y, a, n) == 0);
                CHECK(y != NULL && (uintptr_t)y % a == 0 && y != x);
            }
            void *z = p_memalign(a, n);
            CHECK(z != NULL && (uintptr_t)z % a == 0 && z != x && z != y);
            if (n > 0 && n < ((size_t)8 << 20)) {
                memset(x, 1, n);
                if (y)
                    memset(y, 2, n);
                memset(z, 3, n);
                CHECK(((unsigned char *)x)[n - 1] == 1);
            }
            p_free(x);
            p_free(y);
            sable_free_aligned_sized(z, a, n);
        }
    }
    /* zero size with large alignment: unique and aligned */
    void *a = p_aligned_alloc(4096, 0), *b = p_aligned_alloc(4096, 0);
    CHECK(a && b && a != b && (uintptr_t)a % 4096 == 0 && (uintptr_t)b % 4096 == 0);
    void *c = p_aligned_alloc((size_t)64 << 20, 0), *d = p_aligned_alloc((size_t)64 << 20, 0);
    CHECK(c && d && c != d && (uintptr_t)c % ((size_t)64 << 20) == 0);
    p_free(a);
    p_free(b);
    p_free(c);
    p_free(d);
    void *v = p_valloc(32), *pv = p_pvalloc(32), *pv0 = p_pvalloc(0);
    CHECK(v && (uintptr_t)v % 4096 == 0);
    CHECK(pv && (uintptr_t)pv % 4096 == 0 && malloc_usable_size(pv) >= 4096);
    CHECK(pv0 != NULL);
    p_free(v);
    p_free(pv);
    p_free(pv0);
}

static void test_realloc(void)
{
    static const size_t sizes[] = {1, 16, 100, 1000, 5000, 70000, 1 << 20, 3 << 20, 40 << 20};
    const unsigned ns = sizeof sizes / sizeof sizes[0];
    for (unsigned i = 0; i < ns; i++)
        for (unsigned j = 0; j < ns; j++) {
            unsigned char *p = p_malloc(sizes[i]);
            fill(p, sizes[i]);
            unsigned char *q = p_realloc(p, sizes[j]);
            CHECK(q != NULL);
            size_t keep = sizes[i] < sizes[j] ? sizes[i] : sizes[j];
            for (size_t k = 0; k < keep; k += 1 + k / 64)
                if (q[k] != pattern(p, sizes[i], k)) {
                    CHECK(!"realloc kept the contents");
                    break;
                }
            CHECK(malloc_usable_size(q) >= sizes[j]);
            p_free(q);
        }
    /* realloc(NULL, n) is malloc; realloc(p, 0) gives a block to free */
    void *p = p_realloc(NULL, 10);
    CHECK(p != NULL);
    p = p_realloc(p, 0);
    CHECK(p != NULL);
    p_free(p);
    /* realloc within the usable size stays in place */
    p = p_malloc(1000);
    CHECK(p_realloc(p, malloc_usable_size(p)) == p);
    p_free(p);
    /* huge blocks grow and shrink by mremap: contents kept across moves */
    unsigned char *h = p_malloc(8 << 20);
    fill(h, 8 << 20);
    void *orig = h;
    for (size_t n = 16 << 20; n <= (256u << 20); n *= 2) {
        h = p_realloc(h, n);
        CHECK(h != NULL && (uintptr_t)h % 16 == 0);
        CHECK(malloc_usable_size(h) >= n && malloc_usable_size(h) < n + n / 2);
    }
    /* the first 8 MiB still hold the pattern of the original block */
    for (size_t k = 0; k < (8u << 20); k += 4093)
        if (h[k] != pattern(orig, 8 << 20, k)) {
            CHECK(!"huge realloc kept the contents");
            break;
        }
    h = p_realloc(h, 5 << 20);
    CHECK(h != NULL && h[4093] == pattern(orig, 8 << 20, 4093));
    p_free(h);
}

static void test_calloc_errno(void)
{
    /* calloc zeroes recycled blocks */
    for (size_t n = 16; n <= (2u << 20); n *= 2) {
        unsigned char *d = p_malloc(n);
        memset(d, 0xff, n);
        p_free(d);
        unsigned char *z = p_calloc(1, n);
        CHECK(z != NULL);
        for (size_t k = 0; k < n; k++)
            if (z[k]) {
                CHECK(!"calloc zeroed");
                break;
            }
        p_free(z);
    }
    /* free keeps errno, small and huge */
    void *s = p_malloc(32), *h = p_malloc(5 << 20);
    errno = 1789;
    p_free(NULL);
    p_free(s);
    p_free(h);
    CHECK(errno == 1789);
    /* sized frees */
    void *f = p_calloc(3, 40);
    sable_free_sized(f, 120);
    sable_free_sized(NULL, 0);
    CHECK(sable_purge() == 0);
}

/* A freed huge block's mapping is kept for reuse (until the purge delay or
 * sable_purge), and calloc still returns zeroed memory from it. */
static void test_huge_cache(void)
{
    struct sable_stats st;
    sable_purge(); /* nothing cached from the tests before */
    unsigned char *h = p_malloc(8 << 20);
    memset(h, 0xee, 8 << 20);
    p_free(h);
    sable_stats(&st);
    size_t reserved = st.reserved_bytes; /* the block's mapping is kept */
    unsigned char *z = p_calloc(1, 6 << 20);
    CHECK(z == h); /* reused */
    int dirty = 0;
    for (size_t k = 0; k < (6u << 20); k += 511)
        dirty |= z[k];
    CHECK(dirty == 0);
    p_free(z);
    sable_purge();
    sable_stats(&st);
    CHECK(st.reserved_bytes + (8u << 20) <= reserved); /* unmapped */
}

int main(void)
{
    test_basic();
    test_failures();
    test_aligned();
    test_realloc();
    test_calloc_errno();
    test_huge_cache();
    return check_done("sable api");
}
