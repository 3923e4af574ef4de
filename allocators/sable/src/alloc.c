/* alloc.c: the allocation slow path, reached when the fast path's page has
 * no free block, for sizes above SBL_DIRECT_MAX, and on a thread's first
 * allocation. */
#include "internal.h"

/* A block of class cls from h; on failure, see oom.c. */
void *sbl_alloc_class(struct sbl_heap *h, unsigned cls)
{
    unsigned attempt = 0;
    do {
        struct sbl_page *pg = sbl_heap_find_page(h, cls);
        if (SBL_LIKELY(pg != NULL)) {
            struct sbl_block *b = sbl_page_pop(pg);
            return b;
        }
    } while (sbl_oom_retry(sbl_class_size(cls), &attempt));
    errno = ENOMEM;
    return NULL;
}

/* the small fast path's way out (no block on the direct page's free list:
   the page ran dry, a thread's first call, or slow mode). Secure mode alone
   first tries its lean path (secure.c), which comes back to
   sbl_alloc_generic */
SBL_NOINLINE void *sbl_alloc_small_slow(size_t n, struct sbl_heap *h)
{
    if (SBL_UNLIKELY(sbl_opt.mode == SBL_MODE_SECURE))
        return sbl_secure_alloc_small(h, n);
    return sbl_alloc_generic(n, h);
}

/* A large class whose first page has no free block: the empty page the
 * heap keeps (heap.c: heap_retire_slow), wherever it is in its queue, when
 * it is of this class and plain, its free list ready; else a retained
 * one-block page of the class with its block free (heap.c), which stays
 * retained; else NULL. A one-block page taken so stays in its queue
 * without a free block (not on the full list: malloc finds it there as dry
 * and moves it only when it looks for room), its block's free takes free's
 * fast path, and the page is kept again when it empties: a program that
 * frees one big block and allocates another moves no page between lists.
 * Where another thread may free its block, the page's remote frees go to
 * the heap's delayed list, as for a full page, so that the owner sees them
 * at its next slow-path allocation. */
static inline struct sbl_page *large_kept_take(struct sbl_heap *h, unsigned cls)
{
    struct sbl_page *k = h->large_kept;
    if ((k == NULL || k->cls != cls || sbl_page_flags(k) != 0 || k->free == NULL) &&
        (h->nretained == 0 || sbl_class_size(cls) <= SBL_KEEP_MAX ||
         (k = sbl_heap_retained_take(h, cls)) == NULL))
        return NULL;
    if (!sbl_single_threaded())
        sbl_page_set_state(k, SBL_TF_USE_DELAYED);
    return k;
}

/* A class above SBL_KEEP_MAX whose first page has no free block: the page
 * the heap keeps, when it serves (normal mode), without the slow path's
 * chores: a loop that frees one big block and allocates another reaches
 * them as seldom as a loop of small blocks on one page. Else
 * sbl_alloc_generic. */
static SBL_NOINLINE void *alloc_large_kept(size_t n, struct sbl_heap *h, unsigned cls)
{
    struct sbl_page *k;
    if (SBL_LIKELY(!sbl_slow_mode()) && (k = large_kept_take(h, cls)) != NULL)
        return sbl_page_pop(k);
    return sbl_alloc_generic(n, h);
}

/* malloc of SBL_DIRECT_MAX < n <= SBL_LARGE_MAX: the pop from the class's
 * first page, as the small fast path's; no stack frame, no call.
 * Everything else (no block there, the empty heap, slow mode) goes to
 * sbl_alloc_generic, which also does the slow path's chores (batched
 * remote frees, the delayed list, the purge tick): a loop of medium blocks
 * on one page reaches it as seldom as a loop of small ones (the big
 * classes' kept page first: alloc_large_kept). */
SBL_NOINLINE void *sbl_alloc_medium(size_t n, struct sbl_heap *h)
{
    if (n <= SBL_DIRECT_MAX) /* (never: the class needs no test for the small sizes) */
        __builtin_unreachable();
    unsigned cls = sbl_size_class(n);
    struct sbl_page *pg = h->queues[cls].first; /* NULL in the empty heap */
    struct sbl_block *b;
    if (SBL_LIKELY(pg != NULL && (b = pg->free) != NULL && !sbl_slow_mode())) {
        pg->free = b->next;
        pg->used++;
        sbl_assert(sbl_block_in_page(pg, b) && sbl_page_counts_ok(pg));
        return b;
    }
    if (n > SBL_KEEP_MAX)
        return alloc_large_kept(n, h, cls);
    return sbl_alloc_generic(n, h);
}

SBL_NOINLINE void *sbl_alloc_generic(size_t n, struct sbl_heap *h)
{
    if (SBL_UNLIKELY(h == &sbl_empty_heap)) {
        unsigned attempt = 0;
        while ((h = sbl_heap_acquire()) == NULL)
            if (!sbl_oom_retry(n, &attempt)) {
                errno = ENOMEM;
                return NULL;
            }
    }
    sbl_xb_age_tick(); /* this thread's batched remote frees, once they are old */
    /* under memcheck (known once sable is set up: after the heap above) */
    if (SBL_UNLIKELY(sbl_opt.valgrind) && sbl_hook_depth == 0)
        return sbl_vg_alloc(SBL_OP_MALLOC, n, 0, false); /* hooks.c */
    if (atomic_load_explicit(&h->delayed, memory_order_relaxed) != NULL)
        sbl_heap_collect_delayed(h);
    sbl_segments_maybe_purge(h);
    if (SBL_UNLIKELY(h->nretained != 0) && (h->purge_tick & 7) == 0)
        sbl_heap_retained_expire(h, false); /* (heap.c) */
    void *p;
    if (SBL_UNLIKELY(n > SBL_LARGE_MAX)) {
        p = sbl_huge_alloc(n, 0);
    } else {
        unsigned cls = sbl_size_class(n);
        struct sbl_page *pg = h->queues[cls].first;
        if (pg && pg->free) {
            struct sbl_block *b = sbl_page_pop(pg);
            p = b;
        } else if ((pg = large_kept_take(h, cls)) != NULL) {
            p = sbl_page_pop(pg);
        } else {
            p = sbl_alloc_class(h, cls);
        }
    }
    if (SBL_UNLIKELY(sbl_opt.mode == SBL_MODE_INSTRUMENTED) && sbl_hook_depth == 0)
        sbl_hook_alloc(SBL_OP_MALLOC, p, n, 0);
    return p;
}
