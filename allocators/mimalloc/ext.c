/* mimalloc (Debian's libmimalloc2.0). */
#include "alloc_ext.h"

#include <mimalloc.h>
#include <stdint.h>
#include <stdio.h>

static const char *mim_version(void)
{
    static char buf[32];
    if (buf[0] == '\0') {
        int v = mi_version(); /* e.g. 209 for 2.0.9 */
        snprintf(buf, sizeof buf, "%d.%d.%d", v / 100, (v / 10) % 10, v % 10);
    }
    return buf;
}

/* mi_expand succeeds only when n fits the block's usable size. */
static void *mim_resize_in_place(void *p, size_t n) { return mi_expand(p, n); }

static size_t mim_usable_size(void *p) { return mi_usable_size(p); }

static void mim_free_sized(void *p, size_t n) { mi_free_size(p, n); }

static void mim_free_aligned_sized(void *p, size_t align, size_t n)
{
    mi_free_size_aligned(p, n, align);
}

static int mim_purge(void)
{
    mi_collect(true);
    return 0;
}

static int mim_stats(struct alloc_stats *st)
{
    size_t elapsed, user, sys, rss, peak_rss, commit, peak_commit, faults;
    mi_process_info(&elapsed, &user, &sys, &rss, &peak_rss, &commit, &peak_commit, &faults);
    st->live_bytes = SIZE_MAX;
    st->committed_bytes = commit;
    st->reserved_bytes = SIZE_MAX;
    st->peak_live_bytes = SIZE_MAX;
    return 0;
}

const struct alloc_ext alloc_ext_native = {
    .name = "mimalloc",
    .library = "libmimalloc",
    .version = mim_version,
    .resize_in_place = mim_resize_in_place,
    .usable_size = mim_usable_size,
    .free_sized = mim_free_sized,
    .free_aligned_sized = mim_free_aligned_sized,
    .purge = mim_purge,
    .stats = mim_stats,
};
