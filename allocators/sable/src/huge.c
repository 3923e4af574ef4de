/* huge.c: blocks above SBL_LARGE_MAX (and alignments above 64 KiB), each in
 * its own mapping laid out like a segment, so that the one mask of free()
 * finds its header:
 *
 *   base (4 MiB aligned) | header ... | block at base + off
 *
 * off = 64 KiB for alignments up to 64 KiB, the alignment itself up to
 * 4 MiB, and 4 MiB above (then the *block* is placed on the alignment and
 * base = block - 4 MiB). The descriptor at pages[off >> 16] points back to
 * pages[0], which carries SBL_PF_HUGE. realloc resizes with mremap: in
 * place when the address space after the block is free, else by moving the
 * pages to a new aligned range; the bytes are never copied. */
#include "internal.h"

static size_t body_size(size_t n)
{
    return n == 0 ? SBL_OS_PAGE : (n + SBL_OS_PAGE - 1) & ~(SBL_OS_PAGE - 1);
}

void *sbl_huge_alloc(size_t n, size_t align)
{
    if (n > SBL_MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    if (align < 16)
        align = 16;
    size_t off = align <= SBL_SLICE_SIZE ? SBL_SLICE_SIZE : align <= SBL_SEG_SIZE ? align : SBL_SEG_SIZE;
    size_t body = body_size(n);
    size_t total = off + body;
    size_t a = align <= SBL_SEG_SIZE ? SBL_SEG_SIZE : align;
    size_t lead = align <= SBL_SEG_SIZE ? 0 : SBL_SEG_SIZE;
    uint8_t *base = sbl_os_map_aligned(total, a, lead);
    if (base == NULL) {
        sbl_segment_cache_flush();
        base = sbl_os_map_aligned(total, a, lead);
        if (base == NULL) {
            errno = ENOMEM;
            return NULL;
        }
    }
    struct sbl_segment *s = (struct sbl_segment *)base;
    s->heap = NULL;
    s->kind = SBL_SEG_HUGE;
    s->map_size = total;
    s->huge_size = body;
    s->huge_offset = off;
    struct sbl_page *pg = &s->pages[0];
    memset(pg, 0, sizeof *pg);
    pg->flags = SBL_PF_HUGE;
    pg->used = 1;
    pg->in_use = 1;
    pg->start = base + off;
    unsigned idx = (unsigned)(off >> SBL_SLICE_SHIFT);
    s->pages[idx].offset = (uint32_t)(idx * sizeof(struct sbl_page));
    return base + off;
}

void sbl_huge_free(struct sbl_segment *s) { sbl_os_unmap(s, s->map_size); }

/* Resizes a huge block to n (> SBL_LARGE_MAX) bytes; NULL with ENOMEM and
 * the block untouched on failure. */
void *sbl_huge_realloc(void *p, struct sbl_segment *s, size_t n)
{
    if (n > SBL_MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    size_t off = s->huge_offset;
    size_t body = body_size(n);
    size_t total = off + body;
    if (total == s->map_size)
        return p;
    if (sbl_os_remap(s, s->map_size, total) != NULL) {
        s->map_size = total;
        s->huge_size = body;
        return p;
    }
    uint8_t *to = sbl_os_map_aligned(total, SBL_SEG_SIZE, 0);
    if (to == NULL) {
        sbl_segment_cache_flush();
        to = sbl_os_map_aligned(total, SBL_SEG_SIZE, 0);
    }
    if (to == NULL || sbl_os_remap_to(s, s->map_size, total, to) == NULL) {
        if (to)
            sbl_os_unmap(to, total);
        errno = ENOMEM;
        return NULL;
    }
    s = (struct sbl_segment *)to;
    s->map_size = total;
    s->huge_size = body;
    return to + off;
}
