/* free.c: the free slow paths: huge blocks, flagged pages, and frees of
 * blocks owned by another thread's heap.
 *
 * The free paths form a grid: who frees (local: the heap's owner, or a
 * thread that has claimed the heap of an exited one; remote: any other
 * thread) by what must be looked at first (plain: nothing, normal mode and
 * a page without flags; checked: the page's flags, resolved by
 * free_dispatch, and in slow mode secure mode's checks or the hooks,
 * sbl_secure_free or sbl_free_checked, before it):
 *
 *            plain                                 checked
 *   local    sbl_free_local_plain (internal.h,     sbl_free_local (heap.c: a full
 *            the inline fast path)                 or detached page too)
 *   remote   free_remote_batched (normal mode:     free_remote_direct (slow mode,
 *            a record of pointers per owner        an exiting thread, a large
 *            heap, handed over whole; a page       block: each at once)
 *            without flags into an open record
 *            in sbl_free_slow itself)
 *
 * The batched path writes nothing into the blocks: the owner takes the
 * record (heap.c) and frees its pointers itself, or, when the owner has
 * exited, the freeing thread borrows its heap and does. The direct path is
 * a CAS onto the page's list or the owner's delayed list (the link written
 * into the block), or, when the owner has exited, a local free into its
 * borrowed heap. */
#include "internal.h"

#include <pthread.h>

/* Another thread's blocks, a chain head..tail of one page: push them on the
 * page's list with one CAS, or, when the owner has marked the page full, on
 * the owner heap's delayed list so that the owner learns the page has room
 * (see types.h). */
static void free_remote_chain(struct sbl_heap *h, struct sbl_page *pg, struct sbl_block *head,
                              struct sbl_block *tail)
{
    uintptr_t tf = atomic_load_explicit(&pg->xthread_free, memory_order_relaxed);
    uintptr_t nw;
    bool delayed;
    do {
        delayed = (tf & SBL_TF_MASK) == SBL_TF_USE_DELAYED;
        if (delayed) {
            nw = (tf & ~(uintptr_t)SBL_TF_MASK) | SBL_TF_FREEING;
        } else {
            sbl_next_set(tail, (struct sbl_block *)(tf & ~(uintptr_t)SBL_TF_MASK));
            nw = (uintptr_t)head | (tf & SBL_TF_MASK);
        }
    } while (!atomic_compare_exchange_weak_explicit(&pg->xthread_free, &tf, nw,
                                                    memory_order_release, memory_order_relaxed));
    if (!delayed)
        return;
    struct sbl_block *dh = atomic_load_explicit(&h->delayed, memory_order_relaxed);
    do {
        sbl_next_set(tail, dh);
    } while (!atomic_compare_exchange_weak_explicit(&h->delayed, &dh, head, memory_order_release,
                                                    memory_order_relaxed));
    /* the owner waits for this before it changes the state or frees the page */
    tf = atomic_load_explicit(&pg->xthread_free, memory_order_relaxed);
    do {
        nw = (tf & ~(uintptr_t)SBL_TF_MASK) | SBL_TF_NORMAL;
    } while (!atomic_compare_exchange_weak_explicit(&pg->xthread_free, &tf, nw,
                                                    memory_order_release, memory_order_relaxed));
}

/* ---- batched remote frees ----
 * In normal mode a thread's frees of other threads' blocks of up to 64 KiB
 * wait in the thread's records (struct sbl_xrec), one per owner heap, in
 * XS_SLOTS slots chosen by the heap's address: the record takes the
 * pointer, and nothing is written into the block. A record goes to its heap
 * in one push (heap.c, onto heap->xrecs) when it is full, when another heap
 * needs its slot, when it holds XS_BYTES of medium blocks, after
 * SBL_XB_AGE_MAX of the thread's allocation slow paths (sbl_xb_age_tick:
 * not at each, or a thread whose every malloc takes the slow path would
 * hand over records of one or two pointers, four atomics on shared lines
 * each), on sable_purge and at thread exit; the owner frees its pointers on
 * its own allocation slow path and keeps the record as a spare of its own
 * when it batches remote frees too, else gives it back to a process-wide
 * pool. So a block freed by another thread is written
 * only by its owner: a producer/consumer pair moves a record's lines between
 * their cores once per SBL_XREC_CAP frees, not each block's line there and
 * back per free. The blocks still count as used in their page, so the page
 * cannot be released under them; at most XS_SLOTS * SBL_XREC_CAP blocks
 * wait per thread, small ones (<= 8 KiB) or XS_BYTES of medium ones per
 * record. One-block pages (large blocks) are freed at once. */
