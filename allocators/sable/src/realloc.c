/* realloc.c: resizing, in place first.
 *
 * sbl_resize_in_place never moves: a block of a page keeps its address
 * while n fits its block; a one-block page (blocks above 64 KiB) grows into
 * the free slices after it or gives back its tail slices (the page then
 * leaves its class queue: "detached"); a huge block grows into its reserve
 * or its mapping grows in place, and shrinks by giving back its tail.
 *
 * realloc tries that first (shrinking moves a small block to a smaller
 * class only when it would use less than half of it; the block the thread
 * grew last keeps its room while it is asked for more than the last time),
 * then moves: huge blocks by mremap (no copy; a huge block placed for an
 * alignment that is not a multiple of 16 is copied instead, so that the
 * result is 16-byte aligned), others by malloc + memcpy + free. A block that grows past
 * GROW_OWN_PAGE, or doubles past half of it when it is the block the
 * thread grew last (a vector: the copy at the next doubling is saved),
 * moves to a one-block page (a span of slices of its own, at least the
 * smallest large class) rather than to the next medium class, placed at
 * the start of a run of free slices with room for it to grow
 * (grow_alloc): a growing buffer then keeps growing in place instead of
 * being copied at each doubling. Below that, a growing block moves to a
 * class of the coarse grid (grow_size), so that a buffer grown in small
 * steps is copied once per quarter doubling, not once per eighth where the
 * classes are finer (size_class.c). A partially freed block becomes whole
 * again when either call succeeds; a failed call changes nothing.
 * realloc(p, 0) returns a minimum-size block (p itself when p is small),
 * never NULL on success, like malloc(0). */
#include "internal.h"

#define GROW_OWN_PAGE ((size_t)16 << 10)
#define ONE_BLOCK_MIN (((size_t)64 << 10) + 1) /* the smallest class of one-block pages */
#define GROW_ROOM_MIN 16u                      /* slices: a grown block finds room for 1 MiB */
#define GROW_KEPT_MIN (SBL_LARGE_MAX >> 3)     /* from there realloc grows a huge block in place */

/* __thread: the block this thread's realloc grew last (where it left it),
   and the size it asked for then */
static __thread void *grown_last __attribute__((tls_model("initial-exec")));
static __thread size_t grown_to __attribute__((tls_model("initial-exec")));

/* realloc grew p to n bytes */
static inline void note_grown(void *p, size_t n)
{
    grown_last = p;
    grown_to = n;
}

/* whether p, a block of old bytes that grows to n (up to SBL_LARGE_MAX),
   moves to a page of its own with room to grow (grow_alloc): past
   GROW_OWN_PAGE, or past half of it when it doubles and is the block this
   thread grew last: a buffer growing as a vector does, whose next
   doublings then stay in place (a block that grows once or now and then
   stays with its class, where it takes less room) */
static inline bool grows_own(const void *p, size_t old, size_t n)
{
    return n > GROW_OWN_PAGE || (n > GROW_OWN_PAGE / 2 && n >= 2 * old && p == grown_last);
}

/* whether a block of old bytes growing to n moves now to the thread's kept
   huge mapping (grow_alloc) rather than growing where it is: it will grow
   there without a copy up to the mapping's size (the copy of old bytes
   now instead of a bigger one later). Not in slow mode, where grow_alloc
   takes nothing: the block then grows where it is, when it can. */
static inline bool grows_into_kept(size_t old, size_t n)
{
    return old <= GROW_KEPT_MIN && n > GROW_KEPT_MIN && !sbl_slow_mode() &&
           atomic_load_explicit(&sbl_tls_heap->huge_kept, memory_order_relaxed) != NULL;
}

/* A block of n bytes (ONE_BLOCK_MIN..SBL_LARGE_MAX) for a block that grows:
 * a one-block page of this thread's heap at the start of a run of free
 * slices four times its span (at least GROW_ROOM_MIN, at most a whole
 * segment's), detached (in no queue: its free releases the page), its
 * block on the start of the span (not coloured: grown in place, the block
 * stays a whole number of slices, which grows_into_kept compares); NULL
 * when the caller should take an ordinary block. Above GROW_KEPT_MIN, the
 * thread's kept huge mapping first, when it holds n: the block then
 * grows in place in the pages that mapping had written (huge.c). */
