/* scudo: LLVM's hardened allocator (compiler-rt's standalone Scudo, Debian's
   libclang-rt-14-dev). It has no header of its own: its extension entry
   points are the glibc-style ones it defines (malloc_usable_size, mallopt,
   mallinfo2), which resolve to it because it is linked first. */
#define _GNU_SOURCE
#include "alloc_ext.h"

#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

/* Scudo's mallopt parameter: release every free page it can to the OS
   (compiler-rt include/scudo/interface.h). */
#define SCUDO_M_PURGE (-101)

/* Scudo has no version call. It is built and installed with its compiler-rt
   release: read the release from the file's place in LLVM's resource
   folder (.../lib/clang/14.0.6/lib/linux/...), else the package's. */
static const char *scudo_version(void)
{
    static char buf[48];
    Dl_info info;
    if (buf[0] == '\0' && dladdr((void *)malloc, &info) != 0 && info.dli_fname != NULL) {
        const char *v = strstr(info.dli_fname, "/clang/");
        size_t n = 0;
        if (v != NULL) {
            v += strlen("/clang/");
            while ((v[n] >= '0' && v[n] <= '9') || v[n] == '.')
                n++;
        }
        if (n > 0 && v[n] == '/')
            snprintf(buf, sizeof buf, "%.*s", (int)n, v);
    }
    return buf[0] ? buf : SCUDO_PACKAGE_VERSION;
}

static size_t scudo_usable_size(void *p) { return malloc_usable_size(p); }

static int scudo_purge(void) { return mallopt(SCUDO_M_PURGE, 0) == 1 ? 0 : -1; }

const struct alloc_ext alloc_ext_native = {
    .name = "scudo",
    .library = "libclang_rt.scudo_standalone",
    .version = scudo_version,
    .usable_size = scudo_usable_size,
    .purge = scudo_purge,
};
