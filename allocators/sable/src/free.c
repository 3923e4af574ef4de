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
 *            chains of up to XB_MAX per page)      an exiting thread: each at once)
 *
 * Both remote paths end in free_remote_direct: a CAS onto the page's list
 * or the owner's delayed list, or, when the owner has exited, a local free
 * into its borrowed heap. */
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
 * In normal mode a thread's frees into other threads' pages of many blocks
 * wait in a few thread-local chains, one page each (slot chosen by the
 * page's address), and go to the page in one CAS when the chain reaches
 * XB_MAX blocks, when another page needs its slot, at the thread's next
 * allocation slow path, on sable_purge and at thread exit: a consumer
 * thread then writes the owner's page descriptor once per XB_MAX frees, not
 * once per free. The blocks still count as used in their page meanwhile, so
 * the page cannot be released under them; at most XB_SLOTS * XB_MAX blocks
 * wait per thread. */
#define XB_SLOTS 8
#define XB_MAX 64

struct xbatch {
    struct sbl_page *pg;    /* NULL: slot empty */
    struct sbl_page *slice; /* the descriptor of the slice of its blocks, when
                               further frees into that slice may join the
                               chain unchecked (see sbl_free_slow); else NULL */
    struct sbl_block *head, *tail;
    uint32_t n;
    unsigned epoch; /* sbl_aligned_epoch when slice was set */
};

_Atomic unsigned sbl_aligned_epoch;

/* the slot of a slice's descriptor (the same for every block of the slice) */
static inline unsigned xb_index(const struct sbl_page *slice)
{
    return (unsigned)((uintptr_t)slice >> 6) % XB_SLOTS;
}

static __thread struct xbatch xb[XB_SLOTS] __attribute__((tls_model("initial-exec")));
static __thread unsigned xb_state __attribute__((tls_model("initial-exec"))); /* XB_* below */
__thread unsigned sbl_xb_pending __attribute__((tls_model("initial-exec")));  /* slots in use */
#define XB_REGISTERED 1u /* the thread-exit flush is registered */
#define XB_OFF 2u        /* the thread is exiting: no more batching */

static pthread_key_t xb_key;
static bool xb_key_ok;

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

static void xb_flush_slot(struct xbatch *x)
{
    struct sbl_page *pg = x->pg;
    x->pg = NULL;
    x->slice = NULL;
    x->n = 0;
    sbl_xb_pending--;
    if (sbl_page_flags(pg) & SBL_PF_RANGE) /* set since the chain began: see sbl_free_slow */
        for (struct sbl_block *b = x->head; b != NULL; b = b == x->tail ? NULL : b->next)
            sbl_range_forget(b);
    free_remote_direct(sbl_segment_of(pg)->heap, pg, x->head, x->tail);
}

/* b joins the open chain of its slot */
static inline void xb_push(struct xbatch *x, struct sbl_block *b)
{
    b->next = x->head;
    x->head = b;
    if (++x->n >= XB_MAX)
        xb_flush_slot(x);
}

void sbl_xb_flush(void)
{
    for (unsigned i = 0; i < XB_SLOTS && sbl_xb_pending > 0; i++)
        if (xb[i].pg != NULL)
            xb_flush_slot(&xb[i]);
}

static void xb_thread_done(void *arg)
{
    (void)arg;
    xb_state = XB_OFF; /* later frees of this thread's teardown go one by one */
    sbl_xb_flush();
}

void sbl_xb_init_key(void) { xb_key_ok = pthread_key_create(&xb_key, xb_thread_done) == 0; }

/* a remote free of b (in pg, owned by h): into the thread's batch when it
   can wait there, else straight to the owner */
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
    if (SBL_UNLIKELY(sbl_slow_mode() || pg->capacity <= 1)) {
        free_remote_direct(h, pg, b, b);
        return;
    }
    struct sbl_segment *s = sbl_segment_of(b);
    struct sbl_page *slice = &s->pages[((uintptr_t)b - (uintptr_t)s) >> SBL_SLICE_SHIFT];
    struct xbatch *x = &xb[xb_index(slice)];
    if (x->pg == pg) {
        xb_push(x, b);
        return;
    }
    if (x->pg != NULL)
        xb_flush_slot(x);
    b->next = NULL;
    x->pg = pg;
    /* a plain page (full or not): its pointers are block starts, and stay so
       while the chain holds blocks of it (it cannot be released meanwhile)
       unless an any-alignment allocation marks it (see sbl_free_slow) */
    x->slice = (sbl_page_flags(pg) & ~SBL_PF_FULL) == 0 ? slice : NULL;
    x->epoch = atomic_load_explicit(&sbl_aligned_epoch, memory_order_relaxed);
    x->head = x->tail = b;
    x->n = 1;
    sbl_xb_pending++;
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
    /* another remote free into the slice of an open chain joins it without
       reading the slice's descriptor: the owner writes that line on
       every malloc, and a consumer thread that read it on every free would
       pull it back and forth. A page that began to hold interior pointers
       since the chain began (any-alignment allocations: aligned.c) changes
       sbl_aligned_epoch and ends this; a partial free of the page since
       then is seen when the chain goes (xb_flush_slot) */
    struct xbatch *x = &xb[xb_index(slice)];
    if (x->slice == slice && s->heap != sbl_tls_heap &&
        x->epoch == atomic_load_explicit(&sbl_aligned_epoch, memory_order_relaxed)) {
        xb_push(x, (struct sbl_block *)p);
        return;
    }
    struct sbl_page *pg = (struct sbl_page *)((char *)slice - slice->offset);
    if (SBL_LIKELY(s->heap == sbl_tls_heap && sbl_page_flags(pg) == 0)) {
        sbl_free_local_plain(s, pg, p);
        return;
    }
    free_plain(s, pg, p);
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
