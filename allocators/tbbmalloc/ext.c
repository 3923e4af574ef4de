/* tbbmalloc: oneTBB's scalable allocator (Debian's libtbbmalloc2), serving
   malloc through libtbbmalloc_proxy. */
#define _GNU_SOURCE
#include "alloc_ext.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <oneapi/tbb/scalable_allocator.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The library has no version call; it carries its version as a banner
   ("TBBmalloc: VERSION\t\t2021.8\n", printed when TBB_VERSION=1): read it
   from the file that defines scalable_malloc. */
static int version_from_library(char *buf, size_t size)
{
    static const char tag[] = "TBBmalloc: VERSION";
    Dl_info info;
    if (dladdr((void *)scalable_malloc, &info) == 0 || info.dli_fname == NULL)
        return -1;
    int fd = open(info.dli_fname, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || sb.st_size == 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    const char *data = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (data == MAP_FAILED)
        return -1;
    const char *hit = memmem(data, (size_t)sb.st_size, tag, sizeof tag - 1);
    int rc = -1;
    if (hit != NULL) {
        const char *end = data + sb.st_size, *v = hit + sizeof tag - 1;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        size_t n = 0;
        while (v + n < end && n + 1 < size && ((v[n] >= '0' && v[n] <= '9') || v[n] == '.'))
            n++;
        if (n > 0) {
            memcpy(buf, v, n);
            buf[n] = '\0';
            rc = 0;
        }
    }
    munmap((void *)data, (size_t)sb.st_size);
    return rc;
}

static const char *tbb_version(void)
{
    static char buf[32];
    if (buf[0] == '\0' && version_from_library(buf, sizeof buf) != 0)
        return TBBMALLOC_PACKAGE_VERSION;
    return buf;
}

static size_t tbb_usable_size(void *p) { return scalable_msize(p); }

/* 0 whether or not there was anything to release (TBBMALLOC_NO_EFFECT) */
static int tbb_purge(void)
{
    int r = scalable_allocation_command(TBBMALLOC_CLEAN_ALL_BUFFERS, NULL);
    return r == TBBMALLOC_OK || r == TBBMALLOC_NO_EFFECT ? 0 : -1;
}

const struct alloc_ext alloc_ext_native = {
    .name = "tbbmalloc",
    .library = "libtbbmalloc_proxy",
    .version = tbb_version,
    .usable_size = tbb_usable_size,
    .purge = tbb_purge,
};
