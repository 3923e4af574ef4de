/* unit.c: sable's internals: size classes both ways, pointer -> segment and
 * page, free lists (local, remote, delayed), heap hand-over. Linked with the
 * library's objects, so it sees the hidden functions. */
#define _GNU_SOURCE
#include "internal.h"
#include "sable.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <stdint.h>

#include "check.h"

static void test_classes(void)
{
    /* sizes ascend, 16-aligned below 128 and multiples of 16 everywhere */
    for (unsigned c = 0; c < SBL_NCLASSES; c++) {
        CHECK(sbl_class_size(c) % 16 == 0);
        if (c > 0)
            CHECK(sbl_class_size(c) > sbl_class_size(c - 1));
        /* at least four classes per doubling: each step at most 25% above
           128, and eight from 1 KiB to 16 KiB (12.5%), where blocks share
           their slices and rounding costs RAM */
        if (c > 8)
            CHECK(sbl_class_size(c) * 4 <= sbl_class_size(c - 1) * 5);
        if (sbl_class_size(c) > 1024 && sbl_class_size(c) <= 16384)
            CHECK(sbl_class_size(c) * 8 <= sbl_class_size(c - 1) * 9);
        CHECK(sbl_class_slices[c] >= 1 && sbl_class_slices[c] < SBL_SLICES);
        CHECK((size_t)sbl_class_slices[c] * SBL_SLICE_SIZE >= sbl_class_size(c));
        /* class -> size -> class */
        CHECK(sbl_size_class(sbl_class_size(c)) == c);
        CHECK(c == 0 || sbl_size_class(sbl_class_size(c - 1) + 1) == c);
    }
    CHECK(sbl_class_size(SBL_NCLASSES - 1) == SBL_LARGE_MAX);
    /* size -> class: the smallest class that holds n, for every n up to
       64 KiB and a sample above */
    for (size_t n = 0; n <= SBL_LARGE_MAX; n += n < 65536 ? 1 : 977) {
        unsigned c = sbl_size_class(n);
        CHECK(c < SBL_NCLASSES);
        if (c >= SBL_NCLASSES)
            continue;
        CHECK(sbl_class_size(c) >= n);
        CHECK(c == 0 || sbl_class_size(c - 1) < n);
    }
    CHECK(sbl_size_class(SBL_LARGE_MAX) == SBL_NCLASSES - 1);
}

static void test_lookup(void)
{
    static const size_t sizes[] = {0,    1,    16,   17,    100,    1024,    1025,
                                   5000, 8192, 8193, 65536, 100000, 1 << 20, SBL_LARGE_MAX};
    for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        uint8_t *p = sable_malloc(n);
        CHECK(p != NULL && (uintptr_t)p % 16 == 0);
        struct sbl_segment *s = sbl_segment_of(p);
        CHECK((uintptr_t)s % SBL_SEG_SIZE == 0);
        CHECK(s->kind == SBL_SEG_NORMAL);
        CHECK(s->heap == sbl_tls_heap);
        struct sbl_page *pg = sbl_page_of(s, p);
        CHECK(pg->offset == 0 && pg->in_use && sbl_page_flags(pg) == 0);
        CHECK(pg->block_size == sbl_class_size(sbl_size_class(n)));
        CHECK(p >= pg->start && p < pg->start + (size_t)pg->capacity * pg->block_size);
        CHECK((size_t)(p - pg->start) % pg->block_size == 0);
        /* an interior byte of a multi-slice page finds the same page */
        CHECK(sbl_page_of(s, p + pg->block_size - 1) == pg);
        CHECK(sable_usable_size(p) == pg->block_size);
        sable_free(p);
    }
    /* huge blocks, plain and with every large alignment */
    for (size_t a = 16; a <= ((size_t)64 << 20); a *= 2) {
        size_t n = a <= SBL_SLICE_SIZE ? SBL_LARGE_MAX + 1 : 100;
        uint8_t *p = sable_aligned_alloc(a, n);
        CHECK(p != NULL && (uintptr_t)p % a == 0);
        if (p == NULL)
            continue;
        struct sbl_segment *s = sbl_segment_of(p);
        struct sbl_page *pg = sbl_page_of(s, p);
        if (a > SBL_SLICE_SIZE || n > SBL_LARGE_MAX) {
            CHECK(s->kind == SBL_SEG_HUGE && pg == sbl_seg_pages(s));
            CHECK(sbl_page_flags(pg) == SBL_PF_HUGE && s->huge_size >= n);
            CHECK(p == (uint8_t *)s + s->huge_offset);
        } else {
            CHECK(s->kind == SBL_SEG_NORMAL);
        }
        memset(p, 1, n);
        sable_free(p);
    }
}

/* A page's list: free pushes onto the list malloc pops (the block freed
 * last comes back first), the used count, extension. */
static void test_free_list(void)
{
    const size_t n = 8192; /* one-slice pages of 8 blocks */
    void *a = sable_malloc(n);
    struct sbl_page *pg = sbl_page_of(sbl_segment_of(a), a);
    uint32_t used = pg->used;
    void *b = sable_malloc(n);
    CHECK(sbl_page_of(sbl_segment_of(b), b) == pg);
    CHECK(pg->used == used + 1);
    struct sbl_block *rest = pg->free;
    sable_free(b);
    CHECK(pg->used == used);
    /* the fast path's free heads the list malloc pops, ahead of the rest */
    CHECK(pg->free == (struct sbl_block *)b && ((struct sbl_block *)b)->next == rest);
    CHECK(sable_malloc(n) == b && pg->free == rest);
    /* the page's other blocks, until it runs dry */
    void *taken[8];
    unsigned k = 0;
    while (pg->free != NULL || pg->reserved < pg->capacity) {
        void *q = sable_malloc(n);
        CHECK(k < 8 && sbl_page_of(sbl_segment_of(q), q) == pg);
        taken[k++] = q;
    }
    CHECK(pg->reserved == pg->capacity && pg->capacity == 8);
    CHECK(pg->used == used + 1 + k);
    for (unsigned i = 0; i < k; i++)
        sable_free(taken[i]);
    sable_free(b);
    sable_free(a);
}

/* A page that runs out of blocks while its class has another page to serve
 * goes to the back of the queue, not to the full list: a block freed into
 * it meanwhile takes free's fast path onto its list (no flag to clear), and
 * malloc takes it when it comes back to the page. A page of fewer than 8
 * blocks (blocks of n bytes, `capacity` to a page) goes to the full list at
 * once (turn false). */
static void page_turn(size_t n, unsigned capacity, bool turn)
{
    enum { MAX = 128 };
    static void *blk[MAX];
    unsigned k = 0;
    blk[k++] = sable_malloc(n);
    struct sbl_page *a = sbl_page_of(sbl_segment_of(blk[0]), blk[0]), *b = NULL;
    CHECK(a->capacity == capacity);
    while (k < MAX) { /* a runs dry: the next block is on another page, b */
        void *p = sable_malloc(n);
        blk[k++] = p;
        if ((b = sbl_page_of(sbl_segment_of(p), p)) != a)
            break;
    }
    CHECK(b != a && b->capacity == capacity);
    sable_free(blk[0]); /* a has a free block again */
    blk[0] = NULL;
    void *back = NULL;
    while (k < MAX) { /* b runs dry: malloc comes back to a's free block */
        void *p = sable_malloc(n);
        blk[k++] = p;
        if (sbl_page_of(sbl_segment_of(p), p) != b) {
            back = p;
            break;
        }
    }
    CHECK(back != NULL && sbl_page_of(sbl_segment_of(back), back) == a);
    if (!turn) {
        CHECK((sbl_page_flags(b) & SBL_PF_FULL) && b->turned == 0);
    } else {
        CHECK(!(sbl_page_flags(b) & SBL_PF_FULL) && b->turned == 1);
        CHECK(sbl_tls_heap->queues[b->cls].last == b);
        /* b's own free takes the fast path onto its list */
        void *x = NULL;
        for (unsigned i = 1; i < k && x == NULL; i++)
            if (sbl_page_of(sbl_segment_of(blk[i]), blk[i]) == b)
                x = blk[i], blk[i] = NULL;
        sable_free(x);
        CHECK(b->free == (struct sbl_block *)x && !(sbl_page_flags(b) & SBL_PF_FULL));
    }
    for (unsigned i = 0; i < k; i++)
        sable_free(blk[i]);
}

static void test_page_turn(void)
{
    page_turn(3000, 21, true);  /* class 3072: 21 blocks in a one-slice page */
    page_turn(60000, 4, false); /* class 64 KiB: 4 blocks in a span of 4 slices */
}

struct remote_arg {
    void **blocks;
    int n;
};

static void *remote_free_thread(void *arg)
{
    struct remote_arg *r = arg;
    for (int i = 0; i < r->n; i++)
        sable_free(r->blocks[i]);
    return NULL;
}

static void free_in_thread(void **blocks, int n)
{
    struct remote_arg r = {blocks, n};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, remote_free_thread, &r) == 0);
    pthread_join(t, NULL);
}

