/* heap.c: thread heaps: the class queues, the full list, collecting remote
 * frees (records of pointers, page lists, the delayed list), and handing a heap from an exiting thread to the next new one.
 *
 * Heaps are carved from a never-unmapped arena, so any heap pointer (read
 * from a segment header by another thread) stays valid forever. `claimed`
 * is 1 while a thread owns the heap; an abandoned heap has claimed == 0 and
 * sits on the abandoned list until a new thread adopts it. A thread freeing
 * into an abandoned heap may claim it for the duration of that free. */
#define _GNU_SOURCE
#include "internal.h"

#include <pthread.h>

__thread struct sbl_heap *sbl_tls_heap __attribute__((tls_model("initial-exec"))) = &sbl_empty_heap;

/* The page every empty slot of every heap points to: no free block, so the
 * allocation fast path falls into its slow path. */
struct sbl_page sbl_empty_page;

/* The heap of a thread that has not allocated yet. */
struct sbl_heap sbl_empty_heap = {
    .direct = {[0 ... SBL_DIRECT_MAX] = &sbl_empty_page},
    .claimed = 1,
};

static sbl_lock_t heaps_lock; /* guards the arena and both lists below */
static struct sbl_heap *all_heaps;
static struct sbl_heap *abandoned;
static uint8_t *arena_cur;
static size_t arena_left;
static pthread_key_t heap_key;
static bool heap_key_ok;

#define HEAP_ARENA_CHUNK ((size_t)256 << 10)

/* ---- class queues; the first page of a class <= 1 KiB is mirrored in
 * heap->direct (and, in slow mode, where direct holds the empty page, in
 * heap->sdirect for secure mode's lean malloc) ---- */
static void direct_update(struct sbl_heap *h, unsigned cls)
{
    size_t sz = sbl_class_size(cls);
    if (sz > SBL_DIRECT_MAX)
        return;
    size_t lo = cls == 0 ? 0 : sbl_class_size(cls - 1) / 16 + 1;
    size_t hi = sz / 16;
    struct sbl_page *pg = h->queues[cls].first;
    if (SBL_UNLIKELY(sbl_slow_mode())) {
        for (size_t b = lo; b <= hi; b++)
            h->sdirect[b] = pg;
        pg = NULL; /* slow mode: no allocation fast path */
    }
    if (pg == NULL)
        pg = &sbl_empty_page;
    for (size_t n = lo == 0 ? 0 : lo * 16 - 15; n <= sz; n++)
        h->direct[n] = pg;
}

/* cls < 0: the full list */
/* SBL_PAGE_KEPT: the page is its class's only page and small enough to
   stay when it empties (sbl_heap_retire would keep it), so the fast path's
   free need not call sbl_heap_retire; normal mode only (the slow paths
   compare in_use with SBL_PAGE_LIVE). Every other live page is
   SBL_PAGE_LIVE. */
static inline bool page_only_kept(const struct sbl_page *f)
{
    return f->next == NULL && f->block_size <= SBL_KEEP_MAX && !sbl_slow_mode();
}

/* A retained page (see heap_retain) is SBL_PAGE_KEPT too, wherever it is
   in its queue. */
static void queue_mark(const struct sbl_heap *h, struct sbl_page_queue *q)
{
    struct sbl_page *f = q->first;
    if (f == NULL)
        return;
    bool any = h->nretained != 0; /* (the retained marks looked at only then) */
    bool keep = page_only_kept(f) || (any && f->retained);
    sbl_page_set_in_use(f, keep ? SBL_PAGE_KEPT : SBL_PAGE_LIVE);
    if (f->next)
        sbl_page_set_in_use(f->next, any && f->next->retained ? SBL_PAGE_KEPT : SBL_PAGE_LIVE);
}

static void retained_forget(struct sbl_heap *h, struct sbl_page *pg);

/* whether pg is linked into q where its links say, and q is the queue it
   claims: its class's while not full, the full list while full (sbl_assert
   only: unused in release builds) */
static __attribute__((unused)) bool queue_holds(const struct sbl_heap *h,
                                                const struct sbl_page_queue *q,
                                                const struct sbl_page *pg, int cls)
{
    bool full = (sbl_page_flags(pg) & SBL_PF_FULL) != 0;
    if (cls >= 0 ? (full || q != &h->queues[pg->cls] || (unsigned)cls != pg->cls)
                 : (!full || q != &h->full))
        return false;
    return (pg->prev ? pg->prev->next == pg : q->first == pg) &&
           (pg->next ? pg->next->prev == pg : q->last == pg);
}

