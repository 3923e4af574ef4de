/* Standalone confirmation of the conformance suite's fail verdicts for
   glibc, jemalloc, mimalloc, tcmalloc, tbbmalloc and scudo: plain calls, no
   heapmark code. Built and run
   by conformance/confirm/run.sh against each allocator; prints one line per
   probe. Compiled with -fno-builtin and calls through volatile pointers so
   that the compiler does not fold them. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *(*volatile v_malloc)(size_t) = malloc;
static void *(*volatile v_calloc)(size_t, size_t) = calloc;
static void *(*volatile v_realloc)(void *, size_t) = realloc;
static void *(*volatile v_aligned_alloc)(size_t, size_t) = aligned_alloc;
static void *(*volatile v_memalign)(size_t, size_t) = memalign;
static void *(*volatile v_valloc)(size_t) = valloc;
static void *(*volatile v_pvalloc)(size_t) = pvalloc;

static const char *en(int e)
{
    return e == 1789 ? "errno unchanged" : e == ENOMEM ? "ENOMEM" : e == EINVAL ? "EINVAL" : "other";
}

/* the file that defines fn (valloc and pvalloc come from libc.so.6 where
   the allocator does not define them) */
static const char *owner(void *fn)
{
    Dl_info info;
    if (dladdr(fn, &info) == 0 || info.dli_fname == NULL)
        return "?";
    const char *slash = strrchr(info.dli_fname, '/');
    return slash ? slash + 1 : info.dli_fname;
}

static unsigned long ALIGN_OF(void *p) { uintptr_t u = (uintptr_t)p; return (unsigned long)(u & -u); }