/* blocks of pg handed out (a page that stays when it empties holds one
   more count in used: see types.h) */
static unsigned page_live(const struct sbl_page *pg)
{
    return pg->used - (pg->in_use == SBL_PAGE_KEPT);
}

/* Remote frees that go one by one (large blocks here; also slow mode and a
 * thread's own exit): onto the page's xthread_free list while the page is
 * in its queue, onto the heap's delayed list once it is full; both are
 * collected. */
static void test_remote(void)
{
    const size_t n = 100000; /* class 112 KiB: one block per page */
    void *a = sable_malloc(n);
    struct sbl_page *pg = sbl_page_of(sbl_segment_of(a), a);
    CHECK(pg->capacity == 1 && page_live(pg) == 1);
    /* the page is still first in its queue: the free lands on its list */
    free_in_thread(&a, 1);
    CHECK((atomic_load(&pg->xthread_free) & ~(uintptr_t)SBL_TF_MASK) == (uintptr_t)a);
    CHECK(page_live(pg) == 1);
    void *again = sable_malloc(n); /* collects it */
    CHECK(again == a);
    CHECK(page_live(pg) == 1);
    /* the next allocation moves the page to the full list */
    void *other = sable_malloc(n);
    CHECK(sbl_page_of(sbl_segment_of(other), other) != pg);
    CHECK(sbl_page_flags(pg) & SBL_PF_FULL);
    CHECK((atomic_load(&pg->xthread_free) & SBL_TF_MASK) == SBL_TF_USE_DELAYED);
    /* a remote free into a full page goes to the heap's delayed list */
    free_in_thread(&a, 1);
    CHECK(atomic_load(&sbl_tls_heap->delayed) == (struct sbl_block *)a);
    CHECK((atomic_load(&pg->xthread_free) & SBL_TF_MASK) == SBL_TF_NORMAL);
    /* the owner's slow path frees it locally and the page leaves the full list */
    sable_free(sable_malloc(3000000)); /* any slow-path allocation */
    CHECK(atomic_load(&sbl_tls_heap->delayed) == NULL);
    CHECK(!(sbl_page_flags(pg) & SBL_PF_FULL));
    sable_free(other);
}

/* every segment of h and every live page in them carries tag (free's
   fast-path test, see types.h) */
static bool heap_tagged(const struct sbl_heap *h, uintptr_t tag)
{
    if (h->owner_tag != tag)
        return false;
    for (const struct sbl_segment *s = h->segments; s != NULL; s = s->next) {
        if (s->owner_tag != tag)
            return false;
        for (unsigned i = 1; i < SBL_SLICES; i++) {
            const struct sbl_page *pg = &sbl_seg_pages(s)[i];
            if (sbl_page_in_use(pg) != SBL_PAGE_FREE && pg->offset == 0 &&
                (pg->owner & ~SBL_OWNER_FLAGS) != tag)
                return false;
        }
    }
    return true;
}

static void *exit_kept[2]; /* a live block of each thread across its exit */

static void *exit_thread(void *arg)
{
    struct sbl_heap **out = arg;
    exit_kept[exit_kept[0] != NULL] = sable_malloc(48);
    void *p = sable_malloc(100);
    void *big = sable_malloc(200000); /* a second segment, or more pages */
    *out = sbl_tls_heap;
    CHECK(heap_tagged(sbl_tls_heap, sbl_owner_tag(sbl_tls_heap)));
    CHECK(sbl_segment_of(p)->owner_tag != 0);
    /* a plain page's owner word is the thread's tag alone */
    struct sbl_segment *ps = sbl_segment_of(p);
    CHECK(sbl_page_of(ps, p)->owner == sbl_owner_tag(sbl_tls_heap));
    sable_free(big);
    sable_free(p);
    return NULL;
}

/* Thread exit hands the heap back; the next new thread adopts it. */
static void test_handover(void)
{
    struct sbl_heap *h1 = NULL, *h2 = NULL;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, exit_thread, &h1) == 0);
    pthread_join(t, NULL);
    size_t heaps = sbl_heap_count();
    CHECK(pthread_create(&t, NULL, exit_thread, &h2) == 0);
    pthread_join(t, NULL);
    CHECK(h1 != NULL && h1 == h2);
    CHECK(sbl_heap_count() == heaps);
    CHECK(h1 != sbl_tls_heap);
    /* abandoned: no thread's tag, so a later thread with the same thread
       pointer does not take its blocks for its own */
    CHECK(heap_tagged(h1, 0));
    CHECK(h1->segments == NULL || h1->segments->owner_tag == 0);
    /* the kept blocks' page is live, and without a tag: their frees take
       the slow path, into the abandoned heap */
    struct sbl_segment *ks = sbl_segment_of(exit_kept[0]);
    CHECK(ks->heap == h1 && sbl_page_of(ks, exit_kept[0])->owner == 0);
    sable_free(exit_kept[0]);
    sable_free(exit_kept[1]);
}

/* A ring of big blocks (free the oldest, allocate one): each allocation
 * takes the page the last free kept, and the pages stay out of the full
 * list, so that their frees take the fast path. */
static void test_large_ring(void)
{
    enum { N = 8, ROUNDS = 4 };
    void *v[N];
    for (int i = 0; i < N; i++)
        v[i] = sable_malloc((size_t)1 << 20);
    for (int r = 0; r < ROUNDS * N; r++) {
        int i = r % N;
        struct sbl_page *pg = sbl_page_of(sbl_segment_of(v[i]), v[i]);
        sable_free(v[i]);
        v[i] = sable_malloc((size_t)1 << 20);
        CHECK(v[i] == pg->start); /* the kept page again */
    }
    for (int i = 0; i < N; i++)
        CHECK(sbl_page_flags(sbl_page_of(sbl_segment_of(v[i]), v[i])) == 0);
    for (int i = 0; i < N; i++)
        sable_free(v[i]);
}

/* Blocks of 1 MiB placed in segments that hold no RAM do not all start
 * at the same offsets from 4 MiB boundaries (slices 1, 17 and 33), where
 * their page descriptors would share a few cache sets: the spans start
 * 0..15 slices further in, by segment. Without that, nearly a third of the
 * blocks start at slice 1. */
static void test_span_colour(void)
{
    enum { N = 96 };
    void *v[N];
    unsigned at[SBL_SLICES] = {0}, most = 0;
    sable_purge(); /* (the warm segments of earlier tests go back) */
    uint8_t populate = sbl_tls_heap->populate;
    sbl_tls_heap->populate = 0; /* (with it, 1 MiB blocks go on huge pages: tests/populate.c) */
    for (int i = 0; i < N; i++) {
        v[i] = sable_malloc((size_t)1 << 20);
        CHECK(v[i] != NULL);
        unsigned idx = (unsigned)(((uintptr_t)v[i] & (SBL_SEG_SIZE - 1)) >> SBL_SLICE_SHIFT);
        CHECK(idx >= 1 && idx + sbl_class_slices[sbl_size_class((size_t)1 << 20)] <= SBL_SLICES);
        most = ++at[idx] > most ? at[idx] : most;
    }
    CHECK(most <= N / 8);
    CHECK(sbl_segments_check(sbl_tls_heap) == NULL);
    for (int i = 0; i < N; i++)
        sable_free(v[i]);
    sbl_tls_heap->populate = populate;
}

/* Blocks of the big classes start 0..63 cache lines into their span's
 * first OS page (their colour), so that their first lines do not all
 * share a cache set: 128 blocks of 1 MiB take at least 48 of the 64
 * colours, each 64-byte aligned and within the first page. What depends
 * on where the block starts keeps working: posix_memalign of such a size
 * (while coloured pages of the class are free in its queue) is aligned,
 * realloc grows a block in place and gives its tail back, and
 * sable_free_range cuts a released tail, usable_size following. */
