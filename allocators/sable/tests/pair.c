/* pair.c: N malloc(SIZE)+free pairs (SIZE 64 unless given), for callgrind
 * instruction counts of the fast paths (`valgrind --tool=callgrind
 * build/sable/tests/pair-<alloc> N [SIZE]`; divide the Ir of malloc and free
 * by N). */
#include <stdlib.h>

static void *(*volatile p_malloc)(size_t) = malloc;
static void (*volatile p_free)(void *) = free;

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    size_t size = argc > 2 ? (size_t)atol(argv[2]) : 64;
    for (long i = 0; i < n; i++)
        p_free(p_malloc(size));
    return 0;
}