static void queue_remove(struct sbl_heap *h, struct sbl_page_queue *q, struct sbl_page *pg, int cls)
{
    sbl_assert(queue_holds(h, q, pg, cls));
    bool first = q->first == pg;
    SBL_LIST_UNLINK(q->first, &q->last, pg, next, prev);
    if (pg->retained)
        retained_forget(h, pg);
    sbl_page_set_in_use(pg, SBL_PAGE_LIVE);
    if (cls >= 0) {
        queue_mark(h, q);
        if (first)
            direct_update(h, (unsigned)cls);
    }
}

static void queue_push_front(struct sbl_heap *h, struct sbl_page_queue *q, struct sbl_page *pg,
                             int cls)
{
    sbl_assert(pg->next == NULL && pg->prev == NULL && q->first != pg);
    SBL_LIST_PUSH_FRONT(q->first, &q->last, pg, next, prev);
    sbl_page_set_in_use(pg, SBL_PAGE_LIVE);
    if (cls >= 0) {
        queue_mark(h, q);
        direct_update(h, (unsigned)cls);
    }
}

static void queue_push_back(struct sbl_heap *h, struct sbl_page_queue *q, struct sbl_page *pg,
                            int cls)
{
    if (q->last == NULL) {
        queue_push_front(h, q, pg, cls);
        return;
    }
    sbl_assert(pg->next == NULL && pg->prev == NULL && q->first != pg);
    SBL_LIST_PUSH_BACK(q->first, &q->last, pg, next, prev);
    sbl_page_set_in_use(pg, SBL_PAGE_LIVE);
    if (cls >= 0)
        queue_mark(h, q);
}

/* ---- remote frees ---- */

/* Takes the page's remote-free list whole and prepends it to page->free. */
static void page_collect(struct sbl_page *pg)
{
    uintptr_t tf = atomic_load_explicit(&pg->xthread_free, memory_order_relaxed);
    if ((tf & ~(uintptr_t)SBL_TF_MASK) == 0)
        return;
    while (!atomic_compare_exchange_weak_explicit(&pg->xthread_free, &tf, tf & SBL_TF_MASK,
                                                  memory_order_acquire, memory_order_relaxed)) {
    }
    struct sbl_block *b = (struct sbl_block *)(tf & ~(uintptr_t)SBL_TF_MASK);
    struct sbl_block *tail = b;
    uint32_t n = 1;
    for (struct sbl_block *nx; (nx = sbl_next_get(tail)) != NULL; tail = nx)
        n++;
    sbl_next_set(tail, pg->free);
    pg->free = b;
    sbl_assert(n <= pg->used);
    pg->used -= n;
    sbl_assert(sbl_page_counts_ok(pg));
}

static void page_unfull(struct sbl_heap *h, struct sbl_page *pg)
{
    queue_remove(h, &h->full, pg, -1);
    sbl_page_flag_clear(pg, SBL_PF_FULL);
    sbl_page_set_state(pg, SBL_TF_NORMAL);
    queue_push_back(h, &h->queues[pg->cls], pg, pg->cls);
}

/* Takes a one-block page out of its queue (its block is live and is about
 * to change size); the page goes back to its segment when the block is
 * freed. A remote free of the block reaches the owner through the delayed
 * list. */
void sbl_heap_detach(struct sbl_heap *h, struct sbl_page *pg)
{
    if (sbl_page_flags(pg) & SBL_PF_DETACHED)
        return;
    if (sbl_page_flags(pg) & SBL_PF_FULL)
        queue_remove(h, &h->full, pg, -1);
    else
        queue_remove(h, &h->queues[pg->cls], pg, pg->cls);
    sbl_page_flag_clear(pg, SBL_PF_FULL);
    sbl_page_flag_set(pg, SBL_PF_DETACHED);
    sbl_page_set_state(pg, SBL_TF_USE_DELAYED);
}

/* b goes back onto pg's list (a full page back to its queue) and pg's used
   count drops; false when pg was detached: then it went back to its
   segment whole */
static bool page_put_back(struct sbl_heap *h, struct sbl_page *pg, struct sbl_block *b)
{
    if (sbl_page_flags(pg) & SBL_PF_DETACHED) {
        pg->used = 0;
        sbl_page_release(h, pg);
        return false;
    }
    sbl_assert(sbl_block_in_page(pg, b) && pg->used > 0);
    sbl_next_set(b, pg->free);
    pg->free = b;
    if (sbl_page_flags(pg) & SBL_PF_FULL)
        page_unfull(h, pg);
    pg->used--;
    return true;
}