static void test_block_colour(void)
{
    enum { N = 128 };
    static void *v[N];
    uint64_t seen = 0;
    uint8_t populate = sbl_tls_heap->populate;
    sbl_tls_heap->populate = 0; /* (as in test_span_colour) */
    for (int i = 0; i < N; i++) {
        v[i] = sable_malloc((size_t)1 << 20);
        CHECK(v[i] != NULL);
        size_t off = (uintptr_t)v[i] & (SBL_SLICE_SIZE - 1);
        CHECK(off % 64 == 0 && off < 4096);
        seen |= (uint64_t)1 << (off / 64);
        memset(v[i], 0x5a, 64);
    }
    CHECK(__builtin_popcountll(seen) >= 48);
    for (int i = 0; i < N; i += 2)
        sable_free(v[i]); /* coloured pages wait in the class's queue */
    for (size_t align = 128; align <= 65536; align *= 4) {
        void *a = NULL;
        CHECK(sable_posix_memalign(&a, align, (size_t)1 << 20) == 0);
        CHECK(a != NULL && (uintptr_t)a % align == 0 && sable_usable_size(a) >= ((size_t)1 << 20));
        memset(a, 1, (size_t)1 << 20);
        sable_free(a);
    }
    /* a coloured block grows in place, shrinks, and loses a released tail */
    uint8_t *b = v[1];
    CHECK(((uintptr_t)b & (SBL_SLICE_SIZE - 1)) != 0 ||
          ((uintptr_t)v[3] & (SBL_SLICE_SIZE - 1)) != 0);
    if (((uintptr_t)b & (SBL_SLICE_SIZE - 1)) == 0)
        b = v[3];
    sable_free(v[N - 1]); /* (so that some block has free slices after it) */
    v[N - 1] = NULL;
    bool grew = false;
    for (int i = 1; i < N; i += 2) {
        if (v[i] == NULL || ((uintptr_t)v[i] & (SBL_SLICE_SIZE - 1)) == 0)
            continue;
        uint8_t *q = sable_resize_in_place(v[i], (size_t)3 << 19);
        if (q == NULL)
            continue; /* no room after this one */
        CHECK(q == v[i] && sable_usable_size(q) >= ((size_t)3 << 19));
        CHECK(((uintptr_t)q + sable_usable_size(q)) % SBL_SLICE_SIZE == 0);
        memset(q, 0x33, (size_t)3 << 19); /* the whole block is ours */
        b = q;
        grew = true;
        break;
    }
    CHECK(grew);
    CHECK(sable_realloc(b, (size_t)300 << 10) == b);
    size_t u = sable_usable_size(b);
    CHECK(u >= ((size_t)300 << 10) && u < ((size_t)1 << 20));
    CHECK(((uintptr_t)b + u) % SBL_SLICE_SIZE == 0);
    CHECK(b[0] == 0x33 && b[u - 1] == 0x33);
    CHECK(sable_free_range(b + ((size_t)128 << 10), u - ((size_t)128 << 10)) == 0);
    u = sable_usable_size(b);
    CHECK(u == ((size_t)128 << 10)); /* the span was cut: the block ends on its last slice */
    CHECK(sbl_block_extent(b) < ((size_t)192 << 10) &&
          ((uintptr_t)b + sbl_block_extent(b)) % SBL_SLICE_SIZE == 0);
    memset(b, 0x44, u);
    CHECK(sbl_segments_check(sbl_tls_heap) == NULL);
    for (int i = 1; i < N; i += 2)
        sable_free(v[i]);
    sbl_tls_heap->populate = populate;
}

/* calloc of a big block on written memory, in a loop: while the program
 * leaves the blocks untouched, their pages are given back (none holds RAM
 * right after calloc); once it writes them whole, memset (all of them hold
 * RAM). Either way the block reads as zero. */
static size_t resident_pages(void *p, size_t n)
{
    unsigned char vec[256];
    uint8_t *a = (uint8_t *)((uintptr_t)p & ~(uintptr_t)4095); /* (a big block is coloured) */
    size_t r = 0;
    CHECK(n / 4096 <= 256 && sbl_os_resident(a, n, vec));
    for (size_t i = 0; i < n / 4096; i++)
        r += vec[i] & 1;
    return r;
}

static void *calloc_drop_thread(void *arg)
{
    const size_t size = (size_t)1 << 20;
    size_t sparse = 0, dense = 0, bad = 0;
    for (int round = 0; round < 40; round++) {
        bool write_all = round >= 20;
        char *p = sable_calloc(1, size);
        CHECK(p != NULL);
        size_t r = resident_pages(p, size);
        if (round == 19)
            sparse = r;
        if (round == 39)
            dense = r;
        /* (reading a page given back maps the zero page, which mincore
           counts as RAM: the sparse rounds read two pages, the last all) */
        for (size_t off = 0; off < size; off += round >= 19 ? 4096 : size / 2)
            bad += p[off] != 0 || p[off + 4095] != 0;
        if (write_all)
            memset(p, 0x5a, size);
        else
            p[4096] = 0x5a;
        sable_free(p);
    }
    printf("calloc: %zu and %zu of 256 pages held RAM after calloc, blocks written in one "
           "page then whole\n",
           sparse, dense);
    CHECK(bad == 0);
    CHECK(sparse <= 2);
    CHECK(dense == 256);
    return arg;
}

