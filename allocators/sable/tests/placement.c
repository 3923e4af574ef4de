/* placement.c: a page that gets many of its blocks back while others stay
 * live hands the free ones out again in address order, lowest first,
 * whatever order they were freed in (so that blocks allocated together in
 * time lie together, in memory order). 1024 blocks of 88 bytes, every
 * other one freed in a shuffled order, then 512 allocated again: those
 * that reuse a freed block (not all do: a newer page, with room, may serve
 * some first) must come in ascending address order. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

#define N 1024
#define SIZE 88

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

int main(void)
{
    static void *v[N];
    static uintptr_t freed[N / 2];
    for (int i = 0; i < N; i++) {
        v[i] = malloc(SIZE);
        CHECK(v[i] != NULL);
    }
    int order[N / 2];
    for (int i = 0; i < N / 2; i++)
        order[i] = 2 * i + 1;
    uint64_t rng = 12345;
    for (int i = N / 2 - 1; i > 0; i--) { /* Fisher-Yates */
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        int j = (int)((rng >> 33) % (uint64_t)(i + 1));
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int i = 0; i < N / 2; i++) {
        freed[i] = (uintptr_t)v[order[i]];
        free(v[order[i]]);
        v[order[i]] = NULL;
    }
    qsort(freed, N / 2, sizeof freed[0], cmp_ptr);

    int reused = 0, ascending = 0;
    uintptr_t last = 0;
    for (int i = 0; i < N / 2; i++) {
        v[2 * i + 1] = malloc(SIZE);
        uintptr_t p = (uintptr_t)v[2 * i + 1];
        if (bsearch(&p, freed, N / 2, sizeof freed[0], cmp_ptr) == NULL)
            continue;
        reused++;
        ascending += p > last;
        last = p;
    }
    printf("placement: %d of %d freed blocks reused, %d of them in ascending order\n", reused,
           N / 2, ascending);
    CHECK(reused >= 64);            /* (a newer page may serve the first ones) */
    CHECK(ascending >= reused - 2); /* a page boundary may step back once */
    for (int i = 0; i < N; i++)
        free(v[i]);
    return check_done("sable placement");
}