/* free of a block of h's by the thread that owns (or has claimed) h, the
   page in any state: the local, checked corner of free's grid (free.c) */
void sbl_free_local(struct sbl_heap *h, struct sbl_page *pg, struct sbl_block *b)
{
    if (page_put_back(h, pg, b) && pg->used == 0)
        sbl_heap_retire(h, pg);
}

/* Takes h's delayed list (remote frees into its full pages) and frees each
   block with fn. */
static void delayed_free_each(struct sbl_heap *h,
                              void (*fn)(struct sbl_heap *, struct sbl_page *, struct sbl_block *))
{
    struct sbl_block *b = atomic_exchange_explicit(&h->delayed, NULL, memory_order_acquire);
    while (b) {
        struct sbl_block *next = sbl_next_get(b);
        fn(h, sbl_block_page(sbl_segment_of(b), b), b);
        b = next;
    }
}

/* Frees the blocks other threads freed into h's full pages. */
void sbl_heap_collect_delayed(struct sbl_heap *h) { delayed_free_each(h, sbl_free_local); }

/* Frees p, a pointer of a record of remote frees, with fn: the pointer is
   as the program freed it, so the page's flags (read here, by the owner or
   the thread that has claimed the heap) say whether it may be inside its
   block or its block partially freed. A flag set before the free is seen
   (the record's push orders it); a page cannot lose one while it holds a
   block of the record. */
static void xrec_free_one(struct sbl_heap *h, uint8_t *p,
                          void (*fn)(struct sbl_heap *, struct sbl_page *, struct sbl_block *))
{
    struct sbl_segment *s = sbl_segment_of(p);
    struct sbl_page *pg = sbl_block_page(s, p);
    unsigned f = sbl_page_flags(pg);
    sbl_assert(s->heap == h && (f & SBL_PF_HUGE) == 0);
    if (f & (SBL_PF_ALIGNED | SBL_PF_RANGE)) {
        p = sbl_block_start(pg, p);
        if (f & SBL_PF_RANGE)
            sbl_range_forget(p);
    }
    fn(h, pg, (struct sbl_block *)p);
}

static void xrec_free_each(struct sbl_heap *h, const struct sbl_xrec *r,
                           void (*fn)(struct sbl_heap *, struct sbl_page *, struct sbl_block *))
{
    for (uint32_t i = 0; i < r->n; i++)
        xrec_free_one(h, r->p[i], fn);
}

/* Takes h's records of remote frees whole, frees their blocks with fn and
   gives the records back. */
static void xrecs_free_each(struct sbl_heap *h,
                            void (*fn)(struct sbl_heap *, struct sbl_page *, struct sbl_block *))
{
    struct sbl_xrec *r = atomic_exchange_explicit(&h->xrecs, NULL, memory_order_acquire);
    while (r != NULL) {
        struct sbl_xrec *next = r->next;
        xrec_free_each(h, r, fn);
        sbl_xrec_put(r);
        r = next;
    }
}

/* The owner frees the blocks other threads handed over in records: a block
   of a page without flags straight onto the page's free list (as
   page_put_back, without its cases), the others as sbl_free_local. */
static void heap_collect_xrecs(struct sbl_heap *h)
{
    struct sbl_xrec *r = atomic_exchange_explicit(&h->xrecs, NULL, memory_order_acquire);
    sbl_assert(r == NULL || !sbl_slow_mode()); /* records are normal mode's */
    struct sbl_xrec *first = r, *last = NULL;
    unsigned nrec = 0;
    while (r != NULL) {
        struct sbl_xrec *next = r->next;
        uint32_t n = r->n;
        for (uint32_t i = 0; i < n; i++) {
            void *p = r->p[i];
            struct sbl_segment *s = sbl_segment_of(p);
            struct sbl_page *pg = sbl_block_page(s, p);
            sbl_assert(s->heap == h);
            if (SBL_LIKELY(sbl_page_flags(pg) == 0)) {
                struct sbl_block *b = p;
                sbl_assert(sbl_block_in_page(pg, b) && pg->used > 0);
                b->next = pg->free;
                pg->free = b;
                if (SBL_UNLIKELY(--pg->used == 0))
                    sbl_heap_retire(h, pg);
            } else {
                xrec_free_one(h, p, sbl_free_local);
            }
        }
        last = r;
        nrec++;
        r = next;
    }
    if (first != NULL)
        sbl_xrecs_put(first, last, nrec); /* the records back, all at once */
}

