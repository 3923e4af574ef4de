/* orphans.c: blocks that outlive their thread. 300 rounds of 8 threads;
 * each thread allocates blocks of mixed sizes (16 B to 48 KiB, 3 MiB in
 * all), writes them and exits without freeing any; the main thread frees
 * them all after joining. The memory of a heap whose owner has exited must
 * be reused or given back: what sable holds committed after the last
 * round, and RSS, may be at most 25% plus 4 MiB above what they were after
 * round 30. Both vary with the scheduling: committed bytes because the
 * exited threads' heaps each keep an empty page per class until another
 * thread takes them over (6.2 to 10.7 MiB after round 30 in runs of the
 * same build; after round 300 from 28% less to more than 10% more), RSS
 * also because it counts the thread stacks that glibc keeps for reuse
 * (from 5.0 to 7.9 MiB after round 30, up to 41% more after round 300 in
 * one run). And,
 * with every block freed, sable may hold at most 16 MiB committed. A heap
 * whose memory was lost would add about 3 MiB a round.
 * Run with SABLE_PURGE_DELAY=0 (allocator.mk): freed memory then goes back
 * to the OS at once, so that RSS measures what sable failed to reclaim, not
 * what it keeps warm on purpose for the delay. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "sable.h"

#define ROUNDS 300
#define THREADS 8
#define BLOCKS 300
#define BASE_ROUND 30

struct job {
    uint64_t seed;
    void *blocks[BLOCKS];
};

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void *worker(void *arg)
{
    struct job *j = arg;
    for (int i = 0; i < BLOCKS; i++) {
        uint64_t r = next_rand(&j->seed);
        /* mostly small, some medium, a few up to 48 KiB: about 10 KiB each */
        size_t n = (r & 7) == 0 ? 16 + (r >> 8) % (48 << 10) : 16 + (r >> 8) % 4096;
        char *p = malloc(n);
        if (p == NULL)
            return NULL;
        memset(p, (int)i, n);
        j->blocks[i] = p;
    }
    return j;
}

int main(void)
{
    static struct job jobs[THREADS];
    size_t base = 0, peak = 0, base_committed = 0;
    struct sable_stats st;
    for (int round = 1; round <= ROUNDS; round++) {
        pthread_t t[THREADS];
        for (int i = 0; i < THREADS; i++) {
            jobs[i].seed = (uint64_t)round * 1000003u + (uint64_t)i * 7919u + 1u;
            CHECK(pthread_create(&t[i], NULL, worker, &jobs[i]) == 0);
        }
        for (int i = 0; i < THREADS; i++) {
            void *r = NULL;
            pthread_join(t[i], &r);
            CHECK(r == &jobs[i]);
        }
        /* every thread has exited: their blocks are freed here */
        for (int i = 0; i < THREADS; i++)
            for (int k = 0; k < BLOCKS; k++)
                free(jobs[i].blocks[k]);
        size_t rss = rss_bytes();
        if (round == BASE_ROUND) {
            base = rss;
            CHECK(sable_stats(&st) == 0);
            base_committed = st.committed_bytes;
        }
        if (round > BASE_ROUND && rss > peak)
            peak = rss;
    }
    size_t last = rss_bytes();
    printf("orphans: RSS %zu KiB after round %d, %zu KiB after round %d (peak %zu KiB)\n",
           base >> 10, BASE_ROUND, last >> 10, ROUNDS, peak >> 10);
    CHECK(last <= base + base / 4 + ((size_t)4 << 20));
    CHECK(sable_stats(&st) == 0);
    printf("orphans: %zu KiB committed after round %d, %zu KiB after round %d, with every block "
           "freed\n",
           base_committed >> 10, BASE_ROUND, st.committed_bytes >> 10, ROUNDS);
    CHECK(st.committed_bytes <= base_committed + base_committed / 4 + ((size_t)4 << 20));
    CHECK(st.committed_bytes <= ((size_t)16 << 20));
    return check_failures != 0;
}
