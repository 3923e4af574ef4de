/* jemalloc (Debian's libjemalloc2, unprefixed build). */
#include "alloc_ext.h"

#include <jemalloc/jemalloc.h>
#include <stdint.h>

#define JE_STR_(x) #x
#define JE_STR(x) JE_STR_(x)

static const char *je_version(void)
{
    const char *v = "unknown";
    size_t len = sizeof v;
    if (mallctl("version", &v, &len, NULL, 0) != 0)
        return "unknown";
    return v;
}

/* xallocx resizes in place and returns the resulting real size: the call
   succeeded when that size holds n bytes. */
static void *je_resize_in_place(void *p, size_t n)
{
    if (n == 0)
        n = 1;
    return xallocx(p, n, 0, 0) >= n ? p : NULL;
}

static size_t je_usable_size(void *p) { return malloc_usable_size(p); }

static void je_free_sized(void *p, size_t n)
{
    if (p != NULL)
        sdallocx(p, n == 0 ? 1 : n, 0);
}

static void je_free_aligned_sized(void *p, size_t align, size_t n)
{
    if (p != NULL)
        sdallocx(p, n == 0 ? 1 : n, MALLOCX_ALIGN(align));
}

static int je_purge(void)
{
    mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
    return mallctl("arena." JE_STR(MALLCTL_ARENAS_ALL) ".purge", NULL, NULL, NULL, 0);
}

static size_t je_stat(const char *name)
{
    size_t v = 0, len = sizeof v;
    return mallctl(name, &v, &len, NULL, 0) == 0 ? v : SIZE_MAX;
}

static int je_stats(struct alloc_stats *st)
{
    uint64_t epoch = 1;
    size_t len = sizeof epoch;
    if (mallctl("epoch", &epoch, &len, &epoch, len) != 0)
        return -1;
    st->live_bytes = je_stat("stats.allocated");
    st->committed_bytes = je_stat("stats.resident");
    st->reserved_bytes = je_stat("stats.mapped");
    st->peak_live_bytes = SIZE_MAX;
    return st->live_bytes == SIZE_MAX ? -1 : 0;
}

const struct alloc_ext alloc_ext_native = {
    .name = "jemalloc",
    .library = "libjemalloc",
    .version = je_version,
    .resize_in_place = je_resize_in_place,
    .usable_size = je_usable_size,
    .free_sized = je_free_sized,
    .free_aligned_sized = je_free_aligned_sized,
    .purge = je_purge,
    .stats = je_stats,
};