/* A free into the heap of an exited thread, by a thread that has claimed it
 * for the moment (and the remote frees that waited on its delayed list):
 * nobody allocates from this heap until a new thread adopts it, so a page
 * that empties goes back to its segment at once (no page is kept for its
 * class), and a segment that empties goes to the process-wide pool (the
 * heap keeps no empty one), where any thread reuses it and the pool's purge
 * gives its RAM back after the delay. */
static void orphan_free(struct sbl_heap *h, struct sbl_page *pg, struct sbl_block *b)
{
    if (sbl_page_in_use(pg) == SBL_PAGE_KEPT)
        sbl_page_set_in_use(pg, SBL_PAGE_LIVE); /* no page is kept for an owner that is gone */
    if (!page_put_back(h, pg, b))
        return;
    page_collect(pg); /* remote frees pushed while another thread held the heap */
    if (pg->used != 0)
        return;
    queue_remove(h, &h->queues[pg->cls], pg, pg->cls);
    sbl_page_release(h, pg);
    sbl_segments_trim(h);
}

/* what other threads handed to a claimed heap of an exited thread */
static void orphan_drain(struct sbl_heap *h)
{
    xrecs_free_each(h, orphan_free);
    delayed_free_each(h, orphan_free);
    sbl_segments_purge(h, false); /* the free slices whose delay has passed */
}

void sbl_heap_free_orphan(struct sbl_heap *h, struct sbl_page *pg, struct sbl_block *b,
                          struct sbl_block *tail)
{
    while (b != NULL) {
        struct sbl_block *nx = b == tail ? NULL : sbl_next_get(b);
        orphan_free(h, pg, b);
        b = nx;
    }
    orphan_drain(h);
}

/* A record of another thread's frees of h's blocks. Pushed onto h->xrecs
 * for the owner; when h's thread has exited, the freeing thread borrows the
 * heap and frees them itself. An owner that leaves between the freeing
 * thread's look at `claimed` and its push is caught by the second look,
 * after the push: of that push and the leaving thread's unclaim (each
 * followed by a look at the other's word, sequentially consistent), the
 * one that comes last sees the other's, so the record is never left in a
 * heap nobody holds. */
void sbl_heap_xrec_give(struct sbl_heap *h, struct sbl_xrec *r)
{
    if (atomic_load_explicit(&h->claimed, memory_order_relaxed) == 0 && sbl_heap_try_claim(h)) {
        xrec_free_each(h, r, orphan_free);
        sbl_xrec_put(r);
        orphan_drain(h);
        sbl_heap_unclaim(h);
        return;
    }
    struct sbl_xrec *top = atomic_load_explicit(&h->xrecs, memory_order_relaxed);
    do {
        r->next = top;
    } while (!atomic_compare_exchange_weak_explicit(&h->xrecs, &top, r, memory_order_seq_cst,
                                                    memory_order_relaxed));
    if (atomic_load_explicit(&h->claimed, memory_order_seq_cst) == 0 && sbl_heap_try_claim(h)) {
        orphan_drain(h);
        sbl_heap_unclaim(h);
    }
}

/* ---- retained pages: a page of SBL_RETAIN_CAPACITY blocks or fewer
 * (16 KiB..128 KiB blocks) that empties while its class has other pages,
 * and a one-block page of a big class (above SBL_KEEP_MAX) that empties
 * while the heap keeps another (heap_retire_slow), stays in its queue,
 * marked SBL_PAGE_KEPT (so that its blocks' frees do not retire it again),
 * for a purge delay: a program that fills a few pages and empties them in
 * rounds (blocks of 64 KiB, 4 to a page; a batch of 1 MiB buffers) reuses
 * them instead of releasing and making pages on every round. malloc of a
 * big class takes a retained page of its class from the list
 * (sbl_heap_retained_take) as it takes the kept one (alloc.c). Bounded per
 * heap (SBL_RETAIN_MAX pages; SBL_RETAIN_SLICES slices in all, or
 * SBL_RETAIN_BIG_SLICES for a page of a big class); released when their
 * delay has passed (sbl_alloc_generic, every few slow-path events), before
 * a new span would need fresh RAM (segment.c: span_segment), and by
 * sbl_heap_collect with force. Their RAM stays no longer than a released
 * span's would: a page released once its delay has passed gives it back as
 * it goes (sbl_page_release_idle). A retained page that serves blocks
 * again stays retained (KEPT) until its delay passes; it then is an
 * ordinary live page. ---- */
