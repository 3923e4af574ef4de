/* aligned.c: power-of-two alignments. Up to 64 KiB the block comes from the
 * smallest class that holds n and is a multiple of the alignment: pages
 * start on 64 KiB boundaries, so every block of such a class is aligned and
 * free() needs nothing special. Larger alignments are huge blocks. */
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
        unsigned c = sbl_size_class(n);
        while (c < SBL_NCLASSES && (sbl_class_size(c) & (align - 1)) != 0)
            c++;
        if (c < SBL_NCLASSES) {
            struct sbl_heap *h = sbl_tls_heap;
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
