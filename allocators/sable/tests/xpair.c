/* xpair.c: remote frees for callgrind counts (tests/xpair.sh). Two threads
 * replace random entries of a shared table of blocks (larson), so about half
 * of the frees are of blocks the other thread allocated; or, with `pc`, one
 * thread allocates messages and the other frees them (producer/consumer).
 * The threads take turns of TURN (PC_TURN) operations (a semaphore each), so that the
 * interleaving, and with it the count, is the same in every run: `xpair N
 * LO HI [pc]` runs N operations per thread with sizes LO..HI. */
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 2000
#define TURN 16

static void *(*volatile p_malloc)(size_t) = malloc;
static void (*volatile p_free)(void *) = free;

static char *slot[SLOTS];
#define PC_TURN 1024 /* as many messages in flight as heapmark's prodcons ring holds */
static char *msg[PC_TURN];
static long nops;
static size_t lo, hi;
static sem_t turn[2];

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void *worker(void *arg)
{
    int me = (int)(uintptr_t)arg;
    uint64_t rng = 0x5eed0000u + (uint64_t)me;
    for (long i = 0; i < nops; i++) {
        if (i % TURN == 0) {
            if (i > 0)
                sem_post(&turn[1 - me]);
            sem_wait(&turn[me]);
        }
        uint64_t r = rng_next(&rng);
        size_t k = (size_t)((r & 0xffffffffu) * SLOTS >> 32);
        char *p = p_malloc(lo + (size_t)((r >> 32) % (hi - lo + 1)));
        if (p == NULL)
            abort();
        p[0] = 1;
        p_free(slot[k]);
        slot[k] = p;
    }
    sem_post(&turn[1 - me]);
    return NULL;
}

/* thread 0 allocates PC_TURN messages a turn, thread 1 frees them */
static void *pc_worker(void *arg)
{
    int me = (int)(uintptr_t)arg;
    uint64_t rng = 0x9c0000u;
    for (long i = 0; i < nops; i += PC_TURN) {
        sem_wait(&turn[me]);
        for (int k = 0; k < PC_TURN; k++) {
            if (me == 0) {
                uint64_t r = rng_next(&rng);
                if ((msg[k] = p_malloc(lo + (size_t)(r % (hi - lo + 1)))) == NULL)
                    abort();
                msg[k][0] = 1;
            } else {
                p_free(msg[k]);
            }
        }
        sem_post(&turn[1 - me]);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    bool pc = argc == 5 && strcmp(argv[4], "pc") == 0;
    if ((argc != 4 && !pc) || (nops = atol(argv[1])) <= 0 || (lo = (size_t)atol(argv[2])) == 0 ||
        (hi = (size_t)atol(argv[3])) < lo) {
        fprintf(stderr, "usage: xpair N LO HI [pc] (N > 0, 0 < LO <= HI)\n");
        return 2;
    }
    uint64_t r = 0x1a750u;
    for (int i = 0; i < SLOTS; i++)
        if ((slot[i] = p_malloc(lo + rng_next(&r) % (hi - lo + 1))) == NULL)
            abort();
    sem_init(&turn[0], 0, 1);
    sem_init(&turn[1], 0, 0);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, pc ? pc_worker : worker, (void *)(uintptr_t)i) != 0)
            abort();
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < SLOTS; i++)
        p_free(slot[i]);
    return 0;
}
