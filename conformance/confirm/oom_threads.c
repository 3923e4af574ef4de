/* Standalone confirmation of TH-03's per-function part: 9 threads call
   valloc(17 pages) (or malloc(128 KiB) with "malloc" as argument) until it
   fails, all under RLIMIT_AS = current + 256 MiB. Each must end with NULL
   and ENOMEM; the process must not die. Prints one line per thread. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static pthread_barrier_t start;
static int use_malloc;
struct res { size_t n; int err; };

static void *worker(void *arg)
{
    struct res *r = arg;
    free(malloc(1));
    pthread_barrier_wait(&start);
    size_t size = use_malloc ? 128 << 10 : 17 * (size_t)sysconf(_SC_PAGESIZE);
    for (;;) {
        errno = 0;
        char *p = use_malloc ? malloc(size) : valloc(size);
        if (p == NULL) {
            r->err = errno;
            return NULL;
        }
        p[0] = 1;
        r->n++;
    }
}

int main(int argc, char **argv)
{
    use_malloc = argc > 1 && strcmp(argv[1], "malloc") == 0;
    pthread_t t[9];
    struct res res[9];
    memset(res, 0, sizeof res);
    pthread_barrier_init(&start, NULL, 10);
    for (int i = 0; i < 9; i++)
        pthread_create(&t[i], NULL, worker, &res[i]);
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL || fscanf(f, "%lu", &pages) != 1)
        return 2;
    fclose(f);
    struct rlimit rl = {pages * 4096 + (256ul << 20), RLIM_INFINITY};
    setrlimit(RLIMIT_AS, &rl);
    pthread_barrier_wait(&start);
    for (int i = 0; i < 9; i++) {
        pthread_join(t[i], NULL);
        printf("thread %d: %zu blocks, then NULL with %s\n", i, res[i].n,
               res[i].err == ENOMEM ? "ENOMEM" : strerror(res[i].err));
    }
    return 0;
}
