/* trace_target.c: a program whose allocation calls are known, for the tests
 * of `heapmark trace` (tests/trace.sh).
 *
 *   trace_target N [STATUS] [thread]
 *
 * makes N mallocs (16+i bytes), frees them in reverse, then calloc, two
 * reallocs, free, posix_memalign, free: N malloc, 1 calloc, 2 realloc,
 * 1 aligned and N+2 free events, 2N+6 in all. With "thread", a second thread
 * then makes 3 mallocs and frees them (6 events more, on thread index 1).
 * Exits with STATUS (default 0). No stdio: nothing else allocates. Built
 * with -fno-builtin so that no call is folded away. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void *worker(void *arg)
{
    void *p[3];
    for (int i = 0; i < 3; i++)
        p[i] = malloc(100 + (size_t)i);
    for (int i = 0; i < 3; i++)
        free(p[i]);
    return arg;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    long n = strtol(argv[1], NULL, 10);
    if (n < 1 || n > 100000)
        return 2;
    void **p = malloc((size_t)n * sizeof *p); /* counted: one of the N mallocs */
    if (p == NULL)
        return 3;
    p[0] = p;
    for (long i = 1; i < n; i++)
        if ((p[i] = malloc(16 + (size_t)i)) == NULL)
            return 3;
    for (long i = n - 1; i >= 1; i--)
        free(p[i]);
    free(p);
    char *q = calloc(4, 8);
    if (q == NULL || (q = realloc(q, 64)) == NULL || (q = realloc(q, 4096)) == NULL)
        return 3;
    q[4095] = 1;
    free(q);
    void *r = NULL;
    if (posix_memalign(&r, 64, 100) != 0)
        return 3;
    free(r);
    if (argc > 3 && strcmp(argv[3], "thread") == 0) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, NULL) != 0 || pthread_join(t, NULL) != 0)
            return 3;
    }
    return argc > 2 ? atoi(argv[2]) : 0;
}
