/* secure.c: secure mode (the test runs with SABLE_SECURE=1): each misuse
 * is reported with one line naming the operation, the pointer and the
 * fault, then the process aborts (checked in forked children); freed
 * memory is zeroed and free-list links are not stored in the clear.
 * --emulated (under qemu-user): the emulator adds a line of its own
 * ("qemu: uncaught target signal 6 ...") after sable's; it is cut off. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <malloc.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "check.h"
#include "sable.h"

static void (*volatile p_free)(void *) = free;
static void *(*volatile p_malloc)(size_t) = malloc;

enum misuse {
    DOUBLE_SMALL,
    DOUBLE_MEDIUM,
    DOUBLE_LARGE,
    DOUBLE_HUGE,
    INTERIOR,
    MISALIGNED,
    FOREIGN,
    RANGE,
    CORRUPT_SMALL,
    CORRUPT_MEDIUM,
    /* the lean free's own checks, per way of zeroing and size */
    DOUBLE_16,
    DOUBLE_128,
    DOUBLE_160,
    DOUBLE_OTHER_LIVE,
    INTERIOR_160,
    INTERIOR_LARGE,
    MISALIGNED_8,
    UNCARVED,
    REALLOC_FREED,
    REALLOC_INTERIOR,
    REALLOC_FREED_GROWN,
    /* foreign pointers whose 4 MiB-aligned chunk sable never mapped (a
       header read there would crash before any check) */
    FOREIGN_STATIC,
    FOREIGN_UNMAPPED,
    REALLOC_FOREIGN,
    N_MISUSE
};

static const char *const expect[N_MISUSE] = {
    "double free",
    "double free",
    "double free",
    "double free",
    "interior pointer",
    "misaligned pointer",
    "not a pointer from sable",
    "sable: free_range(",
    "corrupted free list",
    "corrupted free list",
    "double free",
    "double free",
    "double free",
    "double free",
    "interior pointer",
    "interior pointer",
    "misaligned pointer",
    "pointer to no block",
    "realloc(0x",
    "realloc(0x",
    "realloc(0x",
    "not a pointer from sable",
    "not a pointer from sable",
    "not a pointer from sable",
};

/* a use after free overwrites a freed block's link with a plausible
   pointer: malloc of that size must report it when it reaches the block
   (b heads the page's free list: the next malloc takes it and follows its
   link), never return the pointer */
static void corrupt_link(size_t size)
{
    static char target[256];
    char *a = p_malloc(size), *b = p_malloc(size);
    p_free(a);
    p_free(b); /* b heads its list, its link leads to a */
    *(void **)b = target;
    for (int i = 0; i < 100000; i++) {
        void *x = p_malloc(size);
        if (x == (void *)target) {
            fprintf(stderr, "not detected: %p\n", x);
            return;
        }
    }
    fprintf(stderr, "not detected: the block was never reached\n");
}

