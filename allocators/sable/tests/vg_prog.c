/* vg_prog.c: run under memcheck by valgrind.sh. It works normally with
 * many kinds of blocks (no error may be reported for those), then makes
 * seven mistakes that memcheck must each see, which it can only through
 * sable's client requests: leaks of a 48-byte block (not the first of its
 * page), of a 60,000-byte block that is the first of a fresh page, of a
 * 5 MiB (huge) block and of nine 1,000-byte blocks (reported with the sizes
 * asked for), a write one byte past a 48-byte block (its size class has no
 * slack), a write into the slack of a 900-byte block, and a read of a freed
 * block. */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sable.h"

static void *(*volatile p_malloc)(size_t) = malloc;
static void (*volatile p_free)(void *) = free;
static void *leaked, *kept;
static void *volatile sink;

static void *remote_free(void *arg)
{
    p_free(arg);
    return NULL;
}

/* ordinary use: must be clean (a function of its own, so that no stale
   pointer to a freed block stays in main's frame) */
static __attribute__((noinline)) int ordinary(void)
{
    for (int i = 0; i < 200; i++) {
        char *p = p_malloc(16 + (size_t)i * 37);
        memset(p, i, 16 + (size_t)i * 37);
        p = realloc(p, 5000 + (size_t)i);
        if (p[3] != (char)i)
            return -2;
        p_free(p);
    }
    char *z = calloc(10, 100);
    int sum = 0;
    for (int i = 0; i < 1000; i++)
        sum += z[i];
    p_free(z);
    void *a = aligned_alloc(4096, 100);
    char *h = p_malloc(3 << 20);
    h[(3 << 20) - 1] = 1;
    h = realloc(h, 9 << 20);
    h[(9 << 20) - 1] = h[(3 << 20) - 1];
    p_free(h);
    char *hc = calloc(1, 5 << 20); /* a huge calloc after a huge free */
    if (hc[12345] != 0)
        return -3;
    p_free(hc);
    p_free(a);
    pthread_t t;
    pthread_create(&t, NULL, remote_free, p_malloc(200));
    pthread_join(t, NULL);
    return sum;
}

int main(void)
{
    /* ordinary use of malloc_usable_size: the size asked for, all usable */
    char *u = p_malloc(900);
    memset(u, 1, malloc_usable_size(u));
    p_free(u);

    /* the mistakes */
    kept = p_malloc(48); /* the first block of its page: the page points at it */
    leaked = p_malloc(48);
    leaked = NULL;
    sink = p_malloc(60000);   /* the first block of a fresh page of its class */
    sink = p_malloc(5 << 20); /* huge: its header points at it */
    for (int i = 0; i < 9; i++)
        sink = p_malloc(1000);
    sink = NULL;
    char *o = p_malloc(48);
    o[48] = 1; /* one byte past the block */
    char *sl = p_malloc(900);
    sl[1000] = 1; /* into the slack of its 1 KiB size class */
    p_free(o);
    p_free(sl);

    /* after the leaks: a thread's stack, cached by glibc once it exits, may
       hold stale addresses that a later block would cover */
    int sum = ordinary();
    if (sum < 0)
        return 1;

    volatile char *f = p_malloc(64);
    f[20] = 1;
    p_free((void *)f);
    if (f[20] == 7) /* read of a freed block */
        sum++;
    p_free(kept);
    return sum == 12345 ? 4 : 0;
}
