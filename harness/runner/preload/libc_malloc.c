/* libc_malloc.c: build/lib/libhmlibc.so, glibc's malloc for the "glibc"
 * contestant of the program workloads.
 *
 * A program may be linked against an allocator of its own (Debian's
 * redis-server is linked against libjemalloc): preloading nothing would then
 * measure that allocator under the name glibc. Preloaded, this library puts
 * glibc's malloc in front of it, as any other contestant's library is: each
 * call goes straight to glibc's own entry points (__libc_malloc ...). Its
 * presence in the process's maps is the preload proof for glibc.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

void *__libc_malloc(size_t n);
void __libc_free(void *p);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t align, size_t n);
void *__libc_valloc(size_t n);
void *__libc_pvalloc(size_t n);

void *malloc(size_t n)
{
    return __libc_malloc(n);
}

void free(void *p)
{
    __libc_free(p);
}

void *calloc(size_t n, size_t size)
{
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    return __libc_realloc(p, n);
}

void *reallocarray(void *p, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_realloc(p, n * size);
}

void *memalign(size_t align, size_t n)
{
    return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    if (align == 0 || (align & (align - 1)) != 0) {
        errno = EINVAL;
        return NULL;
    }
    return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    void *p = __libc_memalign(align, n);
    if (p == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}

void *valloc(size_t n)
{
    return __libc_valloc(n);
}

void *pvalloc(size_t n)
{
    return __libc_pvalloc(n);
}

/* glibc has no __libc_ name for it: its own symbol, looked up in libc.so.6 */
size_t malloc_usable_size(void *p)
{
    static size_t (*real)(void *);
    if (real == NULL) {
        void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
        if (libc)
            real = (size_t (*)(void *))dlsym(libc, "malloc_usable_size");
        if (real == NULL || real == malloc_usable_size)
            return 0;
    }
    return real(p);
}