static void misuse(enum misuse m)
{
    char *p;
    int local;
    switch (m) {
    case DOUBLE_SMALL:
        p = p_malloc(48);
        p_free(p);
        p_free(p);
        break;
    case DOUBLE_MEDIUM:
        p = p_malloc(5000);
        p_free(p);
        p_free(p);
        break;
    case DOUBLE_LARGE:
        p = p_malloc(1 << 20);
        p_free(p);
        p_free(p);
        break;
    case DOUBLE_HUGE:
        p = p_malloc(8 << 20);
        p_free(p);
        p_free(p);
        break;
    case INTERIOR:
        p = p_malloc(64);
        p_free(p + 16);
        break;
    case MISALIGNED:
        p = p_malloc(64);
        p_free(p + 1);
        break;
    case FOREIGN: p_free(&local); break;
    case RANGE:
        p = p_malloc(256);
        sable_free_range(p + 64, 64);
        sable_free_range(p + 100, 8);
        break;
    case CORRUPT_SMALL: corrupt_link(64); break;
    case CORRUPT_MEDIUM: corrupt_link(3000); break;
    case DOUBLE_16:
        p = p_malloc(16);
        p_free(p);
        p_free(p);
        break;
    case DOUBLE_128:
        p = p_malloc(128);
        p_free(p);
        p_free(p);
        break;
    case DOUBLE_160: /* the page still holds another live block */
    case DOUBLE_OTHER_LIVE: {
        char *keep = p_malloc(m == DOUBLE_160 ? 160 : 700);
        p = p_malloc(m == DOUBLE_160 ? 160 : 700);
        p_free(p);
        p_free(p);
        p_free(keep);
        break;
    }
    case INTERIOR_160:
        p = p_malloc(160);
        p_free(p + 32);
        break;
    case INTERIOR_LARGE:
        p = p_malloc(100000);
        p_free(p + 4096);
        break;
    case MISALIGNED_8:
        p = p_malloc(1000);
        p_free(p + 8);
        break;
    case UNCARVED: /* a block-aligned pointer past the blocks carved so far */
        p = p_malloc(2048);
        p_free(p + 2048 * 20);
        break;
    case FOREIGN_STATIC: {
        static char in_the_binary[64];
        p_free(in_the_binary);
        break;
    }
    case FOREIGN_UNMAPPED: p_free((void *)(uintptr_t)0x10000); break;
    case REALLOC_FOREIGN: {
        static char also_in_the_binary[64];
        p = realloc(also_in_the_binary, 100);
        break;
    }
    case REALLOC_FREED:
        p = p_malloc(200);
        p_free(p);
        p = realloc(p, 400);
        break;
    case REALLOC_INTERIOR:
        p = p_malloc(200);
        p = realloc(p + 32, 400);
        break;
    case REALLOC_FREED_GROWN: /* a block grown in place (its page detached) */
        p = p_malloc(100000);
        p = realloc(p, 300000);
        p_free(p);
        p = realloc(p, 10);
        break;
    default: break;
    }
    _exit(0); /* not detected */
}

static int emulated;

static void test_misuse(void)
{
    for (int m = 0; m < N_MISUSE; m++) {
        int fd[2];
        CHECK(pipe(fd) == 0);
        pid_t pid = fork();
        if (pid == 0) {
            dup2(fd[1], 2);
            close(fd[0]);
            misuse((enum misuse)m);
        }
        close(fd[1]);
        char buf[512] = {0};
        size_t got = 0;
        ssize_t r;
        while (got < sizeof buf - 1 && (r = read(fd[0], buf + got, sizeof buf - 1 - got)) > 0)
            got += (size_t)r;
        close(fd[0]);
        char *emu = emulated ? strstr(buf, "\nqemu: ") : NULL;
        if (emu != NULL) {
            emu[1] = '\0';
            got = (size_t)(emu + 1 - buf);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        int aborted = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
        int one_line = got > 0 && strchr(buf, '\n') == buf + got - 1;
        if (!aborted || !one_line || strstr(buf, expect[m]) == NULL ||
            strncmp(buf, "sable: ", 7) != 0)
            fprintf(stderr, "misuse %d: status %#x, stderr: %s\n", m, st, buf);
        CHECK(aborted && one_line && strstr(buf, expect[m]) != NULL);
        CHECK(strstr(buf, "(0x") != NULL); /* the pointer is named */
    }
}

static void test_scrub(void)
{
    /* freed memory is zeroed (beyond the two words sable keeps in it), for
       each way of zeroing: an inline loop (small), memset, whole pages
       given back to the OS (from 256 KiB), odd sizes included */
    static const size_t sizes[] = {16,    48,     256,    1000,    5000,
                                   65536, 200000, 300000, 1 << 20, 1500000};
    unsigned char *p = NULL;
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t n = sizes[k];
        p = p_malloc(n);
        CHECK(p != NULL);
        size_t u = sable_usable_size(p);
        memset(p, 0xff, u);
        p_free(p);
        int dirty = 0;
        for (size_t i = 16; i < u; i++)
            dirty |= p[i];
        if (dirty)
            fprintf(stderr, "size %zu: freed block not zeroed\n", n);
        CHECK(dirty == 0);
    }
    /* links are encoded: the freed block does not hold the next one's address */
    void *a = p_malloc(64), *b = p_malloc(64);
    p_free(a);
    p_free(b);
    CHECK(*(void **)b != a);
    /* ordinary use works, and allocations come back zeroed from freed memory */
    for (int round = 0; round < 1000; round++) {
        void *v[32];
        for (int i = 0; i < 32; i++) {
            v[i] = p_malloc(16 + (size_t)(round * 7 + i * 13) % 3000);
            CHECK(v[i] != NULL);
            memset(v[i], 0xaa, 16);
        }
        for (int i = 0; i < 32; i++)
            p_free(v[i]);
    }
    char *r = realloc(p_malloc(100), 5000);
    CHECK(r != NULL);
    p_free(r);
    /* a large block grown in place many times (secure mode checks each
       realloc's pointer), its contents kept */
    r = p_malloc(100000);
    CHECK(r != NULL);
    memset(r, 0x3c, 100000);
    for (size_t n = 100000 + 4096; n <= (1u << 20); n += 4096) {
        r = realloc(r, n);
        CHECK(r != NULL && r[0] == 0x3c && r[99999] == 0x3c);
    }
    p_free(r);
}