/* (in a thread of its own: what the thread learned starts afresh) */
static void test_calloc_drop(void)
{
    pthread_t t;
    CHECK(pthread_create(&t, NULL, calloc_drop_thread, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
}

/* One empty page above SBL_KEEP_MAX stays per heap, wherever it is in its
 * queue: freeing one of several live 1 MiB blocks keeps its page (or it
 * stays retained: a page an earlier test emptied), and the next allocation
 * of the size takes it again. */
static void test_large_kept(void)
{
    enum { N = 4 };
    void *v[N];
    for (int i = 0; i < N; i++)
        v[i] = sable_malloc((size_t)1 << 20);
    struct sbl_page *pg = sbl_page_of(sbl_segment_of(v[1]), v[1]);
    sable_free(v[1]);
    CHECK((sbl_tls_heap->large_kept == pg || pg->retained) && pg->in_use != 0);
    void *again = sable_malloc((size_t)1 << 20);
    CHECK(again == v[1]);
    v[1] = again;
    for (int i = 0; i < N; i++)
        sable_free(v[i]);
}

/* Only pages holding a partially freed block leave the plain fast path. */
static void test_range_flag(void)
{
    char *a = sable_malloc(48), *b = sable_malloc(5000);
    struct sbl_page *pa = sbl_page_of(sbl_segment_of(a), a);
    struct sbl_page *pb = sbl_page_of(sbl_segment_of(b), b);
    CHECK(pa != pb && sbl_page_flags(pa) == 0 && sbl_page_flags(pb) == 0);
    CHECK(sable_free_range(a + 16, 16) == 0);
    CHECK(sbl_page_flags(pa) & SBL_PF_RANGE);
    CHECK(sbl_page_flags(pb) == 0);
    sable_free(a);
    sable_free(b);
}

/* the starts of the runs of k slices of s whose slices are all in map */
static uint64_t runs_in(uint64_t map, unsigned k)
{
    uint64_t t = map;
    for (unsigned i = 1; i < k && t; i++)
        t &= map >> i;
    return t;
}

/* How much RAM a page of k slices with room to grow (a run of `room` free
   slices) can reuse in a segment: 3 where all `room` slices still hold RAM
   (dirty), 2 where its own k do, 1 where the first one does, 0 where no
   run starts on a dirty slice. */
static unsigned held_tier(uint64_t free_map, uint64_t dirty_map, unsigned room, unsigned k)
{
    uint64_t runs = runs_in(free_map, room), held = free_map & dirty_map;
    if ((runs & dirty_map) == 0)
        return 0;
    if ((runs & runs_in(held, room)) != 0)
        return 3;
    return (runs & runs_in(held, k)) != 0 ? 2 : 1;
}

/* Spans: the run bins stay true through random large allocations, blocks
 * that realloc grows past 64 KiB (a page of its own with room to grow: a
 * run of 16 free slices) and frees, and a span goes where segment.c says:
 * the best-fitting segment (the lowest non-empty bin that fits) when the
 * whole span, room included, can go on RAM the heap still holds there;
 * else a segment where it reuses the most such RAM (all its slices, else
 * the page's own, else its first); with none, the best fit again (or a
 * segment new to the heap). */
static void test_spans(void)
{
    struct sbl_heap *h = sbl_tls_heap;
    enum { N = 400, SEGS = 256 };
    static void *blk[N];
    static struct sbl_segment *had[SEGS]; /* all of h's segments */
    static unsigned tier[SEGS];           /* what each offered the span */
    uint64_t rng = 0x5eed;
    const char *bad = NULL;
    unsigned dirty_picks = 0, grow_picks = 0;
    for (int step = 0; step < 6000 && bad == NULL; step++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        unsigned i = (unsigned)(rng >> 33) % N;
        if (blk[i]) {
            sable_free(blk[i]);
            blk[i] = NULL;
        } else {
            /* 65 KiB .. 2 MiB: spans of 2 .. 32 slices; one in four a
               block grown from 16 bytes to 65..256 KiB (grow_alloc: room
               for four spans, at least 16 slices) */
            bool grow = step % 4 == 3;
            size_t n =
                ((size_t)65 << 10) +
                (size_t)(rng >> 20) % (((size_t)(grow ? 256 : 2048) << 10) - ((size_t)65 << 10));
            unsigned cls = sbl_size_class(n);
            unsigned k = sbl_class_slices[cls], room = k;
            /* (the empty pages the heap retains go back before a span takes
               fresh RAM: given back now, they do not move what is seen
               below) */
            sbl_heap_retained_expire(h, true);
            if (grow) /* as grow_alloc: four spans, at least 16 slices */
                room = 4 * k < 16 ? 16 : 4 * k;
            uint64_t fit = h->run_mask & ~(((uint64_t)1 << room) - 1);
            /* (a page already in the class's queue is used first) */
            bool new_page = grow || h->queues[cls].first == NULL;
            struct sbl_segment *best = fit ? h->runs[__builtin_ctzll(fit)] : NULL;
            unsigned nsegs = 0, top = 0, got_tier = 0, best_tier = 0;
            bool was_heaps = false;
            for (struct sbl_segment *s = h->segments; s != NULL && nsegs < SEGS; s = s->next) {
                tier[nsegs] = s->run >= room ? held_tier(s->free_map, s->dirty_map, room, k) : 0;
                top = tier[nsegs] > top ? tier[nsegs] : top;
                best_tier = s == best ? tier[nsegs] : best_tier;
                had[nsegs++] = s;
            }
            blk[i] = grow ? sable_realloc(sable_malloc(16), n) : sable_malloc(n);
            CHECK(blk[i] != NULL);
            struct sbl_segment *got = sbl_segment_of(blk[i]);
            for (unsigned j = 0; j < nsegs; j++)
                if (had[j] == got) {
                    was_heaps = true;
                    got_tier = tier[j];
                }
            if (!new_page || best == NULL || nsegs > 32)
                continue;
            if (best_tier == 3 ? got != best
                               : (top > 0 ? got_tier < top : (got != best && was_heaps)))
                bad = "a span did not go where it reuses the most RAM, or to the best-fitting "
                      "segment";
            dirty_picks += best_tier < 3 && top > best_tier && got != best;
            grow_picks += grow && got_tier == 2 && top == 2;
        }
        bad = bad ? bad : sbl_segments_check(h);
    }
    if (bad == NULL && dirty_picks == 0)
        bad = "no span went past the best fit to RAM held elsewhere";
    if (bad == NULL && grow_picks == 0)
        bad = "no growing block had its own span, but not its room, on RAM held";
    if (bad)
        fprintf(stderr, "spans: %s\n", bad);
    CHECK(bad == NULL);
    for (int i = 0; i < N; i++)
        sable_free(blk[i]);
    CHECK(sbl_segments_check(h) == NULL);
}

/* Empty segments stay warm in the pool until their purge delay (the test
 * runs with SABLE_PURGE_DELAY=60000): 48 segments' worth of blocks freed
 * and allocated again cost (almost) no page fault; after sable_purge()
 * they cost as many as the first time. */
static long minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static long fault_round(void **v, int n, size_t size)
{
    long f0 = minor_faults();
    for (int i = 0; i < n; i++) {
        v[i] = sable_malloc(size);
        CHECK(v[i] != NULL);
        for (size_t off = 0; off < size; off += 4096)
            ((volatile char *)v[i])[off] = 1;
    }
    long f = minor_faults() - f0;
    for (int i = 0; i < n; i++)
        sable_free(v[i]);
    return f;
}

static void test_pool(void)
{
    enum { N = 144 }; /* 1 MiB each, three per segment: 48 segments */
    static void *v[N];
    const size_t size = (size_t)1 << 20;
    long first = fault_round(v, N, size);
    long again = fault_round(v, N, size);
    sable_purge();
    long purged = fault_round(v, N, size);
    printf("pool: %ld page faults on the first round of %d x 1 MiB, %ld on the next, "
           "%ld after sable_purge\n",
           first, N, again, purged);
    CHECK(first >= N * 200);
    CHECK(again * 10 < first);
    CHECK(purged * 2 > first);
}

/* calloc of a large block (a page of its own) does not write memory that
 * holds no RAM: after sable_purge every free slice is purged, so 32 blocks
 * of 1 MiB touched in one byte each cost about one fault each, not 256;
 * a block on slices that were written is zeroed. */
static void test_calloc_fresh(void)
{
    enum { N = 32 };
    static char *v[N];
    const size_t size = (size_t)1 << 20;
    sable_purge();
    long f0 = minor_faults();
    for (int i = 0; i < N; i++) {
        v[i] = sable_calloc(1, size);
        CHECK(v[i] != NULL);
        v[i][0] = 1;
    }
    long f = minor_faults() - f0;
    printf("calloc: %ld page faults for %d fresh blocks of 1 MiB touched in one byte\n", f, N);
    CHECK(f < N * 16);
    for (int i = 0; i < N; i++) {
        for (size_t off = 1; off < size; off += 4093)
            CHECK(v[i][off] == 0);
        memset(v[i], 0x5a, size);
        sable_free(v[i]);
    }
    for (int i = 0; i < N; i++) { /* warm, written slices: zeroed */
        v[i] = sable_calloc(1, size);
        size_t bad = 0;
        for (size_t off = 0; off < size; off++)
            bad += v[i][off] != 0;
        CHECK(bad == 0);
    }
    for (int i = 0; i < N; i++)
        sable_free(v[i]);
}

/* Remote frees of small blocks wait as pointers in the freeing thread's
 * record for the owner heap, which goes to the heap whole (heap->xrecs) when
 * it holds SBL_XREC_CAP pointers or when the thread exits (or flushes:
 * sable_purge, SBL_XB_AGE_MAX allocation slow paths); the owner frees them on its slow
 * path. Nothing writes into a block freed so: neither the free nor the
 * hand-over (the blocks keep the pattern they were given). */
#define REC_N (40 + SBL_XREC_CAP + 8)
#define REC_FILL 0xa5

struct rec_arg {
    void **blk;
    struct sbl_heap *owner;
    int from, to;
};

static bool rec_intact(void **blk, int from, int to)
{
    for (int i = from; i < to; i++)
        for (int k = 0; k < 64; k++)
            if (((unsigned char *)blk[i])[k] != REC_FILL)
                return false;
    return true;
}

static unsigned xrecs_count(const struct sbl_heap *h)
{
    unsigned n = 0;
    for (const struct sbl_xrec *r = atomic_load(&h->xrecs); r != NULL; r = r->next)
        n++;
    return n;
}

static void *rec_thread(void *arg)
{
    struct rec_arg *a = arg;
    unsigned before = xrecs_count(a->owner);
    for (int i = a->from; i < a->to; i++) {
        sable_free(a->blk[i]);
        if (i - a->from + 1 == SBL_XREC_CAP) { /* a full record goes at once */
            CHECK(xrecs_count(a->owner) == before + 1);
            CHECK(atomic_load(&a->owner->xrecs)->n == SBL_XREC_CAP);
        }
    }
    CHECK(rec_intact(a->blk, a->from, a->to)); /* the frees wrote nothing */
    if (a->to - a->from < SBL_XREC_CAP)
        CHECK(xrecs_count(a->owner) == before); /* still in the thread's record */
    return NULL;                                /* exit: the open record goes to the owner */
}

static void rec_free_in_thread(void **blk, int from, int to)
{
    struct rec_arg a = {blk, sbl_tls_heap, from, to};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, rec_thread, &a) == 0);
    pthread_join(t, NULL);
}

/* a thread that allocates and leaves its blocks to be freed by others */
static void *orphan_alloc_thread(void *arg)
{
    void **blk = arg;
    for (int i = 0; i < 10; i++)
        blk[i] = sable_malloc(48);
    return NULL;
}

/* producer/consumer through a ring: the consumer's records go back to the
   pool when the owner has freed their blocks, and are reused */
#define RING 256
static void *_Atomic ring[RING];
static _Atomic unsigned long ring_head, ring_tail;

static void *consumer_thread(void *arg)
{
    unsigned long n = *(unsigned long *)arg;
    for (unsigned long i = 0; i < n; i++) {
        while (atomic_load(&ring_tail) == atomic_load(&ring_head))
            sched_yield();
        sable_free(atomic_load(&ring[i % RING]));
        atomic_store(&ring_tail, i + 1);
    }
    return NULL;
}

