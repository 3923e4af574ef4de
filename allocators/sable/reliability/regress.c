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
 * 3. With SABLE_STATS=1, live_bytes counts the usable bytes of the blocks
 *    handed out and not freed (sable.h): after every block is freed it is
 *    back where it was. Found by running the fuzzer's model with
 *    SABLE_STATS=1 (live_bytes ended above 1 GB with nothing live):
 *    sbl_free_hooked (src/hooks.c) subtracts the whole block from its
 *    start (block_size or huge_size) while sbl_hook_alloc added
 *    sbl_usable_size(p), which for an interior pointer of
 *    sable_aligned_alloc_any is smaller by the lead, so live_bytes drops by
 *    the lead at each such free (and can wrap below 0); and sbl_hook_range
 *    does not subtract what sable_free_range releases, while a released
 *    tail cut off a large or huge block makes the later free subtract the
 *    shorter block, so live_bytes grows by the tail each time.
 *    (This test runs in a copy of the program started with SABLE_STATS=1.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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
    expect(sable_usable_size(p) == before, "usable size after the failed realloc", size,
           sable_usable_size(p), before);
    int rc = sable_free_range(p + mid, 16);
    expect(rc == EINVAL, "free_range of the released range again, after the failed realloc", size,
           (size_t)rc, EINVAL);
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
        printf("FAIL: realloc(aligned_alloc_any(%zu, 3 MiB), 40 MiB) moved the block to %p, not "
               "16-byte aligned\n",
               align, (void *)q);
        failed = 1;
    }
    if (q[0] != 1) {
        printf("FAIL: realloc lost the contents\n");
        failed = 1;
    }
    sable_free(q);
}

/* 3: live_bytes back to its start after each sequence (SABLE_STATS=1) */
static size_t live_now(void)
{
    struct sable_stats st;
    sable_stats(&st);
    return st.live_bytes;
}

static void live_check(const char *what, size_t before)
{
    size_t after = live_now();
    if (after != before) {
        printf("FAIL: SABLE_STATS live_bytes %zu before, %zu after %s, all freed\n", before, after,
               what);
        failed = 1;
    }
}

static int stats_tests(void)
{
    size_t b = live_now();
    if (b == SIZE_MAX) {
        printf("FAIL: SABLE_STATS=1 is not on in the copy\n");
        return 1;
    }
    void *p = sable_aligned_alloc_any(24, 1000);
    sable_free(p);
    live_check("aligned_alloc_any(24, 1000) and free", b);
    b = live_now();
    uint8_t *q = sable_malloc(300000);
    sable_free_range(q + 65536, sable_usable_size(q) - 65536);
    sable_free(q);
    live_check("malloc(300000), free_range of all but its first 64 KiB, free", b);
    b = live_now();
    q = sable_malloc((size_t)5 << 20);
    size_t u = sable_usable_size(q);
    sable_free_range(q + 65536, u - 65536);
    sable_free_range(q, 65536);
    live_check("malloc(5 MiB), then all of it released by two free_range calls", b);
    printf("%s: 3. SABLE_STATS live_bytes after aligned_alloc_any and free_range (3 sequences)\n",
           failed ? "FAIL" : "ok");
    return failed;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "stats") == 0)
        return stats_tests();
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
    printf("%s: 2. realloc moving a huge block of aligned_alloc_any gives a 16-byte aligned block "
           "(8 alignments)\n",
           failed ? "FAIL" : "ok");
    before |= failed;
    /* 3 in a copy of this program with the statistics on */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("SABLE_STATS", "1", 1);
        execl("/proc/self/exe", argv[0], "stats", (char *)NULL);
        printf("FAIL: cannot run %s again\n", argv[0]);
        _exit(1);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        before = 1;
    return before;
}
