/* realloc.c: resizing. A block stays where it is while the new size fits
 * its block and uses at least half of it (or shares its class); huge blocks
 * are resized with mremap. realloc(p, 0) returns a minimum-size block (p
 * itself when p is small), never NULL on success, like malloc(0). */
#include "internal.h"

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
    size_t old;
    if (pg->flags & SBL_PF_HUGE) {
        if (n > SBL_LARGE_MAX)
            return sbl_huge_realloc(p, s, n);
        old = s->huge_size;
    } else {
        old = pg->block_size;
        if (n <= old && (n >= old / 2 || old <= 128 || sbl_size_class(n) == pg->cls))
            return p;
    }
    void *q = sbl_malloc_inline(n);
    if (q == NULL)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    sbl_free_inline(p);
    return q;
}