static void test_remote_records(void)
{
    void *blk[REC_N];
    for (int i = 0; i < REC_N; i++) {
        blk[i] = sable_malloc(64);
        memset(blk[i], REC_FILL, 64);
        CHECK(sbl_page_of(sbl_segment_of(blk[i]), blk[i]) ==
              sbl_page_of(sbl_segment_of(blk[0]), blk[0]));
    }
    struct sbl_heap *h = sbl_tls_heap;
    struct sbl_page *pg = sbl_page_of(sbl_segment_of(blk[0]), blk[0]);
    unsigned live = page_live(pg);
    CHECK(atomic_load(&h->xrecs) == NULL);
    /* 40 frees: handed over at the thread's exit, in one record */
    rec_free_in_thread(blk, 0, 40);
    CHECK(xrecs_count(h) == 1);
    const struct sbl_xrec *r = atomic_load(&h->xrecs);
    CHECK(r->n == 40);
    for (unsigned i = 0; i < r->n && i < 40; i++)
        CHECK(r->p[i] == blk[i]);
    /* a full record, then 8 at exit */
    rec_free_in_thread(blk, 40, REC_N);
    CHECK(xrecs_count(h) == 3);
    CHECK(rec_intact(blk, 0, REC_N)); /* the hand-over wrote nothing */
    CHECK(page_live(pg) == live);     /* not collected yet */
    /* the owner's allocation slow path frees them */
    CHECK(sbl_heap_find_page(h, sbl_size_class(64)) != NULL);
    CHECK(atomic_load(&h->xrecs) == NULL);
    CHECK(page_live(pg) == live - REC_N);

    /* blocks of an exited thread freed by this one: the record goes to the
       abandoned heap, which this thread borrows to free them */
    void *ob[10];
    pthread_t t;
    CHECK(pthread_create(&t, NULL, orphan_alloc_thread, ob) == 0);
    pthread_join(t, NULL);
    struct sbl_page *opg = sbl_page_of(sbl_segment_of(ob[0]), ob[0]);
    struct sbl_heap *oh = sbl_segment_of(ob[0])->heap;
    CHECK(oh != h && atomic_load(&oh->claimed) == 0);
    for (int i = 0; i < 10; i++)
        sable_free(ob[i]);
    sbl_xb_flush(); /* this thread's records go (as on its allocation slow path) */
    CHECK(atomic_load(&oh->xrecs) == NULL);
    CHECK(opg->in_use == SBL_PAGE_FREE || page_live(opg) == 0);

    /* 200,000 messages from this thread to a consumer: records are reused */
    size_t chunks = atomic_load(&sbl_xrec_chunks);
    unsigned long msgs = 200000;
    CHECK(pthread_create(&t, NULL, consumer_thread, &msgs) == 0);
    for (unsigned long i = 0; i < msgs; i++) {
        while (atomic_load(&ring_head) - atomic_load(&ring_tail) == RING)
            sched_yield();
        void *p = sable_malloc(64);
        CHECK(p != NULL);
        atomic_store(&ring[i % RING], p);
        atomic_store(&ring_head, i + 1);
    }
    pthread_join(t, NULL);
    size_t used_chunks = atomic_load(&sbl_xrec_chunks) - chunks;
    printf("records: %zu chunk(s) of %zu records for %lu remote frees\n", used_chunks,
           (size_t)(64 << 10) / sizeof(struct sbl_xrec), msgs);
    CHECK(used_chunks <= 2); /* 3,226 records' worth without reuse */
}

/* A thread's open records wait through SBL_XB_AGE_MAX of its allocation
 * slow paths before they go to their owners unfilled (a full one goes at
 * once): a thread whose every malloc takes the slow path hands over records
 * of many pointers, not one or two */
struct age_arg {
    void **blk; /* three blocks of the main thread's heap */
    struct sbl_heap *owner;
};

static void *age_thread(void *arg)
{
    struct age_arg *a = arg;
    void *own[SBL_XB_AGE_MAX];
    void *first = sable_malloc(16); /* this thread's heap */
    CHECK(first != NULL);
    unsigned before = xrecs_count(a->owner);
    for (int i = 0; i < 3; i++)
        sable_free(a->blk[i]); /* a record for the owner opens here */
    for (int i = 0; i < SBL_XB_AGE_MAX - 1; i++) {
        own[i] = sbl_alloc_generic(2000, sbl_tls_heap);
        CHECK(own[i] != NULL);
    }
    CHECK(xrecs_count(a->owner) == before); /* still in this thread's record */
    own[SBL_XB_AGE_MAX - 1] = sbl_alloc_generic(2000, sbl_tls_heap);
    CHECK(xrecs_count(a->owner) == before + 1); /* old enough: it went */
    CHECK(atomic_load(&a->owner->xrecs)->n == 3);
    for (int i = 0; i < SBL_XB_AGE_MAX; i++)
        sable_free(own[i]);
    sable_free(first);
    return NULL;
}

static void test_records_age(void)
{
    void *blk[3];
    for (int i = 0; i < 3; i++)
        CHECK((blk[i] = sable_malloc(64)) != NULL);
    struct age_arg a = {blk, sbl_tls_heap};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, age_thread, &a) == 0);
    pthread_join(t, NULL);
    sbl_heap_collect(sbl_tls_heap, false);
    CHECK(atomic_load(&sbl_tls_heap->xrecs) == NULL);
}

/* The owner keeps the records it empties as its own spares when it batches
 * remote frees itself: the next record it opens is one of them, and a
 * thread that takes the pool meanwhile does not find them there (in
 * larson-style traffic records go back and forth without the pool's
 * atomics). Steps: X frees a block of main's (X batches); main frees X's
 * blocks in record R and hands it over; X collects R; a new thread Y takes
 * the pool for its first record; X opens a new record: R. */
static pthread_barrier_t kr_bar;
static struct sbl_xrec *kr_rec;   /* R, as main handed it over */
static struct sbl_heap *kr_xheap; /* X's heap */
static void *kr_xblk[10], *kr_mblk[3];

static void *keep_x_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10; i++)
        CHECK((kr_xblk[i] = sable_malloc(64)) != NULL);
    kr_xheap = sbl_tls_heap;
    sable_free(kr_mblk[0]);        /* a remote free: this thread batches */
    pthread_barrier_wait(&kr_bar); /* main frees kr_xblk[] into R */
    pthread_barrier_wait(&kr_bar);
    CHECK(atomic_load(&sbl_tls_heap->xrecs) == kr_rec);
    CHECK(sbl_heap_find_page(sbl_tls_heap, sbl_size_class(64)) != NULL); /* collects R */
    CHECK(atomic_load(&sbl_tls_heap->xrecs) == NULL);
    pthread_barrier_wait(&kr_bar); /* main runs Y */
    pthread_barrier_wait(&kr_bar);
    sbl_xb_flush();         /* the record open since the first free goes */
    sable_free(kr_mblk[2]); /* a new record for main's heap */
    sbl_xb_flush();
    return NULL;
}

static void *keep_y_thread(void *arg)
{
    (void)arg;
    sable_free(kr_mblk[1]); /* Y's first record: from the pool */
    return NULL;            /* exit: it goes to main's heap */
}

static void test_records_kept(void)
{
    struct sbl_heap *h = sbl_tls_heap;
    sbl_heap_collect(h, false);
    for (int i = 0; i < 3; i++)
        CHECK((kr_mblk[i] = sable_malloc(64)) != NULL);
    CHECK(pthread_barrier_init(&kr_bar, NULL, 2) == 0);
    pthread_t x, y;
    CHECK(pthread_create(&x, NULL, keep_x_thread, NULL) == 0);
    pthread_barrier_wait(&kr_bar);
    for (int i = 0; i < 10; i++)
        sable_free(kr_xblk[i]);
    sbl_xb_flush();
    kr_rec = atomic_load(&kr_xheap->xrecs);
    CHECK(kr_rec != NULL && kr_rec->n == 10);
    pthread_barrier_wait(&kr_bar); /* X collects R */
    pthread_barrier_wait(&kr_bar);
    CHECK(pthread_create(&y, NULL, keep_y_thread, NULL) == 0);
    pthread_join(y, NULL);
    const struct sbl_xrec *top = atomic_load(&h->xrecs);
    CHECK(top != NULL && top->n == 1 && top->p[0] == kr_mblk[1]);
    CHECK(top != kr_rec);          /* R was not in the pool */
    pthread_barrier_wait(&kr_bar); /* X opens a new record */
    pthread_join(x, NULL);
    top = atomic_load(&h->xrecs);
    CHECK(top != NULL && top->n == 1 && top->p[0] == kr_mblk[2]);
    CHECK(top == kr_rec); /* X's new record is R, kept by X */
    pthread_barrier_destroy(&kr_bar);
    sbl_heap_collect(h, false);
    CHECK(atomic_load(&h->xrecs) == NULL);
}

/* SBL_PAGE_KEPT marks exactly the pages that stay when they empty: the only page
 * of a class queue, up to SBL_KEEP_MAX (the free fast path skips
 * sbl_heap_retire for them); every other live page has 1. */
static const char *kept_marks_check(const struct sbl_heap *h)
{
    for (unsigned c = 0; c < SBL_NCLASSES; c++)
        for (const struct sbl_page *pg = h->queues[c].first; pg; pg = pg->next) {
            bool kept =
                (pg == h->queues[c].first && pg->next == NULL && pg->block_size <= SBL_KEEP_MAX) ||
                pg->retained;
            if (pg->in_use != (kept ? SBL_PAGE_KEPT : SBL_PAGE_LIVE))
                return "a page's in_use does not say whether it stays when it empties";
        }
    for (const struct sbl_page *pg = h->full.first; pg; pg = pg->next)
        if (pg->in_use != SBL_PAGE_LIVE)
            return "a page in the full list is marked to stay";
    return NULL;
}

