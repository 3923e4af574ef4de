/* huge_keep.c: freed huge mappings of up to 64 MiB are kept and reused
 * resident, a huge block that realloc shrinks holds its tail for the purge
 * delay (run with SABLE_PURGE_DELAY=20), and that tail goes back after the
 * delay while the block lives. Residency is read with mincore, so that the
 * checks do not depend on page-fault counts (transparent huge pages) nor on
 * time beyond "a few times the delay". With SABLE_SECURE=1 it checks that
 * memory reused that way reads as zero instead. With the argument "idle"
 * (and a delay longer than the run) it checks that a kept mapping goes
 * back once the heap has taken 1 MiB of fresh RAM, and not before. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "check.h"
#include "sable.h"

#define MIB ((size_t)1 << 20)
#define PAGE ((size_t)4096)

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0)
        ;
}

/* the share of the pages of [p, p + n) that are resident, in percent */
static int resident_pct(void *p, size_t n)
{
    size_t pages = n / PAGE, in = 0;
    unsigned char *v = malloc(pages);
    CHECK(v != NULL);
    if (v == NULL || mincore(p, pages * PAGE, v) != 0) {
        free(v);
        return -1;
    }
    for (size_t i = 0; i < pages; i++)
        in += v[i] & 1;
    free(v);
    return (int)(in * 100 / pages);
}

static void touch(char *p, size_t n)
{
    for (size_t i = 0; i < n; i += PAGE)
        p[i] = (char)(i / PAGE);
}

/* many slow-path events (allocations of one-block pages of many sizes),
   at which expired kept mappings and held tails go */
static void slow_events(void)
{
    void *v[64];
    for (int r = 0; r < 8; r++) {
        for (int i = 0; i < 64; i++) {
            v[i] = malloc(((size_t)96 << 10) + (size_t)(i * 8192 + r * 64));
            CHECK(v[i] != NULL);
        }
        for (int i = 0; i < 64; i++)
            free(v[i]);
    }
}

/* blocks holding RAM that events_on_held reuses (HELD of them) */
#define HELD 64
static size_t held_size(int i) { return ((size_t)96 << 10) + (size_t)i * 8192; }

static void hold_ram(void *v[HELD])
{
    for (int i = 0; i < HELD; i++)
        v[i] = malloc(held_size(i));
}

/* a few slow-path events, at once, on RAM held (no fresh RAM: see
   idle_huge_goes); the held blocks then go */
static void events_on_held(void *v[HELD])
{
    for (int i = 0; i < HELD; i++) {
        free(v[i]);
        v[i] = malloc(held_size(i));
    }
    for (int i = 0; i < HELD; i++)
        free(v[i]);
}

/* malloc(n) just after the free of a block of n that was held 400 ms: the
   kept mapping, resident */
static void check_back_resident(size_t n)
{
    char *q = malloc(n);
    CHECK(q != NULL);
    int pct = resident_pct(q, n);
    printf("malloc(%zu MiB) just after a free of one held 400 ms: %d%% resident\n", n / MIB, pct);
    CHECK(pct >= 99);
    free(q);
}

/* a freed block of 64 MiB is kept: the next malloc(64 MiB) is resident */
static void keep_64m(void)
{
    char *p = malloc(64 * MIB);
    CHECK(p != NULL);
    touch(p, 64 * MIB);
    free(p);
    char *q = malloc(64 * MIB);
    CHECK(q != NULL);
    int pct = resident_pct(q, 64 * MIB);
    printf("malloc(64 MiB) after a free of one: %d%% resident\n", pct);
    CHECK(pct >= 99);
    free(q);
}

/* a kept mapping taken back and held past the delay, with no slow-path
   event meanwhile (no clock read), then freed (the short way back to the
   thread's slot): kept for the delay from that free, not from the clock
   as last read */
static void kept_again_held(void)
{
    void *v[HELD];
    hold_ram(v);
    char *p = malloc(64 * MIB);
    CHECK(p != NULL);
    touch(p, 64 * MIB);
    free(p);
    p = malloc(64 * MIB); /* the kept mapping */
    CHECK(p != NULL);
    sleep_ms(400);
    free(p);
    events_on_held(v);
    check_back_resident(64 * MIB);
}

/* a block shrunk by halves to 16 B (moving below the huge ones at the
   end) leaves a mapping that still holds 64 MiB */
static void shrink_loop(void)
{
    char *p = malloc(64 * MIB);
    CHECK(p != NULL);
    touch(p, 64 * MIB);
    for (size_t n = 64 * MIB; n > 16; n /= 2) {
        char *q = realloc(p, n / 2);
        CHECK(q != NULL);
        p = q;
        CHECK(p[0] == 0); /* the first page's mark */
    }
    free(p);
    char *q = malloc(64 * MIB);
    CHECK(q != NULL);
    int pct = resident_pct(q, 64 * MIB);
    printf("malloc(64 MiB) after a shrink loop from 64 MiB: %d%% resident\n", pct);
    CHECK(pct >= 99);
    free(q);
}

/* the held tail of a live shrunk block goes back after the delay; the
   block keeps its bytes and grows back */
