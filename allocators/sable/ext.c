/* sable: heapmark's own allocator (allocators/sable). */
#include "alloc_ext.h"

#include <sable.h>

static const char *sbl_ext_version(void) { return sable_version(); }

static size_t sbl_ext_usable_size(void *p) { return sable_usable_size(p); }

static void sbl_ext_free_sized(void *p, size_t n) { sable_free_sized(p, n); }

static void sbl_ext_free_aligned_sized(void *p, size_t align, size_t n)
{
    sable_free_aligned_sized(p, align, n);
}

static int sbl_ext_purge(void) { return sable_purge(); }

static int sbl_ext_stats(struct alloc_stats *st)
{
    struct sable_stats s;
    if (sable_stats(&s) != 0)
        return -1;
    st->live_bytes = s.live_bytes; /* SIZE_MAX unless SABLE_STATS=1 */
    st->committed_bytes = s.committed_bytes;
    st->reserved_bytes = s.reserved_bytes;
    st->peak_live_bytes = s.peak_live_bytes;
    return 0;
}

static void *sbl_ext_resize_in_place(void *p, size_t n) { return sable_resize_in_place(p, n); }

static int sbl_ext_free_range(void *p, size_t n) { return sable_free_range(p, n); }

static void *sbl_ext_aligned_any(size_t align, size_t n)
{
    return sable_aligned_alloc_any(align, n);
}

const struct alloc_ext alloc_ext_native = {
    .name = "sable",
    .library = "libsable",
    .version = sbl_ext_version,
    .usable_size = sbl_ext_usable_size,
    .free_sized = sbl_ext_free_sized,
    .free_aligned_sized = sbl_ext_free_aligned_sized,
    .purge = sbl_ext_purge,
    .resize_in_place = sbl_ext_resize_in_place,
    .aligned_any = sbl_ext_aligned_any,
    .free_range = sbl_ext_free_range,
    .stats = sbl_ext_stats,
};