static void retained_forget(struct sbl_heap *h, struct sbl_page *pg)
{
    uint32_t n = h->nretained;
    for (uint32_t i = 0; i < n; i++)
        if (h->retained[i] == pg) {
            h->retained[i] = h->retained[n - 1];
            h->retained_at[i] = h->retained_at[n - 1];
            h->nretained = --n;
            pg->retained = 0;
            /* counted again: a page's span may have grown meanwhile
               (realloc resizes a one-block page before it detaches it) */
            h->retained_slices = 0;
            for (uint32_t j = 0; j < n; j++)
                h->retained_slices += h->retained[j]->slices;
            return;
        }
    sbl_assert(!"a retained page is in the heap's list");
}

/* pg (empty, in its class queue, not its only page) stays if it holds few
   blocks (where making and releasing it costs the most per block; pages of
   up to 16 blocks retained too raised the gcc-cc1 replay's peak RSS) and
   the budget allows; false when it must go */
#define SBL_RETAIN_CAPACITY 4
static bool heap_retain(struct sbl_heap *h, struct sbl_page *pg)
{
    if (sbl_slow_mode() || pg->capacity > SBL_RETAIN_CAPACITY || h->nretained == SBL_RETAIN_MAX ||
        h->retained_slices + pg->slices >
            (pg->block_size > SBL_KEEP_MAX ? SBL_RETAIN_BIG_SLICES : SBL_RETAIN_SLICES))
        return false;
    sbl_assert(!pg->retained && pg->used == 0 && !(sbl_page_flags(pg) & SBL_PF_FULL));
    pg->retained = 1;
    sbl_page_set_in_use(pg, SBL_PAGE_KEPT); /* (used: 1) */
    h->retained[h->nretained] = pg;
    uint64_t now = sbl_clock_ms_last(); /* (no clock read: it may lag, and the page
                                            then goes sooner) */
    h->retained_at[h->nretained] = now ? now : sbl_clock_ms();
    h->nretained++;
    h->retained_slices += pg->slices;
    return true;
}

/* a retained page that serves blocks again becomes an ordinary live page */
static void retained_unmark(struct sbl_heap *h, struct sbl_page *pg)
{
    retained_forget(h, pg);
    if (!(h->queues[pg->cls].first == pg && page_only_kept(pg)))
        sbl_page_set_in_use(pg, SBL_PAGE_LIVE);
}

bool sbl_heap_retained_expire(struct sbl_heap *h, bool all)
{
    if (h->nretained == 0)
        return false;
    uint64_t now = sbl_clock_ms(), delay = sbl_purge_delay();
    struct sbl_page *gone[SBL_RETAIN_MAX];
    bool idle[SBL_RETAIN_MAX];
    unsigned ngone = 0;
    for (uint32_t i = 0; i < h->nretained;) {
        struct sbl_page *pg = h->retained[i];
        bool empty = pg->used == 1; /* (its KEPT count alone) */
        bool due = now >= h->retained_at[i] + delay;
        if (all ? !empty : !due) {
            i++;
            continue;
        }
        /* (either call below takes it out of the list: i stays) */
        if (empty) {
            queue_remove(h, &h->queues[pg->cls], pg, pg->cls);
            idle[ngone] = due;
            gone[ngone++] = pg;
        } else {
            retained_unmark(h, pg);
        }
    }
    /* released once the list is consistent: a release may come back here
       (through the purge tick). A page whose delay has passed gives its
       RAM back now: it has lain idle as long as a released span's would */
    for (unsigned i = 0; i < ngone; i++)
        if (idle[i])
            sbl_page_release_idle(h, gone[i]);
        else
            sbl_page_release(h, gone[i]);
    return ngone != 0;
}

/* An empty page: kept when it is the only page of its class (so that
 * malloc/free loops do not churn pages), retained for a while when the
 * budget allows (above), else given back to its segment.
 * Above SBL_KEEP_MAX one empty page is kept per heap, the latest, wherever
 * it is in its queue (a program that frees one big block and allocates
 * another, with others live, finds it there instead of releasing a page
 * and making a new one on every call); the one it kept before is retained
 * when the budget allows. */
static SBL_NOINLINE void heap_retire_slow(struct sbl_heap *h, struct sbl_page *pg)
{
    struct sbl_page_queue *q = &h->queues[pg->cls];
    if (pg->block_size > SBL_KEEP_MAX) {
        struct sbl_page *old = h->large_kept;
        h->large_kept = pg;
        if (old == NULL || old == pg || old->used != 0)
            return;
        pg = old; /* the previous one goes */
        q = &h->queues[pg->cls];
        if (heap_retain(h, pg))
            return;
    } else if (heap_retain(h, pg)) {
        return;
    }
    queue_remove(h, q, pg, pg->cls);
    sbl_page_release(h, pg);
}

