/* rss.c: memory goes back to the OS. 512 MiB in blocks of four kinds
 * (64 B, 4 KiB, 256 KiB, 8 MiB: 128 MiB each) are written, then freed. Huge
 * blocks go back at once; the rest after the purge delay (50 ms), at the
 * allocator's next slow-path events: after 150 ms and some allocations the
 * resident set must be near where it started, without any explicit call,
 * and further down after sable_purge(). The pointer array is allocated
 * before the baseline and freed with the blocks. A thread that freed a
 * 30 MiB block and then waits (alive, idle) gets it back the same way:
 * the mapping a thread keeps for its next huge malloc expires with the
 * rest, through the other threads' activity; and so do the big blocks a
 * program freed before a pause (longer than the purge delay) after which
 * it only frees one more. */
#include <time.h>
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "sable.h"

#define MiB ((size_t)1 << 20)

static pthread_mutex_t idle_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cond = PTHREAD_COND_INITIALIZER;
static int idle_stage; /* 1: its block is freed; 2: it may exit */

static void *idle_thread(void *arg)
{
    (void)arg;
    size_t size = 30 * MiB;
    char *p = malloc(size);
    CHECK(p != NULL);
    if (p != NULL)
        memset(p, 0x5a, size);
    free(p);
    pthread_mutex_lock(&idle_lock);
    idle_stage = 1;
    pthread_cond_broadcast(&idle_cond);
    while (idle_stage != 2)
        pthread_cond_wait(&idle_cond, &idle_lock);
    pthread_mutex_unlock(&idle_lock);
    return NULL;
}

int main(void)
{
    static const size_t sizes[] = {64, 4096, 256 << 10, 8 << 20};
    const size_t per_kind = 128 * MiB;
    size_t total = 0;
    for (unsigned k = 0; k < 4; k++)
        total += per_kind / sizes[k];
    void **blocks = malloc(total * sizeof *blocks);
    CHECK(blocks != NULL);
    size_t base = rss_bytes();
    pthread_t idle;
    CHECK(pthread_create(&idle, NULL, idle_thread, NULL) == 0);
    pthread_mutex_lock(&idle_lock);
    while (idle_stage != 1)
        pthread_cond_wait(&idle_cond, &idle_lock);
    pthread_mutex_unlock(&idle_lock);
    size_t n = 0;
    for (unsigned k = 0; k < 4; k++)
        for (size_t i = 0; i < per_kind / sizes[k]; i++) {
            blocks[n] = malloc(sizes[k]);
            if (blocks[n] == NULL) {
                CHECK(!"malloc");
                return 1;
            }
            memset(blocks[n], 0x5a, sizes[k]);
            n++;
        }
    size_t full = rss_bytes();
    for (size_t i = 0; i < n; i++)
        free(blocks[i]);
    free(blocks); /* 17 MiB itself */
    size_t at_once = rss_bytes();
    struct timespec pause = {0, 150 * 1000 * 1000};
    nanosleep(&pause, NULL);
    for (int round = 0; round < 4; round++) { /* ordinary activity */
        void *v[2000];
        for (int i = 0; i < 2000; i++)
            v[i] = malloc(16 + (size_t)(i * 37 + round) % 6000);
        for (int i = 0; i < 2000; i++)
            free(v[i]);
    }
    size_t after = rss_bytes();
    sable_purge();
    size_t purged = rss_bytes();
    printf("RSS: %zu MiB at start, %zu MiB with 512 MiB live, %zu MiB right after free, %zu MiB "
           "150 ms later, %zu MiB after sable_purge\n",
           base / MiB, full / MiB, at_once / MiB, after / MiB, purged / MiB);
    CHECK(full >= base + 500 * MiB);
    CHECK(at_once <= full - 120 * MiB); /* the huge blocks at once */
    CHECK(after <= base + 24 * MiB);
    CHECK(purged <= base + 8 * MiB);
    pthread_mutex_lock(&idle_lock);
    idle_stage = 2;
    pthread_cond_broadcast(&idle_cond);
    pthread_mutex_unlock(&idle_lock);
    pthread_join(idle, NULL);

    /* a program that frees big blocks, pauses, then only frees and
       allocates one big block again: the cache's old ones go back then */
    void *big[8];
    size_t before = rss_bytes();
    for (int i = 0; i < 8; i++) {
        big[i] = malloc(4 * MiB);
        CHECK(big[i] != NULL);
        if (big[i] != NULL)
            memset(big[i], 0x5a, 4 * MiB);
    }
    for (int i = 0; i < 8; i++)
        free(big[i]);
    /* a pause longer than the purge delay in effect: the delay adapts, and
       the first part of the test may have made it grow (a program that
       needs fresh memory soon after a purge doubles it) */
    struct sable_stats st;
    CHECK(sable_stats(&st) == 0);
    uint64_t wait_ms = st.purge_delay_ms + 100;
    struct timespec wait = {(time_t)(wait_ms / 1000), (long)(wait_ms % 1000) * 1000000};
    nanosleep(&wait, NULL);
    free(malloc(4 * MiB));
    size_t big_after = rss_bytes();
    printf("RSS: %zu MiB before 8 x 4 MiB were written and freed, %zu MiB after %llu ms (the "
           "purge delay then: %zu ms) and one malloc + free of 4 MiB\n",
           before / MiB, big_after / MiB, (unsigned long long)wait_ms, st.purge_delay_ms);
    CHECK(big_after <= before + 6 * MiB);
    return check_done("sable rss");
}
