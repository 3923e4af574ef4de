/* realloc.c: resizing, in place first.
 *
 * sbl_resize_in_place never moves: a block of a page keeps its address
 * while n fits its block; a one-block page (blocks above 64 KiB) grows into
 * the free slices after it or gives back its tail slices (the page then
 * leaves its class queue: "detached"); a huge block grows into its reserve
 * or its mapping grows in place, and shrinks by giving back its tail.
 *
 * realloc tries that first (shrinking moves a small block to a smaller
 * class only when it would use less than half of it), then moves: huge
 * blocks by mremap (no copy), others by malloc + memcpy + free.
 * realloc(p, 0) returns a minimum-size block (p itself when p is small),
 * never NULL on success, like malloc(0). */
#include "internal.h"

static void *page_resize(struct sbl_segment *s, struct sbl_page *pg, uint8_t *p, size_t n)
{
    uint8_t *start = (pg->flags & SBL_PF_ALIGNED) ? sbl_block_start(pg, p) : p;
    size_t lead = (size_t)(p - start);
    if (n <= pg->block_size - lead)
        return p;
    /* only a one-block page of this thread's heap can change size */
    struct sbl_heap *h = s->heap;
    if (pg->capacity != 1 || h != sbl_tls_heap || n > SBL_SEG_SIZE)
        return NULL;
    size_t need = lead + n;
    unsigned slices = (unsigned)((need + SBL_SLICE_SIZE - 1) >> SBL_SLICE_SHIFT);
    if (slices > pg->slices && !sbl_span_resize(h, pg, slices))
        return NULL;
    sbl_heap_detach(h, pg);
    pg->block_size = (uint32_t)((size_t)pg->slices * SBL_SLICE_SIZE);
    return p;
}

/* Gives back the tail slices of a one-block page that n no longer needs. */
static void page_shrink(struct sbl_segment *s, struct sbl_page *pg, uint8_t *p, size_t n)
{
    struct sbl_heap *h = s->heap;
    if (pg->capacity != 1 || h != sbl_tls_heap || (pg->flags & SBL_PF_ALIGNED))
        return;
    unsigned slices = (unsigned)((n + SBL_SLICE_SIZE - 1) >> SBL_SLICE_SHIFT);
    if (slices == 0)
        slices = 1;
    if (slices >= pg->slices)
        return;
    (void)p;
    sbl_heap_detach(h, pg);
    sbl_span_resize(h, pg, slices);
    pg->block_size = (uint32_t)((size_t)slices * SBL_SLICE_SIZE);
}

void *sbl_resize_in_place(void *p, size_t n)
{
    if (p == NULL || n > SBL_MAX_REQUEST)
        return NULL;
    struct sbl_segment *s = sbl_segment_of(p);
    struct sbl_page *pg = sbl_page_of(s, p);
    if (pg->flags & SBL_PF_HUGE) {
        size_t lead = (size_t)((uint8_t *)p - pg->start);
        if (n > SBL_MAX_REQUEST - lead)
            return NULL;
        return sbl_huge_resize(pg->start, s, lead + n) ? p : NULL;
    }
    void *q = page_resize(s, pg, p, n);
    if (q != NULL && n < pg->block_size / 2)
        page_shrink(s, pg, p, n);
    return q;
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
    if (pg->flags & SBL_PF_RANGE) /* a partially freed block becomes whole */
        sbl_range_forget((pg->flags & SBL_PF_HUGE) ? pg->start : sbl_block_start(pg, p));
    size_t old;
    if (pg->flags & SBL_PF_HUGE) {
        if (pg->start == p && n > (SBL_LARGE_MAX >> 3))
            return sbl_huge_realloc(p, s, n);
        old = sbl_usable_size(p);
    } else {
        old = sbl_usable_size(p);
        if (n <= old) {
            if (n >= old / 2 || old <= 128 || sbl_size_class(n) == pg->cls)
                return p;
            if (pg->capacity == 1 && n > SBL_SLICE_SIZE) {
                page_shrink(s, pg, p, n);
                return p;
            }
        } else if (page_resize(s, pg, p, n) != NULL) {
            return p;
        }
    }
    void *q = sbl_malloc_inline(n);
    if (q == NULL)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    sbl_free_inline(p);
    return q;
}