/* The kept large page goes back to its segment if it is empty (segment.c,
 * before fresh RAM comes in: its slices then serve any class); true when
 * it did. */
bool sbl_heap_drop_large_kept(struct sbl_heap *h)
{
    struct sbl_page *pg = h->large_kept;
    if (pg == NULL || pg->used != 0 || (sbl_page_flags(pg) & SBL_PF_FULL))
        return false;
    queue_remove(h, &h->queues[pg->cls], pg, pg->cls);
    sbl_page_release(h, pg); /* (clears large_kept) */
    return true;
}

/* the common case first, without a stack frame: the only page of a small
   class stays */
void sbl_heap_retire(struct sbl_heap *h, struct sbl_page *pg)
{
    if (SBL_LIKELY(pg->next == NULL && pg->block_size <= SBL_KEEP_MAX &&
                   h->queues[pg->cls].first == pg))
        return;
    heap_retire_slow(h, pg);
}

/* Placement: a page that becomes its class's allocation page again (the
 * one before it ran dry) while it holds live blocks and has many free ones
 * hands those out in address order, lowest first, whatever order they were
 * freed in: blocks allocated together in time then lie together in memory,
 * and a program that walks them in that order reads memory forward, as
 * prefetchers like. On the allocation page itself free and malloc stay last
 * in, first out (the block freed last, still in the cache, is the next one
 * handed out). Blocks up to SBL_DIRECT_MAX only: a bigger block is many
 * cache lines already, its neighbour none of the prefetchers' business,
 * and the sort cost a server that replaces random blocks of up to 4 KiB
 * (larson) a twentieth of its time. Normal mode only: the other modes
 * check and encode their links. */
#define ORDER_MIN 16 /* free blocks worth ordering */

static inline bool page_order_worth(const struct sbl_page *pg)
{
    return pg->used > 1 && pg->reserved - pg->used >= ORDER_MIN &&
           pg->block_size <= SBL_DIRECT_MAX && !sbl_slow_mode();
}

/* the free blocks of l in address order, the list rebuilt through a bitmap
   of block indices: a few instructions per block */
static struct sbl_block *page_order(const struct sbl_page *pg, struct sbl_block *l)
{
    uint64_t bits[SBL_SLICE_SIZE / 16 / 64]; /* capacity <= 4096 */
    uint32_t words = (pg->reserved + 63u) / 64u;
    for (uint32_t w = 0; w < words; w++)
        bits[w] = 0;
    size_t bs = pg->block_size;
    /* exact for the offsets of blocks (multiples of bs below 2^22) */
    uint64_t m = (((uint64_t)1 << 32) + bs - 1) / bs;
    for (; l != NULL; l = l->next) {
        uint32_t i = (uint32_t)(((uint64_t)((uint8_t *)l - pg->start) * m) >> 32);
        bits[i >> 6] |= (uint64_t)1 << (i & 63);
    }
    struct sbl_block *head = NULL, **tail = &head;
    for (uint32_t w = 0; w < words; w++)
        for (uint64_t v = bits[w]; v != 0; v &= v - 1) {
            struct sbl_block *b =
                (struct sbl_block *)(pg->start +
                                     ((size_t)w * 64 + (size_t)__builtin_ctzll(v)) * bs);
            *tail = b;
            tail = &b->next;
        }
    *tail = NULL;
    return head;
}

/* a page of fewer blocks found without a free block goes to the full list
   at once (sbl_heap_find_page): kept at the back of the queue, pages of 4
   blocks of 64 KiB held their free room longer (gcc-cc1's replay) */
#define TURN_MIN 8u

/* A page of class cls with a free block, at the front of its queue; NULL
 * when the OS refuses memory. A page found without a free block goes to
 * the back of the queue once (TURN_MIN blocks or more), to the full list
 * when it is found so again. */