static void *grow_alloc(size_t n)
{
    struct sbl_heap *h = sbl_tls_heap;
    if (sbl_slow_mode() || h == &sbl_empty_heap)
        return NULL;
    if (n > GROW_KEPT_MIN) {
        void *p = sbl_huge_take_kept(n);
        if (p != NULL)
            return p;
    }
    unsigned cls = sbl_size_class(n);
    unsigned room = 4u * sbl_class_slices[cls];
    if (room < GROW_ROOM_MIN)
        room = GROW_ROOM_MIN;
    if (room > SBL_SLICES - 1)
        room = SBL_SLICES - 1;
    return sbl_page_alone(h, cls, room);
}

/* The size a medium block that grows to n moves to: n, or from 1 KiB to
   SBL_FINE_MAX (where classes come eight per doubling) the next size of
   four per doubling (a class too) */
static inline size_t grow_size(size_t n)
{
    if (n <= SBL_FINE_MIN || n > SBL_FINE_MAX)
        return n;
    size_t w = n - 1;
    unsigned q = 61u - (unsigned)__builtin_clzl(w); /* log2 of a quarter doubling */
    return ((w >> q) + 1) << q;
}

static void *page_resize(struct sbl_segment *s, struct sbl_page *pg, uint8_t *p, size_t n)
{
    uint8_t *start = (sbl_page_flags(pg) & SBL_PF_ALIGNED) ? sbl_block_start(pg, p) : p;
    size_t lead = (size_t)(p - start);
    if (n <= pg->block_size - lead)
        return p;
    /* only a one-block page of this thread's heap can change size (the
       page first: the segment's header is one more line to read) */
    if (pg->capacity != 1 || n > SBL_SEG_SIZE)
        return NULL;
    struct sbl_heap *h = s->heap;
    if (h != sbl_tls_heap)
        return NULL;
    size_t colour = sbl_page_colour(pg);
    size_t need = colour + lead + n;
    unsigned slices = (unsigned)((need + SBL_SLICE_SIZE - 1) >> SBL_SLICE_SHIFT);
    if (slices > pg->slices && !sbl_span_resize(h, pg, slices))
        return NULL;
    sbl_heap_detach(h, pg);
    pg->block_size = (uint32_t)((size_t)pg->slices * SBL_SLICE_SIZE - colour);
    return p;
}

/* Gives back the tail slices of a one-block page that n no longer needs. */
static void page_shrink(struct sbl_segment *s, struct sbl_page *pg, uint8_t *p, size_t n)
{
    struct sbl_heap *h = s->heap;
    if (pg->capacity != 1 || h != sbl_tls_heap || (sbl_page_flags(pg) & SBL_PF_ALIGNED))
        return;
    size_t colour = sbl_page_colour(pg);
    unsigned slices = (unsigned)((colour + n + SBL_SLICE_SIZE - 1) >> SBL_SLICE_SHIFT);
    if (slices == 0)
        slices = 1;
    if (slices >= pg->slices)
        return;
    sbl_heap_detach(h, pg);
    unsigned old_slices = pg->slices;
    sbl_span_resize(h, pg, slices);
    pg->block_size = (uint32_t)((size_t)slices * SBL_SLICE_SIZE - colour);
    if (sbl_opt.secure) /* the tail given back is freed memory: zero it */
        sbl_secure_zero_pages(sbl_span_start(pg) + (size_t)slices * SBL_SLICE_SIZE,
                              (size_t)(old_slices - slices) * SBL_SLICE_SIZE);
    (void)p;
}

/* a partially freed block that realloc or resize_in_place keeps becomes whole again */
static inline void *kept_whole(struct sbl_page *pg, uint8_t *start, void *p)
{
    if (sbl_page_flags(pg) & SBL_PF_RANGE)
        sbl_range_forget(start);
    return p;
}