/* calloc hands out blocks freed in secure mode without writing them again
 * (they are zero from byte 16 on; it clears the first 16): every byte must
 * read zero anyway, for each kind and way of zeroing, for blocks freed by
 * another thread, and for blocks carved fresh from slices that held blocks
 * of another size (whose old freed-markers are still there). */
static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

static void *free_all(void *arg)
{
    void **v = arg;
    for (int i = 0; v[i] != NULL; i++)
        p_free(v[i]);
    return NULL;
}

static void test_calloc_reuse(void)
{
    static const size_t sizes[] = {1,     16,    24,     48,     64,      100,    128,
                                   144,   160,   256,    1000,   1024,    2048,   5000,
                                   16384, 65536, 100000, 300000, 1 << 20, 2 << 20};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t n = sizes[k];
        for (int remote = 0; remote < 2; remote++) {
            void *v[9] = {0};
            for (int i = 0; i < 8; i++) {
                v[i] = p_malloc(n);
                CHECK(v[i] != NULL);
                memset(v[i], 0xa5, sable_usable_size(v[i]));
            }
            if (remote) { /* freed by another thread: the general path */
                pthread_t t;
                CHECK(pthread_create(&t, NULL, free_all, v) == 0);
                pthread_join(t, NULL);
            } else {
                free_all(v);
            }
            for (int i = 0; i < 8; i++) {
                v[i] = calloc(1, n);
                CHECK(v[i] != NULL);
                if (!all_zero(v[i], n))
                    fprintf(stderr, "calloc(%zu) after %s free: not zero\n", n,
                            remote ? "remote" : "local");
                CHECK(all_zero(v[i], n));
            }
            free_all(v);
        }
    }
    /* 32-byte blocks over several slices, dirtied and freed: the emptied
       pages go back to their segment, and 48-byte pages carved from the
       same (dirty) slices must still give zeros */
    enum { N32 = 4 * 65536 / 32, N48 = 4 * 65536 / 48 };
    char **v = p_malloc(N32 * sizeof *v);
    CHECK(v != NULL);
    for (int i = 0; i < N32; i++) {
        v[i] = p_malloc(32);
        memset(v[i], 0x5a, 32);
    }
    for (int i = 0; i < N32; i++)
        p_free(v[i]);
    int dirty = 0;
    for (int i = 0; i < N48; i++) {
        v[i] = calloc(3, 16);
        dirty += !all_zero((unsigned char *)v[i], 48);
    }
    if (dirty)
        fprintf(stderr, "%d calloc(48) blocks carved over freed 32-byte blocks not zero\n", dirty);
    CHECK(dirty == 0);
    for (int i = 0; i < N48; i++)
        p_free(v[i]);
    p_free(v);
}

/* every class up to the largest zeroes the whole block on free (the
   inline stores, the 32-byte stores, memset, the OS), also when the free
   empties its page */
static void test_scrub_classes(void)
{
    for (size_t n = 16; n <= (2u << 20); n += n < 128 ? 16 : n / 4) {
        for (int alone = 0; alone < 2; alone++) {
            unsigned char *keep = alone ? NULL : p_malloc(n);
            unsigned char *p = p_malloc(n);
            size_t u = sable_usable_size(p);
            memset(p, 0xff, u);
            p_free(p);
            CHECK(all_zero(p + 16, u - 16));
            if (!all_zero(p + 16, u - 16))
                fprintf(stderr, "size %zu%s: freed block not zeroed\n", n, alone ? " (alone)" : "");
            p_free(keep);
        }
    }
}

