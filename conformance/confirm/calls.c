/* Standalone confirmation of the conformance suite's fail verdicts for
   glibc, jemalloc and mimalloc: plain calls, no heapmark code. Built and run
   by conformance/confirm/run.sh against each allocator; prints one line per
   probe. Compiled with -fno-builtin and calls through volatile pointers so
   that the compiler does not fold them. */
#define _GNU_SOURCE
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

static const char *en(int e)
{
    return e == 1789 ? "errno unchanged" : e == ENOMEM ? "ENOMEM" : e == EINVAL ? "EINVAL" : "other";
}

static unsigned long ALIGN_OF(void *p) { uintptr_t u = (uintptr_t)p; return (unsigned long)(u & -u); }

int main(void)
{
    void *p;
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
    return 0;
}
