/* placement.c: the blocks a thread frees come back to it last in, first
 * out: the block freed last, still in the cache, is the next one of its size
 * handed out. 64 blocks of 88 bytes (one page), every other one freed in a
 * shuffled order, then 32 allocated again: they must be the freed blocks in
 * the reverse order of their frees. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

#define N 64
#define SIZE 88

int main(void)
{
    static void *v[N];
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
    void *freed[N / 2];
    for (int i = 0; i < N / 2; i++) {
        freed[i] = v[order[i]];
        free(v[order[i]]);
        v[order[i]] = NULL;
    }
    int in_order = 0;
    for (int i = 0; i < N / 2; i++) {
        void *p = malloc(SIZE);
        CHECK(p != NULL);
        in_order += p == freed[N / 2 - 1 - i];
        v[order[N / 2 - 1 - i]] = p;
    }
    printf("placement: %d of %d freed blocks handed out again last in, first out\n", in_order,
           N / 2);
    CHECK(in_order == N / 2);
    for (int i = 0; i < N; i++)
        free(v[i]);
    return check_done("sable placement");
}