#define XS_SLOTS 8
#define XS_SLOT_BITS 3
#define XS_BYTES ((uint32_t)256 << 10)
_Static_assert(XS_SLOTS == 1 << XS_SLOT_BITS, "slot index bits");

struct xslot {
    struct sbl_heap *h; /* owner of the blocks in r; NULL: slot empty */
    struct sbl_xrec *r;
    uint32_t n;     /* pointers in r */
    uint32_t bytes; /* medium blocks in r */
};

static __thread struct xslot xs[XS_SLOTS] __attribute__((tls_model("initial-exec")));
static __thread unsigned xb_state __attribute__((tls_model("initial-exec"))); /* XB_* below */
__thread unsigned sbl_xb_pending __attribute__((tls_model("initial-exec")));  /* slots in use */
__thread unsigned sbl_xb_age __attribute__((tls_model("initial-exec")));
#define XB_REGISTERED 1u /* the thread-exit flush is registered */
#define XB_OFF 2u        /* the thread is exiting: no more batching */

static pthread_key_t xb_key;
static bool xb_key_ok;

static inline unsigned xs_index(const struct sbl_heap *h)
{
    return (unsigned)(((uintptr_t)h * 0x9e3779b97f4a7c15ull) >> (64 - XS_SLOT_BITS));
}

/* ---- records: carved from chunks of their own, never unmapped; a record
 * goes from the pool (or a new chunk) to a freeing thread's spares, fills,
 * goes to the owner heap, and the owner keeps it among its spares or puts
 * it back in the pool ---- */
#define XREC_CHUNK ((size_t)64 << 10)
static _Atomic(struct sbl_xrec *) xrec_pool;
static __thread struct sbl_xrec *xr_spare __attribute__((tls_model("initial-exec")));
/* records put on xr_spare by sbl_xrecs_put and not taken since (the pool's
   taken whole are not counted) */
static __thread unsigned xr_nspare __attribute__((tls_model("initial-exec")));
#define XR_KEEP (2 * XS_SLOTS)
_Atomic size_t sbl_xrec_chunks; /* chunks mapped (for tests: records are reused) */

/* pushes the list r..tail onto the pool */
static void xrec_pool_push(struct sbl_xrec *r, struct sbl_xrec *tail)
{
    struct sbl_xrec *top = atomic_load_explicit(&xrec_pool, memory_order_relaxed);
    do {
        tail->next = top;
    } while (!atomic_compare_exchange_weak_explicit(&xrec_pool, &top, r, memory_order_release,
                                                    memory_order_relaxed));
}

void sbl_xrec_put(struct sbl_xrec *r) { xrec_pool_push(r, r); }

/* the n records r..tail, emptied by their owner heap's thread: kept as the
   thread's spares while it batches remote frees itself and holds few (in
   larson-style traffic the records go back and forth between two threads
   without touching the pool), else onto the pool in one push */
void sbl_xrecs_put(struct sbl_xrec *r, struct sbl_xrec *tail, unsigned n)
{
    if (xb_state == XB_REGISTERED && xr_nspare < XR_KEEP) {
        tail->next = xr_spare;
        xr_spare = r;
        xr_nspare += n;
        return;
    }
    xrec_pool_push(r, tail);
}

/* an empty record for the calling thread; NULL when the OS refuses memory */
static struct sbl_xrec *xrec_get(void)
{
    struct sbl_xrec *r = xr_spare;
    if (r == NULL) /* the whole pool: popping one record would need ABA care */
        r = atomic_exchange_explicit(&xrec_pool, NULL, memory_order_acquire);
    if (r == NULL) {
        uint8_t *c = sbl_os_map(XREC_CHUNK);
        if (c == NULL)
            return NULL;
        size_t k = XREC_CHUNK / sizeof(struct sbl_xrec);
        for (size_t i = 0; i + 1 < k; i++)
            ((struct sbl_xrec *)c)[i].next = &((struct sbl_xrec *)c)[i + 1];
        ((struct sbl_xrec *)c)[k - 1].next = NULL;
        r = (struct sbl_xrec *)c;
        atomic_fetch_add_explicit(&sbl_xrec_chunks, 1, memory_order_relaxed);
    }
    xr_spare = r->next;
    if (xr_nspare > 0)
        xr_nspare--;
    return r;
}

