/* extensions.c: sable's own API: sable_resize_in_place and realloc in
 * place, sable_aligned_alloc_any, sable_free_range. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "sable.h"

#define MiB ((size_t)1 << 20)

static void test_resize_in_place(void)
{
    /* small: within the block only; a refusal changes nothing */
    char *p = malloc(100);
    size_t u = malloc_usable_size(p);
    memset(p, 'x', 100);
    CHECK(sable_resize_in_place(p, u) == p);
    CHECK(sable_resize_in_place(p, 10) == p);
    CHECK(sable_resize_in_place(p, 5000) == NULL);
    CHECK(malloc_usable_size(p) == u && p[99] == 'x');
    CHECK(sable_resize_in_place(p, SIZE_MAX) == NULL);
    CHECK(sable_resize_in_place(NULL, 10) == NULL);
    free(p);

    /* a large block grows into the free slices after it, and shrinks */
    char *big = malloc(300 << 10);
    fill(big, 300 << 10);
    CHECK(sable_resize_in_place(big, 900 << 10) == big);
    CHECK(malloc_usable_size(big) >= (900 << 10));
    CHECK(intact(big, 0) && big[0] == (char)pattern(big, 300 << 10, 0));
    memset(big + (300 << 10), 1, 600 << 10); /* the grown part is writable */
    CHECK(sable_resize_in_place(big, 70 << 10) == big);
    CHECK(malloc_usable_size(big) >= (70 << 10) && malloc_usable_size(big) < (900 << 10));
    CHECK(big[0] == (char)pattern(big, 300 << 10, 0));
    /* a block in the way refuses growth */
    char *blocker = malloc(300 << 10);
    size_t ub = malloc_usable_size(big);
    if (blocker == big + ub) {
        CHECK(sable_resize_in_place(big, ub + 1) == NULL);
        CHECK(malloc_usable_size(big) == ub);
    }
    free(blocker);
    free(big);

    /* huge: grows into its reserve; the contents stay */
    char *h = malloc(8 * MiB);
    fill(h, 8 * MiB);
    CHECK(sable_resize_in_place(h, 24 * MiB) == h);
    CHECK(malloc_usable_size(h) >= 24 * MiB);
    memset(h + 8 * MiB, 2, 16 * MiB);
    CHECK(sable_resize_in_place(h, 4 * MiB) == h);
    CHECK(malloc_usable_size(h) >= 4 * MiB && malloc_usable_size(h) < 8 * MiB);
    for (size_t k = 0; k < 4 * MiB; k += 4099)
        if (h[k] != (char)pattern(h, 8 * MiB, k)) {
            CHECK(!"huge resize kept the contents");
            break;
        }
    CHECK(sable_resize_in_place(h, (size_t)PTRDIFF_MAX) == NULL);
    CHECK(malloc_usable_size(h) >= 4 * MiB && malloc_usable_size(h) < 8 * MiB);
    free(h);

    /* realloc doubling from 4 KiB to 256 MiB: most steps stay in place */
    void *r = malloc(4096);
    int in_place = 0, steps = 0;
    for (size_t n = 8192; n <= 256 * MiB; n *= 2, steps++) {
        void *q = realloc(r, n);
        CHECK(q != NULL);
        in_place += q == r;
        r = q;
    }
    printf("realloc doublings 4 KiB -> 256 MiB: %d of %d in place\n", in_place, steps);
    CHECK(in_place >= steps / 2);
    free(r);
}

static void test_aligned_any(void)
{
    static const size_t aligns[] = {1,    3,     5,     24,      48,       100,         1000,
                                    4097, 12288, 65535, 3 * MiB, 12 * MiB, 4 * MiB + 16};
    static const size_t sizes[] = {0, 1, 17, 1000, 70000, 3 * MiB};
    for (unsigned i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        void *prev = NULL;
        for (unsigned j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
            size_t a = aligns[i], n = sizes[j];
            char *p = sable_aligned_alloc_any(a, n);
            CHECK(p != NULL && (uintptr_t)p % a == 0);
            if (p == NULL)
                continue;
            CHECK(p != prev);
            CHECK(malloc_usable_size(p) >= n);
            if (n) {
                memset(p, 0x33, n);
                /* realloc accepts it and keeps the contents */
                char *q = realloc(p, n + 100);
                CHECK(q != NULL && q[n - 1] == 0x33);
                p = q;
            }
            if (prev)
                free(prev);
            prev = p;
        }
        free(prev);
    }
    /* zero size: unique pointers */
    void *z1 = sable_aligned_alloc_any(24, 0), *z2 = sable_aligned_alloc_any(24, 0);
    CHECK(z1 && z2 && z1 != z2 && (uintptr_t)z1 % 24 == 0 && (uintptr_t)z2 % 24 == 0);
    free(z1);
    free(z2);
    errno = 0;
    CHECK(sable_aligned_alloc_any(0, 10) == NULL && errno == EINVAL);
    errno = 0;
    CHECK(sable_aligned_alloc_any(3, SIZE_MAX) == NULL && errno == ENOMEM);
    /* realloc of a huge block placed for an odd alignment: 16-byte aligned */
    static const size_t odd[] = {3, 1000, 9080};
    for (unsigned i = 0; i < 3; i++) {
        char *hp = sable_aligned_alloc_any(odd[i], 3 * MiB);
        CHECK(hp != NULL && (uintptr_t)hp % odd[i] == 0);
        hp[0] = 9;
        char *hq = realloc(hp, 40 * MiB);
        CHECK(hq != NULL && (uintptr_t)hq % 16 == 0 && hq[0] == 9);
        free(hq);
    }
    /* many interior pointers in one page, freed in another order */
    void *v[500];
    for (int i = 0; i < 500; i++) {
        v[i] = sable_aligned_alloc_any(48, 40);
        CHECK(v[i] != NULL && (uintptr_t)v[i] % 48 == 0);
    }
    for (int i = 0; i < 500; i += 2)
        free(v[i]);
    for (int i = 1; i < 500; i += 2)
        free(v[i]);
}

