/* free.c: the free slow path: huge blocks, full pages, and frees of blocks
 * owned by another thread's heap. */
#include "internal.h"

/* Another thread's block: push it on the page's list with a CAS, or, when
 * the owner has marked the page full, on the owner heap's delayed list so
 * that the owner learns the page has room (see types.h). */
static void free_remote(struct sbl_heap *h, struct sbl_page *pg, struct sbl_block *b)
{
    uintptr_t tf = atomic_load_explicit(&pg->xthread_free, memory_order_relaxed);
    uintptr_t nw;
    bool delayed;
    do {
        delayed = (tf & SBL_TF_MASK) == SBL_TF_USE_DELAYED;
        if (delayed) {
            nw = (tf & ~(uintptr_t)SBL_TF_MASK) | SBL_TF_FREEING;
        } else {
            sbl_next_set(b, (struct sbl_block *)(tf & ~(uintptr_t)SBL_TF_MASK));
            nw = (uintptr_t)b | (tf & SBL_TF_MASK);
        }
    } while (!atomic_compare_exchange_weak_explicit(&pg->xthread_free, &tf, nw, memory_order_release,
                                                    memory_order_relaxed));
    if (!delayed)
        return;
    struct sbl_block *head = atomic_load_explicit(&h->delayed, memory_order_relaxed);
    do {
        sbl_next_set(b, head);
    } while (!atomic_compare_exchange_weak_explicit(&h->delayed, &head, b, memory_order_release,
                                                    memory_order_relaxed));
    /* the owner waits for this before it changes the state or frees the page */
    tf = atomic_load_explicit(&pg->xthread_free, memory_order_relaxed);
    do {
        nw = (tf & ~(uintptr_t)SBL_TF_MASK) | SBL_TF_NORMAL;
    } while (!atomic_compare_exchange_weak_explicit(&pg->xthread_free, &tf, nw, memory_order_release,
                                                    memory_order_relaxed));
}

/* what free does after the checks and hooks of slow mode */
static inline __attribute__((always_inline)) void free_body(struct sbl_segment *s, struct sbl_page *pg,
                                                            void *p)
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
        sbl_heap_free_local(h, pg, b);
        return;
    }
    /* the owner has exited: borrow its heap and free locally */
    if (atomic_load_explicit(&h->claimed, memory_order_relaxed) == 0 && sbl_heap_try_claim(h)) {
        sbl_heap_free_orphan(h, pg, b);
        sbl_heap_unclaim(h);
        return;
    }
    free_remote(h, pg, b);
}

/* every case the inline fast path does not take in normal mode (slow mode
   never gets that far: sbl_free_slow_mode); normal mode pays one jump to
   free_plain (so that this function needs no stack frame of its own). */
static SBL_NOINLINE void free_plain(struct sbl_segment *s, struct sbl_page *pg, void *p)
{
    free_body(s, pg, p);
}

SBL_NOINLINE void sbl_free_slow(void *p, struct sbl_segment *s, struct sbl_page *pg)
{
    free_plain(s, pg, p);
}

static inline void free_slow_mode_body(void *p)
{
    struct sbl_segment *s = sbl_segment_of(p);
    struct sbl_page *pg = sbl_page_of(s, p);
    if (sbl_opt.secure_only)
        sbl_secure_free(s, pg, p);
    else
        sbl_free_general(s, pg, p);
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
SBL_NOINLINE void sbl_free_general(struct sbl_segment *s, struct sbl_page *pg, void *p)
{
    sbl_free_hooked(s, pg, p);
    free_body(s, pg, p);
}