/* hands a chain of pg's blocks to the page's owner h: when h's thread has
   exited, borrows the heap and frees them locally, else pushes them */
static void free_remote_direct(struct sbl_heap *h, struct sbl_page *pg, struct sbl_block *b,
                               struct sbl_block *tail)
{
    if (atomic_load_explicit(&h->claimed, memory_order_relaxed) == 0 && sbl_heap_try_claim(h)) {
        sbl_heap_free_orphan(h, pg, b, tail); /* the owner has exited: borrow its heap */
        sbl_heap_unclaim(h);
        return;
    }
    free_remote_chain(h, pg, b, tail);
}

/* the slot's record goes to its heap */
static SBL_NOINLINE void xs_flush(struct xslot *x)
{
    struct sbl_heap *h = x->h;
    struct sbl_xrec *r = x->r;
    r->n = x->n;
    x->h = NULL;
    x->r = NULL;
    x->n = 0;
    x->bytes = 0;
    sbl_xb_pending--;
    sbl_heap_xrec_give(h, r);
}

/* b, a block of pg (a page of x's heap that takes batched frees), joins
   x's open record */
static inline void xs_add(struct xslot *x, const struct sbl_page *pg, void *b)
{
    uint32_t xb = pg->xbytes; /* (the descriptor's second line; 0 if small) */
    uint32_t n = x->n;
    x->r->p[n] = b;
    x->n = ++n;
    if (SBL_UNLIKELY(xb != 0)) {
        x->bytes += xb;
        if (x->bytes >= XS_BYTES)
            n = SBL_XREC_CAP;
    }
    if (n == SBL_XREC_CAP)
        xs_flush(x);
}

void sbl_xb_flush(void)
{
    sbl_xb_age = 0;
    for (unsigned i = 0; i < XS_SLOTS && sbl_xb_pending > 0; i++)
        if (xs[i].h != NULL)
            xs_flush(&xs[i]);
}

static void xb_thread_done(void *arg)
{
    (void)arg;
    xb_state = XB_OFF; /* later frees of this thread's teardown go one by one */
    sbl_xb_flush();
    struct sbl_xrec *r = xr_spare, *tail = r;
    if (r == NULL)
        return;
    xr_spare = NULL;
    xr_nspare = 0;
    while (tail->next != NULL)
        tail = tail->next;
    xrec_pool_push(r, tail); /* the spares, for other threads */
}

void sbl_xb_init_key(void) { xb_key_ok = pthread_key_create(&xb_key, xb_thread_done) == 0; }

/* a remote free of b (in pg, owned by h): into the thread's record for h
   when it can wait there, else straight to the owner */
static void free_remote_batched(struct sbl_heap *h, struct sbl_page *pg, struct sbl_block *b)
{
    if (SBL_UNLIKELY(xb_state != XB_REGISTERED)) {
        if (xb_state == 0 && xb_key_ok && !sbl_slow_mode()) {
            xb_state = XB_REGISTERED;
            pthread_setspecific(xb_key, (void *)1); /* one of the first keys: no allocation */
        }
        if (xb_state != XB_REGISTERED) {
            free_remote_direct(h, pg, b, b);
            return;
        }
    }
    if (SBL_UNLIKELY(sbl_slow_mode() || pg->xbytes == SBL_XBYTES_NONE ||
                     (sbl_page_flags(pg) & SBL_PF_DETACHED))) {
        free_remote_direct(h, pg, b, b);
        return;
    }
    struct xslot *x = &xs[xs_index(h)];
    if (x->h != h) {
        if (x->h != NULL)
            xs_flush(x);
        struct sbl_xrec *r = xrec_get();
        if (SBL_UNLIKELY(r == NULL)) {
            free_remote_direct(h, pg, b, b);
            return;
        }
        x->h = h;
        x->r = r;
        if (sbl_xb_pending++ == 0)
            sbl_xb_age = 0;
    }
    xs_add(x, pg, b);
}

/* what free does after the checks and hooks of slow mode */
static inline __attribute__((always_inline)) void free_dispatch(struct sbl_segment *s,
                                                                struct sbl_page *pg, void *p)
{
    if (sbl_page_flags(pg) & SBL_PF_HUGE) {
        if (sbl_page_flags(pg) & SBL_PF_RANGE)
            sbl_range_forget(pg->start);
        sbl_huge_free(s);
        return;
    }
    if (sbl_page_flags(pg) & (SBL_PF_ALIGNED | SBL_PF_RANGE))
        p = sbl_block_start(pg, p);
    if (sbl_page_flags(pg) & SBL_PF_RANGE)
        sbl_range_forget(p);
    struct sbl_heap *h = s->heap;
    struct sbl_block *b = (struct sbl_block *)p;
    if (h == sbl_tls_heap) {
        sbl_free_local(h, pg, b);
        return;
    }
    free_remote_batched(h, pg, b); /* batched, or to the owner (borrowed when it has exited) */
}

