/* tcmalloc: gperftools' tcmalloc_minimal (Debian's libtcmalloc-minimal4). */
#include "alloc_ext.h"

#include <gperftools/malloc_extension_c.h>
#include <gperftools/tcmalloc.h>
#include <stdint.h>
#include <stdio.h>

/* "2.10" (tc_version's own string is "gperftools 2.10") */
static const char *tcm_version(void)
{
    static char buf[32];
    int major = 0, minor = 0;
    const char *patch = NULL;
    if (buf[0] == '\0') {
        tc_version(&major, &minor, &patch);
        snprintf(buf, sizeof buf, "%d.%d%s", major, minor, patch ? patch : "");
    }
    return buf;
}

static size_t tcm_usable_size(void *p) { return tc_malloc_size(p); }

static void tcm_free_sized(void *p, size_t n) { tc_free_sized(p, n); }

static int tcm_purge(void)
{
    MallocExtension_ReleaseFreeMemory();
    return 0;
}

static size_t tcm_property(const char *name)
{
    size_t v = 0;
    return MallocExtension_GetNumericProperty(name, &v) ? v : SIZE_MAX;
}

/* heap_size counts the page heap including the pages already given back
   (unmapped): committed is what is left of it. */
static int tcm_stats(struct alloc_stats *st)
{
    size_t heap = tcm_property("generic.heap_size");
    size_t unmapped = tcm_property("tcmalloc.pageheap_unmapped_bytes");
    st->live_bytes = tcm_property("generic.current_allocated_bytes");
    st->committed_bytes = heap == SIZE_MAX || unmapped == SIZE_MAX ? SIZE_MAX : heap - unmapped;
    st->reserved_bytes = SIZE_MAX;
    st->peak_live_bytes = SIZE_MAX;
    return st->live_bytes == SIZE_MAX ? -1 : 0;
}

const struct alloc_ext alloc_ext_native = {
    .name = "tcmalloc",
    .library = "libtcmalloc_minimal",
    .version = tcm_version,
    .usable_size = tcm_usable_size,
    .free_sized = tcm_free_sized,
    .purge = tcm_purge,
    .stats = tcm_stats,
};
