/* installed_prog.c: a program built against an installed sable through
 * pkg-config only (tests/install.sh). Linked (-DLINKED: `pkg-config --cflags
 * --libs sable`) it calls sable's API directly; preloaded (`--cflags` only,
 * no library on its link line) it finds sable's calls with dlsym. Either way
 * it checks that the malloc it calls is the one of the library under
 * argv[1] (the installed lib directory), that sable served its allocations
 * (sable_stats, with SABLE_STATS=1) and that the library's version is the
 * header's. Prints one line; exit 0 when all hold. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <sable.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef LINKED
#define MODE "linked"
#define STATS sable_stats
#define VERSION sable_version
#else
#define MODE "preloaded"
static int (*STATS)(struct sable_stats *);
static const char *(*VERSION)(void);
#endif

static int fail(const char *what)
{
    printf("installed_prog (" MODE "): FAIL: %s\n", what);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return fail("usage: installed_prog LIBDIR");
#ifndef LINKED
    *(void **)&STATS = dlsym(RTLD_DEFAULT, "sable_stats");
    *(void **)&VERSION = dlsym(RTLD_DEFAULT, "sable_version");
    if (STATS == NULL || VERSION == NULL)
        return fail("sable_stats/sable_version not found: sable is not loaded");
#endif
    /* the malloc every caller gets is the installed libsable's */
    Dl_info info;
    void *m = dlsym(RTLD_DEFAULT, "malloc");
    if (m == NULL || dladdr(m, &info) == 0 || info.dli_fname == NULL)
        return fail("no library defines malloc");
    size_t dlen = strlen(argv[1]);
    if (strncmp(info.dli_fname, argv[1], dlen) != 0 || info.dli_fname[dlen] != '/' ||
        strncmp(info.dli_fname + dlen + 1, "libsable.so.", 12) != 0) {
        printf("installed_prog (" MODE "): FAIL: malloc comes from %s, not %s/libsable.so.*\n",
               info.dli_fname, argv[1]);
        return 1;
    }
    /* the library's version is the header's, which is the macros' */
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", SABLE_VERSION_MAJOR, SABLE_VERSION_MINOR,
             SABLE_VERSION_PATCH);
    if (strcmp(VERSION(), SABLE_VERSION_STRING) != 0 || strcmp(want, SABLE_VERSION_STRING) != 0)
        return fail("sable_version(), SABLE_VERSION_STRING and the version numbers differ");
    if (SABLE_VERSION_NUMBER !=
        SABLE_VERSION_MAJOR * 10000 + SABLE_VERSION_MINOR * 100 + SABLE_VERSION_PATCH)
        return fail("SABLE_VERSION_NUMBER");
    /* sable served this program's allocations: its counts grew by them */
    struct sable_stats before, after;
    if (STATS(&before) != 0 || before.allocs_small == (size_t)-1)
        return fail("sable_stats has no counts (SABLE_STATS=1 is needed)");
    void *p[100];
    for (int i = 0; i < 100; i++) {
        p[i] = malloc(24 + (size_t)i);
        if (p[i] == NULL)
            return fail("malloc");
        memset(p[i], i, 24);
    }
    size_t usable = malloc_usable_size(p[0]);
    for (int i = 0; i < 100; i++)
        free(p[i]);
    if (STATS(&after) != 0 || after.allocs_small < before.allocs_small + 100 ||
        after.frees < before.frees + 100)
        return fail("sable_stats did not count the program's 100 mallocs and frees");
    if (usable != 32) /* sable's 24-byte requests live in 32-byte blocks (glibc: 24) */
        return fail("malloc_usable_size(malloc(24)) is not sable's 32");
    printf("installed_prog (" MODE "): sable %s from %s served 100 mallocs and frees\n", VERSION(),
           info.dli_fname);
    return 0;
}