int main(void)
{
    void *p;
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line out before a crash */
    /* AL-02/AL-03: size == alignment */
    int bad = 0;
    for (int i = 0; i < 64; i++) {
        p = v_aligned_alloc(256, 256);
        if ((uintptr_t)p % 256)
            bad++;
    }
    p = v_aligned_alloc(256, 256);
    printf("aligned_alloc(256, 256) x64: %d misaligned (next block alignment %lu)\n", bad,
           ALIGN_OF(p));
    /* AL-06 */
    size_t als[] = {0, 3, 24, 65};
    for (int i = 0; i < 4; i++) {
        errno = 1789;
        p = v_aligned_alloc(als[i], 64);
        printf("aligned_alloc(%zu, 64) = %s, %s\n", als[i], p ? "non-NULL" : "NULL", en(errno));
    }
    /* AL-07, RL-05: sizes that are not a multiple of the alignment */
    size_t odd[][2] = {{2, 1}, {64, 1}, {4096, 4097}};
    for (int i = 0; i < 3; i++) {
        errno = 1789;
        p = v_aligned_alloc(odd[i][0], odd[i][1]);
        printf("aligned_alloc(%zu, %zu) = %s, %s\n", odd[i][0], odd[i][1], p ? "non-NULL" : "NULL",
               en(errno));
        free(p);
    }
    /* AL-09, LI-03, LI-06 */
    errno = 1789;
    p = v_memalign(8, SIZE_MAX);
    printf("memalign(8, SIZE_MAX) = %s, %s\n", p ? "non-NULL" : "NULL", en(errno));
    errno = 1789;
    p = v_aligned_alloc(16, SIZE_MAX);
    printf("aligned_alloc(16, SIZE_MAX) = %s, %s\n", p ? "non-NULL" : "NULL", en(errno));
    /* AL-09: memalign(4096, 0), four times */
    for (int i = 0; i < 4; i++) {
        p = v_memalign(4096, 0);
        printf("memalign(4096, 0) #%d = %s, alignment %lu\n", i, p ? "non-NULL" : "NULL",
               ALIGN_OF(p));
    }
    /* LI-01, CA-02, RE-02 */
    errno = 1789;
    p = v_malloc(SIZE_MAX);
    printf("malloc(SIZE_MAX) = %s, %s\n", p ? "non-NULL" : "NULL", en(errno));
    errno = 1789;
    p = v_calloc(SIZE_MAX, 2);
    printf("calloc(SIZE_MAX, 2) = %s, %s\n", p ? "non-NULL" : "NULL", en(errno));
    void *blk = v_malloc(100);
    errno = 1789;
    p = v_realloc(blk, SIZE_MAX);
    printf("realloc(p, SIZE_MAX) = %s, %s\n", p ? "non-NULL" : "NULL", en(errno));
    errno = 1789;
    p = v_realloc(NULL, SIZE_MAX);
    printf("realloc(NULL, SIZE_MAX) = %s, %s\n", p ? "non-NULL" : "NULL", en(errno));
    /* AL-02, AL-04, AL-07, US-01: C17 (DR 460) dropped C11's rule that the
       size be a multiple of the alignment */
    size_t aa[][2] = {{2, 1}, {64, 1}, {4096, 100}, {64u << 20, 1}, {64, 128}};
    for (int i = 0; i < 5; i++) {
        errno = 1789;
        p = v_aligned_alloc(aa[i][0], aa[i][1]);
        printf("aligned_alloc(%zu, %zu) = %s, %s\n", aa[i][0], aa[i][1], p ? "non-NULL" : "NULL",
               p ? "-" : en(errno));
        free(p);
    }
    /* LI-03, LI-06: a size too large with a valid alignment */
    errno = 1789;
    p = v_aligned_alloc(2, SIZE_MAX);
    printf("aligned_alloc(2, SIZE_MAX) = %s, %s\n", p ? "non-NULL" : "NULL", en(errno));
    errno = 1789;
    p = v_aligned_alloc(16, SIZE_MAX);
    printf("aligned_alloc(16, SIZE_MAX) = %s, %s\n", p ? "non-NULL" : "NULL", en(errno));
    /* AL-09: alignment 48 is not a power of two: NULL or rounded up to 64 */
    p = v_memalign(48, 10);
    printf("memalign(48, 10) = %s, alignment %lu\n", p ? "non-NULL" : "NULL", ALIGN_OF(p));
    errno = 1789;
    p = v_memalign(4096, -(size_t)4096);
    printf("memalign(4096, SIZE_MAX - 4095) = %s, %s\n", p ? "non-NULL" : "NULL", en(errno));
    /* ZR-08 (the blocks are not freed: they may be libc's) */
    printf("valloc and pvalloc come from %s and %s\n", owner((void *)v_valloc),
           owner((void *)v_pvalloc));
    p = v_valloc(0);
    printf("valloc(0) = %s\n", p ? "non-NULL" : "NULL");
    p = v_pvalloc(0);
    printf("pvalloc(0) = %s\n", p ? "non-NULL" : "NULL");
    /* LI-03, LI-06: pvalloc rounds the size up to a page: SIZE_MAX must not wrap */
    errno = 1789;
    p = v_pvalloc(SIZE_MAX);
    printf("pvalloc(SIZE_MAX) = %s, %s", p ? "non-NULL" : "NULL", en(errno));
    if (p != NULL && strcmp(owner((void *)v_pvalloc), owner((void *)v_malloc)) == 0)
        printf(", usable size %zu", malloc_usable_size(p));
    printf("\n");
    /* RE-02: a failed realloc of a large block returns NULL, keeps it, ENOMEM */
    size_t sizes[] = {100, 3u << 20};
    size_t huge[] = {SIZE_MAX, (size_t)PTRDIFF_MAX + 1};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            char *b = v_malloc(sizes[i]);
            memset(b, 7, sizes[i]);
            errno = 1789;
            char *r = v_realloc(b, huge[j]);
            printf("realloc(%zu-byte block, %s) = %s, %s", sizes[i], j ? "PTRDIFF_MAX+1" : "SIZE_MAX",
                   r == NULL ? "NULL" : r == b ? "the same block" : "another block", en(errno));
            if (r)
                printf(", usable size %zu", malloc_usable_size(r));
            printf("\n");
            free(r ? r : b);
        }
    return 0;
}