void *sbl_resize_in_place(void *p, size_t n)
{
    if (p == NULL || n > SBL_MAX_REQUEST)
        return NULL;
    struct sbl_segment *s = sbl_segment_of(p);
    struct sbl_page *pg = sbl_page_of(s, p);
    if (sbl_page_flags(pg) & SBL_PF_HUGE) {
        size_t lead = (size_t)((uint8_t *)p - pg->start);
        if (n > SBL_MAX_REQUEST - lead || sbl_huge_resize(pg->start, s, lead + n) == NULL)
            return NULL;
        return kept_whole(pg, pg->start, p);
    }
    void *q = page_resize(s, pg, p, n);
    if (q == NULL)
        return NULL;
    if (n < pg->block_size / 2)
        page_shrink(s, pg, p, n);
    return kept_whole(pg, sbl_block_start(pg, p), p);
}

void *sbl_realloc(void *p, size_t n)
{
    if (p == NULL)
        return sbl_malloc_inline(n);
    if (n > SBL_MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    struct sbl_segment *s = sbl_segment_of(p);
    struct sbl_page *pg = sbl_page_of(s, p);
    uint8_t flags = sbl_page_flags(pg);
    bool huge = flags & SBL_PF_HUGE;
    /* p is its block's start unless its page holds interior pointers (the
       division is for those alone) */
    uint8_t *start = huge ? pg->start : (flags & SBL_PF_ALIGNED) ? sbl_block_start(pg, p) : p;
    /* the whole extent from p: released ranges of a partially freed block
       are forgotten only once the call succeeds (a failure changes nothing) */
    size_t old = (huge ? s->huge_size : pg->block_size) - (size_t)((uint8_t *)p - start);
    if (huge) {
        if (start == (uint8_t *)p && n > GROW_KEPT_MIN) {
            void *q;
            if (s->huge_offset % 16 == 0) { /* mremap keeps the offset: still aligned */
                bool ranged = sbl_page_flags(pg) & SBL_PF_RANGE; /* pg moves with the block */
                q = sbl_huge_realloc(p, s, n);
                if (q != NULL && ranged)
                    sbl_range_forget(start);
                return q;
            }
            /* placed for an odd alignment: copied to an ordinary (16-byte
               aligned) block; growing in place would keep p, which is not
               16-byte aligned */
        }
    } else if (n <= old) {
        /* the block this thread grew last, asked for more than then: it
           keeps its room (a vector that grew onto a page with room, whose
           next doublings fit there, is not cut back to grow again) */
        if (p == grown_last && n > grown_to) {
            grown_to = n;
            return kept_whole(pg, start, p);
        }
        if (n >= old / 2 || old <= 128 || sbl_size_class(n) == pg->cls)
            return kept_whole(pg, start, p);
        /* a one-block page keeps its block and gives back its tail slices:
           any from 64 KiB, and from GROW_OWN_PAGE one that realloc placed
           or resized (detached): a buffer growing in small steps past
           GROW_OWN_PAGE would otherwise move back to a medium class at the
           next step, and out again past that class */
        if (pg->capacity == 1 &&
            (n > SBL_SLICE_SIZE || (n > GROW_OWN_PAGE && (sbl_page_flags(pg) & SBL_PF_DETACHED)))) {
            page_shrink(s, pg, p, n);
            return kept_whole(pg, start, p);
        }
    } else if (!grows_into_kept(old, n) && page_resize(s, pg, p, n) != NULL) {
        note_grown(p, n);
        return kept_whole(pg, start, p);
    }
    void *q = NULL;
    if (!huge && n > old && n <= SBL_LARGE_MAX && grows_own(p, old, n))
        q = grow_alloc(n < ONE_BLOCK_MIN ? ONE_BLOCK_MIN : n);
    if (q == NULL) {
        /* a block that grows past the large classes may take over the pages
           of this thread's kept huge mapping as room to grow (huge.c) */
        sbl_huge_growing = !huge && n > old && n > SBL_LARGE_MAX;
        q = sbl_malloc_inline(!huge && n > old && !sbl_slow_mode() ? grow_size(n) : n);
        sbl_huge_growing = false;
    }
    if (q == NULL)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    sbl_free_inline(p); /* forgets the released ranges, if any */
    if (n > old)
        note_grown(q, n);
    return q;
}