/* Parts of a live block that are freed read as zero too: the ranges given
 * to sable_free_range (small and large blocks, page edges included) and
 * the tail a shrinking realloc gives back (read here where it lies, still
 * mapped: the test looks at freed memory on purpose). */
static void test_freed_parts(void)
{
    static const size_t sizes[] = {256, 5000, 300000};
    for (unsigned k = 0; k < 3; k++) {
        size_t n = sizes[k];
        unsigned char *p = malloc(n);
        CHECK(p != NULL);
        memset(p, 0xa5, n);
        size_t lo = n / 4 + 3, hi = n / 2 + 5; /* not page-aligned */
        CHECK(sable_free_range(p + lo, hi - lo) == 0);
        CHECK(all_zero(p + lo, hi - lo));
        CHECK(p[lo - 1] == 0xa5 && p[hi] == 0xa5); /* the rest is kept */
        free(p);
    }
    /* a one-block page of 1 MiB shrunk to 100 KB gives back its tail */
    unsigned char *q = malloc((size_t)1 << 20);
    CHECK(q != NULL);
    memset(q, 0x5a, (size_t)1 << 20);
    unsigned char *r = realloc(q, 100000);
    CHECK(r == q);
    size_t kept = malloc_usable_size(r);
    CHECK(kept >= 100000 && kept < ((size_t)1 << 20));
    CHECK(all_zero(r + kept, ((size_t)1 << 20) - kept));
    CHECK(r[99999] == 0x5a);
    free(r);
}

static long minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

/* A block growing past 256 KiB while the thread keeps a huge mapping (as
 * secure mode does too) grows where it is when it can: moving it into the
 * kept mapping is normal mode's way, which slow mode does not take. */
static void test_grow_in_place(void)
{
    unsigned char *h = p_malloc((size_t)4 << 20);
    CHECK(h != NULL);
    p_free(h); /* now the thread's kept mapping */
    unsigned char *p = p_malloc((size_t)200 << 10);
    CHECK(p != NULL);
    memset(p, 0x5a, (size_t)200 << 10);
    unsigned char *q = sable_realloc(p, (size_t)300 << 10);
    CHECK(q == p && q[(200 << 10) - 1] == 0x5a);
    p_free(q);
}

/* A freed huge block keeps its mapping, as in normal mode, zeroed: it
 * reads as zero where it lies (still mapped: the test looks at freed
 * memory on purpose), comes back at the next malloc of its size without a
 * page fault for the bytes a program writes first, and calloc of it is
 * zero; the RAM it holds stays bounded (the kept mapping and the cache)
 * and goes back on sable_purge(). */
static void test_huge_kept(void)
{
    const size_t n = (size_t)4 << 20;
    unsigned char *p = p_malloc(n);
    CHECK(p != NULL);
    memset(p, 0xa5, n);
    p_free(p);
    CHECK(all_zero(p, n));
    unsigned char *q = p_malloc(n);
    CHECK(q == p && all_zero(q, n));
    /* written in a few places, freed and allocated again (as sparse: the
       first page stays, the rest goes back to the OS) */
    q[0] = 1;
    q[n / 2] = 2;
    p_free(q);
    CHECK(all_zero(q, n));
    long f0 = minor_faults();
    for (int i = 0; i < 200; i++) {
        q = p_malloc(n);
        CHECK(q == p);
        q[0] = (unsigned char)i; /* the block's start: no page fault */
        p_free(q);
    }
    long faults = minor_faults() - f0;
    if (!emulated) {
        if (faults >= 50)
            fprintf(stderr, "200 malloc+write+free of a huge block: %ld page faults\n", faults);
        CHECK(faults < 50); /* unmapped on free: at least 200 */
    }
    /* calloc reuses a filled and freed mapping: zero */
    for (int i = 0; i < 3; i++) {
        p = p_malloc((size_t)8 << 20);
        CHECK(p != NULL);
        memset(p, 0x5a, (size_t)8 << 20);
        p_free(p);
        q = calloc(1, (size_t)8 << 20);
        CHECK(q != NULL && all_zero(q, (size_t)8 << 20));
        p_free(q);
    }
    /* RAM after freeing 8 filled blocks of 8 MiB: what the cache and the kept
       mapping hold (32 MiB and one block), nothing after sable_purge() */
    sable_purge();
    size_t base = rss_bytes();
    void *v[8];
    for (int i = 0; i < 8; i++) {
        v[i] = p_malloc((size_t)8 << 20);
        CHECK(v[i] != NULL);
        memset(v[i], 0x77, (size_t)8 << 20);
    }
    for (int i = 0; i < 8; i++)
        p_free(v[i]);
    size_t after = rss_bytes();
    sable_purge();
    size_t purged = rss_bytes();
    if (!emulated) {
        CHECK(after <= base + ((size_t)41 << 20));
        CHECK(purged <= base + ((size_t)2 << 20));
    }
}