static void test_free_range(void)
{
    /* prefix, suffix, middle: the rest stays valid and writable */
    char *p = malloc(256);
    memset(p, 5, 256);
    CHECK(sable_free_range(p + 200, 56) == 0); /* suffix */
    CHECK(sable_free_range(p, 16) == 0);       /* prefix */
    CHECK(sable_free_range(p + 100, 20) == 0); /* middle */
    CHECK(p[16] == 5 && p[99] == 5 && p[120] == 5 && p[199] == 5);
    memset(p + 16, 6, 84);
    memset(p + 120, 6, 80);
    CHECK(malloc_usable_size(p + 16) == 84);
    /* refusals change nothing */
    static char not_heap[64];
    CHECK(sable_free_range(p + 110, 4) == EINVAL);    /* already released */
    CHECK(sable_free_range(p + 90, 20) == EINVAL);    /* overlaps */
    CHECK(sable_free_range(p + 150, 4096) == EINVAL); /* past the end */
    CHECK(sable_free_range(not_heap, 8) == EINVAL);
    CHECK(sable_free_range(NULL, 8) == EINVAL);
    int on_stack;
    CHECK(sable_free_range(&on_stack, 1) == EINVAL);
    CHECK(p[16] == 6 && p[199] == 6);
    /* releasing every remaining byte frees the block: it is reused */
    CHECK(sable_free_range(p + 16, 84) == 0);
    CHECK(sable_free_range(p + 120, 80) == 0);
    CHECK(sable_free_range(p + 300, 1) == EINVAL);
    char *again = malloc(256);
    CHECK(again == p);
    /* free() of the start releases what remains */
    CHECK(sable_free_range(again + 64, 64) == 0);
    free(again);
    char *third = malloc(256);
    CHECK(third == p);
    CHECK(sable_free_range(third + 8, 8) == 0);
    CHECK(sable_free_range(third + 8, 8) == EINVAL); /* a double partial free */
    free(third);

    /* a failed realloc changes nothing, released ranges included */
    static const size_t rsz[] = {100, 100000, 5 * MiB};
    for (unsigned i = 0; i < 3; i++) {
        char *b = malloc(rsz[i]);
        size_t mid = (malloc_usable_size(b) / 2) & ~(size_t)15;
        CHECK(sable_free_range(b + mid, 16) == 0);
        size_t u = malloc_usable_size(b);
        errno = 0;
        CHECK(realloc(b, (size_t)1 << 62) == NULL && errno == ENOMEM);
        CHECK(malloc_usable_size(b) == u);
        CHECK(sable_free_range(b + mid, 16) == EINVAL);
        /* a successful realloc makes it whole again */
        char *c = realloc(b, rsz[i] + 1);
        CHECK(c != NULL);
        CHECK(malloc_usable_size(c) >= rsz[i] + 1);
        free(c);
    }

    /* a large block: whole pages of a released middle go back to the OS */
    size_t before = rss_bytes();
    char *big = malloc(64 * MiB);
    memset(big, 1, 64 * MiB);
    size_t full = rss_bytes();
    CHECK(sable_free_range(big + 2 * MiB, 60 * MiB) == 0);
    size_t after = rss_bytes();
    printf("partial free of the middle 60 MiB of 64 MiB: RSS +%zu MiB -> +%zu MiB\n",
           (full - before) / MiB, (after > before ? after - before : 0) / MiB);
    CHECK(after + 50 * MiB < full);
    CHECK(big[0] == 1 && big[2 * MiB - 1] == 1 && big[62 * MiB] == 1 && big[64 * MiB - 1] == 1);
    big[64 * MiB - 1] = 2;
    free(big);

    /* a released tail of a one-block page is reused by the next block */
    char *l = malloc(1 * MiB);
    memset(l, 1, 1 * MiB);
    CHECK(sable_free_range(l + 256 * 1024, 768 * 1024) == 0);
    CHECK(malloc_usable_size(l) == 256 * 1024);
    char *t = malloc(512 * 1024);
    printf("released tail of a 1 MiB block %s\n", t >= l + 256 * 1024 && t < l + MiB
                                                      ? "reused by the next malloc(512 KiB)"
                                                      : "not reused");
    CHECK(t >= l + 256 * 1024 && t < l + MiB);
    free(t);
    free(l);
}

int main(void)
{
    test_resize_in_place();
    test_aligned_any();
    test_free_range();
    return check_done("sable extensions");
}