struct sbl_page *sbl_heap_find_page(struct sbl_heap *h, unsigned cls)
{
    if (atomic_load_explicit(&h->xrecs, memory_order_relaxed) != NULL)
        heap_collect_xrecs(h); /* other threads' frees, first */
    struct sbl_page_queue *q = &h->queues[cls];
    struct sbl_page *pg = q->first;
    while (pg) {
        struct sbl_page *next = pg->next;
        bool carved = false; /* (fresh blocks come in address order) */
        if (pg->free == NULL)
            page_collect(pg);
        if (pg->free == NULL) {
            sbl_page_extend(pg);
            carved = true;
        }
        if (pg->free == NULL && !pg->turned && next != NULL && pg->capacity >= TURN_MIN) {
            /* out of blocks: to the back of the queue, once, rather than
               to the full list at once. Its own frees then stay on free's
               fast path, and it serves again when malloc comes back to it
               (a page whose blocks are freed as others are taken, as in a
               server, seldom goes full then); one still without a free
               block at that point goes to the full list. */
            pg->turned = 1;
            queue_remove(h, q, pg, (int)cls);
            queue_push_back(h, q, pg, (int)cls);
            pg = next;
            continue;
        }
        if (pg->free == NULL) {
            pg->turned = 0;
            /* announce "full" first, then look again: a remote free that
               raced with us is either seen here or sent to heap->delayed */
            sbl_page_set_state(pg, SBL_TF_USE_DELAYED);
            page_collect(pg);
            if (pg->free == NULL) {
                queue_remove(h, q, pg, (int)cls);
                sbl_page_flag_set(pg, SBL_PF_FULL);
                queue_push_back(h, &h->full, pg, -1);
                pg = next;
                continue;
            }
            sbl_page_set_state(pg, SBL_TF_NORMAL);
        }
        pg->turned = 0;
        if (!carved && page_order_worth(pg))
            pg->free = page_order(pg, pg->free);
        if (pg != q->first) {
            queue_remove(h, q, pg, (int)cls);
            queue_push_front(h, q, pg, (int)cls);
        }
        return pg;
    }
    pg = sbl_page_new(h, cls);
    if (pg == NULL)
        return NULL;
    sbl_page_extend(pg);
    queue_push_front(h, q, pg, (int)cls);
    return pg;
}

/* Collects every remote free; with force, also releases every empty page
 * and empty segment and purges all free slices at once. */
void sbl_heap_collect(struct sbl_heap *h, bool force)
{
    heap_collect_xrecs(h);
    sbl_heap_collect_delayed(h);
    for (struct sbl_page *pg = h->full.first, *next; pg; pg = next) {
        next = pg->next;
        page_collect(pg);
        if (pg->free) {
            uint32_t used = pg->used;
            page_unfull(h, pg);
            if (used == 0)
                sbl_heap_retire(h, pg);
        }
    }
    for (unsigned c = 0; c < SBL_NCLASSES; c++) {
        struct sbl_page_queue *q = &h->queues[c];
        for (struct sbl_page *pg = q->first, *next; pg; pg = next) {
            next = pg->next;
            page_collect(pg);
            if (pg->used - (sbl_page_in_use(pg) == SBL_PAGE_KEPT) == 0 && force) {
                queue_remove(h, q, pg, (int)c);
                sbl_page_release(h, pg);
            }
        }
    }
    if (force) {
        /* the retained pages left hold blocks: ordinary pages now (an
           exiting thread's heap keeps none: see orphan_free) */
        while (h->nretained != 0)
            retained_unmark(h, h->retained[0]);
        sbl_segments_trim(h);
        sbl_segments_purge(h, true);
    }
}

/* ---- the owner's tag, in the heap and each of its segments (the owner
 * changes only while the heap is claimed: by its new thread at adoption,
 * by its old one at exit, in a fork child for the heaps of the threads
 * the child has not) ---- */
static void heap_set_owner(struct sbl_heap *h, uintptr_t tag)
{
    h->owner_tag = tag;
    for (struct sbl_segment *s = h->segments; s != NULL; s = s->next)
        sbl_segment_tag_set(s, tag); /* and its live pages */
}

/* ---- claiming ---- */
bool sbl_heap_try_claim(struct sbl_heap *h)
{
    int zero = 0;
    return atomic_compare_exchange_strong_explicit(&h->claimed, &zero, 1, memory_order_acquire,
                                                   memory_order_relaxed);
}

/* unclaims a borrowed heap; a record pushed while this thread held it is
   freed here (see sbl_heap_xrec_give) */
void sbl_heap_unclaim(struct sbl_heap *h)
{
    for (;;) {
        atomic_store_explicit(&h->claimed, 0, memory_order_seq_cst);
        if (atomic_load_explicit(&h->xrecs, memory_order_seq_cst) == NULL || !sbl_heap_try_claim(h))
            return;
        orphan_drain(h);
    }
}

