/* gperftools' tcmalloc_minimal (optional: libtcmalloc-minimal4 ships no
   headers, so the few entry points used are declared here). */
#include "alloc_ext.h"

#include <stdio.h>

extern const char *tc_version(int *major, int *minor, const char **patch);
extern size_t tc_malloc_size(void *p);
extern void tc_free_sized(void *p, size_t n);
extern void MallocExtension_ReleaseFreeMemory(void);

static const char *tcm_version(void) { return tc_version(NULL, NULL, NULL); }

static size_t tcm_usable_size(void *p) { return tc_malloc_size(p); }

static void tcm_free_sized(void *p, size_t n) { tc_free_sized(p, n); }

static int tcm_purge(void)
{
    MallocExtension_ReleaseFreeMemory();
    return 0;
}

const struct alloc_ext alloc_ext_native = {
    .name = "tcmalloc",
    .library = "libtcmalloc",
    .version = tcm_version,
    .usable_size = tcm_usable_size,
    .free_sized = tcm_free_sized,
    .purge = tcm_purge,
};
