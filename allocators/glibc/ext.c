/* glibc's malloc (ptmalloc2): the reference every other allocator is
   normalised to. It has no in-place resize and no sized free (2.36). */
#define _GNU_SOURCE
#include "alloc_ext.h"

#include <gnu/libc-version.h>
#include <malloc.h>

static const char *glibc_version(void) { return gnu_get_libc_version(); }

static size_t glibc_usable_size(void *p) { return malloc_usable_size(p); }

static int glibc_purge(void)
{
    malloc_trim(0);
    return 0;
}

static int glibc_stats(struct alloc_stats *st)
{
    struct mallinfo2 mi = mallinfo2();
    st->live_bytes = mi.uordblks + mi.hblkhd;
    st->committed_bytes = mi.arena + mi.hblkhd;
    st->reserved_bytes = SIZE_MAX;
    st->peak_live_bytes = SIZE_MAX;
    return 0;
}

const struct alloc_ext alloc_ext_native = {
    .name = "glibc",
    .library = "libc.so",
    .version = glibc_version,
    .usable_size = glibc_usable_size,
    .purge = glibc_purge,
    .stats = glibc_stats,
};
