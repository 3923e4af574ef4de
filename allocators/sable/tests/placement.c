/* placement.c: the blocks a thread frees into the page it allocates from
 * come back to it last in, first out: the block freed last, still in the
 * cache, is the next one of its size handed out. 64 blocks of 88 bytes (one
 * page), every other one freed in a shuffled order, then 32 allocated
 * again: they must be the freed blocks in the reverse order of their frees.
 * A page that gets blocks back while another page serves its class hands
 * them out in address order once it serves again: 2048 blocks (pages of
 * 682 blocks of 96 bytes), every other one of the first 512 (in the first
 * page) freed in a shuffled order, then 2048 allocated: those that reuse a
 * freed block must come in ascending address order. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

#define N 64
#define SIZE 88

int main(void)
{
    static void *v[N], *w[2048];
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

    for (int i = 0; i < 2048; i++) {
        w[i] = malloc(SIZE);
        CHECK(w[i] != NULL);
    }
    static uintptr_t holes[256];
    int idx[256];
    for (int i = 0; i < 256; i++)
        idx[i] = 2 * i;
    for (int i = 255; i > 0; i--) {
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        int j = (int)((rng >> 33) % (uint64_t)(i + 1));
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    for (int i = 0; i < 256; i++) {
        holes[i] = (uintptr_t)w[idx[i]];
        free(w[idx[i]]);
        w[idx[i]] = NULL;
    }
    int reused = 0, ascending = 0;
    uintptr_t last = 0;
    static void *again[2048];
    for (int i = 0; i < 2048; i++) {
        again[i] = malloc(SIZE);
        uintptr_t p = (uintptr_t)again[i];
        int hole = 0;
        for (int k = 0; k < 256; k++)
            hole |= holes[k] == p;
        if (!hole)
            continue;
        reused++;
        ascending += p > last;
        last = p;
    }
    printf("placement: %d of 256 blocks freed into another page reused, %d of them in ascending "
           "order\n",
           reused, ascending);
    CHECK(reused >= 64);
    CHECK(ascending == reused);
    for (int i = 0; i < 2048; i++)
        free(again[i]);
    for (int i = 0; i < 2048; i++)
        free(w[i]);
    return check_done("sable placement");
}