static void test_kept_marks(void)
{
    struct sbl_heap *h = sbl_tls_heap;
    enum { N = 3000 };
    static void *v[N];
    static const size_t sizes[] = {24, 200, 3000, 40000, 200000};
    const char *bad = NULL;
    for (unsigned k = 0; k < 5 && bad == NULL; k++) {
        /* several pages of the class, then all but one emptied, then all */
        for (int i = 0; i < N; i++)
            v[i] = sable_malloc(sizes[k]);
        bad = kept_marks_check(h);
        for (int i = 0; i < N && bad == NULL; i += 2) {
            sable_free(v[i]);
            v[i] = NULL;
            if (i % 64 == 0)
                bad = kept_marks_check(h);
        }
        for (int i = 1; i < N; i += 2)
            sable_free(v[i]);
        bad = bad ? bad : kept_marks_check(h);
        /* a malloc+free loop on the class's one page keeps it */
        void *p = sable_malloc(sizes[k]);
        struct sbl_page *pg = sbl_page_of(sbl_segment_of(p), p);
        sable_free(p);
        for (int i = 0; i < 1000; i++)
            sable_free(sable_malloc(sizes[k]));
        if (sizes[k] <= SBL_KEEP_MAX && (!pg->in_use || h->queues[pg->cls].first != pg))
            bad = "the only page of a small class was released when it emptied";
        bad = bad ? bad : kept_marks_check(h);
    }
    if (bad)
        fprintf(stderr, "kept marks: %s\n", bad);
    CHECK(bad == NULL);
}

/* sbl_assert: its expression evaluated (and fatal when false) in debug
   builds only; compiled in both */
static void test_assert_mode(void)
{
    int n = 0;
    sbl_assert(++n == 1);
    CHECK(n == SBL_DEBUG);
}

/* A thread that frees a huge block and allocates one again gets its own
 * mapping back, written already (no page fault), whatever other threads do
 * meanwhile: each thread keeps the last huge mapping it freed (the test
 * runs with SABLE_PURGE_DELAY=60000, so none expires). Between this
 * thread's free and its malloc another thread frees a huge block too: a
 * cache shared by all threads, newest first, would give that one. */
enum { HUGE_ROUNDS = 3000 };

static void *huge_alloc_thread(void *arg)
{
    (void)arg;
    return sable_malloc((size_t)4 << 20);
}

static void *huge_free_thread(void *arg)
{
    sable_free(arg);
    return NULL;
}

static void *huge_loop_thread(void *arg)
{
    long *moved = arg;
    const size_t size = (size_t)4 << 20;
    char *last = NULL;
    long f0 = 0;
    for (int i = 0; i < HUGE_ROUNDS; i++) {
        char *p = sable_malloc(size);
        CHECK(p != NULL);
        for (size_t off = 0; off < size; off += 4096)
            p[off] = (char)i;
        if (i == 0) {
            struct rusage ru;
            getrusage(RUSAGE_THREAD, &ru);
            f0 = ru.ru_minflt;
        } else if (p != last) {
            moved[0]++;
        }
        last = p;
        sable_free(p);
    }
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    moved[1] = ru.ru_minflt - f0;
    return NULL;
}

static void test_huge_kept(void)
{
    void *a = sable_malloc((size_t)4 << 20), *b = NULL, *c;
    pthread_t t[2];
    CHECK(pthread_create(&t[0], NULL, huge_alloc_thread, NULL) == 0);
    pthread_join(t[0], &b);
    CHECK(a != NULL && b != NULL);
    sable_free(a);
    CHECK(pthread_create(&t[0], NULL, huge_free_thread, b) == 0);
    pthread_join(t[0], NULL);
    c = sable_malloc((size_t)4 << 20);
    CHECK(c == a);
    sable_free(c);

    long r[2][2] = {{0, 0}, {0, 0}};
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&t[i], NULL, huge_loop_thread, r[i]) == 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("huge: %ld and %ld of %d blocks of 4 MiB at another address than the thread's last, "
           "%ld and %ld page faults after the first\n",
           r[0][0], r[1][0], HUGE_ROUNDS, r[0][1], r[1][1]);
    for (int i = 0; i < 2; i++) {
        CHECK(r[i][0] == 0);
        CHECK(r[i][1] < HUGE_ROUNDS / 10);
    }
    sable_purge();
}

/* A buffer doubling from 16 B to 1 MiB (a growing vector) is copied only
 * while it is small: at its doubling to 16 KiB (the block the thread grew
 * last) it moves to a one-block page placed with room to grow, and every
 * later doubling stays in place, even when the heap's segments are full of
 * 2-slice holes (blocks of 100 KiB, every other one freed), and is not cut
 * back to its size at 32 KiB. A block that doubles to 16 KiB but is not the
 * one grown last stays with its class. */
static void test_realloc_room(void)
{
    enum { FRAG = 120 };
    static void *frag[FRAG];
    for (int i = 0; i < FRAG; i++)
        frag[i] = sable_malloc(100 << 10);
    for (int i = 0; i < FRAG; i += 2)
        sable_free(frag[i]);
    int moved_big = 0;
    for (int round = 0; round < 20; round++) {
        size_t n = 16;
        char *p = sable_malloc(n);
        CHECK(p != NULL);
        while (n < ((size_t)1 << 20)) {
            char *q = sable_realloc(p, 2 * n);
            CHECK(q != NULL);
            if (q != p && 2 * n > ((size_t)16 << 10))
                moved_big++;
            q[2 * n - 1] = 1;
            p = q;
            n *= 2;
        }
        sable_free(p);
    }
    printf("realloc: %d of 120 doublings from 16 KiB to 1 MiB moved\n", moved_big);
    CHECK(moved_big == 0);
    char *a = sable_malloc(8192); /* allocated, not grown, at 8 KiB */
    a = sable_realloc(a, 16384);
    CHECK(a != NULL && sable_usable_size(a) == 16384);
    char *b = sable_realloc(sable_malloc(4096), 8192);
    b = sable_realloc(b, 16384);
    CHECK(b != NULL && sable_usable_size(b) > ((size_t)64 << 10));
    /* growing on, it keeps its room (its next doublings fit there); asked
       for less than it last was, it gives the room back */
    char *b2 = sable_realloc(b, 32768);
    CHECK(b2 == b && sable_usable_size(b) > ((size_t)64 << 10));
    b2 = sable_realloc(b, 20000);
    CHECK(b2 == b && sable_usable_size(b) <= ((size_t)64 << 10));
    sable_free(a);
    sable_free(b);
    for (int i = 1; i < FRAG; i += 2)
        sable_free(frag[i]);
}

/* From 1 KiB to 16 KiB a block allocated at its size takes the fine
 * classes (eight per doubling: 2100 bytes in a block of 2304), and a block
 * that realloc grows the coarse ones (2560): a buffer grown 64 bytes at a
 * time from 1 KiB to 16 KiB moves once per quarter doubling (16 times),
 * not once per eighth (32); past 16 KiB it moves once more, to a page of
 * its own with room, and stays there up to 64 KiB (not back to a medium
 * class at the next step, and out again past that class). */
static void test_realloc_steps(void)
{
    void *a = sable_malloc(2100);
    CHECK(sable_usable_size(a) == 2304);
    void *b = sable_malloc(1032);
    CHECK(sable_usable_size(b) == 1152);
    b = sable_realloc(b, 2100);
    CHECK(sable_usable_size(b) == 2560);
    sable_free(a);
    sable_free(b);
    int moves = 0;
    char *p = sable_malloc(1024);
    for (size_t n = 1024 + 64; n <= 65536; n += 64) {
        char *q = sable_realloc(p, n);
        CHECK(q != NULL);
        moves += q != p;
        q[n - 1] = 1;
        p = q;
    }
    sable_free(p);
    printf("realloc: %d moves growing 1 KiB to 64 KiB in steps of 64 bytes\n", moves);
    CHECK(moves == 17);
}

/* A buffer grown in 64 KiB steps to 8 MiB and freed, twice: the second time
   it moves once, early and small, into the mapping the first one left (the
   thread's kept huge mapping), and grows there into pages already written:
   no copy of MiBs, no page faults to speak of. */
static void test_realloc_kept(void)
{
    enum { STEP = 64 << 10, LIMIT = 8 << 20 };
    long faults[2];
    size_t copied[2] = {0, 0};
    for (int round = 0; round < 2; round++) {
        long f0 = minor_faults();
        char *p = NULL;
        for (size_t n = STEP; n <= LIMIT; n += STEP) {
            char *q = sable_realloc(p, n);
            CHECK(q != NULL);
            if (p != NULL && q != p)
                copied[round] += n - STEP;
            for (size_t i = n - STEP; i < n; i += 4096)
                q[i] = 1;
            p = q;
        }
        sable_free(p);
        faults[round] = minor_faults() - f0;
    }
    printf("realloc to 8 MiB: %ld then %ld page faults, %zu then %zu KiB copied\n", faults[0],
           faults[1], copied[0] >> 10, copied[1] >> 10);
    CHECK(faults[1] < faults[0] / 8);
    CHECK(copied[1] <= (size_t)384 << 10);
}

/* the heap's list of retained pages as heap.c keeps it: each marked and
   KEPT, their slices counted */
