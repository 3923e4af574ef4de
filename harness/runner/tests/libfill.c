/* libfill.c: a malloc for LD_PRELOAD that forwards to glibc but fills every
 * new block with 0xAA, as debugging allocators do: a program that reads
 * memory it never wrote prints something else under it (the runner must flag
 * the difference from glibc's result). */
#define _GNU_SOURCE
#include <stddef.h>
#include <string.h>

extern void *__libc_malloc(size_t n);

void *malloc(size_t n)
{
    void *p = __libc_malloc(n);
    if (p)
        memset(p, 0xAA, n);
    return p;
}