/* ---- a heap per thread ---- */
static struct sbl_heap *heap_new(void)
{
    size_t sz = (sizeof(struct sbl_heap) + 63) & ~(size_t)63;
    struct sbl_heap *h = NULL;
    sbl_lock(&heaps_lock);
    if (arena_left < sz) {
        uint8_t *chunk = sbl_os_map(HEAP_ARENA_CHUNK);
        if (chunk) {
            arena_cur = chunk;
            arena_left = HEAP_ARENA_CHUNK;
        }
    }
    if (arena_left >= sz) {
        h = (struct sbl_heap *)arena_cur;
        arena_cur += sz;
        arena_left -= sz;
        h->next_all = all_heaps;
        __atomic_store_n(&all_heaps, h, __ATOMIC_RELEASE); /* read unlocked: sbl_heap_first */
    }
    sbl_unlock(&heaps_lock);
    if (h == NULL)
        return NULL;
    for (unsigned n = 0; n <= SBL_DIRECT_MAX; n++)
        h->direct[n] = &sbl_empty_page;
    atomic_store_explicit(&h->claimed, 1, memory_order_relaxed);
    return h;
}

/* The calling thread's first allocation: adopt an abandoned heap, or make
 * one. NULL when the OS refuses memory. */
struct sbl_heap *sbl_heap_acquire(void)
{
    sbl_init();
    struct sbl_heap *h;
    sbl_lock(&heaps_lock);
    h = abandoned;
    if (h)
        abandoned = h->next_abandoned;
    sbl_unlock(&heaps_lock);
    if (h) {
        /* a freeing thread may have borrowed it for a moment */
        while (!sbl_heap_try_claim(h))
            sbl_os_yield();
        h->next_abandoned = NULL;
    } else {
        h = heap_new();
        if (h == NULL)
            return NULL;
    }
    sbl_tls_heap = h;
    heap_set_owner(h, sbl_owner_tag(h));
    if (heap_key_ok)
        pthread_setspecific(heap_key, h); /* may allocate: the heap is set */
    return h;
}

/* Thread exit (pthread key destructor): give back what is free, then put
 * the heap on the abandoned list. A later malloc in this thread's teardown
 * builds or adopts a heap again. */
void sbl_heap_thread_done(void *arg)
{
    struct sbl_heap *h = arg;
    if (h == NULL || h == &sbl_empty_heap || h != sbl_tls_heap)
        return;
    sbl_heap_collect(h, true);
    sbl_huge_kept_drop(h);
    heap_set_owner(h, 0);
    sbl_tls_heap = &sbl_empty_heap;
    sbl_lock(&heaps_lock);
    h->next_abandoned = abandoned;
    abandoned = h;
    atomic_store_explicit(&h->claimed, 0, memory_order_seq_cst);
    sbl_unlock(&heaps_lock);
    /* a record pushed since the collect above (see sbl_heap_xrec_give) */
    if (atomic_load_explicit(&h->xrecs, memory_order_seq_cst) != NULL && sbl_heap_try_claim(h)) {
        orphan_drain(h);
        sbl_heap_unclaim(h);
    }
}

void sbl_heap_init_key(void)
{
    heap_key_ok = pthread_key_create(&heap_key, sbl_heap_thread_done) == 0;
}

/* The newest heap; next_all leads to every other. Heaps are never
   unmapped and the list only grows at its head: it may be walked without
   the lock. */
struct sbl_heap *sbl_heap_first(void) { return __atomic_load_n(&all_heaps, __ATOMIC_ACQUIRE); }

/* Number of heaps ever made (for tests: thread churn must reuse them). */
size_t sbl_heap_count(void)
{
    size_t n = 0;
    sbl_lock(&heaps_lock);
    for (struct sbl_heap *h = all_heaps; h; h = h->next_all)
        n++;
    sbl_unlock(&heaps_lock);
    return n;
}

void sbl_heap_lock_prefork(void) { sbl_lock(&heaps_lock); }

void sbl_heap_unlock_postfork(bool child)
{
    if (child) {
        /* the other threads' heaps: no thread of the child owns them (a
           later thread's thread pointer may equal a parent thread's) */
        for (struct sbl_heap *h = all_heaps; h != NULL; h = h->next_all)
            if (h != sbl_tls_heap && h->owner_tag != 0)
                heap_set_owner(h, 0);
    }
    sbl_lock_after_fork(&heaps_lock, child);
}

/* A retained one-block page of class cls whose block is free, plain, for
   malloc to take (it stays retained); NULL when there is none. */
struct sbl_page *sbl_heap_retained_take(struct sbl_heap *h, unsigned cls)
{
    for (uint32_t i = h->nretained; i-- > 0;) {
        struct sbl_page *pg = h->retained[i];
        if (pg->cls == cls && pg->capacity == 1 && pg->free != NULL && sbl_page_flags(pg) == 0)
            return pg;
    }
    return NULL;
}
