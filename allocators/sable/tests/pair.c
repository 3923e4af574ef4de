/* pair.c: N malloc(SIZE)+free pairs (SIZE 64 unless given), for callgrind
 * instruction counts of the fast paths (`valgrind --tool=callgrind
 * build/sable/tests/pair-<alloc> N [SIZE [LIVE [lifo]]]`; divide the Ir of
 * malloc and free by N). With LIVE, LIVE blocks stay live in a ring: each
 * pair frees the oldest and allocates its replacement; with LIVE and
 * "lifo", rounds of LIVE mallocs, then their frees, newest first. */
#include <stdlib.h>
#include <string.h>

static void *(*volatile p_malloc)(size_t) = malloc;
static void (*volatile p_free)(void *) = free;

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    size_t size = argc > 2 ? (size_t)atol(argv[2]) : 64;
    long live = argc > 3 ? atol(argv[3]) : 0;
    if (live > 0 && argc > 4 && strcmp(argv[4], "lifo") == 0) {
        void **batch = calloc((size_t)live, sizeof *batch);
        if (batch == NULL)
            return 1;
        for (long i = 0; i < n; i += live) {
            for (long j = 0; j < live; j++)
                batch[j] = p_malloc(size);
            for (long j = live; j-- > 0;)
                p_free(batch[j]);
        }
        free(batch);
        return 0;
    }
    if (live > 0) {
        void **ring = calloc((size_t)live, sizeof *ring);
        if (ring == NULL)
            return 1;
        for (long i = 0; i < n; i++) {
            p_free(ring[i % live]);
            ring[i % live] = p_malloc(size);
        }
        for (long i = 0; i < live; i++)
            p_free(ring[i]);
        free(ring);
        return 0;
    }
    for (long i = 0; i < n; i++)
        p_free(p_malloc(size));
    return 0;
}
