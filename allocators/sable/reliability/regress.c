/* regress.c: minimal tests of the sable bugs the fuzzer found (linked with
 * libsable.so). Each prints one line; the program fails if any fails.
 *
 * 1. A realloc that fails must leave its block untouched (sable.h), and a
 *    partially freed block keeps its released ranges until it is freed or
 *    reallocated. Found by fuzz.c: sbl_realloc (src/realloc.c) forgets the
 *    block's released ranges (sbl_range_forget) before it knows whether
 *    the realloc can succeed, so a realloc that then fails with ENOMEM
 *    leaves the block whole again: its usable size grows back and a range
 *    already released can be released a second time.
 * 2. realloc returns blocks aligned for any object (16 bytes, sable.h:
 *    "every block is at least 16-byte aligned"). Found by fuzz.c: a huge
 *    block of sable_aligned_alloc_any with an alignment that is not a
 *    power of two (1000, 9080) starts on that alignment, not on 16 bytes;
 *    sbl_realloc hands it to sbl_huge_realloc (src/huge.c), whose mremap
 *    keeps the offset inside the page, so the moved block is still only
 *    8-byte aligned.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sable.h"

static int failed;

static void expect(int ok, const char *what, size_t size, size_t got, size_t want)
{
    if (!ok) {
        printf("FAIL: %s (block of %zu bytes): got %zu, expected %zu\n", what, size, got, want);
        failed = 1;
    }
}

/* 1: a failed realloc of a partially freed block */
static void failed_realloc_keeps_ranges(size_t size)
{
    uint8_t *p = sable_malloc(size);
    if (p == NULL) {
        printf("FAIL: malloc(%zu)\n", size);
        failed = 1;
        return;
    }
    size_t u = sable_usable_size(p);
    size_t mid = (u / 2) & ~(size_t)15;
    if (sable_free_range(p + mid, 16) != 0) {
        printf("FAIL: free_range of 16 bytes in the middle of a %zu-byte block\n", size);
        failed = 1;
        sable_free(p);
        return;
    }
    size_t before = sable_usable_size(p); /* up to the released range */
    errno = 0;
    /* too big for any machine's address space, not above PTRDIFF_MAX
       (those are refused before anything else) */
    void *q = sable_realloc(p, (size_t)1 << 62);
    int err = errno;
    if (q != NULL) {
        printf("SKIP: realloc to 2^62 bytes succeeded here\n");
        sable_free(q);
        return;
    }
    expect(err == ENOMEM, "errno of the failed realloc", size, (size_t)err, ENOMEM);
    expect(sable_usable_size(p) == before, "usable size after the failed realloc", size, sable_usable_size(p),
           before);
    int rc = sable_free_range(p + mid, 16);
    expect(rc == EINVAL, "free_range of the released range again, after the failed realloc", size, (size_t)rc,
           EINVAL);
    sable_free(p);
}

/* 2: realloc moving a huge block of aligned_alloc_any(non-power-of-two) */
static void realloc_moves_to_16(size_t align)
{
    uint8_t *p = sable_aligned_alloc_any(align, (size_t)3 << 20);
    if (p == NULL || (uintptr_t)p % align != 0) {
        printf("FAIL: aligned_alloc_any(%zu, 3 MiB) = %p\n", align, (void *)p);
        failed = 1;
        return;
    }
    p[0] = 1;
    uint8_t *q = sable_realloc(p, (size_t)40 << 20);
    if (q == NULL) {
        printf("FAIL: realloc to 40 MiB failed\n");
        failed = 1;
        sable_free(p);
        return;
    }
    if (q != p && (uintptr_t)q % 16 != 0) {
        printf("FAIL: realloc(aligned_alloc_any(%zu, 3 MiB), 40 MiB) moved the block to %p, not 16-byte aligned\n",
               align, (void *)q);
        failed = 1;
    }
    if (q[0] != 1) {
        printf("FAIL: realloc lost the contents\n");
        failed = 1;
    }
    sable_free(q);
}

int main(void)
{
    static const size_t sizes[] = {100, 4000, 100000, 1000000, 5000000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        failed_realloc_keeps_ranges(sizes[i]);
    printf("%s: 1. a failed realloc keeps a partially freed block's released ranges (5 sizes)\n",
           failed ? "FAIL" : "ok");
    int before = failed;
    failed = 0;
    static const size_t aligns[] = {3, 5, 7, 9, 11, 24, 1000, 9080};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++)
        realloc_moves_to_16(aligns[i]);
    printf("%s: 2. realloc moving a huge block of aligned_alloc_any gives a 16-byte aligned block (8 alignments)\n",
           failed ? "FAIL" : "ok");
    return failed || before;
}