static bool retained_ok(const struct sbl_heap *h)
{
    uint32_t slices = 0;
    for (uint32_t i = 0; i < h->nretained; i++) {
        const struct sbl_page *pg = h->retained[i];
        if (!pg->retained || pg->in_use != SBL_PAGE_KEPT)
            return false;
        slices += pg->slices;
    }
    return slices == h->retained_slices && h->nretained <= SBL_RETAIN_MAX;
}

/* Retained pages (heap.c): the pages of a class that empty while it has
   others stay in their queues (KEPT, within the heap's budget) and serve
   the next round; they go when a new span would need fresh RAM. */
static void test_retained(void)
{
    struct sbl_heap *h = sbl_tls_heap;
    enum { N = 10 }; /* 64 KiB blocks, 4 to a page: 3 pages */
    void *v[N];
    struct sbl_page *pg[N];
    sbl_heap_retained_expire(h, true);
    uint32_t before = h->nretained;
    for (int i = 0; i < N; i++) {
        v[i] = sable_malloc((size_t)64 << 10);
        pg[i] = sbl_page_of(sbl_segment_of(v[i]), v[i]);
    }
    for (int i = N - 1; i >= 0; i--)
        sable_free(v[i]);
    int retained = 0;
    for (int i = 0; i < N; i++)
        retained += pg[i]->retained && pg[i]->in_use == SBL_PAGE_KEPT && pg[i]->used == 1;
    CHECK(h->nretained >= before + 2 && retained >= 2 * 4 - 2 && retained_ok(h));
    CHECK(h->retained_slices <= SBL_RETAIN_SLICES && h->nretained <= SBL_RETAIN_MAX);
    CHECK(sbl_segments_check(h) == NULL && kept_marks_check(h) == NULL);
    /* the next round takes the same pages */
    for (int i = 0; i < N; i++) {
        v[i] = sable_malloc((size_t)64 << 10);
        struct sbl_page *p = sbl_page_of(sbl_segment_of(v[i]), v[i]);
        bool seen = false;
        for (int j = 0; j < N; j++)
            seen |= p == pg[j];
        CHECK(seen);
    }
    for (int i = 0; i < N; i++)
        sable_free(v[i]);
    /* before fresh RAM: the empty ones go back to their segments */
    CHECK(sbl_heap_retained_expire(h, true));
    CHECK(h->nretained == 0 && h->retained_slices == 0);
    for (int i = 0; i < N; i++)
        CHECK(!pg[i]->retained);
    CHECK(sbl_segments_check(h) == NULL && kept_marks_check(h) == NULL);
    /* a one-block page (80 KiB) that a retained page serves, grown in place
       by realloc: it leaves the list, which counts its slices right */
    enum { M = 4 };
    void *u[M];
    for (int i = 0; i < M; i++)
        u[i] = sable_malloc((size_t)80 << 10);
    for (int i = M - 1; i >= 1; i--)
        sable_free(u[i]);
    CHECK(retained_ok(h));
    int r = -1; /* the block a retained page serves */
    for (int i = 1; i < M && r < 0; i++) {
        u[i] = sable_malloc((size_t)80 << 10);
        r = sbl_page_of(sbl_segment_of(u[i]), u[i])->retained ? i : -1;
        if (r < 0)
            sable_free(u[i]);
    }
    CHECK(r > 0);
    if (r > 0) {
        u[r] = sable_realloc(u[r], (size_t)120 << 10);
        CHECK(u[r] != NULL && retained_ok(h));
        sable_free(u[r]);
    }
    sable_free(u[0]);
    CHECK(retained_ok(h) && kept_marks_check(h) == NULL);
    /* a collect with force (sable_purge, thread exit) leaves none: the
       empty ones go, one that holds a block is an ordinary page again */
    for (int i = 0; i < N; i++)
        v[i] = sable_malloc((size_t)64 << 10);
    for (int i = N - 1; i >= 0; i--)
        sable_free(v[i]);
    CHECK(h->nretained >= 2);
    /* blocks until one comes from a retained page (the pages of the class
       serve in turn) */
    struct sbl_page *held = NULL;
    int k = 0;
    while (k < N && held == NULL) {
        v[k] = sable_malloc((size_t)64 << 10);
        struct sbl_page *p = sbl_page_of(sbl_segment_of(v[k]), v[k]);
        held = p->retained ? p : NULL;
        k++;
    }
    CHECK(held != NULL);
    sbl_heap_collect(h, true);
    CHECK(h->nretained == 0 && (held == NULL || !held->retained) && kept_marks_check(h) == NULL);
    for (int i = 0; i < k; i++)
        sable_free(v[i]);
    CHECK(sbl_segments_check(h) == NULL && kept_marks_check(h) == NULL);
}

/* h, a heap of a test's own (static, zeroed), made ready to serve and
   claimed by this thread */
static void own_heap(struct sbl_heap *h)
{
    for (unsigned n = 0; n <= SBL_DIRECT_MAX; n++)
        h->direct[n] = &sbl_empty_page;
    atomic_store(&h->claimed, 1);
}

/* the slices of s that page pg spans, as a map */
static uint64_t span_of(const struct sbl_segment *s, const struct sbl_page *pg)
{
    return (((uint64_t)1 << pg->slices) - 1) << (pg - sbl_seg_pages(s));
}

/* An emptied big page the heap retains gives its RAM back when it goes
 * once its purge delay has passed, also where a new span's need releases
 * it before its time would (sbl_heap_retained_expire with all): it has
 * lain idle as long as a released span's RAM would before its purge. One
 * whose delay has not passed goes with its RAM, for the span to reuse. */
static void test_retained_idle(void)
{
    struct sbl_heap *h = sbl_tls_heap;
    enum { N = 4 };
    const size_t size = (size_t)512 << 10; /* one-block pages */
    void *v[N];
    struct sbl_page *pg[N];
    sbl_heap_retained_expire(h, true);
    for (int i = 0; i < N; i++) {
        v[i] = sable_malloc(size);
        memset(v[i], 1, size);
        pg[i] = sbl_page_of(sbl_segment_of(v[i]), v[i]);
    }
    for (int i = N - 1; i >= 0; i--)
        sable_free(v[i]);
    /* (the monotonic clock counts from boot: past a minute by now) */
    uint64_t now = sbl_clock_ms(), delay = sbl_purge_delay();
    CHECK(now > delay);
    int due = -1, fresh = -1;
    for (uint32_t k = 0; k < h->nretained; k++)
        for (int i = 0; i < N; i++) {
            if (h->retained[k] != pg[i])
                continue;
            if (due < 0) {
                due = i;
                h->retained_at[k] = now - delay - 1;
            } else {
                fresh = i;
                h->retained_at[k] = now;
            }
        }
    CHECK(due >= 0 && fresh >= 0);
    if (due < 0 || fresh < 0)
        return;
    CHECK(resident_pages(v[due], size) == size / 4096 &&
          resident_pages(v[fresh], size) == size / 4096);
    CHECK(sbl_heap_retained_expire(h, true));
    CHECK(!pg[due]->retained && !pg[fresh]->retained);
    CHECK(resident_pages(v[due], size) == 0);
    CHECK(resident_pages(v[fresh], size) == size / 4096);
    CHECK(sbl_segments_check(h) == NULL && kept_marks_check(h) == NULL);
}

/* A new span whose best fit on RAM the heap holds is only in part on it
 * (a short run of free slices that hold RAM, fresh ones after it) first
 * gives back the empty pages the heap retains: their slices then hold the
 * whole span, and no fresh RAM comes in while retained RAM lies idle. A
 * heap of the test's own in a segment fresh from the OS: a live 1 MiB
 * block, a retained 512 KiB page (9 slices), three free slices that hold
 * RAM (a 192 KiB page released), the rest fresh; a 256 KiB page (5 slices)
 * then takes slices that held RAM alone. */
static void test_retained_before_partial_fit(void)
{
    static struct sbl_heap rh;
    struct sbl_heap *h = &rh;
    own_heap(h);
    sbl_segment_cache_flush();
    void *c = sbl_alloc_class(h, sbl_size_class((size_t)1 << 20));
    void *r = sbl_alloc_class(h, sbl_size_class((size_t)512 << 10));
    void *d = sbl_alloc_class(h, sbl_size_class((size_t)192 << 10));
    CHECK(c != NULL && r != NULL && d != NULL);
    if (c == NULL || r == NULL || d == NULL)
        return;
    struct sbl_segment *s = sbl_segment_of(c);
    struct sbl_page *pr = sbl_page_of(s, r), *pd = sbl_page_of(s, d);
    CHECK(h->segments == s && s->next == NULL && sbl_segment_of(r) == s && sbl_segment_of(d) == s);
    CHECK(s->dirty_map == 0); /* (fresh: no slice holds RAM) */
    uint64_t held = span_of(s, pr) | span_of(s, pd);
    sbl_free_local(h, pr, r); /* kept */
    sbl_free_local(h, pd, d); /* kept in its place: r's page is retained */
    CHECK(pr->retained && h->large_kept == pd);
    CHECK(sbl_heap_drop_large_kept(h)); /* its slices: free, holding RAM */
    void *e = sbl_alloc_class(h, sbl_size_class((size_t)256 << 10));
    CHECK(e != NULL && sbl_segment_of(e) == s);
    struct sbl_page *pe = sbl_page_of(s, e);
    CHECK((span_of(s, pe) & ~held) == 0 && !pr->retained && h->nretained == 0);
    sbl_free_local(h, pe, e);
    sbl_free_local(h, sbl_page_of(s, c), c);
    sbl_heap_collect(h, true);
    CHECK(h->segments == NULL && sbl_segments_check(h) == NULL);
}