static void tail_expires(void)
{
    char *p = malloc(64 * MIB);
    CHECK(p != NULL);
    touch(p, 64 * MIB);
    char *q = realloc(p, 8 * MIB);
    CHECK(q == p);
    int held = resident_pct(p + 8 * MIB, 56 * MIB);
    sleep_ms(400); /* past the delay, even grown 16 times */
    slow_events();
    int after = resident_pct(p + 8 * MIB, 56 * MIB);
    printf("tail of a block shrunk from 64 to 8 MiB: %d%% resident at once, %d%% after the "
           "delay\n",
           held, after);
    CHECK(held >= 99);
    CHECK(after == 0);
    for (size_t i = 0; i < 8 * MIB; i += PAGE)
        CHECK(p[i] == (char)(i / PAGE));
    q = realloc(p, 64 * MIB);
    CHECK(q != NULL);
    for (size_t i = 0; i < 8 * MIB; i += PAGE)
        CHECK(q[i] == (char)(i / PAGE));
    for (size_t i = 8 * MIB; i < 64 * MIB; i += PAGE)
        CHECK(q[i] == 0);
    free(q);
}

/* a block freed long after the allocator last read the clock is kept for
   the delay from its free, not from that read */
static void kept_from_free(void)
{
    void *v[HELD];
    hold_ram(v);
    char *p = malloc(3 * MIB);
    CHECK(p != NULL);
    touch(p, 3 * MIB);
    sleep_ms(400);
    free(p);
    events_on_held(v);
    check_back_resident(3 * MIB);
}

/* ... but a page or two of fresh RAM between two uses of a big buffer (a
   program's bookkeeping) lets the mapping stay: the buffer comes back
   resident */
static void small_growth_keeps(void)
{
    char *p = malloc(8 * MIB);
    CHECK(p != NULL);
    touch(p, 8 * MIB);
    free(p);                                 /* kept */
    char *small = malloc((size_t)100 << 10); /* a page on fresh slices */
    CHECK(small != NULL);
    if (small != NULL)
        touch(small, (size_t)100 << 10);
    char *q = malloc(8 * MIB);
    CHECK(q != NULL);
    int pct = q != NULL ? resident_pct(q, 8 * MIB) : -1;
    printf("malloc(8 MiB) after a free of one and 100 KiB of fresh RAM: %d%% resident\n", pct);
    CHECK(pct >= 99);
    free(q);
    free(small);
}

/* a kept mapping does not stay beside fresh RAM, even within the purge
   delay: a program that frees a big buffer and then builds as much in
   small blocks holds about one of them, not both */
static void idle_huge_goes(void)
{
    (void)rss_bytes(); /* (its own allocations made) */
    char *p = malloc(8 * MIB);
    CHECK(p != NULL);
    touch(p, 8 * MIB);
    size_t before = rss_bytes();
    free(p); /* kept */
    enum { N = 8 * MIB / 4000 };
    static char *v[N];
    for (int i = 0; i < N; i++) {
        v[i] = malloc(4000);
        CHECK(v[i] != NULL);
        if (v[i] != NULL)
            touch(v[i], 4000);
    }
    size_t after = rss_bytes();
    printf("RSS after 8 MiB of 4000-byte blocks replace a freed block of 8 MiB: %+.1f MiB\n",
           ((double)after - (double)before) / (double)MIB);
    CHECK(after < before + 3 * MIB);
    for (int i = 0; i < N; i++)
        free(v[i]);
}

/* shrunk in one thread, freed in another while a third runs the slow-path
   events that expire tails: the free takes the block off the list first */
static char *volatile handed;
static volatile int stop;

static void *expirer(void *arg)
{
    (void)arg;
    while (!stop)
        slow_events();
    return NULL;
}

static void *shrinker(void *arg)
{
    (void)arg;
    char *p = malloc(16 * MIB);
    CHECK(p != NULL);
    touch(p, 16 * MIB);
    handed = realloc(p, 4 * MIB);
    return NULL;
}

static void cross_thread(void)
{
    pthread_t e;
    CHECK(pthread_create(&e, NULL, expirer, NULL) == 0);
    for (int i = 0; i < 100; i++) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, shrinker, NULL) == 0);
        pthread_join(t, NULL);
        char *p = handed;
        CHECK(p != NULL);
        CHECK(p[PAGE] == 1);
        if (i % 3 == 0) {
            char *q = realloc(p, (size_t)(12 + i % 4) * MIB); /* grows into the tail */
            CHECK(q != NULL);
            CHECK(q[PAGE] == 1);
            p = q;
        }
        free(p);
    }
    stop = 1;
    pthread_join(e, NULL);
    printf("100 blocks shrunk in one thread, freed in another, tails expired in a third\n");
}

/* secure mode: a mapping kept after a shrink loop reads as zero */
static void secure_zero(void)
{
    char *p = malloc(64 * MIB);
    CHECK(p != NULL);
    memset(p, 0x5a, 64 * MIB);
    for (size_t n = 64 * MIB; n > 16; n /= 2) {
        char *q = realloc(p, n / 2);
        CHECK(q != NULL);
        p = q;
    }
    free(p);
    char *q = malloc(64 * MIB);
    CHECK(q != NULL);
    size_t dirty = 0;
    for (size_t i = 0; i < 64 * MIB; i += 64)
        dirty += q[i] != 0;
    printf("secure: malloc(64 MiB) after a shrink loop: %zu dirty lines\n", dirty);
    CHECK(dirty == 0);
    free(q);
}

int main(int argc, char **argv)
{
    const char *sec = getenv("SABLE_SECURE");
    if (argc > 1 && strcmp(argv[1], "idle") == 0) {
        small_growth_keeps(); /* (run with a delay longer than the test) */
        idle_huge_goes();
    } else if (sec != NULL && sec[0] == '1') {
        secure_zero();
        cross_thread();
    } else {
        kept_from_free(); /* first: the delay has not grown yet */
        tail_expires();
        keep_64m();
        kept_again_held();
        shrink_loop();
        cross_thread();
    }
    if (check_failures)
        return 1;
    printf("sable huge_keep: all checks passed\n");
    return 0;
}
