/* aligned.c: power-of-two alignments. Up to 64 KiB the block comes from the
 * smallest class that holds n and is a multiple of the alignment: pages
 * start on 64 KiB boundaries, so every block of such a class is aligned and
 * free() needs nothing special. The big classes' pages start their block a
 * few cache lines in (their colour, segment.c), 64-byte aligned: above 64
 * bytes, a block of those classes comes on a page of its own that starts
 * on its span. Larger alignments are huge blocks. */
#include "internal.h"

void *sbl_alloc_aligned(size_t align, size_t n)
{
    if (align <= 16)
        return sbl_malloc_inline(n);
    if (n > SBL_MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    if (align <= SBL_SLICE_SIZE && n <= SBL_LARGE_MAX) {
        /* no class below align is a multiple of it */
        unsigned c = sbl_size_class(n > align ? n : align);
        while (c < SBL_NCLASSES && (sbl_class_size(c) & (align - 1)) != 0)
            c++;
        if (c < SBL_NCLASSES && align > 64 && sbl_class_coloured(c) && !sbl_slow_mode()) {
            struct sbl_heap *h = sbl_tls_heap;
            if (h == &sbl_empty_heap)
                h = sbl_heap_acquire();
            void *p = h != NULL ? sbl_page_alone(h, c, sbl_class_slices[c]) : NULL;
            if (p == NULL)
                errno = ENOMEM;
            return p;
        }
        if (c < SBL_NCLASSES) {
            struct sbl_heap *h = sbl_tls_heap;
            struct sbl_page *pg = h->queues[c].first; /* NULL in the empty heap */
            if (SBL_LIKELY(pg != NULL && !sbl_slow_mode())) {
                /* the pop of the fast path */
                if (pg->free != NULL) {
                    struct sbl_block *b = pg->free;
                    pg->free = b->next;
                    pg->used++;
                    sbl_assert(sbl_block_in_page(pg, b) && sbl_page_counts_ok(pg));
                    return b;
                }
            }
            if (SBL_UNLIKELY(h == &sbl_empty_heap)) {
                h = sbl_heap_acquire();
                if (h == NULL) {
                    errno = ENOMEM;
                    return NULL;
                }
            }
            return sbl_alloc_class(h, c);
        }
    }
    return sbl_huge_alloc(n, align);
}

/* Any alignment > 0. Powers of two as above; otherwise, with align =
 * 2^k * odd, a block of n + align bytes aligned on 2^k from the pages, and
 * the first multiple of align inside it: the page is flagged so that free
 * and usable_size map the interior pointer back to its block. Sizes too
 * big for that are huge blocks placed on the alignment itself. */
void *sbl_alloc_aligned_any(size_t align, size_t n)
{
    if (align == 0) {
        errno = EINVAL;
        return NULL;
    }
    if ((align & (align - 1)) == 0)
        return sbl_alloc_aligned(align, n);
    if (n > SBL_MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    if (align <= SBL_SLICE_SIZE && n <= SBL_LARGE_MAX - align) {
        size_t pow2 = align & (~align + 1);
        uint8_t *q = sbl_alloc_aligned(pow2 < 16 ? 16 : pow2, n + align);
        if (q == NULL)
            return NULL;
        struct sbl_segment *s = sbl_segment_of(q);
        struct sbl_page *pg = sbl_page_of(s, q);
        if (!(sbl_page_flags(pg) & SBL_PF_ALIGNED))
            sbl_page_flag_set(pg, SBL_PF_ALIGNED);
        return q + (align - (uintptr_t)q % align) % align;
    }
    return sbl_huge_alloc(n, align);
}