/* A new span that needs fresh RAM first gives the heap's kept large page
 * back (span_segment); when that empties its segment and the segment
 * leaves the heap (under an address-space limit every empty segment goes
 * to the pool), the span must not go into that segment as the best fit
 * looked up before: it would be a live page in a pooled segment with no
 * heap, and its block's free would crash. A heap of the test's own (no
 * other segment) and the pool emptied make the case exact: the 1 MiB
 * page kept empty in the heap's only segment, then a 512 KiB block. */
static void test_kept_drop_refit(void)
{
    static struct sbl_heap kh;
    struct sbl_heap *h = &kh;
    own_heap(h);
    struct rlimit old, rl;
    CHECK(getrlimit(RLIMIT_AS, &old) == 0);
    rl = old;
    if (rl.rlim_cur == RLIM_INFINITY)
        rl.rlim_cur = rl.rlim_max != RLIM_INFINITY ? rl.rlim_max : (rlim_t)1 << 46;
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
    /* (its answer is read again each millisecond); an emulator such as
       qemu-user keeps the limit to itself: sable never sees it there */
    uint64_t until = sbl_clock_ms() + 2000;
    while (!sbl_os_as_limited() && sbl_clock_ms() < until)
        sched_yield();
    if (!sbl_os_as_limited()) {
        printf("unit: the address-space limit is not seen here (an emulator?): "
               "kept-page refit not checked\n");
        CHECK(setrlimit(RLIMIT_AS, &old) == 0);
        return;
    }
    sbl_segment_cache_flush();

    void *b1 = sbl_alloc_class(h, sbl_size_class((size_t)1 << 20));
    CHECK(b1 != NULL);
    struct sbl_segment *s = sbl_segment_of(b1);
    CHECK(s->heap == h && h->segments == s && s->next == NULL);
    sbl_free_local(h, sbl_page_of(s, b1), b1);
    CHECK(h->large_kept == sbl_page_of(s, b1));

    void *b2 = sbl_alloc_class(h, sbl_size_class((size_t)512 << 10));
    CHECK(b2 != NULL);
    struct sbl_segment *s2 = sbl_segment_of(b2);
    const char *bad = sbl_segments_check(h);
    if (bad)
        fprintf(stderr, "kept drop: %s\n", bad);
    CHECK(s2->heap == h && bad == NULL && h->large_kept == NULL);
    if (s2->heap == h) { /* (else the heap is broken: left as it is) */
        sbl_free_local(h, sbl_page_of(s2, b2), b2);
        sbl_heap_collect(h, true);
        CHECK(h->segments == NULL && sbl_segments_check(h) == NULL);
    }
    CHECK(setrlimit(RLIMIT_AS, &old) == 0);
    if (old.rlim_cur == RLIM_INFINITY)
        while (sbl_os_as_limited())
            sched_yield();
}

/* Each segment's descriptors sit in the window of its header that its
 * address picks, every pointer finds its page there (free's fast path
 * reads desc[(p >> 16) & 255]), huge blocks at a 4 MiB boundary of every
 * colour are freed, and a huge block that mremap moves to an address of
 * another colour takes its descriptors along. */
static void test_desc_colours(void)
{
    enum { NBIG = 24, NHUGE = 32, NMOVE = 8 };
    void *big[NBIG];
    unsigned seen = 0;
    for (int i = 0; i < NBIG; i++) { /* three 1 MiB blocks to a segment */
        big[i] = sable_malloc((size_t)1 << 20);
        struct sbl_segment *s = sbl_segment_of(big[i]);
        struct sbl_page *pg = sbl_page_of(s, big[i]);
        size_t at = (size_t)((uint8_t *)pg - (uint8_t *)s->desc);
        CHECK(at / (SBL_SLICES * sizeof *pg) == sbl_seg_colour(s));
        uintptr_t idx = ((uintptr_t)big[i] >> SBL_SLICE_SHIFT) & (SBL_SEG_COLOURS * SBL_SLICES - 1);
        CHECK(pg == &s->desc[idx]);
        seen |= 1u << sbl_seg_colour(s);
    }
    CHECK(__builtin_popcount(seen) >= 2);
    for (int i = 0; i < NBIG; i++)
        sable_free(big[i]);

    /* 4 MiB-aligned huge blocks start on the next segment's boundary; a
       spacer of 4-16 MiB mapped after each shifts the next one's colour */
    void *h[NHUGE], *hgap[NHUGE];
    int n = 0;
    bool last = false;
    while (n < NHUGE && !last) {
        uint8_t *p = h[n] = sable_aligned_alloc((size_t)4 << 20, 100);
        hgap[n] = mmap(NULL, (size_t)(n % SBL_SEG_COLOURS + 1) * SBL_SEG_SIZE, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        n++;
        CHECK(p != NULL && (uintptr_t)p % ((size_t)4 << 20) == 0);
        struct sbl_segment *s = sbl_segment_of(p);
        CHECK(sbl_page_of(s, p) == sbl_seg_pages(s) && p == sbl_seg_pages(s)->start);
        last = sbl_seg_colour(s) == SBL_SEG_COLOURS - 1;
    }
    CHECK(last);
    while (n > 0) {
        sable_free(h[--n]); /* the last colour's fast path reads desc[0] */
        if (hgap[n] != MAP_FAILED)
            munmap(hgap[n], (size_t)(n % SBL_SEG_COLOURS + 1) * SBL_SEG_SIZE);
    }

    /* moves: the address after each mapping taken (or already in use), so
       that realloc moves it; a spacer of 4-16 MiB mapped before each move
       shifts where the kernel puts the new range, so that the moves do
       not all keep one colour. All kept until the end, for new addresses */
    bool recoloured = false;
    void *moved[NMOVE], *blocker[NMOVE], *spacer[NMOVE];
    for (int i = 0; i < NMOVE; i++) {
        moved[i] = blocker[i] = spacer[i] = NULL;
        uint8_t *p = sable_malloc((size_t)3 << 20); /* a huge block */
        CHECK(p != NULL);
        struct sbl_segment *s = sbl_segment_of(p);
        uint8_t *after = (uint8_t *)s + s->map_size;
        void *b = mmap(after, SBL_OS_PAGE, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (b != MAP_FAILED && b != after) /* (a kernel without the flag) */
            munmap(b, SBL_OS_PAGE);
        else if (b == after)
            blocker[i] = b;
        size_t gap = (size_t)(i % SBL_SEG_COLOURS + 1) * SBL_SEG_SIZE;
        spacer[i] = mmap(NULL, gap, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        memset(p, 7, 4096);
        unsigned was = sbl_seg_colour(s);
        uint8_t *q = moved[i] = sable_realloc(p, s->map_size + ((size_t)4 << 20));
        CHECK(q != NULL && q[4095] == 7);
        if (q == NULL || q == p)
            continue; /* grown in place: the address after was free after all */
        struct sbl_segment *t = sbl_segment_of(q);
        struct sbl_page *pg = sbl_page_of(t, q);
        CHECK(pg == sbl_seg_pages(t) && sbl_page_flags(pg) == SBL_PF_HUGE && pg->start == q);
        recoloured |= sbl_seg_colour(t) != was;
    }
    for (int i = 0; i < NMOVE; i++) {
        sable_free(moved[i]);
        if (blocker[i] != NULL)
            munmap(blocker[i], SBL_OS_PAGE);
        if (spacer[i] != MAP_FAILED && spacer[i] != NULL)
            munmap(spacer[i], (size_t)(i % SBL_SEG_COLOURS + 1) * SBL_SEG_SIZE);
    }
    CHECK(recoloured);
}

int main(void)
{
    test_assert_mode();
    test_classes();
    test_lookup();
    test_free_list();
    test_page_turn();
    test_remote();
    test_handover();
    test_range_flag();
    test_kept_marks();
    test_spans();
    test_pool();
    test_calloc_fresh();
    test_calloc_drop();
    test_large_kept();
    test_large_ring();
    test_span_colour();
    test_block_colour();
    test_remote_records();
    test_records_age();
    test_records_kept();
    test_huge_kept();
    test_realloc_room();
    test_realloc_steps();
    test_realloc_kept();
    test_retained();
    test_retained_idle();
    test_kept_drop_refit();
    test_retained_before_partial_fit();
    test_desc_colours();
    return check_done("sable unit");
}