/* every case the inline fast path does not take in normal mode (slow mode
   never gets that far: sbl_free_slow_mode); normal mode pays one jump to
   free_plain (so that this function needs no stack frame of its own). */
static SBL_NOINLINE void free_plain(struct sbl_segment *s, struct sbl_page *pg, void *p)
{
    free_dispatch(s, pg, p);
}

/* the fast path's way out, with the descriptor of p's slice: the page is
   found first (a block in a later slice of its span is freed here as the
   fast path would) */
SBL_NOINLINE void sbl_free_slow(void *p, struct sbl_segment *s, struct sbl_page *slice)
{
    struct sbl_heap *h = s->heap;
    unsigned f = sbl_page_flags(slice);
    if (SBL_LIKELY((f & ~SBL_PF_FULL) == 0 && h != NULL)) {
        /* no flag but FULL in a heap's segment (a huge block's has no
           heap, and only its head descriptor is set up): p's slice is its
           page's head (a later slice of a span has SBL_PF_INTERIOR), and
           the owner word in the second line is all that was read of it */
        struct sbl_page *pg = slice;
        if (h == sbl_tls_heap) {
            if (f == 0) {
                sbl_free_local_plain(s, pg, p);
                return;
            }
        } else {
            /* a remote free into such a page (p is a block's start, the
               page is not detached, and an open slot means normal mode and
               a thread that batches) while the thread has a record open
               for its heap: straight into it, as free_remote_batched would
               (a full page too: the owner's collection takes it off the
               full list), without reading the descriptor's first line: the
               owner writes that line on every malloc and free, and a
               consumer thread that read it on every free would pull it
               back and forth */
            struct xslot *x = &xs[xs_index(h)];
            if (x->h == h && pg->xbytes != SBL_XBYTES_NONE) {
                xs_add(x, pg, p);
                return;
            }
        }
    }
    if (SBL_UNLIKELY(slice == s->desc) && sbl_seg_colour(s) == SBL_SEG_COLOURS - 1)
        slice = &sbl_seg_pages(s)[SBL_SLICES]; /* see sbl_free_inline */
    free_plain(s, (struct sbl_page *)((char *)slice - slice->offset), p);
}

static inline void free_slow_mode_body(void *p)
{
    struct sbl_segment *s = sbl_segment_of(p);
    struct sbl_page *pg = sbl_page_of(s, p);
    if (sbl_opt.mode == SBL_MODE_SECURE)
        sbl_secure_free(s, pg, p);
    else
        sbl_free_checked(s, pg, p);
}

/* secure mode: p's segment header would lie in memory sable never mapped
   (or the registry is not there to tell): the full lookup decides */
static SBL_NOINLINE void free_check_foreign(void *p)
{
    if (sbl_registry != NULL && sbl_registry_find(p) == NULL)
        sbl_report("free", p, "not a pointer from sable (foreign, or a huge block already freed)");
    free_slow_mode_body(p);
}

/* every free in slow mode: secure mode first makes sure p's segment header
   is memory sable mapped (the registry byte of its chunk: 0 for a foreign
   pointer, whose header may not be mapped at all), then its lean path; the
   other modes take the general path. Tail calls only: no stack frame. */
SBL_NOINLINE void sbl_free_slow_mode(void *p)
{
    if (p == NULL)
        return;
    if (sbl_opt.secure) {
        uintptr_t c = ((uintptr_t)p - 1) >> SBL_SEG_SHIFT; /* as sbl_segment_of */
        if (SBL_UNLIKELY(sbl_registry == NULL || c >= SBL_REG_CHUNKS ||
                         __atomic_load_n(&sbl_registry[c], __ATOMIC_RELAXED) == 0)) {
            free_check_foreign(p);
            return;
        }
    }
    free_slow_mode_body(p);
}

/* slow mode: the checks, hooks and scrubbing, then the free */
SBL_NOINLINE void sbl_free_checked(struct sbl_segment *s, struct sbl_page *pg, void *p)
{
    sbl_free_hooked(s, pg, p);
    free_dispatch(s, pg, p);
}