/* A batch of small blocks whose slot array is a huge block, run in rounds
 * (as a benchmark's repetitions): the array's mapping is kept between
 * rounds, so a later round faults no page in (when huge blocks were
 * unmapped, each round faulted the whole array in again: 977 pages here,
 * and took long enough that the batch's own segments were purged before
 * the next round and faulted in again too). The best of three rounds
 * counts (a round that waits past the purge delay on a loaded machine may
 * fault legitimately). */
static void test_batch_rounds(void)
{
    enum { N = 500000, ROUNDS = 4 };
    long best = -1;
    for (int r = 0; r < ROUNDS; r++) {
        long f0 = minor_faults();
        char **slot = p_malloc(N * sizeof *slot);
        CHECK(slot != NULL);
        for (int i = 0; i < N; i++) {
            slot[i] = p_malloc(64);
            slot[i][0] = (char)i;
        }
        for (int i = 0; i < N; i++)
            p_free(slot[i]);
        p_free(slot);
        long f = minor_faults() - f0;
        if (r > 0 && (best < 0 || f < best))
            best = f;
    }
    if (!emulated) {
        if (best >= 400)
            fprintf(stderr, "a round of %d blocks faulted %ld pages in\n", N, best);
        CHECK(best < 400);
    }
}

/* A block whose pages the kernel will not give back (locked with mlock:
 * MADV_DONTNEED fails on them) is still zeroed when it is freed the way
 * that gives pages back: its class found sparse (blocks with only their
 * first page in RAM; made so here with MADV_DONTNEED), in a thread of its
 * own (the way is chosen per thread and class). */
static void *locked_thread(void *arg)
{
    const size_t n = 300000;
    for (int i = 0; i < 3; i++) {
        unsigned char *p = p_malloc(n);
        CHECK(p != NULL);
        size_t u = sable_usable_size(p);
        madvise(p + 4096, (u - 4096) & ~(size_t)4095, MADV_DONTNEED);
        p[0] = 1;
        p_free(p);
    }
    unsigned char *p = p_malloc(n);
    CHECK(p != NULL);
    size_t u = sable_usable_size(p);
    if (mlock(p, u) != 0) { /* RLIMIT_MEMLOCK too low here: nothing to check */
        p_free(p);
        return arg;
    }
    memset(p, 0xc3, u);
    p_free(p);
    if (!all_zero(p + 16, u - 16))
        fprintf(stderr, "a locked block of %zu bytes freed: not zeroed\n", u);
    CHECK(all_zero(p + 16, u - 16));
    munlock(p, u);
    return arg;
}

static void test_locked(void)
{
    pthread_t t;
    CHECK(pthread_create(&t, NULL, locked_thread, NULL) == 0);
    pthread_join(t, NULL);
}

int main(int argc, char **argv)
{
    emulated = argc > 1 && strcmp(argv[1], "--emulated") == 0;
    const char *s = getenv("SABLE_SECURE");
    if (s == NULL || strcmp(s, "1") != 0) {
        fprintf(stderr, "run with SABLE_SECURE=1\n");
        return 1;
    }
    test_misuse();
    test_scrub();
    test_scrub_classes();
    test_calloc_reuse();
    test_freed_parts();
    test_huge_kept();
    test_batch_rounds();
    test_locked();
    test_grow_in_place(); /* last: its untouched 4 MiB block sways the zeroing
                             of huge blocks (sparse) for the tests above */
    return check_done("sable secure");
}
