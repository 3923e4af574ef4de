/* vg_prog.c: run under memcheck by valgrind.sh. It works normally with
 * many kinds of blocks (no error may be reported for those), then leaks
 * one 48-byte block and reads one freed block: memcheck must see both,
 * which it can only through sable's client requests. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sable.h"

static void *(*volatile p_malloc)(size_t) = malloc;
static void (*volatile p_free)(void *) = free;
static void *leaked, *kept;

static void *remote_free(void *arg)
{
    p_free(arg);
    return NULL;
}

int main(void)
{
    /* ordinary use: must be clean */
    for (int i = 0; i < 200; i++) {
        char *p = p_malloc(16 + (size_t)i * 37);
        memset(p, i, 16 + (size_t)i * 37);
        p = realloc(p, 5000 + (size_t)i);
        if (p[3] != (char)i)
            return 2;
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
        return 3;
    p_free(hc);
    p_free(a);
    pthread_t t;
    pthread_create(&t, NULL, remote_free, p_malloc(200));
    pthread_join(t, NULL);

    /* the two bugs */
    kept = p_malloc(48); /* the first block of its page: the page points at it */
    leaked = p_malloc(48);
    leaked = NULL;
    volatile char *f = p_malloc(64);
    f[20] = 1;
    p_free((void *)f);
    if (f[20] == 7) /* read of a freed block */
        sum++;
    p_free(kept);
    return sum == 12345;
}
